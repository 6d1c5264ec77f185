"""Slurm (through its commands) and Grid Engine (through DRMAA) schedulers.

Not yet implemented: this package is delivered by the Slurm and Grid Engine
issue.  It registers no scheduler until then, so ``gator schedulers`` does
not list one that cannot run.
"""
