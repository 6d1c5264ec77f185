"""The scheduler seam (layer 5): what a scheduler plugin implements and builds on.

``contract`` is the ``Scheduler`` contract, with its requests, events and
options; ``batch`` the ``BatchScheduler`` base for batch systems; ``agent``
the ``AgentScheduler`` base for schedulers served by one agent process;
``resources`` the accounting of cores, memory and licences.

May import: the foundation modules, ``spec``, ``wire``, ``store`` and ``job``.
Scheduler packages import these names from ``gator_core`` itself.
"""
