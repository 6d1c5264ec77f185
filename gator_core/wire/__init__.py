"""The wire protocol between a parent tier and its children (layer 2).

``protocol`` holds the messages and their JSON form (sans-I/O), ``wsclient``
a blocking websocket client for wrappers, ``synclink`` the synchronous link
built on it, ``transport`` the asyncio server and links of a tier, and
``uplink`` a tier's connection to its own parent.

May import: the foundation modules at the top of gator_core (exceptions,
envvars, config, textutil, plugins) and ``spec``.  Nothing here knows about
stores, jobs, schedulers or tiers.  Like every subpackage ``__init__``, this
one imports nothing, so that a forked wrapper loads only what it uses.
"""
