# null-broker.sh: sourced by the profiling scripts. `start_null_broker BIN SECS DIR WHO`
# serves a null broker from the load tool BIN for SECS seconds in a process of its own
# (output in DIR/broker.out) and sets `broker_pid` and `namesrv`; WHO names the caller
# in the error when it does not start. The caller stops it (kill "$broker_pid").
start_null_broker() {
    local bin=$1 secs=$2 dir=$3 who=$4
    "$bin" --serve-null-broker "$secs" > "$dir/broker.out" 2>&1 &
    broker_pid=$!
    namesrv=""
    for _ in $(seq 1 100); do
        namesrv=$(grep -o 'NAMESRV_ADDR=[0-9.:]*' "$dir/broker.out" 2> /dev/null | cut -d= -f2 || true)
        [[ -n "$namesrv" ]] && return 0
        sleep 0.1
    done
    echo "$who: the null broker did not start:" >&2
    cat "$dir/broker.out" >&2
    return 1
}
