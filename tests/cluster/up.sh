#!/usr/bin/env bash
# Bring up the test clusters on this (Debian 12, root, no systemd) machine:
# a one-node Slurm with accounting, a one-node Grid Engine with DRMAA, and
# three SSH hosts for the user gatortest (one on 127.0.0.1, two in network
# namespaces).  Idempotent: what already runs is left alone.
#
#   eval "$(tests/cluster/up.sh)"
#
# stdout carries only `export VAR=value` lines; everything else goes to
# stderr.  See README.md beside this file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[ "$(id -u)" = 0 ] || { echo "${0##*/}: must run as root (it installs packages, starts daemons, makes network namespaces)" >&2; exit 1; }
run_locked "$HERE/${BASH_SOURCE[0]##*/}" "$@"

HOST=$(hostname -s)
SLURM_PARTITION=gator
SGE_QUEUE=all.q
DRMAA_LIB=/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0
LOCAL_SSH_PORT_FIRST=2222
SSH_NS_HOSTS=(h1 h2)          # namespace gator-hN, addresses 10.200.N.1 (host) / 10.200.N.2

PACKAGES=(
    munge slurmctld slurmd slurm-client slurmdbd mariadb-server
    gridengine-master gridengine-exec gridengine-client gridengine-drmaa1.0
    openssh-server openssh-sftp-server openssh-client
    postgresql
    python3-venv iproute2 procps util-linux
    chromium    # the hub's browser tests (tests/hub/browser), driven by Playwright
)

export DEBIAN_FRONTEND=noninteractive
export SGE_ROOT=$SGE_ROOT_DIR SGE_CELL=$SGE_CELL_NAME
export LC_ALL=C

# ---------------------------------------------------------------- basics

prepare() {
    [ "$(id -u)" = 0 ] || fail "must run as root (it installs packages and starts daemons)"
    install -d -m 0755 "$STATE" "$LOGS" "$PIDS" "$NSDIR" "$STATE/ssh"
    if ! getent hosts "$HOST" >/dev/null; then
        log "adding $HOST to /etc/hosts"
        printf '127.0.0.1\t%s\n' "$HOST" >>/etc/hosts
    fi
}

# write_if_changed FILE MODE OWNER: stdin becomes FILE when it differs.
# Returns 0 when the file was (re)written, 1 when it was already so.
write_if_changed() {
    local file=$1 mode=$2 owner=$3 tmp
    tmp=$(mktemp "$file.XXXXXX")
    cat >"$tmp"
    if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
        chmod "$mode" "$file"
        chown "$owner" "$file"
        return 1
    fi
    chmod "$mode" "$tmp"
    chown "$owner" "$tmp"
    mv -f "$tmp" "$file"
    return 0
}

# ---------------------------------------------------------------- packages

