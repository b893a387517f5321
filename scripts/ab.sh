#!/usr/bin/env bash
# ab.sh: wall-clock A/B of load-tool builds (or of the producer and the baseline): runs each
# in turn, round after round, against one null broker in a process of its own (or the real
# cluster of --namesrv), and prints per build the median throughput, the median client CPU
# (user time, and user + system) per message and the median p50 / p99 latency.
#
# Usage:
#   scripts/ab.sh [--rounds N] [--secs S] [--concurrency C] [--size BYTES] [--namesrv ADDR] BUILD...
#
# A BUILD is a path to a `benchmark` binary, optionally followed by `+FLAG` words that are
# passed to it (`target/release/examples/benchmark+--baseline`). Keep a build of an earlier
# commit with `git worktree add /tmp/old COMMIT` and `CARGO_TARGET_DIR=/tmp/old-target cargo
# build --release --example benchmark` in it.
#
# Rounds alternate the builds, so a machine that slows down or speeds up (shared, 2 cores)
# affects them alike; instruction counts (scripts/profile.sh) miss what this shows: cache
# misses, atomics, allocator slow paths. Example, this commit against the baseline:
#   scripts/ab.sh target/release/examples/benchmark target/release/examples/benchmark+--baseline
set -euo pipefail
. "$(dirname "$0")/null-broker.sh"

rounds=6
secs=3
concurrency=256
size=128
cluster=""
builds=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --secs) secs="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --namesrv) cluster="$2"; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) builds+=("$1"); shift ;;
    esac
done
if [[ ${#builds[@]} -eq 0 ]]; then
    echo "ab.sh: name at least one build (see --help)" >&2
    exit 2
fi

first=${builds[0]%%+*}
out=$(mktemp -d)
broker_pid=""
cleanup() {
    [[ -n "$broker_pid" ]] && kill "$broker_pid" 2> /dev/null || true
    rm -rf "$out"
}
trap cleanup EXIT

if [[ -n "$cluster" ]]; then
    namesrv=$cluster
else
    start_null_broker "$first" $((rounds * ${#builds[@]} * (secs + 5) + 60)) "$out" ab.sh || exit 1
fi

for _ in $(seq 1 "$rounds"); do
    for build in "${builds[@]}"; do
        bin=${build%%+*}
        read -r -a flags <<< "$(tr '+' ' ' <<< "${build#"$bin"}")"
        summary=$("$bin" --namesrv "$namesrv" --concurrency "$concurrency" --size "$size" \
            --duration "$secs" "${flags[@]}" 2> /dev/null | tail -1)
        echo "$build $summary"
    done
done > "$out/runs"

python3 - "$out/runs" << 'EOF'
import collections, json, statistics, sys
tps, cpu = collections.defaultdict(list), collections.defaultdict(list)
cpu_all, p50, p99 = collections.defaultdict(list), collections.defaultdict(list), collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    build, summary = line.split(" ", 1)
    d = json.loads(summary)
    if build not in order:
        order.append(build)
    if d["ok"] > 0:
        tps[build].append(d["tps"])
        cpu[build].append(1e9 * d["cpu_user_s"] / d["ok"])
        cpu_all[build].append(1e9 * (d["cpu_user_s"] + d["cpu_sys_s"]) / d["ok"])
        p50[build].append(d["p50_us"])
        p99[build].append(d["p99_us"])
for b in order:
    if not cpu[b]:
        print(f"{b}: no successful run")
        continue
    print(f"{b}: {statistics.median(tps[b]):9.0f} msg/s, {statistics.median(cpu[b]):6.0f} ns user CPU "
          f"per message (median of {len(cpu[b])}; {min(cpu[b]):.0f}-{max(cpu[b]):.0f}), "
          f"{statistics.median(cpu_all[b]):6.0f} ns user+sys, "
          f"p50 {statistics.median(p50[b]):.1f} us, p99 {statistics.median(p99[b]):.1f} us")
EOF
