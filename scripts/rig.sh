#!/usr/bin/env bash
# rig.sh: a real RocketMQ name server + brokers on 127.0.0.1, for actix-rocketmq's tests.
#
# The servers are the crates.io RocketMQ-Rust releases (rocketmq-namesrv and
# rocketmq-broker, pinned to 1.0.0), built with `cargo install --locked`.
#
# Usage:
#   scripts/rig.sh install               build the servers once (cached; prints the bin dir)
#   scripts/rig.sh start                 start a name server + $RMQ_BROKERS brokers; prints
#                                        the rig's env file (NAMESRV_ADDR=..., ...) on stdout
#   scripts/rig.sh status                what runs (exit 0 only if everything runs)
#   scripts/rig.sh stop                  stop the rig and delete its run dir
#   scripts/rig.sh kill-broker NAME      SIGKILL one broker (broker-a, broker-b, ...)
#   scripts/rig.sh start-broker NAME     restart it (same ports, same store); waits until registered
#   scripts/rig.sh stop-namesrv          stop the name server (SIGTERM)
#   scripts/rig.sh start-namesrv         restart it on the same port; waits until every running
#                                        broker has registered again (<= ~10 s)
#
# Typical use:
#   export RMQ_RIG_DIR=$(mktemp -d)
#   scripts/rig.sh start >/dev/null && . "$RMQ_RIG_DIR/rig.env"    # NAMESRV_ADDR etc.
#   ...
#   scripts/rig.sh stop
# or:  set -a; eval "$(scripts/rig.sh start)"; set +a   (the env file includes RMQ_RIG_DIR)
#
# Every command but install works on the rig in $RMQ_RIG_DIR, so several rigs can run in
# parallel. Progress and errors go to stderr; on failure: a message, the last log lines,
# exit status 1.
#
# Environment (all optional):
#   RMQ_RIG_DIR          run dir (default for start: a new mktemp -d). start needs it empty.
#                        Holds: rig.env, namesrv.toml, broker-X.toml, namesrv/ and broker-X/
#                        (home + store), namesrv.log, broker-X.log, *.pid
#   RMQ_BROKERS          number of brokers for start (default 1; names broker-a, broker-b, ...;
#                        cluster DefaultCluster, brokerId 0, ASYNC_MASTER each)
#   RMQ_NAMESRV_PORT     name server port (default auto = a free block of ports in 20000-32000)
#   RMQ_BROKER_PORT      broker-a's port (default auto); broker #k listens on PORT+5k, and
#                        also on PORT+5k-2 (fast channel) and PORT+5k+1 (HA)
#   RMQ_RIG_KEEP=1       stop (and a failed start) keep the run dir
#   RMQ_RIG_TIMEOUT      seconds to wait for readiness (default 60)
#   RMQ_RIG_STOP_TIMEOUT seconds between SIGTERM and SIGKILL on stop (default 15)
#   RMQ_RIG_OWNER_PID    stop the rig automatically once this process is gone (tests set it
#                        so that a killed test run leaves nothing behind)
#   RMQ_RIG_ROOT         install root (default $HOME/.cache/actix-rocketmq/rig; binaries in bin/)
#   RMQ_RIG_BIN          use the binaries in this dir instead of the installed ones
#   RMQ_RIG_FORCE=1      install: rebuild even when the pinned binaries are present
#   RMQ_RIG_KEEP_TARGET=1 install: keep the ~1.3 GB build dir (ROOT/build-target)
#   RMQ_RIG_LOG_FILTER   RUST_LOG-style filter for the servers (default info minus chatty targets)
#   RMQ_RIG_AUTO_CREATE  autoCreateTopicEnable (default true)
#   RMQ_RIG_BROKER_BIND  start: the loopback address brokers listen on (default 127.0.0.1);
#                        they still advertise 127.0.0.1, e.g. for a TLS proxy on 127.0.0.1
#                        in front of a broker on 127.0.0.2
#   RMQ_RIG_BROKER_EXTRA, RMQ_RIG_STORE_EXTRA, RMQ_RIG_NAMESRV_EXTRA
#                        extra TOML lines for broker.toml's [broker] / [store] tables and for
#                        namesrv.toml, e.g. RMQ_RIG_BROKER_EXTRA='transactionCheckInterval = 1000'
#                        (the broker rejects unknown keys with an opaque error)
#
# Everything listens on 127.0.0.1 only, and the servers run with
# ROCKETMQ_SECURITY_PROFILE=development-insecure-loopback, under which they refuse to bind
# a non-loopback address. Needs bash, python3 (scripts/probe.py), and for install cargo
# with rustc >= 1.95 plus a C compiler.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
PROBE=$HERE/probe.py
VERSION=1.0.0
MIN_RUSTC=95 # 1.95, the servers' rust-version
ROOT=${RMQ_RIG_ROOT:-$HOME/.cache/actix-rocketmq/rig}
NS_EXE=rocketmq-namesrv-rust
BK_EXE=rocketmq-broker-rust
CLUSTER=DefaultCluster
LETTERS=(a b c d e f g h i j k l m n o p q r s t u v w x y z)
TIMEOUT=${RMQ_RIG_TIMEOUT:-60}
STOP_TIMEOUT=${RMQ_RIG_STOP_TIMEOUT:-15}
LOG_FILTER=${RMQ_RIG_LOG_FILTER:-info,rocketmq_store::queue::single_consume_queue=warn,rocketmq_broker::processor::processor_service::pop_buffer_merge_service=warn}

