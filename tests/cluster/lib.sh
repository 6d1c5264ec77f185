# Shared by up.sh and down.sh: the state directory, logging, and the records
# of what up.sh started.  Sourced, never run.
#
# Records kept in $STATE:
#   pids/NAME.pid     "PID COMM" of a daemon that up.sh started
#   netns/NAME        a network namespace up.sh made; holds the host-side veth name
#   logs/             logs of the daemons that do not have their own place

STATE=${GATOR_TEST_CLUSTER_STATE:-/var/tmp/gator-cluster}
LOGS=$STATE/logs
PIDS=$STATE/pids
NSDIR=$STATE/netns

# The test user, its virtualenv and the SSH hosts.
TEST_USER=gatortest
TEST_HOME=/home/$TEST_USER
TEST_VENV=$TEST_HOME/venv

SGE_ROOT_DIR=/var/lib/gridengine
SGE_CELL_NAME=default

_T0=${EPOCHREALTIME/./}

_elapsed() {
    local now=${EPOCHREALTIME/./}
    local ms=$(( (now - _T0) / 1000 ))
    printf '%d.%01d' $((ms / 1000)) $(( (ms % 1000) / 100 ))
}

log() { printf '[%s %5ss] %s\n' "${0##*/}" "$(_elapsed)" "$*" >&2; }

# fail MESSAGE [LOGFILE...]: say what did not come up, with the tail of its logs.
fail() {
    local msg=$1 f
    shift
    printf '%s: ERROR: %s\n' "${0##*/}" "$msg" >&2
    for f in "$@"; do
        if [ -s "$f" ]; then
            printf -- '--- last lines of %s ---\n' "$f" >&2
            tail -n 25 "$f" >&2 || true
            printf -- '--- end of %s ---\n' "$f" >&2
        else
            printf -- '(log %s is missing or empty)\n' "$f" >&2
        fi
    done
    exit 1
}

# wait_for SECONDS WHAT COMMAND...: run COMMAND (a function or program that
# bounds its own run time) until it succeeds, at most SECONDS.  Returns 1 on
# timeout, so the caller can name the logs in its error.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local deadline=$(( ${EPOCHREALTIME/./} + limit * 1000000 ))
    local delay=0.05
    until "$@" >/dev/null 2>&1; do
        if (( ${EPOCHREALTIME/./} > deadline )); then
            printf '%s: timed out after %ss waiting for %s\n' "${0##*/}" "$limit" "$what" >&2
            return 1
        fi
        sleep "$delay"
        [ "$delay" = 0.05 ] && delay=0.1 || delay=0.2
    done
}

# The comm of a live pid, or nothing (also nothing for a zombie: PID 1 on
# these machines is not a real init and may be slow to reap).
pid_comm() {
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    rest=${stat##*) }
    [ "${rest%% *}" = Z ] && return 0
    cat "/proc/$1/comm" 2>/dev/null || true
}

# pg_bin: the directory of the newest installed PostgreSQL's programs.
pg_bin() { find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1; }

# record_pid NAME PID: remember that up.sh started PID (with its comm).
record_pid() {
    local name=$1 pid=$2 comm
    comm=$(pid_comm "$pid")
    [ -n "$comm" ] || return 1
    mkdir -p "$PIDS"
    printf '%s %s\n' "$pid" "$comm" >"$PIDS/$name.pid"
}

# recorded_alive NAME: the daemon up.sh recorded under NAME still runs.
recorded_alive() {
    local f=$PIDS/$1.pid pid comm
    [ -f "$f" ] || return 1
    read -r pid comm <"$f" || return 1
    [ -n "$pid" ] && [ "$(pid_comm "$pid")" = "$comm" ]
}

# read_pidfile FILE: the pid in a daemon's own pid file, if that process lives.
read_pidfile() {
    local pid
    [ -f "$1" ] || return 1
    read -r pid <"$1" || return 1
    [[ $pid =~ ^[0-9]+$ ]] && [ -n "$(pid_comm "$pid")" ] && printf '%s\n' "$pid"
}

# stop_recorded NAME [SECONDS]: stop a daemon that up.sh recorded: SIGTERM,
# wait up to SECONDS (default 10), then SIGKILL.  Forgets the record.
stop_recorded() {
    local name=$1 limit=${2:-10} f pid comm deadline
    f=$PIDS/$name.pid
    [ -f "$f" ] || return 0
    read -r pid comm <"$f" || { rm -f "$f"; return 0; }
    if [ -n "$pid" ] && [ "$(pid_comm "$pid")" = "$comm" ]; then
        log "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$(( ${EPOCHREALTIME/./} + limit * 1000000 ))
        while [ "$(pid_comm "$pid")" = "$comm" ]; do
            if (( ${EPOCHREALTIME/./} > deadline )); then
                log "$name (pid $pid) did not stop within ${limit}s: SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                sleep 0.2
                break
            fi
            sleep 0.1
        done
    fi
    rm -f "$f"
}

# daemon_running COMM: some live (not zombie) process has this comm, whoever
# started it.
daemon_running() {
    local p
    for p in $(pgrep -x "$1" || true); do
        [ -z "$(pid_comm "$p")" ] || return 0
    done
    return 1
}

# run_locked "$0" "$@": run this script again under an exclusive lock on the
# state directory, so that two up.sh/down.sh never run at once.  flock -o
# keeps the lock out of the daemons the script starts.
run_locked() {
    if [ -n "${GATOR_CLUSTER_LOCKED:-}" ]; then
        unset GATOR_CLUSTER_LOCKED    # not for the daemons
        return 0
    fi
    install -d -m 0755 "$STATE"
    local rc=0
    GATOR_CLUSTER_LOCKED=1 flock -o -w 300 -E 75 "$STATE/.lock" bash "$@" || rc=$?
    if [ "$rc" = 75 ]; then
        printf '%s: another up.sh or down.sh held %s for 300 s\n' "${1##*/}" "$STATE/.lock" >&2
    fi
    exit "$rc"
}
