#!/usr/bin/env bash
# Build the documentation (the guides in docs/*.md and the API reference from the
# docstrings) and serve it on http://127.0.0.1:PORT/ until Ctrl-C.
#
#   docs/serve.sh [PORT]        (default 8000)
#
# Uses .venv (GATOR_VENV), creating it and installing Gator with its docs extra
# when they are missing.  The build is tests/run-all.sh's: warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${1:-8000}
VENV=${GATOR_VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import sphinx, myst_parser' >/dev/null 2>&1; then
    echo "serve: installing Gator with its docs extra into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet -e '.[docs]'
fi

"$VENV/bin/python" -m sphinx -E -W --keep-going -q -b html docs docs/_build/html
echo "serve: http://127.0.0.1:$PORT/ (Ctrl-C stops it)" >&2
exec "$VENV/bin/python" -m http.server "$PORT" --bind 127.0.0.1 --directory docs/_build/html