say() { echo "rig: $*" >&2; }
die() {
    echo "rig: error: $*" >&2
    exit 1
}

# ---------------------------------------------------------------------------- install

have_version() { # binary: exists and prints version=$VERSION
    local out
    [ -x "$1" ] || return 1
    out=$("$1" --version 2>/dev/null) || return 1
    [[ $'\n'$out$'\n' == *$'\n'"version=$VERSION"$'\n'* ]]
}

installed() {
    have_version "$ROOT/bin/$NS_EXE" && have_version "$ROOT/bin/$BK_EXE"
}

cmd_install() {
    local bin=$ROOT/bin log=$ROOT/install.log target=$ROOT/build-target t0 rustc_v minor
    if [ "${RMQ_RIG_FORCE:-0}" != 1 ] && installed; then
        say "RocketMQ-Rust $VERSION name server + broker already installed in $bin"
        echo "$bin"
        return 0
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH (needed to build the RocketMQ servers)"
    mkdir -p "$ROOT"
    # Run cargo from $ROOT, so that no rust-toolchain file or .cargo/config of the
    # calling project applies to this build.
    rustc_v=$(cd "$ROOT" && rustc --version 2>/dev/null) || die "rustc not found"
    minor=$(sed -n 's/^rustc 1\.\([0-9]*\)\..*/\1/p' <<<"$rustc_v")
    if [ -n "$minor" ] && [ "$minor" -lt "$MIN_RUSTC" ]; then
        die "the RocketMQ-Rust $VERSION servers need rustc >= 1.$MIN_RUSTC; found '$rustc_v' (rustup update?)"
    fi
    # One build at a time per install root.
    if command -v flock >/dev/null 2>&1; then
        exec 8>"$ROOT/install.lock"
        if ! flock -n 8; then
            say "another install into $ROOT is running; waiting for it ..."
            flock 8
            if [ "${RMQ_RIG_FORCE:-0}" != 1 ] && installed; then
                say "RocketMQ-Rust $VERSION installed in $bin"
                echo "$bin"
                return 0
            fi
        fi
    fi
    say "building RocketMQ-Rust $VERSION (rocketmq-namesrv, rocketmq-broker) into $bin"
    say "a cold build takes ~21 minutes or more on 2 cores (release build, ~600 crates; needs"
    say "crates.io access and a C compiler); it is cached afterwards. Log: $log"
    t0=$(date +%s)
    if ! (cd "$ROOT" && CARGO_TARGET_DIR=$target exec cargo install --locked --force \
        --version "$VERSION" --root "$ROOT" rocketmq-namesrv rocketmq-broker) >"$log" 2>&1; then
        echo "rig: error: building the RocketMQ servers failed (full log: $log); last lines:" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    echo "rig.sh: build took $(($(date +%s) - t0))s" >>"$log"
    if ! installed; then
        echo "rig: error: after the build, $bin/$NS_EXE or $bin/$BK_EXE is missing or does not report version=$VERSION (log: $log); last lines:" >&2
        tail -n 10 "$log" >&2
        exit 1
    fi
    if [ "${RMQ_RIG_KEEP_TARGET:-0}" != 1 ]; then
        rm -rf "$target"
    fi
    say "built in $(($(date +%s) - t0))s; binaries in $bin"
    echo "$bin"
}

# ---------------------------------------------------------------------------- helpers

need_python() {
    command -v python3 >/dev/null 2>&1 || die "python3 is needed (readiness probe scripts/probe.py)"
}

find_bins() {
    local d=${RMQ_RIG_BIN:-$ROOT/bin}
    if [ ! -x "$d/$NS_EXE" ] || [ ! -x "$d/$BK_EXE" ]; then
        die "$d/$NS_EXE or $d/$BK_EXE not found: run scripts/rig.sh install first (or set RMQ_RIG_BIN)"
    fi
    NS_BIN=$(cd "$d" && pwd -P)/$NS_EXE
    BK_BIN=$(cd "$d" && pwd -P)/$BK_EXE
}

