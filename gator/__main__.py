"""``python -m gator ...``: the ``gator`` command, with its exit code."""

from gator_core.cli.main import console

__all__: list[str] = []

if __name__ == "__main__":
    console()
