#!/usr/bin/env bash
# Install everything the test suite needs and run all of it.
#
# Works on a fresh Debian 12 machine: it installs python3-venv if the
# interpreter cannot make a virtualenv, creates .venv in the repository,
# installs Gator with its test extras, brings up the test clusters (as root:
# tests/cluster/up.sh installs and starts Slurm, Grid Engine and sshd), and
# runs every test layer.  Extra
# arguments go to pytest (for example: tests/run-all.sh -k spec).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${GATOR_VENV:-.venv}

if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "run-all: installing python3-venv" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
    else
        echo "run-all: $PYTHON cannot create a virtualenv; install python3-venv" >&2
        exit 2
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install --quiet -e '.[test]'

# The documentation (docs/*.md and the API reference from the docstrings), warnings as
# errors: a broken link or a docstring that is not valid reST fails the run here.  -E
# reads every page and docstring afresh, so that nothing is skipped as unchanged.
echo "run-all: building the documentation (docs/_build/html)" >&2
"$VENV/bin/python" -m sphinx -E -W --keep-going -q -b html docs docs/_build/html

# The real clusters (Slurm with accounting, Grid Engine with DRMAA, sshd hosts):
# brought up by the project's own script, which needs root.  Without root the
# cluster tests skip and say why; under CI (CI=true) they must run.
if [ "$(id -u)" = 0 ]; then
    echo "run-all: bringing up the test clusters (tests/cluster/up.sh)" >&2
    exports=$(tests/cluster/up.sh)  # an assignment, so that a failure stops us (set -e)
    eval "$exports"
elif [ "${CI:-}" = true ]; then
    echo "run-all: CI needs root to bring up the test clusters" >&2
    exit 2
else
    echo "run-all: not root: the cluster tests (Slurm, Grid Engine, SSH) will be skipped" >&2
fi

# Bytecode caching keeps the many short-lived interpreters the tests start fast.
unset PYTHONDONTWRITEBYTECODE
exec "$VENV/bin/python" -m pytest tests -p no:cacheprovider "$@"
