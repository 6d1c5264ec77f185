#!/usr/bin/env bash
# Smoke checks of the clusters that up.sh brought up, by hand, without Gator:
#   eval "$(tests/cluster/up.sh)" && tests/cluster/check.sh
# Every wait is bounded.  Prints one line per check and exits non-zero if any
# check failed.  The DRMAA check needs the python package drmaa: it makes a
# scratch virtualenv under the state directory for it on first use.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

: "${SGE_ROOT:?run eval \"\$(tests/cluster/up.sh)\" first}"
export SGE_ROOT SGE_CELL DRMAA_LIBRARY_PATH GLIBC_TUNABLES

passed=0
failed=0
ok() { printf 'ok    %s\n' "$*"; passed=$((passed + 1)); }
bad() { printf 'FAIL  %s\n' "$*"; failed=$((failed + 1)); }

work=$(mktemp -d /tmp/gator-cluster-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# slurm_wait JOBID SECONDS [RECORDS]: until sacct shows RECORDS (default 1)
# job records, all final.  sacct lags slurmctld a little: an array shows up
# as one record before its tasks do.
slurm_wait() {
    local id=$1 limit=$2 want=${3:-1} deadline states
    deadline=$(( ${EPOCHREALTIME/./} + limit * 1000000 ))
    while (( ${EPOCHREALTIME/./} < deadline )); do
        states=$(sacct -n -X -P -j "$id" -o State 2>/dev/null)
        if [ "$(grep -c . <<<"$states")" -ge "$want" ] && ! grep -qE 'PENDING|RUNNING|REQUEUED|RESIZING|SUSPENDED|COMPLETING' <<<"$states"; then
            return 0
        fi
        sleep 0.3
    done
    return 1
}

# --- Slurm
id=$(timeout 10 sbatch --parsable -o /dev/null --wrap true) && slurm_wait "$id" 30 \
    && [ "$(sacct -n -X -P -j "$id" -o State)" = COMPLETED ] \
    && ok "slurm: sbatch --wrap true COMPLETED (job $id)" || bad "slurm: sbatch --wrap true (job ${id:-none})"

id=$(timeout 10 sbatch --parsable -o "$work/arr-%a.out" --array=0-3 --wrap 'echo $SLURM_ARRAY_TASK_ID') \
    && slurm_wait "$id" 30 4 && states=$(sacct -n -X -P -j "$id" -o JobID,State | sort | tr '\n' ' ') \
    && [ "$(sacct -n -X -P -j "$id" -o State | sort -u)" = COMPLETED ] \
    && [ "$(cat "$work"/arr-*.out | sort | tr '\n' ' ')" = "0 1 2 3 " ] \
    && ok "slurm: array 0-3: $states" || bad "slurm: array job ${id:-none}: ${states:-}"

id=$(timeout 10 sbatch --parsable --mem=20 -o "$work/mem.out" \
        --wrap 'python3 -c "b=bytearray(200*1024*1024); import time; time.sleep(5)"') \
    && slurm_wait "$id" 30
state=$(sacct -n -X -P -j "${id:-0}" -o State,ExitCode 2>/dev/null)
case $state in
    OUT_OF_MEMORY*) ok "slurm: --mem=20 job using 200 MB ended OUT_OF_MEMORY" ;;
    FAILED*|CANCELLED*)
        if grep -q 'Exceeded job memory limit' "$work/mem.out" 2>/dev/null; then
            ok "slurm: --mem=20 job using 200 MB was killed (sacct: $state; not OUT_OF_MEMORY, see README)"
        else
            bad "slurm: --mem=20 job ended $state without a memory-limit message"
        fi ;;
    *) bad "slurm: --mem=20 job using 200 MB was not killed (sacct: $state)" ;;
esac

# --- Grid Engine
out=$(cd / && timeout 60 qsub -b y -sync y -o /dev/null -e /dev/null true 2>&1) \
    && ok "sge: qsub -b y -sync y true" || bad "sge: qsub -b y -sync y true: $out"

venv=$STATE/check-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import drmaa' 2>/dev/null; then
    /usr/bin/python3 -m venv "$venv" && "$venv/bin/pip" install -q drmaa >/dev/null 2>&1
fi
out=$(timeout 90 "$venv/bin/python" - 2>&1 <<'EOF'
import drmaa
with drmaa.Session() as s:
    jt = s.createJobTemplate()
    jt.remoteCommand = "/bin/true"
    jt.outputPath = ":/dev/null"
    jt.errorPath = ":/dev/null"
    jid = s.runJob(jt)
    info = s.wait(jid, 60)
    assert info.hasExited and info.exitStatus == 0, info
    print(jid)
EOF
) && ok "sge: drmaa runJob /bin/true completed (job $out)" || bad "sge: drmaa: $out"

# --- SSH hosts
ssh_to() {
    timeout 15 ssh -F /dev/null -i "$STATE/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o UserKnownHostsFile="$STATE/known_hosts" -o StrictHostKeyChecking=yes -o ConnectTimeout=5 \
        -p "$2" "$TEST_USER@$1" "$3" </dev/null 2>&1
}
port=$(cat "$STATE/ssh/local/port")
i=0
for spec in "local 127.0.0.1 $port $(hostname)" "h1 10.200.1.2 22 h1" "h2 10.200.2.2 22 h2"; do
    read -r name addr p want <<<"$spec"
    out=$(ssh_to "$addr" "$p" "hostname; $TEST_VENV/bin/python -c 'import gator_core'")
    [ "$out" = "$want" ] && ok "ssh: $name ($addr:$p) is $want and imports gator_core" \
        || bad "ssh: $name ($addr:$p): $out"
    if [ "$name" != local ]; then
        if ip netns exec "gator-$name" timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            bad "ssh: $name reaches the host's 127.0.0.1:$port"
        else
            ok "ssh: $name cannot reach the host's 127.0.0.1:$port"
        fi
    fi
done
out=$(cd / && runuser -u "$TEST_USER" -- "$TEST_VENV/bin/python" -c 'import gator_core' 2>&1) \
    && ok "venv: $TEST_USER imports gator_core" || bad "venv: $out"

printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
