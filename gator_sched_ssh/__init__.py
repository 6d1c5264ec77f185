"""Plain SSH hosts scheduler.

Not yet implemented: this package is delivered by the SSH issue.  It
registers no scheduler until then, so ``gator schedulers`` does not list one
that cannot run.
"""
