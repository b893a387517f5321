#!/usr/bin/env bash
# profile.sh: instructions per message of the producer and of the baseline client, counted by
# valgrind's callgrind. Unlike wall-clock figures these repeat exactly on a shared, noisy
# machine, so they compare commits (and the two clients) reliably. It also counts the locked
# (atomic) instructions per message, which cost far more than their count says (see
# scripts/locked_instructions.py). With strace installed it
# also counts the socket and wake-up system calls per 1000 messages of each client (frames
# per write, reads, polls): batching regressions show there, not in instruction counts.
#
# Usage:
#   scripts/profile.sh [--count N] [--concurrency C] [--size BYTES] [--top K] [--keep DIR]
#                      [--producer-flag FLAG]...
#
# It builds the load tool (release), serves a null broker in a process of its own (so only the
# client is counted), then runs the load tool under callgrind twice: as the producer and with
# --baseline. It prints instructions per message for each, their ratio, and the K functions with
# the most inclusive instructions in the producer run (this crate's, the load tool's worker,
# malloc/free and copies; 0 to skip). The callgrind files are kept
# in DIR if given (inspect them with callgrind_annotate), else deleted. Each --producer-flag
# goes to the producer run only (e.g. `--producer-flag --auto-batch`).
#
# Needs valgrind (Debian/Ubuntu: apt-get install valgrind). A run of 50 000 messages takes
# about 15 s per client.
set -euo pipefail
. "$(dirname "$0")/null-broker.sh"

count=50000
concurrency=256
size=128
top=25
keep=""
producer_flags=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --count) count="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --producer-flag) producer_flags+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "profile.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

if ! command -v valgrind > /dev/null; then
    echo "profile.sh: valgrind is not installed (apt-get install valgrind)" >&2
    exit 1
fi

cd "$(dirname "$0")/.."
cargo build --release --example benchmark >&2
bin=${CARGO_TARGET_DIR:-target}/release/examples/benchmark

out=$(mktemp -d)
broker_pid=""
cleanup() {
    [[ -n "$broker_pid" ]] && kill "$broker_pid" 2> /dev/null || true
    if [[ -z "$keep" ]]; then rm -rf "$out"; fi
}
trap cleanup EXIT

# The null broker lives as long as both runs may take; it is stopped on exit either way.
start_null_broker "$bin" 3600 "$out" profile.sh || exit 1

# Runs one client under callgrind; prints its instruction total.
count_run() {
    local name=$1
    shift
    valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$out/$name.callgrind" \
        "$bin" --namesrv "$namesrv" --count "$count" --concurrency "$concurrency" \
        --size "$size" --send-timeout 60000 "$@" > "$out/$name.json" 2> "$out/$name.log"
    local sent
    sent=$(tail -1 "$out/$name.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ok"])')
    if [[ "$sent" != "$count" ]]; then
        echo "profile.sh: $name answered $sent of $count sends" >&2
        exit 1
    fi
    grep -o 'refs: *[0-9,]*' "$out/$name.log" | tr -d ', ' | cut -d: -f2
}

producer=$(count_run producer "${producer_flags[@]}")
baseline=$(count_run baseline --baseline)
python3 - "$producer" "$baseline" "$count" "$concurrency" "$size" << 'EOF'
import sys
p, b, n, c, s = (int(x) for x in sys.argv[1:])
print(f"{n} sends of {s} B, {c} in flight, null broker in another process (callgrind, whole client process)")
print(f"  producer: {p / n:8.0f} instructions per message")
print(f"  baseline: {b / n:8.0f} instructions per message")
print(f"  baseline/producer: {b / p:.3f}")
EOF

# Atomics: counted once each above, yet some twenty cycles apiece (needs objdump).
if command -v objdump > /dev/null; then
    echo
    echo "locked (atomic) instructions per message:"
    echo "  producer: $(scripts/locked_instructions.py "$out/producer.callgrind" "$count" | head -1)"
    echo "  baseline: $(scripts/locked_instructions.py "$out/baseline.callgrind" "$count" | head -1)"
    if [[ "$top" -gt 0 ]]; then
        echo "  producer, by function:"
        scripts/locked_instructions.py "$out/producer.callgrind" "$count" 12 | tail -n +2
    fi
fi

if [[ "$top" -gt 0 ]]; then
    echo
    echo "producer, top $top functions (this crate's, the load tool's worker, malloc and copies)"
    echo "by inclusive instructions per message:"
    callgrind_annotate --inclusive=yes "$out/producer.callgrind" 2> /dev/null |
        grep -E '^ *[0-9,]+ \(' | grep -E 'actix_rocketmq|benchmark::(worker|send_one|open_loop)|malloc|free|memcpy|memmove' |
        head -n "$top" |
        sed -E 's/^ *([0-9,]+) \([ 0-9.]+%\) +/\1 /; s/ \[[^]]*\]$//; s/^([0-9,]+) (\?\?\?|[^ ]*\.[cS]):/\1 /' |
        awk -v n="$count" '{v=$1; gsub(",", "", v); $1=""; printf "%9.0f %s\n", v / n, $0}'
fi
# System calls per 1000 messages (outside valgrind, so the clients run at full speed).
count_syscalls() {
    local name=$1
    shift
    strace -f -c -o "$out/$name.strace" -e trace=sendto,recvfrom,write,writev,read,epoll_wait,futex \
        "$bin" --namesrv "$namesrv" --count "$count" --concurrency "$concurrency" \
        --size "$size" --send-timeout 60000 "$@" > /dev/null 2>&1
    awk -v n="$count" -v who="$name" '
        $NF ~ /^(sendto|recvfrom|write|writev|read|epoll_wait|futex)$/ {
            printf "  %-9s %-11s %8.1f per 1000 messages\n", who, $NF, 1000 * $4 / n
        }' "$out/$name.strace"
}
if command -v strace > /dev/null; then
    echo
    echo "system calls (strace -f -c), $count sends:"
    count_syscalls producer "${producer_flags[@]}"
    count_syscalls baseline --baseline
fi

if [[ -n "$keep" ]]; then
    mkdir -p "$keep"
    cp "$out"/*.callgrind "$keep"/
    echo "callgrind files in $keep"
fi