install_packages() {
    local status missing=() p
    status=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
    for p in "${PACKAGES[@]}"; do
        grep -qx "$p installed" <<<"$status" || missing+=("$p")
    done
    if [ ${#missing[@]} = 0 ]; then
        return 0
    fi
    log "installing ${missing[*]}"
    # Grid Engine asks where its master is; without an answer act_qmaster stays empty.
    debconf-set-selections <<'EOF'
gridengine-common shared/gridenginemaster string localhost
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridengineconfig boolean true
EOF
    # Package scripts must not start services: this script starts them itself.
    local own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    local rc=0
    if ! apt-cache show --no-all-versions "${missing[@]}" >/dev/null 2>&1; then
        apt_update
    fi
    apt_install "${missing[@]}" || rc=$?
    if [ "$rc" != 0 ]; then
        log "apt-get install failed; updating the package lists and trying again"
        apt_update
        rc=0
        apt_install "${missing[@]}" || rc=$?
    fi
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || fail "apt-get install ${missing[*]} failed" "$LOGS/apt.log"
    log "packages installed"
}

apt_update() {
    log "apt-get update"
    apt-get update -q >>"$LOGS/apt.log" 2>&1 || fail "apt-get update failed" "$LOGS/apt.log"
}

apt_install() {
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "$@" >>"$LOGS/apt.log" 2>&1
}

# ---------------------------------------------------------------- test user and its venv

setup_user() {
    if ! id -u "$TEST_USER" >/dev/null 2>&1; then
        log "creating user $TEST_USER"
        useradd --create-home --home-dir "$TEST_HOME" --shell /bin/bash "$TEST_USER"
    fi
    # A fresh account is locked ('!'), and sshd with UsePAM no refuses locked accounts.
    if [ "$(getent shadow "$TEST_USER" | cut -d: -f2)" != '*' ]; then
        usermod -p '*' "$TEST_USER"
    fi
    install -d -o "$TEST_USER" -g "$TEST_USER" -m 0755 "$TEST_HOME"
    install -d -o "$TEST_USER" -g "$TEST_USER" -m 0700 "$TEST_HOME/.ssh"
    local n
    for n in local "${SSH_NS_HOSTS[@]}"; do
        install -d -o "$TEST_USER" -g "$TEST_USER" -m 0755 "$TEST_HOME/work-$n"
    done
    # The client key: root (which runs the tests) reads it; gatortest accepts it.
    if [ ! -f "$STATE/id_ed25519" ]; then
        ssh-keygen -q -t ed25519 -N '' -C "gatortest@gator-cluster" -f "$STATE/id_ed25519"
    fi
    chmod 600 "$STATE/id_ed25519"
    local pub ak=$TEST_HOME/.ssh/authorized_keys
    pub=$(cat "$STATE/id_ed25519.pub")
    if ! grep -qxF "$pub" "$ak" 2>/dev/null; then
        printf '%s\n' "$pub" >>"$ak"
    fi
    chown "$TEST_USER:$TEST_USER" "$ak"
    chmod 600 "$ak"
}

as_test_user() {
    (cd / && runuser -u "$TEST_USER" -- env HOME="$TEST_HOME" PIP_DISABLE_PIP_VERSION_CHECK=1 \
        PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE= "$@")
}

# The files that make up the installable Gator tree, relative to $REPO.
gator_tree() {
    local f
    (cd "$REPO" && for f in pyproject.toml setup.py setup.cfg MANIFEST.in README* LICENSE*; do
        [ -e "$f" ] && printf '%s\n' "$f"
    done
    for f in */__init__.py; do
        [ -e "$f" ] && printf '%s\n' "${f%/__init__.py}"
    done)
}

gator_tree_hash() {
    local items
    mapfile -t items < <(gator_tree)
    (cd "$REPO" && find "${items[@]}" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
        ! -path '*.egg-info/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# Runs in the background while apt works; its output goes to logs/venv.log.
setup_venv() {
    local py=$TEST_VENV/bin/python hash fresh=
    if [ ! -x "$py" ] || ! as_test_user "$py" -c 'import sys' 2>/dev/null; then
        echo "creating $TEST_VENV from /usr/bin/python3"
        rm -rf "$TEST_VENV"
        as_test_user /usr/bin/python3 -m venv "$TEST_VENV"
        fresh=1
    fi
    hash=$(gator_tree_hash)
    if [ -z "$fresh" ] && [ "$hash" = "$(cat "$STATE/venv-gator.sha256" 2>/dev/null)" ] \
            && as_test_user "$py" -c 'import gator_core' 2>/dev/null; then
        echo "Gator in $TEST_VENV is up to date"
        return 0
    fi
    # Copy the tree somewhere gatortest can read (and build in).
    local items src=$STATE/src
    mapfile -t items < <(gator_tree)
    rm -rf "$src"
    mkdir -p "$src"
    (cd "$REPO" && tar -cf - --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' \
        --exclude=build "${items[@]}") | (cd "$src" && tar -xf -)
    chown -R "$TEST_USER:$TEST_USER" "$src"
    if ! as_test_user "$py" -c 'import setuptools, wheel, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 68)' 2>/dev/null; then
        echo "installing setuptools and wheel"
        as_test_user "$py" -m pip install -q 'setuptools>=68' wheel
    fi
    echo "installing Gator from $REPO"
    # --no-build-isolation: no fresh build environment to download each time.
    if as_test_user "$py" -c 'import gator_core' 2>/dev/null; then
        as_test_user "$py" -m pip install -q --no-build-isolation --force-reinstall --no-deps "$src"
        # New dependencies in pyproject.toml?
        as_test_user "$py" -m pip check >/dev/null \
            || as_test_user "$py" -m pip install -q --no-build-isolation "$src"
    else
        as_test_user "$py" -m pip install -q --no-build-isolation "$src"
    fi
    as_test_user "$py" -c 'import gator_core, sys; print("gator_core from", gator_core.__file__)'
    printf '%s\n' "$hash" >"$STATE/venv-gator.sha256"
}

# ---------------------------------------------------------------- munge, mariadb

start_munge() {
    install -d -o munge -g munge -m 0755 /run/munge
    local key=/etc/munge/munge.key
    if [ ! -s "$key" ]; then
        log "creating the munge key"
        dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
    fi
    chown munge:munge "$key"
    chmod 0400 "$key"
    if daemon_running munged; then
        return 0
    fi
    log "starting munged"
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged </dev/null >>"$LOGS/munged.start.log" 2>&1 \
        || fail "munged did not start" "$LOGS/munged.start.log" /var/log/munge/munged.log
    local pid
    wait_for 10 "munged pid file" read_pidfile /run/munge/munged.pid \
        || fail "munged did not come up" "$LOGS/munged.start.log" /var/log/munge/munged.log
    pid=$(read_pidfile /run/munge/munged.pid)
    record_pid munged "$pid"
}

munge_works() { munge -n </dev/null | unmunge >/dev/null; }

mariadb_ping() { timeout 3 mariadb-admin --protocol=socket ping >/dev/null 2>&1; }

start_mariadb() {
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    if mariadb_ping || daemon_running mariadbd; then
        wait_for 30 "mariadbd to answer" mariadb_ping \
            || fail "a running mariadbd does not answer" "$LOGS/mariadb.log"
        return 0
    fi
    if [ ! -d /var/lib/mysql/mysql ]; then
        log "initialising the MariaDB data directory"
        mariadb-install-db --user=mysql --skip-test-db >>"$LOGS/mariadb.log" 2>&1 \
            || fail "mariadb-install-db failed" "$LOGS/mariadb.log"
    fi
    log "starting mariadbd"
    rm -f /run/mysqld/mysqld.pid
    setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
        --pid-file=/run/mysqld/mysqld.pid </dev/null >>"$LOGS/mariadb.log" 2>&1 &
    wait_for 30 "mariadbd to answer" mariadb_ping \
        || fail "mariadbd did not come up" "$LOGS/mariadb.log"
    wait_for 5 "mariadbd pid file" read_pidfile /run/mysqld/mysqld.pid \
        || fail "mariadbd wrote no pid file" "$LOGS/mariadb.log"
    record_pid mariadbd "$(read_pidfile /run/mysqld/mysqld.pid)"
}

# ---------------------------------------------------------------- PostgreSQL (for the hub)
# A cluster of its own under $STATE, on 127.0.0.1:$PG_PORT: Debian's default
# cluster (if any) is left alone.  The role `gator` owns the database `gator`;
# its password is made here and never appears on a command line.

PG_PORT=55432
PG_DATA=$STATE/postgres
PG_SOCKETS=$STATE/pg-sockets
PG_PASSWORD_FILE=$STATE/postgres-password

pg_ready() { timeout 3 "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

start_postgres() {
    local bin
    bin=$(pg_bin)
    [ -n "$bin" ] || fail "no PostgreSQL programs under /usr/lib/postgresql" "$LOGS/apt.log"
    install -d -o postgres -g postgres -m 0700 "$PG_DATA"
    install -d -o postgres -g postgres -m 0755 "$PG_SOCKETS"
    touch "$LOGS/postgres.log"
    chown postgres "$LOGS/postgres.log"
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        log "initialising a PostgreSQL cluster in $PG_DATA"
        # UTF-8: in an SQL_ASCII database, psycopg hands text back as bytes.
        runuser -u postgres -- "$bin/initdb" -D "$PG_DATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
            --auth-local=peer --auth-host=scram-sha-256 >>"$LOGS/postgres.log" 2>&1 \
            || fail "initdb failed" "$LOGS/postgres.log"
    fi
    if ! pg_ready; then
        log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DATA" -l "$LOGS/postgres.log" -w -t 60 \
            -o "-p $PG_PORT -k $PG_SOCKETS -c listen_addresses=127.0.0.1" start >/dev/null 2>&1 \
            || fail "PostgreSQL did not start" "$LOGS/postgres.log"
    fi
    wait_for 30 "PostgreSQL to answer" pg_ready || fail "PostgreSQL does not answer" "$LOGS/postgres.log"
    record_pid postgres "$(read_pidfile "$PG_DATA/postmaster.pid")" || true
    if [ ! -s "$PG_PASSWORD_FILE" ]; then
        (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$PG_PASSWORD_FILE")
    fi
    # SQL on standard input: the password stays off every command line.
    runuser -u postgres -- "$bin/psql" -h "$PG_SOCKETS" -p "$PG_PORT" -d postgres -q -v ON_ERROR_STOP=1 \
        -f - >>"$LOGS/postgres.log" 2>&1 <<SQL || fail "creating the role and database gator failed" "$LOGS/postgres.log"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gator') THEN CREATE ROLE gator LOGIN; END IF;
END \$\$;
ALTER ROLE gator PASSWORD '$(cat "$PG_PASSWORD_FILE")';
SELECT 'CREATE DATABASE gator OWNER gator' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'gator')\gexec
SQL
    log "PostgreSQL is up (127.0.0.1:$PG_PORT, database gator)"
}

# ---------------------------------------------------------------- Slurm

SLURM_CONF_CHANGED=

slurm_config() {
    install -d -m 0755 /etc/slurm
    install -d -o slurm -g slurm -m 0755 /var/lib/slurm /var/lib/slurm/slurmctld /var/log/slurm /run/slurm
    install -d -m 0755 /var/lib/slurm/slurmd
    # The database password: keep the one already configured.
    local pass=
    if [ -f /etc/slurm/slurmdbd.conf ]; then
        pass=$(sed -n 's/^StoragePass=//p' /etc/slurm/slurmdbd.conf)
    fi
    [ -n "$pass" ] || pass=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    SLURMDB_PASS=$pass

    if write_if_changed /etc/slurm/slurm.conf 0644 root:root <<EOF
# Written by tests/cluster/up.sh of Gator: a one-node test cluster.
ClusterName=gator
SlurmctldHost=$HOST
SlurmUser=slurm
AuthType=auth/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
# No cgroups here: track processes by parentage, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# The node advertises 16 CPUs on a 2-core box; config_overrides keeps it from draining.
SlurmdParameters=config_overrides
ReturnToService=2
# Scheduling as fast as possible.
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SchedulerTimeSlice=5
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=500
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
DependencyParameters=kill_invalid_depend
# Accounting (sacct) through slurmdbd; memory use sampled every second, and a
# step above its memory request is killed at the next sample (no cgroups needed).
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
JobAcctGatherParams=OverMemoryKill
JobCompType=jobcomp/none
# A cluster-wide licence with two seats, for !License.
Licenses=gatorlic:2
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=16 RealMemory=8000 State=UNKNOWN
PartitionName=$SLURM_PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
    then
        SLURM_CONF_CHANGED=1
        log "wrote /etc/slurm/slurm.conf"
    fi

    if write_if_changed /etc/slurm/slurmdbd.conf 0600 slurm:slurm <<EOF
# Written by tests/cluster/up.sh of Gator.
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=slurm
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$pass
StorageLoc=slurm_acct_db
EOF
    then
        log "wrote /etc/slurm/slurmdbd.conf"
    fi
}

slurm_db_user() {
    timeout 10 mariadb --protocol=socket -u root <<EOF >>"$LOGS/mariadb.log" 2>&1 \
        || fail "could not create the Slurm database user" "$LOGS/mariadb.log"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$SLURMDB_PASS';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$SLURMDB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# start_slurm_daemon NAME LOG: start a self-daemonising Slurm daemon if it is not running.
start_slurm_daemon() {
    local name=$1 log=$2 pidfile=/run/slurm/$1.pid
    if daemon_running "$name"; then
        return 1
    fi
    log "starting $name"
    rm -f "$pidfile"
    "/usr/sbin/$name" </dev/null >>"$LOGS/$name.start.log" 2>&1 \
        || fail "$name did not start" "$LOGS/$name.start.log" "$log"
    wait_for 15 "$name pid file" read_pidfile "$pidfile" \
        || fail "$name did not come up" "$LOGS/$name.start.log" "$log"
    record_pid "$name" "$(read_pidfile "$pidfile")"
    return 0
}

slurmctld_up() { [[ $(timeout 5 scontrol ping 2>/dev/null) == *"is UP"* ]]; }
slurm_cluster_registered() { [[ $(timeout 5 sacctmgr -n -P show cluster format=cluster 2>/dev/null) == *gator* ]]; }
sacct_answers() { timeout 5 sacct -n -X -S now-1minutes >/dev/null 2>&1; }

SLURM_RESUMED=
slurm_node_ready() {
    local st
    st=$(timeout 5 sinfo -h -N -n "$HOST" -o %T 2>/dev/null) || return 1
    case $st in
        idle|mixed|allocated|completing) return 0 ;;
        down\*|*'*') return 1 ;;    # not responding (yet): wait
        *drain*|down|fail*|inval*)
            # Left drained or down by an earlier run: put it back.
            SLURM_RESUMED="$SLURM_RESUMED $st"
            timeout 5 scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
            return 1 ;;
        *) return 1 ;;
    esac
}

start_slurm() {
    slurm_config
    slurm_db_user
    if start_slurm_daemon slurmdbd /var/log/slurm/slurmdbd.log || ! tcp_open 127.0.0.1 6819; then
        wait_for 30 "slurmdbd to listen on port 6819" tcp_open 127.0.0.1 6819 \
            || fail "slurmdbd did not come up" /var/log/slurm/slurmdbd.log
    fi
    if ! start_slurm_daemon slurmctld /var/log/slurm/slurmctld.log && [ -n "$SLURM_CONF_CHANGED" ]; then
        log "slurm.conf changed: scontrol reconfigure"
        timeout 10 scontrol reconfigure || log "scontrol reconfigure failed (restart the daemons: down.sh; up.sh)"
    fi
    wait_for 30 "slurmctld to answer" slurmctld_up \
        || fail "slurmctld did not come up" /var/log/slurm/slurmctld.log
    start_slurm_daemon slurmd /var/log/slurm/slurmd.log || true
}

wait_slurm() {
    wait_for 30 "node $HOST idle in sinfo" slurm_node_ready \
        || fail "Slurm node $HOST did not become idle (sinfo: $(timeout 5 sinfo -N -h -o '%N %T %E' 2>&1))" \
            /var/log/slurm/slurmd.log /var/log/slurm/slurmctld.log
    [ -z "$SLURM_RESUMED" ] || log "resumed Slurm node $HOST (was:$SLURM_RESUMED)"
    wait_for 30 "cluster gator registered in slurmdbd" slurm_cluster_registered \
        || fail "the cluster did not register with slurmdbd" /var/log/slurm/slurmdbd.log /var/log/slurm/slurmctld.log
    wait_for 20 "sacct to answer" sacct_answers \
        || fail "sacct does not answer" /var/log/slurm/slurmdbd.log
    log "Slurm is up (partition $SLURM_PARTITION, node $HOST)"
}

# ---------------------------------------------------------------- Grid Engine

SGE_COMMON=$SGE_ROOT_DIR/$SGE_CELL_NAME/common
SGE_QMASTER_LOG=/var/spool/gridengine/qmaster/messages
SGE_EXECD_LOG=/var/spool/gridengine/execd/localhost/messages
SGE_QMASTER_PID=/var/spool/gridengine/qmaster/qmaster.pid
SGE_EXECD_PID=/var/spool/gridengine/execd/localhost/execd.pid
SGE_STARTED=

write_sge_editor() {
    # qconf -m*/-a* only run an $EDITOR program on a temp file: this one applies
    # the "key value" lines of $GATOR_SGE_EDIT to it (replacing the key's whole
    # entry, continuation lines included, or appending it).
    write_if_changed "$STATE/sge-editor.sh" 0755 root:root <<'EOF' || true
#!/bin/sh
set -e
f=$1
awk -v edits="$GATOR_SGE_EDIT" '
BEGIN {
    n = split(edits, lines, "\n")
    for (i = 1; i <= n; i++) {
        if (lines[i] !~ /[^ \t]/) continue
        k = lines[i]; sub(/[ \t].*/, "", k)
        v = lines[i]; sub(/^[^ \t]+[ \t]+/, "", v)
        val[k] = v; order[++m] = k
    }
}
skip { if ($0 !~ /\\$/) skip = 0; next }
($1 in val) { print $1 " " val[$1]; done[$1] = 1; if ($0 ~ /\\$/) skip = 1; next }
{ print }
END { for (i = 1; i <= m; i++) if (!(order[i] in done)) print order[i] " " val[order[i]] }
' "$f" >"$f.gator-edit"
cat "$f.gator-edit" >"$f"
rm -f "$f.gator-edit"
EOF
}

# sge_edit "key value\nkey value" qconf -mX ...: edit an object through the editor script.
sge_edit() {
    local edits=$1
    shift
    EDITOR=$STATE/sge-editor.sh GATOR_SGE_EDIT=$edits timeout 20 "$@" >>"$LOGS/sge-qconf.log" 2>&1 \
        || fail "Grid Engine: '$*' failed" "$LOGS/sge-qconf.log"
}

# sge_diffs WANT HAVE: the "key value" lines of WANT whose value differs in HAVE.
sge_diffs() {
    local want=$1 have k v cur
    # qconf wraps long values with a trailing backslash: join them first.
    have=$(awk '{ if (sub(/\\$/, "")) printf "%s ", $0; else print }' <<<"$2")
    while read -r k v; do
        [ -n "$k" ] || continue
        cur=$(awk -v k="$k" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' <<<"$have")
        [ "$cur" = "$v" ] || printf '%s %s\n' "$k" "$v"
    done <<<"$want"
}

qmaster_answers() { timeout 5 qconf -sh >/dev/null 2>&1; }

sge_queue_state() {
    # Prints the state letters of all.q@localhost ("" when usable); fails when not listed.
    local line
    line=$(timeout 5 qstat -f -q "$SGE_QUEUE" 2>/dev/null | awk -v q="$SGE_QUEUE@localhost" '$1 == q') || return 1
    [ -n "$line" ] || return 1
    awk '{ print (NF >= 6 ? $6 : "") }' <<<"$line"
}

SGE_FIXED=
sge_queue_ready() {
    local st
    st=$(sge_queue_state) || return 1
    case $st in
        "") return 0 ;;
        *u*) return 1 ;;   # execd has not reported yet
    esac
    # Error or disabled from an earlier run: clear it.
    case $st in *E*) timeout 5 qmod -cq "$SGE_QUEUE" >/dev/null 2>&1 || true ;; esac
    case $st in *d*) timeout 5 qmod -e "$SGE_QUEUE" >/dev/null 2>&1 || true ;; esac
    SGE_FIXED="$SGE_FIXED $st"
    return 1
}

