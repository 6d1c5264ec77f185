"""Running one job: everything inside a wrapper process (layer 4).

``wrapper`` starts the job and decides pass or fail, ``lines`` splits its
output, ``classify`` turns lines into messages (rules and parser plugins),
``apiserver`` and ``api`` are the two ends of the job API, ``jobcli`` is
the job API from a shell (``gator log`` and ``gator metric``), and
``proctree`` finds and signals process trees.

May import: the foundation modules, ``spec``, ``wire`` and ``store``.
"""
