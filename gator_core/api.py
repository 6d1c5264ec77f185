"""The job API for job authors: ``from gator_core import api``; see :mod:`gator_core.job.api`.

Jobs import it by this name, so it stays here.
"""

from gator_core.job.api import *  # noqa: F403
from gator_core.job.api import __all__  # noqa: F401
