#!/usr/bin/env bash
# The project's one test command (CI runs it via .ci/run):
#
#   scripts/test.sh [TESTNAME_FILTER...]
#
# 1. installs the real RocketMQ servers (scripts/rig.sh install; cached in
#    ~/.cache/actix-rocketmq/rig, a cold build takes ~21+ minutes),
# 2. builds all targets,
# 3. starts a rig (a name server + broker-a + broker-b on 127.0.0.1) in its own run dir,
# 4. runs every test including the real-broker ones (#[ignore]d for plain `cargo test`),
#    i.e. `cargo test --all-features --all-targets -- --include-ignored` and
#    `cargo test --doc --all-features`, with NAMESRV_ADDR, BROKER_A_ADDR, BROKER_B_ADDR,
#    RMQ_RIG_DIR, RMQ_RIG_SCRIPT and RMQ_E2E=1 exported. (Bench targets are run in test
#    mode separately, without --include-ignored: Criterion's harness rejects that flag.)
# 5. checks the packaging: `cargo package --list` and `cargo publish --dry-run` (needs
#    crates.io; fails, never skips, without it; `--allow-dirty` only outside CI),
# 6. always stops the rig (also when tests fail or on Ctrl-C).
#
# Fails (non-zero) if the servers cannot be built or started: it never skips the
# real-broker tests. Extra arguments are passed to the test binaries as name filters.
# Set RMQ_RIG_KEEP=1 to keep the rig's run dir (logs, store) after the run; on test
# failure the server logs are copied to target/rig-logs/ either way.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT_DIR=$(pwd -P)
RIG=$ROOT_DIR/scripts/rig.sh
LOGS=${CARGO_TARGET_DIR:-$ROOT_DIR/target}/rig-logs # server logs of a failed run
rm -rf "$LOGS"

now_ms() {
    if [ -n "${EPOCHREALTIME:-}" ]; then
        local t=${EPOCHREALTIME/[.,]/}
        echo $((10#$t / 1000))
    else
        echo $(($(date +%s) * 1000))
    fi
}
secs() { printf '%d.%ds' $(($1 / 1000)) $(($1 % 1000 / 100)); }
T_START=$(now_ms)
TIMINGS=()
PHASE=""
PHASE_T0=0
phase() { # name: end the previous phase (and report its time), start the next one
    local t
    t=$(now_ms)
    if [ -n "$PHASE" ]; then
        TIMINGS+=("$(printf '%-9s %s' "$PHASE" "$(secs $((t - PHASE_T0)))")")
        echo "test.sh: $PHASE took $(secs $((t - PHASE_T0)))" >&2
    fi
    PHASE=$1
    PHASE_T0=$t
    if [ -n "$1" ]; then echo "test.sh: === $1" >&2; fi
}

RIG_STARTED=0
finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$PHASE" ]; then phase ""; fi
    if [ "$RIG_STARTED" = 1 ]; then
        if [ "$rc" != 0 ] && [ -d "${RMQ_RIG_DIR:-}" ]; then
            mkdir -p "$LOGS" && cp "$RMQ_RIG_DIR"/*.log "$LOGS"/ 2>/dev/null &&
                echo "test.sh: server logs copied to $LOGS" >&2
        fi
        PHASE=stop PHASE_T0=$(now_ms)
        "$RIG" stop || { echo "test.sh: error: stopping the rig failed" >&2; rc=1; }
        phase ""
    fi
    {
        echo "test.sh: timings:"
        printf '  %s\n' ${TIMINGS[@]+"${TIMINGS[@]}"}
        printf '  %-9s %s\n' total "$(secs $(($(now_ms) - T_START)))"
        if [ "$rc" = 0 ]; then echo "test.sh: OK"; else echo "test.sh: FAILED (exit $rc)"; fi
    } >&2
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

phase install
"$RIG" install >/dev/null

phase build
cargo test --all-features --all-targets --no-run
# The quickstart end-to-end test runs the example binary itself.
cargo build --all-features --examples

phase start
RMQ_RIG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/actix-rocketmq-test-rig.XXXXXX")
export RMQ_RIG_DIR
RIG_STARTED=1
# Transactions: an unresolved half message is checked ~1-2 s after it is stored, not
# after the default 6 s + 30 s; the broker records ended transactions every 200 ms
# instead of 3 s, or it would check those too (tests/e2e_send.rs, transaction_*).
if ! RMQ_BROKERS=2 RMQ_RIG_OWNER_PID=$$ \
    RMQ_RIG_BROKER_EXTRA=$'transactionCheckInterval = 1000\ntransactionTimeout = 1000\ntransactionOpBatchInterval = 200' \
    "$RIG" start >/dev/null; then
    echo "test.sh: error: the RocketMQ rig did not start (see above); the real-broker tests cannot run" >&2
    exit 1
fi
set -a
# shellcheck source=/dev/null
. "$RMQ_RIG_DIR/rig.env"
set +a
export RMQ_E2E=1 RMQ_RIG_SCRIPT=$RIG
echo "test.sh: rig up: NAMESRV_ADDR=$NAMESRV_ADDR BROKER_A_ADDR=$BROKER_A_ADDR BROKER_B_ADDR=$BROKER_B_ADDR" >&2

phase tests
cargo test --all-features --lib --bins --tests --examples -- --include-ignored "$@"
if compgen -G 'benches/*.rs' >/dev/null || grep -q '^\[\[bench\]\]' Cargo.toml; then
    cargo test --all-features --bench '*'
fi

phase doctests
cargo test --doc --all-features -- "$@"

phase package
# What crates.io would get, built alone (its dev-dependency on this crate by path is dropped).
# CI's clone is clean, so there the check is strict; a developer's tree may hold uncommitted work.
PACKAGE_FLAGS=()
if [ "${CI:-}" != true ]; then PACKAGE_FLAGS+=(--allow-dirty); fi
cargo package --list ${PACKAGE_FLAGS[@]+"${PACKAGE_FLAGS[@]}"} >/dev/null
if ! cargo publish --dry-run ${PACKAGE_FLAGS[@]+"${PACKAGE_FLAGS[@]}"}; then
    echo "test.sh: error: cargo publish --dry-run failed (it needs crates.io; see above)" >&2
    exit 1
fi
