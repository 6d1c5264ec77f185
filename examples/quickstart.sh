#!/usr/bin/env bash
# Install Gator into .venv and run the seed system's README example with it.
# Works on a fresh Debian 12 machine (installs python3-venv when missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
    else
        echo "quickstart: python3 cannot create a virtualenv; install python3-venv" >&2
        exit 2
    fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/gator run examples/seed/readme_tree_id.yaml "$@"
