#!/usr/bin/env bash
# Install Gator into .venv, start a hub, and run the seed system's README example
# reporting to it.  Works on a fresh Debian 12 machine (installs python3-venv when
# missing, as root).  On a terminal the hub keeps serving until Ctrl-C, so that
# the run can be opened in a browser; otherwise it stops when the run ends.
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

# A hub of its own: a database and a token in a fresh directory, on a free loopback port.
work=$(mktemp -d "${TMPDIR:-/tmp}/gator-quickstart.XXXXXX")
.venv/bin/gator hub serve --db "sqlite:///$work/hub.sqlite" --token-file "$work/hub.token" --port 0 \
    >"$work/hub.out" 2>"$work/hub.err" &
hub=$!
trap 'kill "$hub" 2>/dev/null; wait "$hub" 2>/dev/null || true; rm -rf "$work"' EXIT
url=""
for _ in $(seq 100); do  # at most 10 s
    url=$(sed -n 's|^gator hub: serving on \(http://[^ ]*\)/$|\1|p' "$work/hub.out")
    [ -n "$url" ] && break
    kill -0 "$hub" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "quickstart: the hub did not start:" >&2
    cat "$work/hub.err" >&2
    exit 1
fi
echo "quickstart: a hub serves on $url/"
status=0
.venv/bin/gator run examples/seed/readme_tree_id.yaml --hub "$url" --hub-token-file "$work/hub.token" "$@" \
    || status=$?
echo "quickstart: the run is on the hub: $url/ (runs page; click it for its tree)"
if [ -t 0 ] && [ -t 1 ]; then
    echo "quickstart: the hub keeps serving; press Ctrl-C to stop it"
    wait "$hub" || true
fi
exit "$status"
