#!/usr/bin/env bash
# Stop what tests/cluster/up.sh started: the daemons whose pids it recorded
# (SIGTERM, a bounded wait, then SIGKILL) and the network namespaces and veth
# pairs it made.  Installed packages, configuration, keys, the test user and
# its virtualenv stay, so the next up.sh is quick.  Idempotent.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || { echo "${0##*/}: must run as root" >&2; exit 1; }
if [ ! -d "$STATE" ]; then
    log "no state directory $STATE: nothing to stop"
    exit 0
fi
run_locked "$HERE/${BASH_SOURCE[0]##*/}" "$@"

# SSH hosts first, then the namespaces they live in.
for f in "$PIDS"/sshd-*.pid; do
    [ -e "$f" ] || continue
    name=${f##*/}
    stop_recorded "${name%.pid}" 5
done

for f in "$NSDIR"/*; do
    [ -e "$f" ] || continue
    ns=${f##*/}
    hv=$(cat "$f")
    if [ -e "/run/netns/$ns" ]; then
        # Whatever still runs inside (sessions the tests left) belongs to us too.
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            log "killing processes left in $ns: $(tr '\n' ' ' <<<"$pids")"
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        fi
        log "deleting network namespace $ns"
        ip netns del "$ns" || true
    fi
    # The host end of the veth pair goes when the namespace is gone; make sure.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        ip link show "$hv" >/dev/null 2>&1 || break
        ip link del "$hv" >/dev/null 2>&1 || true
        sleep 0.1
    done
    rm -rf "/etc/netns/$ns"
    rm -f "$f"
done

# Then the batch systems, clients before servers.
stop_recorded sge_execd 10
stop_recorded sge_qmaster 15
stop_recorded slurmd 10
stop_recorded slurmctld 15
stop_recorded slurmdbd 10
stop_recorded mariadbd 20
stop_recorded munged 5
# PostgreSQL: SIGINT is its fast shutdown (SIGTERM would wait for every client to leave).
if recorded_alive postgres; then
    read -r pg_pid _ <"$PIDS/postgres.pid"
    kill -INT "$pg_pid" 2>/dev/null || true
fi
stop_recorded postgres 20

# Anything else recorded (nothing, unless up.sh grows).
for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    name=${f##*/}
    stop_recorded "${name%.pid}" 10
done

log "down"