rig_dir() { # set DIR from $RMQ_RIG_DIR for the commands working on an existing rig
    [ -n "${RMQ_RIG_DIR:-}" ] || die "RMQ_RIG_DIR is not set: which rig? (scripts/rig.sh start prints it)"
    DIR=$RMQ_RIG_DIR
}

require_rig() {
    rig_dir
    [ -f "$DIR/.rig" ] && [ -f "$DIR/layout" ] || die "no rig in $DIR (not started by scripts/rig.sh start?)"
    DIR=$(cd "$DIR" && pwd -P)
    read_layout
}

# layout file: "NAMESRV_PORT BROKER_PORT BROKERS BROKER_BIND"; bins file: the two binaries' paths
read_layout() {
    read -r NS_PORT BK_PORT NBROKERS BROKER_BIND <"$DIR/layout"
    BROKER_BIND=${BROKER_BIND:-127.0.0.1}
}
read_bins() { # restarts use the binaries the rig was started with
    { read -r NS_BIN && read -r BK_BIN; } <"$DIR/bins" || die "$DIR/bins is missing"
    [ -x "$NS_BIN" ] && [ -x "$BK_BIN" ] || die "$NS_BIN or $BK_BIN is gone"
}

broker_name() { echo "broker-${LETTERS[$1]}"; }
broker_index() { # name -> index, or fail
    local k
    for ((k = 0; k < NBROKERS; k++)); do
        if [ "$(broker_name "$k")" = "$1" ]; then
            echo "$k"
            return 0
        fi
    done
    return 1
}
broker_port() { echo $((BK_PORT + 5 * $1)); }
all_components() {
    local k
    echo namesrv
    for ((k = 0; k < NBROKERS; k++)); do broker_name "$k"; done
}

is_alive() { # pid: exists and is not a zombie
    local stat
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    if [ -r "/proc/$1/stat" ]; then
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [ "${stat%% *}" != Z ] || return 1
    fi
    return 0
}

comp_pid() { # component -> recorded pid (empty if none)
    if [ -s "$DIR/$1.pid" ]; then cat "$DIR/$1.pid"; fi
}

is_ours() { # component: its recorded pid is alive and runs the binary it was started from
    local pid exe want
    pid=$(comp_pid "$1")
    is_alive "$pid" || return 1
    want=$(cat "$DIR/$1.exe" 2>/dev/null) || return 1
    if [ -e "/proc/$pid/exe" ] || [ -d /proc/self ]; then
        exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
        [ "$exe" = "$want" ] || [ "$exe" = "$want (deleted)" ]
    else # no /proc: compare the command name
        exe=$(ps -p "$pid" -o comm= 2>/dev/null) || return 1
        [ "$(basename "$exe")" = "$(basename "$want")" ]
    fi
}

port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

strip_ansi() { sed 's/\x1b\[[0-9;]*m//g'; }

show_logs() { # components...
    local c
    for c in "$@"; do
        if [ -s "$DIR/$c.log" ]; then
            echo "---- last lines of $DIR/$c.log ----" >&2
            tail -n 20 "$DIR/$c.log" | strip_ansi >&2
        fi
    done
}

# Start a component in the background, in its own session (so a Ctrl-C aimed at
# the caller does not hit it), and record its pid and executable.
spawn() { # component exe args...
    local comp=$1 exe=$2 tmp=$DIR/.$1.pid.new i pre=()
    shift 2
    command -v setsid >/dev/null 2>&1 && pre=(setsid)
    rm -f "$tmp"
    printf '\n==== %s rig.sh: starting %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$comp" >>"$DIR/$comp.log"
    (
        cd "$DIR/$comp" || exit 1
        exec 8>&- 9>&-
        # shellcheck disable=SC2016 # $$, $0 and $@ are the inner shell's
        ${pre[@]+"${pre[@]}"} bash -c 'echo $$ >"$0"; exec "$@"' "$tmp" \
            env -u NAMESRV_ADDR -u ROCKETMQ_HEALTH_BIND_ADDR -u ROCKETMQ_METRICS_EXPORTER \
            -u ROCKETMQ_METRICS_BIND_ADDR -u OTEL_EXPORTER_OTLP_ENDPOINT \
            ROCKETMQ_HOME="$DIR/$comp" ROCKETMQ_SECURITY_PROFILE=development-insecure-loopback \
            RUST_LOG="$LOG_FILTER" "$exe" "$@" </dev/null >>"$DIR/$comp.log" 2>&1 &
    )
    for ((i = 0; i < 100; i++)); do
        [ -s "$tmp" ] && break
        sleep 0.05
    done
    [ -s "$tmp" ] || return 1
    echo "$exe" >"$DIR/$comp.exe"
    mv "$tmp" "$DIR/$comp.pid"
}