start_sge() {
    [ -f "$SGE_COMMON/bootstrap" ] || fail "Grid Engine cell $SGE_COMMON has no bootstrap file (debconf preseed missed?)"
    if [ ! -e /var/spool/gridengine/spooldb/sge ]; then
        log "initialising the Grid Engine cluster"
        su -s /bin/sh -c "/usr/share/gridengine/scripts/init_cluster $SGE_ROOT_DIR $SGE_CELL_NAME /var/spool/gridengine/spooldb sgeadmin" sgeadmin \
            >>"$LOGS/sge-init.log" 2>&1 || fail "init_cluster failed" "$LOGS/sge-init.log"
    fi
    write_if_changed "$SGE_COMMON/act_qmaster" 0644 sgeadmin:sgeadmin <<<"localhost" || true
    write_if_changed "$SGE_COMMON/host_aliases" 0644 sgeadmin:sgeadmin <<<"localhost $HOST" || true
    write_sge_editor

    if ! daemon_running sge_qmaster; then
        log "starting sge_qmaster"
        rm -f "$SGE_QMASTER_PID"
        /usr/sbin/sge_qmaster \
            </dev/null >>"$LOGS/sge_qmaster.start.log" 2>&1 \
            || fail "sge_qmaster did not start" "$LOGS/sge_qmaster.start.log" "$SGE_QMASTER_LOG" /tmp/qmaster_messages
        wait_for 15 "sge_qmaster pid file" read_pidfile "$SGE_QMASTER_PID" \
            || fail "sge_qmaster did not come up" "$LOGS/sge_qmaster.start.log" "$SGE_QMASTER_LOG" /tmp/qmaster_messages
        record_pid sge_qmaster "$(read_pidfile "$SGE_QMASTER_PID")"
        SGE_STARTED=1
        # An execd that outlived its qmaster takes about 20 s to find the new
        # one; if it is ours, a restart is quicker.
        if recorded_alive sge_execd; then
            log "restarting sge_execd for the new qmaster"
            stop_recorded sge_execd 10
        fi
    fi
    wait_for 30 "sge_qmaster to answer" qmaster_answers \
        || fail "sge_qmaster does not answer" "$SGE_QMASTER_LOG" /tmp/qmaster_messages

    # Root may submit (uids below 1000 are refused by default); job scripts
    # run with their #! line; execd reports every 5 s (not 40 s), so a queue
    # is usable soon after a qmaster restart; accounting is flushed every
    # second for qacct.
    local d
    d=$(sge_diffs "min_uid 0
min_gid 0
shell_start_mode unix_behavior
load_report_time 00:00:05
reporting_params accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00" \
        "$(timeout 10 qconf -sconf global)")
    if [ -n "$d" ]; then
        log "Grid Engine global config: $(tr '\n' ';' <<<"$d")"
        sge_edit "$d" qconf -mconf global
    fi
    [[ $(timeout 5 qconf -sh 2>/dev/null) == *localhost* ]] || sge_edit "" qconf -ah localhost
    [[ $(timeout 5 qconf -ss 2>/dev/null) == *localhost* ]] || sge_edit "" qconf -as localhost
    if [[ $(timeout 5 qconf -sel 2>/dev/null) != *localhost* ]]; then
        log "Grid Engine: adding execution host localhost"
        sge_edit "hostname localhost" qconf -ae
    fi
    d=$(sge_diffs "schedule_interval 0:0:1
flush_submit_sec 1
flush_finish_sec 1" "$(timeout 10 qconf -ssconf)")
    if [ -n "$d" ]; then
        log "Grid Engine scheduler: $(tr '\n' ';' <<<"$d")"
        sge_edit "$d" qconf -msconf
    fi
    # A parallel environment for !Cores (slots on one host), and a consumable
    # licence "gatorlic" (2 seats across the cluster) for !License.
    if [[ $'\n'$(timeout 5 qconf -spl 2>/dev/null)$'\n' != *$'\n'smp$'\n'* ]]; then
        log "Grid Engine: adding parallel environment smp"
        sge_edit "slots 16
allocation_rule \$pe_slots
control_slaves FALSE
job_is_first_task TRUE" qconf -ap smp
    fi
    if [[ $(timeout 10 qconf -sc 2>/dev/null) != *gatorlic* ]]; then
        log "Grid Engine: adding consumable complex gatorlic"
        sge_edit "gatorlic gatorlic INT <= YES YES 0 0" qconf -mc
    fi
    d=$(sge_diffs "complex_values gatorlic=2" "$(timeout 10 qconf -se global)")
    [ -z "$d" ] || sge_edit "$d" qconf -me global
    local qwant="hostlist localhost
slots 16
pe_list smp
load_thresholds NONE
shell /bin/sh"
    if [[ $'\n'$(timeout 5 qconf -sql 2>/dev/null)$'\n' == *$'\n'"$SGE_QUEUE"$'\n'* ]]; then
        d=$(sge_diffs "$qwant" "$(timeout 10 qconf -sq "$SGE_QUEUE")")
        if [ -n "$d" ]; then
            log "Grid Engine queue $SGE_QUEUE: $(tr '\n' ';' <<<"$d")"
            sge_edit "$d" qconf -mq "$SGE_QUEUE"
            SGE_STARTED=1
        fi
    else
        log "Grid Engine: adding queue $SGE_QUEUE"
        sge_edit "qname $SGE_QUEUE
$qwant" qconf -aq
        SGE_STARTED=1
    fi

    if ! daemon_running sge_execd; then
        # It takes about 2 s to register with the qmaster before it writes its
        # pid file: let it do so while the SSH hosts come up (see wait_sge).
        log "starting sge_execd"
        rm -f "$SGE_EXECD_PID"
        /usr/sbin/sge_execd </dev/null >>"$LOGS/sge_execd.start.log" 2>&1 &
        SGE_EXECD_LAUNCHER=$!
        SGE_STARTED=1
    fi
}

SGE_EXECD_LAUNCHER=
wait_sge() {
    if [ -n "$SGE_EXECD_LAUNCHER" ]; then
        wait "$SGE_EXECD_LAUNCHER" \
            || fail "sge_execd did not start" "$LOGS/sge_execd.start.log" "$SGE_EXECD_LOG" /tmp/execd_messages.*
        wait_for 15 "sge_execd pid file" read_pidfile "$SGE_EXECD_PID" \
            || fail "sge_execd did not come up" "$LOGS/sge_execd.start.log" "$SGE_EXECD_LOG" /tmp/execd_messages.*
        record_pid sge_execd "$(read_pidfile "$SGE_EXECD_PID")"
    fi
    wait_for 40 "queue $SGE_QUEUE@localhost usable in qstat -f" sge_queue_ready \
        || fail "Grid Engine queue $SGE_QUEUE@localhost not usable (qstat -f: $(timeout 5 qstat -f 2>&1 | tail -n 3))" \
            "$SGE_EXECD_LOG" "$SGE_QMASTER_LOG"
    [ -z "$SGE_FIXED" ] || log "cleared Grid Engine queue states:$SGE_FIXED"
    # A trial job after any start or change, and until one has passed.
    if [ -n "$SGE_STARTED" ] || [ ! -f "$STATE/sge-trial-passed" ]; then
        rm -f "$STATE/sge-trial-passed"
        log "Grid Engine: trial job (qsub -sync y -b y true)"
        local out
        if ! out=$(cd / && timeout 60 qsub -sync y -b y -o /dev/null -e /dev/null -N gator-up-check true 2>&1); then
            fail "Grid Engine trial job did not complete within 60s: $out ($(timeout 5 qstat 2>&1 | tail -n 3))" \
                "$SGE_EXECD_LOG" "$SGE_QMASTER_LOG"
        fi
        touch "$STATE/sge-trial-passed"
    fi
    log "Grid Engine is up (queue $SGE_QUEUE, SGE_ROOT=$SGE_ROOT_DIR)"
}

# ---------------------------------------------------------------- SSH hosts

# sshd_conf NAME ADDRESS PORT: the config of one host's sshd.
write_sshd_conf() {
    local name=$1 addr=$2 port=$3 dir=$STATE/ssh/$1
    install -d -m 0755 "$dir"
    if [ ! -f "$dir/ssh_host_ed25519_key" ]; then
        ssh-keygen -q -t ed25519 -N '' -C "host-$name@gator-cluster" -f "$dir/ssh_host_ed25519_key"
    fi
    chmod 600 "$dir/ssh_host_ed25519_key"
    write_if_changed "$dir/sshd_config" 0644 root:root <<EOF
# Written by tests/cluster/up.sh of Gator: test host "$name".
ListenAddress $addr
Port $port
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
UsePAM no
PermitRootLogin no
AllowUsers $TEST_USER
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
MaxSessions 64
MaxStartups 64:30:128
LoginGraceTime 30
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
}

# The pid of our sshd for host NAME, if it runs.
sshd_pid() {
    local dir=$STATE/ssh/$1 pid
    pid=$(read_pidfile "$dir/sshd.pid") || return 1
    [ "$(pid_comm "$pid")" = sshd ] || return 1
    [[ $(tr '\0' ' ' <"/proc/$pid/cmdline") == *"$dir/sshd_config"* ]] || return 1
    printf '%s\n' "$pid"
}

port_free() { [ -z "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]; }

# start_sshd NAME ADDRESS PORT [NETNS]
start_sshd() {
    local name=$1 addr=$2 port=$3 ns=${4:-} dir=$STATE/ssh/$1 pid changed=
    install -d -m 0755 /run/sshd
    write_sshd_conf "$name" "$addr" "$port" && changed=1
    /usr/sbin/sshd -t -f "$dir/sshd_config" 2>>"$LOGS/sshd-$name.log" \
        || fail "sshd config for $name is invalid" "$LOGS/sshd-$name.log"
    if pid=$(sshd_pid "$name"); then
        if [ -n "$changed" ]; then
            log "sshd $name: config changed, reloading"
            kill -HUP "$pid"
        fi
        return 0
    fi
    log "starting sshd $name on $addr:$port${ns:+ in netns $ns}"
    rm -f "$dir/sshd.pid"
    if [ -n "$ns" ]; then
        ip netns exec "$ns" unshare --uts /bin/sh -c \
            "hostname '$name' && exec /usr/sbin/sshd -f '$dir/sshd_config' -E '$LOGS/sshd-$name.log'" \
            </dev/null >>"$LOGS/sshd-$name.log" 2>&1 || fail "sshd $name did not start" "$LOGS/sshd-$name.log"
    else
        /usr/sbin/sshd -f "$dir/sshd_config" -E "$LOGS/sshd-$name.log" \
            </dev/null >>"$LOGS/sshd-$name.log" 2>&1 || fail "sshd $name did not start" "$LOGS/sshd-$name.log"
    fi
    wait_for 10 "sshd $name" sshd_pid "$name" || fail "sshd $name did not come up" "$LOGS/sshd-$name.log"
    record_pid "sshd-$name" "$(sshd_pid "$name")"
}

# ensure_netns NAME INDEX: namespace gator-NAME with a veth pair to the host.
ensure_netns() {
    local name=$1 idx=$2 ns=gator-$1 hv=gator-$1 peer=gator-$1-p
    local host_ip=10.200.$idx.1 ns_ip=10.200.$idx.2
    if [ ! -e "/run/netns/$ns" ]; then
        log "creating network namespace $ns ($ns_ip)"
        ip netns add "$ns"
    fi
    printf '%s\n' "$hv" >"$NSDIR/$ns"
    if ! ip link show "$hv" >/dev/null 2>&1; then
        ip -n "$ns" link del eth0 >/dev/null 2>&1 || true
        ip link add "$hv" type veth peer name "$peer"
        ip link set "$peer" netns "$ns"
        ip -n "$ns" link set "$peer" name eth0
    fi
    ip addr replace "$host_ip/24" dev "$hv"
    ip link set "$hv" up
    ip -n "$ns" addr replace "$ns_ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    # Inside the namespace, /etc/hosts names the host itself (ip netns exec
    # bind-mounts /etc/netns/NS/hosts over /etc/hosts).
    install -d -m 0755 "/etc/netns/$ns"
    write_if_changed "/etc/netns/$ns/hosts" 0644 root:root <<EOF || true
127.0.0.1	localhost
$ns_ip	$name
$host_ip	gator-host
EOF
}

LOCAL_SSH_PORT=
start_ssh_hosts() {
    local dir=$STATE/ssh/local port=
    install -d -m 0755 "$dir"
    if [ -f "$dir/port" ]; then
        port=$(cat "$dir/port")
        if ! sshd_pid local >/dev/null && ! port_free "$port"; then
            port=
        fi
    fi
    if [ -z "$port" ]; then
        port=$LOCAL_SSH_PORT_FIRST
        while ! port_free "$port"; do
            port=$((port + 1))
            [ "$port" -lt $((LOCAL_SSH_PORT_FIRST + 200)) ] || fail "no free port for the loopback sshd"
        done
    fi
    printf '%s\n' "$port" >"$dir/port"
    LOCAL_SSH_PORT=$port
    start_sshd local 127.0.0.1 "$port"

    local i=0 n
    for n in "${SSH_NS_HOSTS[@]}"; do
        i=$((i + 1))
        ensure_netns "$n" "$i"
        start_sshd "$n" "10.200.$i.2" 22 "gator-$n"
    done

    # known_hosts, as ssh-keyscan writes it (a non-22 port in brackets).
    {
        printf '[127.0.0.1]:%s %s\n' "$LOCAL_SSH_PORT" "$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")"
        i=0
        for n in "${SSH_NS_HOSTS[@]}"; do
            i=$((i + 1))
            printf '10.200.%s.2 %s\n' "$i" "$(cut -d' ' -f1,2 "$STATE/ssh/$n/ssh_host_ed25519_key.pub")"
        done
    } | write_if_changed "$STATE/known_hosts" 0644 root:root || true

    # The hosts files that Gator's SSH scheduler reads.
    {
        printf 'known_hosts: %s\nhosts:\n' "$STATE/known_hosts"
        i=0
        for n in "${SSH_NS_HOSTS[@]}"; do
            i=$((i + 1))
            host_entry "$n" "10.200.$i.2" 22
        done
    } | write_if_changed "$STATE/hosts.yaml" 0644 root:root || true
    {
        printf 'known_hosts: %s\nhosts:\n' "$STATE/known_hosts"
        host_entry local 127.0.0.1 "$LOCAL_SSH_PORT"
    } | write_if_changed "$STATE/hosts-local.yaml" 0644 root:root || true

    # An ssh_config for people: ssh -F $STATE/ssh_config h1
    {
        i=0
        printf 'Host local\n  HostName 127.0.0.1\n  Port %s\n' "$LOCAL_SSH_PORT"
        for n in "${SSH_NS_HOSTS[@]}"; do
            i=$((i + 1))
            printf 'Host %s\n  HostName 10.200.%s.2\n  Port 22\n' "$n" "$i"
        done
        printf 'Host *\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n' \
            "$TEST_USER" "$STATE/id_ed25519" "$STATE/known_hosts"
    } | write_if_changed "$STATE/ssh_config" 0644 root:root || true
}

host_entry() {
    cat <<EOF
  - name: $1
    address: $2
    port: $3
    user: $TEST_USER
    key: $STATE/id_ed25519
    slots: 4
    python: $TEST_VENV/bin/python
    workdir: $TEST_HOME/work-$1
EOF
}

ssh_hostname() {
    timeout 10 ssh -F /dev/null -i "$STATE/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o UserKnownHostsFile="$STATE/known_hosts" -o StrictHostKeyChecking=yes -o ConnectTimeout=5 \
        -p "$2" "$TEST_USER@$1" hostname </dev/null
}

check_ssh_hosts() {
    # Log in to every host at once; each must answer with its own name.
    local i=0 n out=$STATE/ssh/check
    local -a names=(local "${SSH_NS_HOSTS[@]}") addrs=(127.0.0.1) ports=("$LOCAL_SSH_PORT") pids=()
    for n in "${SSH_NS_HOSTS[@]}"; do
        i=$((i + 1))
        addrs+=("10.200.$i.2")
        ports+=(22)
    done
    install -d -m 0755 "$out"
    for i in "${!names[@]}"; do
        ssh_hostname "${addrs[$i]}" "${ports[$i]}" >"$out/${names[$i]}" 2>"$out/${names[$i]}.err" &
        pids+=($!)
    done
    for i in "${!names[@]}"; do
        n=${names[$i]}
        local want=$n got
        [ "$n" != local ] || want=$(hostname)
        wait "${pids[$i]}" || fail "ssh to host $n (${addrs[$i]}:${ports[$i]}) failed" "$out/$n.err" "$LOGS/sshd-$n.log"
        got=$(cat "$out/$n")
        [ "$got" = "$want" ] || fail "ssh to host $n (${addrs[$i]}:${ports[$i]}) printed '$got', not '$want'"
    done
    # A namespace must not reach the host's loopback.
    for n in "${SSH_NS_HOSTS[@]}"; do
        if ip netns exec "gator-$n" timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$LOCAL_SSH_PORT" 2>/dev/null; then
            fail "from netns gator-$n the host's 127.0.0.1:$LOCAL_SSH_PORT is reachable; the hosts are not separate"
        fi
    done
    log "SSH hosts are up: local (127.0.0.1:$LOCAL_SSH_PORT), ${SSH_NS_HOSTS[*]}"
}

# ---------------------------------------------------------------- main

exports() {
    local -a vars=(
        "SGE_ROOT=$SGE_ROOT_DIR"
        "SGE_CELL=$SGE_CELL_NAME"
        "DRMAA_LIBRARY_PATH=$DRMAA_LIB"
        "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=16384"
        "GATOR_TEST_SLURM=1"
        "GATOR_TEST_SLURM_PARTITION=$SLURM_PARTITION"
        "GATOR_TEST_SGE=1"
        "GATOR_TEST_SGE_QUEUE=$SGE_QUEUE"
        "GATOR_TEST_SSH_HOSTS=$STATE/hosts.yaml"
        "GATOR_TEST_SSH_LOCAL=$STATE/hosts-local.yaml"
        "GATOR_TEST_CLUSTER_STATE=$STATE"
        "GATOR_TEST_PG_URL=postgresql+psycopg://gator:$(cat "$PG_PASSWORD_FILE")@127.0.0.1:$PG_PORT/gator"
    )
    local v
    for v in "${vars[@]}"; do
        printf 'export %s=%q\n' "${v%%=*}" "${v#*=}"
    done
}

main() {
    prepare
    log "state directory $STATE, repository $REPO"
    setup_user
    local venv_pid=
    if /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
        setup_venv >>"$LOGS/venv.log" 2>&1 &
        venv_pid=$!
    fi
    install_packages
    if [ -z "$venv_pid" ]; then
        setup_venv >>"$LOGS/venv.log" 2>&1 &
        venv_pid=$!
    fi

    start_munge
    wait_for 10 "munge to work" munge_works || fail "munge does not work" /var/log/munge/munged.log
    start_mariadb
    start_slurm
    start_sge
    start_ssh_hosts
    start_postgres
    wait_slurm
    wait_sge
    check_ssh_hosts

    if ! wait "$venv_pid"; then
        fail "installing Gator into $TEST_VENV failed" "$LOGS/venv.log"
    fi
    as_test_user "$TEST_VENV/bin/python" -c 'import gator_core' \
        || fail "$TEST_VENV/bin/python cannot import gator_core as $TEST_USER" "$LOGS/venv.log"
    log "Gator is installed in $TEST_VENV"

    (umask 077 && exports >"$STATE/env.sh")  # it holds the test database's password
    chmod 600 "$STATE/env.sh"
    log "all up in $(_elapsed)s; the exports are also in $STATE/env.sh"
}

main >&2
exports
