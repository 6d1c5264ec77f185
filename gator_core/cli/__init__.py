"""The ``gator`` command line (layer 8): ``main`` dispatches, ``commands`` is the
typer application.  ``python -m gator_core.cli`` is ``gator``.

May import: every layer.
"""
