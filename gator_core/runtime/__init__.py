"""Tiers and the run (layer 6): planning, launching, dependencies, roll-up.

``tier`` runs a group or an array, ``plan`` lists a tier's children from
the spec, ``dependencies`` tracks on_pass / on_fail / on_done, ``rerun``
plans the rerun of an earlier run, ``runner`` is ``gator run`` (the root
tier), ``childmain`` every child process, and ``hostserver`` the child
server an SSH host runs.

May import: every layer below it (foundation, ``spec``, ``wire``, ``store``,
``job``, ``sched``).
"""
