"""``python -m gator_hub ...``: the same as ``gator hub ...``."""

from gator_hub.cli import main

main()
