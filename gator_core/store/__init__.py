"""What a run writes and how it is read back (layer 3).

``nodestore`` is the SQLite store of one node (writer and reader),
``summary`` the summary record and its arithmetic, ``readback`` turns a
tracking directory into results (``NodeResult``), and ``liveness`` tells a
live run from one whose ``gator run`` died.

May import: the foundation modules, ``spec`` and ``wire``.
"""
