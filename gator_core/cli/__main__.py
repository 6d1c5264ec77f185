"""``python -m gator_core.cli ...``: the ``gator`` command."""

from gator_core.cli.main import console

if __name__ == "__main__":
    console()