spawn_namesrv() { spawn namesrv "$NS_BIN" -c "$DIR/namesrv.toml"; }
spawn_broker() { spawn "$1" "$BK_BIN" -c "$DIR/$1.toml" -n "127.0.0.1:$NS_PORT"; }

wait_listen() { # component port deadline [host]; on failure WAIT_ERR says why
    while ! port_open "$2" "${4:-127.0.0.1}"; do
        is_alive "$(comp_pid "$1")" || { WAIT_ERR="it exited"; return 1; }
        [ "$(date +%s)" -lt "$3" ] || { WAIT_ERR="timeout after ${TIMEOUT}s"; return 1; }
        sleep 0.1
    done
}

# Wait until the name server lists the given brokers (with their addresses).
wait_registered() { # deadline brokers...
    local deadline=$1 b expect=()
    shift
    for b in "$@"; do
        expect+=("\"$b\"" "127.0.0.1:$(broker_port "$(broker_index "$b")")\"")
    done
    [ $# -gt 0 ] || return 0
    until python3 "$PROBE" cluster "127.0.0.1:$NS_PORT" "${expect[@]}" >/dev/null 2>&1; do
        for b in "$@"; do
            is_alive "$(comp_pid "$b")" || { WAIT_ERR="$b exited"; return 1; }
        done
        is_alive "$(comp_pid namesrv)" || { WAIT_ERR="the name server exited"; return 1; }
        [ "$(date +%s)" -lt "$deadline" ] || { WAIT_ERR="timeout after ${TIMEOUT}s"; return 1; }
        sleep 0.2
    done
}

running_brokers() {
    local k b
    for ((k = 0; k < NBROKERS; k++)); do
        b=$(broker_name "$k")
        if is_ours "$b"; then echo "$b"; fi
    done
}

# Stop components: SIGTERM (or another signal), wait, SIGKILL after the timeout.
stop_comps() { # signal components...
    local sig=$1 c pid pids=() deadline
    shift
    for c in "$@"; do
        if is_ours "$c"; then
            pid=$(comp_pid "$c")
            kill "-$sig" "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    deadline=$(($(date +%s) + STOP_TIMEOUT))
    for pid in ${pids[@]+"${pids[@]}"}; do
        while is_alive "$pid" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
        if is_alive "$pid"; then
            say "pid $pid did not exit ${STOP_TIMEOUT}s after SIG$sig; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for pid in ${pids[@]+"${pids[@]}"}; do
        for ((i = 0; i < 50; i++)); do
            is_alive "$pid" || break
            sleep 0.1
        done
        is_alive "$pid" && die "pid $pid is still running after SIGKILL"
    done
    for c in "$@"; do rm -f "$DIR/$c.pid"; done
}

write_env() { # rewrite $DIR/rig.env from the layout and the current pids
    local k b up p tmp=$DIR/.rig.env.new names=""
    {
        echo "NAMESRV_ADDR=127.0.0.1:$NS_PORT"
        for ((k = 0; k < NBROKERS; k++)); do
            b=$(broker_name "$k")
            up=${LETTERS[$k]^^}
            echo "BROKER_${up}_ADDR=127.0.0.1:$(broker_port "$k")"
            names=$names${names:+,}$b
        done
        echo "BROKER_NAMES=$names"
        echo "CLUSTER_NAME=$CLUSTER"
        echo "NAMESRV_PORT=$NS_PORT"
        echo "NAMESRV_PID=$(comp_pid namesrv)"
        for ((k = 0; k < NBROKERS; k++)); do
            b=$(broker_name "$k")
            up=${LETTERS[$k]^^}
            p=$(broker_port "$k")
            echo "BROKER_${up}_NAME=$b"
            echo "BROKER_${up}_PORT=$p"
            echo "BROKER_${up}_FAST_PORT=$((p - 2))"
            echo "BROKER_${up}_HA_PORT=$((p + 1))"
            echo "BROKER_${up}_PID=$(comp_pid "$b")"
        done
        echo "RMQ_RIG_DIR=$DIR"
    } >"$tmp"
    mv "$tmp" "$DIR/rig.env"
}

ports_of_layout() { # all ports of (ns, bk, n)
    local k p
    echo "$1"
    for ((k = 0; k < $3; k++)); do
        p=$(($2 + 5 * k))
        echo $((p - 2)) "$p" $((p + 1))
    done
}

bindable() { # ports...: all can be bound on 127.0.0.1
    python3 - "$@" <<'EOF'
import socket, sys
for p in map(int, sys.argv[1:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
EOF
}

choose_ports() { # sets NS_PORT BK_PORT for NBROKERS brokers
    local ns=${RMQ_NAMESRV_PORT:-auto} bk=${RMQ_BROKER_PORT:-auto} try base all=() dup
    for v in "$ns" "$bk"; do
        [[ $v == auto || $v =~ ^[0-9]+$ ]] || die "bad port '$v' (a number or auto)"
    done
    if [ "$bk" != auto ] && { [ "$bk" -lt 3 ] || [ $((bk + 5 * NBROKERS)) -gt 65535 ]; }; then
        die "RMQ_BROKER_PORT=$bk is out of range"
    fi
    if [ "$ns" != auto ]; then
        bindable "$ns" || die "RMQ_NAMESRV_PORT=$ns: port $ns is already in use on 127.0.0.1"
    fi
    if [ "$bk" != auto ]; then
        mapfile -t all < <(ports_of_layout "$bk" "$bk" "$NBROKERS" | tr ' ' '\n' | tail -n +2)
        bindable "${all[@]}" || die "RMQ_BROKER_PORT=$bk: one of the broker ports (${all[*]}) is already in use on 127.0.0.1"
    fi
    for ((try = 0; try < 20; try++)); do
        if [ "$ns" = auto ] && [ "$bk" = auto ]; then
            base=$(python3 "$PROBE" free-block $((5 * NBROKERS + 7))) || die "no free block of ports found"
            NS_PORT=$base BK_PORT=$((base + 5))
        elif [ "$ns" = auto ]; then
            NS_PORT=$(python3 "$PROBE" free-block 1) || die "no free port found"
            BK_PORT=$bk
        elif [ "$bk" = auto ]; then
            base=$(python3 "$PROBE" free-block $((5 * NBROKERS + 2))) || die "no free block of ports found"
            NS_PORT=$ns BK_PORT=$((base + 2))
        else
            NS_PORT=$ns BK_PORT=$bk
        fi
        mapfile -t all < <(ports_of_layout "$NS_PORT" "$BK_PORT" "$NBROKERS" | tr ' ' '\n')
        dup=$(printf '%s\n' "${all[@]}" | sort | uniq -d)
        if [ -z "$dup" ] && bindable "${all[@]}"; then
            return 0
        fi
        if [ "$ns" != auto ] && [ "$bk" != auto ]; then
            [ -z "$dup" ] || die "RMQ_NAMESRV_PORT=$ns clashes with the broker ports (broker #k uses RMQ_BROKER_PORT+5k, -2 and +1 of it)"
            die "a port of name server $ns / brokers $bk.. (${all[*]}) is already in use on 127.0.0.1"
        fi
    done
    die "could not find free ports (RMQ_NAMESRV_PORT=$ns RMQ_BROKER_PORT=$bk)"
}

write_configs() {
    local k b p
    mkdir -p "$DIR/namesrv"
    cat >"$DIR/namesrv.toml" <<EOF
rocketmqHome = "$DIR/namesrv"
kvConfigPath = "$DIR/namesrv/kvConfig.json"
configStorePath = "$DIR/namesrv/namesrv.properties"
listenPort = $NS_PORT
bindAddress = "127.0.0.1"
EOF
    if [ -n "${RMQ_RIG_NAMESRV_EXTRA:-}" ]; then
        printf '%s\n' "$RMQ_RIG_NAMESRV_EXTRA" >>"$DIR/namesrv.toml"
    fi
    for ((k = 0; k < NBROKERS; k++)); do
        b=$(broker_name "$k")
        p=$(broker_port "$k")
        mkdir -p "$DIR/$b/store"
        # Small preallocated files: commitlog 128 MiB (default 1 GiB), consume queue
        # 600 KB (default 6 MB per queue), index 8 MB (default ~400 MB).
        # registerNameServerPeriod = 10 s (the minimum; default 30 s) so that brokers
        # show up again quickly after a name server restart.
        cat >"$DIR/$b.toml" <<EOF
[broker]
namesrvAddr = "127.0.0.1:$NS_PORT"
brokerIp1 = "127.0.0.1"
brokerIp2 = "127.0.0.1"
listenPort = $p
storePathRootDir = "$DIR/$b/store"
autoCreateTopicEnable = ${RMQ_RIG_AUTO_CREATE:-true}
registerNameServerPeriod = 10000
${RMQ_RIG_BROKER_EXTRA:-}

[broker.brokerServerConfig]
bindAddress = "$BROKER_BIND"

[broker.brokerIdentity]
brokerName = "$b"
brokerClusterName = "$CLUSTER"
brokerId = 0

[store]
storeType = "LocalFile"
brokerRole = "ASYNC_MASTER"
storePathRootDir = "$DIR/$b/store"
haListenAddress = "127.0.0.1"
haListenPort = $((p + 1))
mappedFileSizeCommitLog = 134217728
mappedFileSizeConsumeQueue = 600000
maxHashSlotNum = 100000
maxIndexNum = 400000
${RMQ_RIG_STORE_EXTRA:-}
EOF
    done
}

# ---------------------------------------------------------------------------- start / stop

OWN_DIR=0
START_OK=0
WAIT_ERR=""
start_failed() { # message components-whose-logs-to-show...
    local msg=$1
    shift
    echo "rig: error: $msg" >&2
    show_logs "$@"
    exit 1
}

# EXIT trap of start: on any failure (or Ctrl-C), kill what was started.
start_cleanup() {
    local c
    [ "$START_OK" = 1 ] && return 0
    [ -n "${DIR:-}" ] && [ -d "$DIR" ] || return 0
    stop_watch
    if [ -n "${NBROKERS:-}" ] && [ -f "$DIR/layout" ]; then
        for c in $(all_components); do
            if is_ours "$c"; then kill -KILL "$(comp_pid "$c")" 2>/dev/null || true; fi
            rm -f "$DIR/$c.pid"
        done
    fi
    if [ "$OWN_DIR" = 1 ] && [ "${RMQ_RIG_KEEP:-0}" != 1 ]; then
        rm -rf "$DIR"
        echo "rig: (run dir removed; RMQ_RIG_KEEP=1 keeps it)" >&2
    elif compgen -G "$DIR/*.log" >/dev/null; then
        echo "rig: logs and config are in $DIR (scripts/rig.sh stop removes it)" >&2
    else # nothing was started: leave the given dir empty again, as it was
        rm -rf "${DIR:?}"/* "$DIR/.rig"
    fi
}

cmd_start() {
    local k b t0 deadline names=() lock used
    need_python
    find_bins
    # The broker exits at start ("disk capacity requires reclaim") past 75 % disk use.
    used=$(df -P "${RMQ_RIG_DIR:-${TMPDIR:-/tmp}}" 2> /dev/null | awk 'NR == 2 { sub("%", "", $5); print $5 }')
    if [ -n "$used" ] && [ "$used" -ge 75 ]; then
        die "the disk holding the rig is ${used}% full: the broker refuses to start past 75 %; free some space (old target/ dirs)"
    fi
    NBROKERS=${RMQ_BROKERS:-1}
    [[ $NBROKERS =~ ^[0-9]+$ ]] && [ "$NBROKERS" -ge 1 ] && [ "$NBROKERS" -le 26 ] ||
        die "RMQ_BROKERS must be a number from 1 to 26 (got '$NBROKERS')"
    if [ -n "${RMQ_RIG_OWNER_PID:-}" ]; then
        is_alive "$RMQ_RIG_OWNER_PID" || die "RMQ_RIG_OWNER_PID=$RMQ_RIG_OWNER_PID is not a running process"
    fi
    if [ -n "${RMQ_RIG_DIR:-}" ]; then
        DIR=$RMQ_RIG_DIR
        mkdir -p "$DIR" || die "cannot create RMQ_RIG_DIR=$DIR"
        if [ -f "$DIR/.rig" ]; then
            die "RMQ_RIG_DIR=$DIR already holds a rig; stop it first (scripts/rig.sh stop) or use another dir"
        fi
        [ -z "$(ls -A "$DIR")" ] || die "RMQ_RIG_DIR=$DIR is not empty; refusing to use it (give a new or empty dir)"
    else
        DIR=$(mktemp -d "${TMPDIR:-/tmp}/actix-rocketmq-rig.XXXXXX") || die "mktemp -d failed"
        OWN_DIR=1
    fi
    DIR=$(cd "$DIR" && pwd -P)
    if [[ ! $DIR =~ ^[A-Za-z0-9._/+-]+$ ]]; then
        [ "$OWN_DIR" = 0 ] || rmdir "$DIR"
        die "run dir path '$DIR' has characters other than [A-Za-z0-9._/+-]; use another dir"
    fi
    : >"$DIR/.rig" # marker: stop may delete this dir
    trap start_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    t0=$(date +%s)
    deadline=$((t0 + TIMEOUT))

    # Pick and bind the ports under a lock, so parallel starts do not pick the same ones.
    lock=${TMPDIR:-/tmp}/actix-rocketmq-rig-$(id -u).ports.lock
    if command -v flock >/dev/null 2>&1 && exec 9>"$lock"; then
        flock -w 120 9 || die "could not take the port lock $lock"
    fi
    choose_ports
    BROKER_BIND=${RMQ_RIG_BROKER_BIND:-127.0.0.1}
    case "$BROKER_BIND" in
    127.*) ;;
    *) die "RMQ_RIG_BROKER_BIND=$BROKER_BIND: only loopback (127.x.y.z) addresses" ;;
    esac
    echo "$NS_PORT $BK_PORT $NBROKERS $BROKER_BIND" >"$DIR/layout"
    printf '%s\n' "$NS_BIN" "$BK_BIN" >"$DIR/bins"
    write_configs

    spawn_namesrv || start_failed "could not launch the name server" namesrv
    wait_listen namesrv "$NS_PORT" "$deadline" ||
        start_failed "the name server did not start listening on 127.0.0.1:$NS_PORT ($WAIT_ERR)" namesrv
    for ((k = 0; k < NBROKERS; k++)); do
        b=$(broker_name "$k")
        names+=("$b")
        spawn_broker "$b" || start_failed "could not launch $b" "$b"
    done
    for ((k = 0; k < NBROKERS; k++)); do
        b=$(broker_name "$k")
        wait_listen "$b" "$(broker_port "$k")" "$deadline" "$BROKER_BIND" ||
            start_failed "$b did not start listening on 127.0.0.1:$(broker_port "$k") ($WAIT_ERR)" "$b"
    done
    exec 9>&- # ports are bound: release the lock
    wait_registered "$deadline" "${names[@]}" ||
        start_failed "the brokers did not register with the name server ($WAIT_ERR)" "${names[@]}" namesrv

    if [ -n "${RMQ_RIG_OWNER_PID:-}" ]; then
        spawn_watch "$RMQ_RIG_OWNER_PID" || start_failed "could not start the owner watcher"
    fi
    write_env
    START_OK=1
    say "ready in $(($(date +%s) - t0))s: name server 127.0.0.1:$NS_PORT, $NBROKERS broker(s) ($(IFS=,; echo "${names[*]}")); run dir $DIR"
    cat "$DIR/rig.env"
}

# A small watcher that stops the rig when RMQ_RIG_OWNER_PID is gone.
spawn_watch() {
    local tmp=$DIR/.watch.pid.new i pre=()
    command -v setsid >/dev/null 2>&1 && pre=(setsid)
    (
        exec 8>&- 9>&-
        # shellcheck disable=SC2016 # $$, $0 and $@ are the inner shell's
        RMQ_RIG_DIR=$DIR ${pre[@]+"${pre[@]}"} bash -c 'echo $$ >"$0"; exec "$@"' "$tmp" \
            bash "$SELF" __watch "$1" </dev/null >>"$DIR/watch.log" 2>&1 &
    )
    for ((i = 0; i < 100; i++)); do
        [ -s "$tmp" ] && break
        sleep 0.05
    done
    [ -s "$tmp" ] && mv "$tmp" "$DIR/watch.pid"
}

cmd_watch() { # owner pid
    rig_dir
    while [ -f "$DIR/.rig" ] && is_alive "$1"; do sleep 1; done
    if [ -f "$DIR/.rig" ] && [ -s "$DIR/watch.pid" ] && [ "$(cat "$DIR/watch.pid")" = "$$" ]; then
        echo "$(date -u +%H:%M:%S) owner pid $1 is gone: stopping the rig"
        rm -f "$DIR/watch.pid"
        exec bash "$SELF" stop
    fi
}

stop_watch() {
    local pid
    [ -s "$DIR/watch.pid" ] || return 0
    pid=$(cat "$DIR/watch.pid")
    if [ "$pid" != "$$" ] && is_alive "$pid" &&
        [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *" __watch "* ]]; then
        kill "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/watch.pid"
}

cmd_stop() {
    local c brokers=()
    rig_dir
    if [ ! -e "$DIR" ]; then
        say "no rig in $DIR (already stopped)"
        return 0
    fi
    [ -f "$DIR/.rig" ] || die "$DIR is not a rig run dir (no .rig marker); not touching it"
    DIR=$(cd "$DIR" && pwd -P)
    stop_watch
    if [ -f "$DIR/layout" ]; then
        read_layout
        for c in $(all_components); do
            [ "$c" = namesrv ] || brokers+=("$c")
        done
        # brokers first (they unregister from the name server), then the name server
        stop_comps TERM ${brokers[@]+"${brokers[@]}"}
        stop_comps TERM namesrv
        write_env
    fi
    if [ "${RMQ_RIG_KEEP:-0}" = 1 ]; then
        say "stopped; run dir kept: $DIR"
    else
        rm -rf "$DIR"
        say "stopped"
    fi
}

cmd_kill_broker() {
    local b=${1:-} pid i
    require_rig
    broker_index "$b" >/dev/null || die "unknown broker '$b' (this rig has: $(all_components | grep -v namesrv | tr '\n' ' '))"
    is_ours "$b" || die "$b is not running"
    pid=$(comp_pid "$b")
    kill -KILL "$pid"
    for ((i = 0; i < 100; i++)); do
        is_alive "$pid" || break
        sleep 0.05
    done
    is_alive "$pid" && die "$b (pid $pid) is still alive after SIGKILL"
    rm -f "$DIR/$b.pid"
    write_env
    say "killed $b (pid $pid, SIGKILL)"
}

cmd_start_broker() {
    local b=${1:-} k p deadline t0
    require_rig
    need_python
    k=$(broker_index "$b") || die "unknown broker '$b' (this rig has: $(all_components | grep -v namesrv | tr '\n' ' '))"
    is_ours "$b" && die "$b is already running (pid $(comp_pid "$b"))"
    read_bins
    p=$(broker_port "$k")
    bindable $((p - 2)) "$p" $((p + 1)) || die "a port of $b ($((p - 2)), $p, $((p + 1))) is taken by another process"
    t0=$(date +%s)
    deadline=$((t0 + TIMEOUT))
    spawn_broker "$b" || die "could not launch $b"
    if ! wait_listen "$b" "$p" "$deadline" "$BROKER_BIND"; then
        echo "rig: error: $b did not start listening on 127.0.0.1:$p ($WAIT_ERR)" >&2
        show_logs "$b"
        exit 1
    fi
    if is_ours namesrv; then
        WAIT_ERR=""
        if ! wait_registered "$deadline" "$b"; then
            echo "rig: error: $b did not register with the name server ($WAIT_ERR)" >&2
            show_logs "$b" namesrv
            exit 1
        fi
    else
        say "the name server is not running; not waiting for $b to register"
    fi
    write_env
    say "$b running again (pid $(comp_pid "$b"), 127.0.0.1:$p) after $(($(date +%s) - t0))s"
}

cmd_stop_namesrv() {
    require_rig
    is_ours namesrv || die "the name server is not running"
    stop_comps TERM namesrv
    write_env
    say "name server stopped"
}

cmd_start_namesrv() {
    local deadline t0 running
    require_rig
    need_python
    is_ours namesrv && die "the name server is already running (pid $(comp_pid namesrv))"
    read_bins
    bindable "$NS_PORT" || die "port $NS_PORT is taken by another process"
    t0=$(date +%s)
    deadline=$((t0 + TIMEOUT))
    spawn_namesrv || die "could not launch the name server"
    if ! wait_listen namesrv "$NS_PORT" "$deadline"; then
        echo "rig: error: the name server did not start listening on 127.0.0.1:$NS_PORT ($WAIT_ERR)" >&2
        show_logs namesrv
        exit 1
    fi
    # Brokers re-register on their next periodic registration (every 10 s).
    mapfile -t running < <(running_brokers)
    WAIT_ERR=""
    if ! wait_registered "$deadline" ${running[@]+"${running[@]}"}; then
        echo "rig: error: the brokers did not register again ($WAIT_ERR)" >&2
        show_logs namesrv ${running[@]+"${running[@]}"}
        exit 1
    fi
    write_env
    say "name server running again (pid $(comp_pid namesrv), 127.0.0.1:$NS_PORT) after $(($(date +%s) - t0))s"
}

cmd_status() {
    local c pid addr state ok=0 body="" k
    rig_dir
    if [ ! -f "$DIR/.rig" ] || [ ! -f "$DIR/layout" ]; then
        echo "no rig in $DIR"
        return 1
    fi
    DIR=$(cd "$DIR" && pwd -P)
    read_layout
    echo "rig dir $DIR"
    if is_ours namesrv && command -v python3 >/dev/null 2>&1; then
        body=$(python3 "$PROBE" cluster "127.0.0.1:$NS_PORT" 2>/dev/null) || body=""
    fi
    for c in $(all_components); do
        pid=$(comp_pid "$c")
        if [ "$c" = namesrv ]; then
            addr=127.0.0.1:$NS_PORT
        else
            k=$(broker_index "$c")
            addr=127.0.0.1:$(broker_port "$k")
        fi
        if is_ours "$c"; then
            state="running (pid $pid)"
            if [ "$c" != namesrv ] && is_ours namesrv; then
                if [[ $body == *"\"$addr\""* ]]; then state+=", registered"; else state+=", NOT registered"; fi
            fi
        else
            state=stopped
            ok=1
        fi
        printf '%-9s %-16s %s\n' "$c" "$addr" "$state"
    done
    if [ -s "$DIR/watch.pid" ] && is_alive "$(cat "$DIR/watch.pid")"; then
        echo "watcher   pid $(cat "$DIR/watch.pid") (stops the rig when its owner exits)"
    fi
    return "$ok"
}

usage() {
    sed -n '2,/^set -euo/p' "$SELF" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
kill-broker) cmd_kill_broker "${2:-}" ;;
start-broker) cmd_start_broker "${2:-}" ;;
stop-namesrv) cmd_stop_namesrv ;;
start-namesrv) cmd_start_namesrv ;;
__watch) cmd_watch "$2" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
