"""The compatibility entry for ``python -m gator``.

The earlier Gator (the seed system) was the package ``gator``, and its README
starts runs with ``python3 -m gator SPEC``.  This package only makes that
work: :mod:`gator.__main__` runs the ``gator`` command of :mod:`gator_core`.
It imports nothing, so that ``python -m gator`` starts as fast as ``gator``.
"""

__all__: list[str] = []
