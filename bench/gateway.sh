#!/usr/bin/env bash
# Compares requests/s of a trivial upstream reached directly, through the gateway (with and without
# rate limiting), and through nginx (keep-alive upstream pool), in one run, with wrk. The targets
# are measured in alternation for ROUNDS rounds and the median of each is reported, so that noise
# from other processes on the machine hits all of them alike. Prints the numbers and the ratios.
#
# Usage: bench/gateway.sh            (from anywhere)
# Env:   DURATION=5s ROUNDS=3 CONNECTIONS=64 THREADS=2 PATH_UNDER_TEST=/api/products/bench PIN=0
#        (PIN=1: proxies on CPU 0, one worker each; wrk and the upstream on CPU 1; see common.sh)
# Needs: wrk and nginx (apt-get install -y wrk nginx), python3 (free ports), curl.

# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
defaults DURATION=5s ROUNDS=3 CONNECTIONS=64 THREADS=2 PATH_UNDER_TEST=/api/products/bench
prepare wrk nginx curl python3
read -r UP_PORT GW_PORT NGX_PORT GW2_PORT NGX2_PORT < <(free_ports 5)

"${LOAD[@]}" "$BIN/examples/bench_upstream" "$UP_PORT" & PIDS+=($!)

start_gateway() {
  "${SUT[@]}" env "${GATEWAY_ENV[@]}" "${GATEWAY_WORKERS[@]}" \
    PRODUCT_SERVICE_URL="http://127.0.0.1:$UP_PORT" "$@" "$BIN/api-gateway" >> "$WORK/gateway.log" 2>&1 &
  PIDS+=($!)
}
start_gateway PORT="$GW_PORT"
GW_PID=${PIDS[-1]}
start_gateway PORT="$GW2_PORT" RATE_LIMIT_ENABLED=false

nginx_conf "$PROXY_WORKERS"
"${SUT[@]}" nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)
NGINX_PID=$!

wait_for "http://127.0.0.1:$UP_PORT$PATH_UNDER_TEST"
wait_for "http://127.0.0.1:$GW_PORT$PATH_UNDER_TEST"
wait_for "http://127.0.0.1:$NGX_PORT$PATH_UNDER_TEST"
wait_for "http://127.0.0.1:$GW2_PORT$PATH_UNDER_TEST"
wait_for "http://127.0.0.1:$NGX2_PORT$PATH_UNDER_TEST"

rps() {
  "${LOAD[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1" "$2" | tee -a "$WORK/wrk.log" | awk '/Requests\/sec/ {print $2}'
}

PORTS=("$UP_PORT" "$GW_PORT" "$GW2_PORT" "$NGX_PORT" "$NGX2_PORT")
# Warm up every path (connection pools, caches), then measure in alternation.
for port in "${PORTS[@]}"; do rps 2s "http://127.0.0.1:$port$PATH_UNDER_TEST" >/dev/null; done
: > "$WORK/wrk.log"
declare -A RESULTS
for ((round = 1; round <= ROUNDS; round++)); do
  for port in "${PORTS[@]}"; do
    RESULTS[$port]+=" $(rps "$DURATION" "http://127.0.0.1:$port$PATH_UNDER_TEST")"
  done
done
DIRECT=$(median ${RESULTS[$UP_PORT]})
GATEWAY=$(median ${RESULTS[$GW_PORT]})
GATEWAY_NOLIMIT=$(median ${RESULTS[$GW2_PORT]})
NGINX=$(median ${RESULTS[$NGX_PORT]})
NGINX_HEADERS=$(median ${RESULTS[$NGX2_PORT]})

if grep -q "Non-2xx" "$WORK/wrk.log"; then
  echo "warning: some responses were not 2xx:" >&2
  grep "Non-2xx" "$WORK/wrk.log" >&2
fi
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $ROUNDS alternating rounds, $(nproc) CPUs${PIN:+, PIN=$PIN}, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %12s   %s\n' "target ($PATH_UNDER_TEST)" "requests/s" "rounds"
printf '%-36s %12.0f  %s\n' \
  "upstream direct" "$DIRECT" "${RESULTS[$UP_PORT]}" \
  "through api-gateway" "$GATEWAY" "${RESULTS[$GW_PORT]}" \
  "through api-gateway, limits off" "$GATEWAY_NOLIMIT" "${RESULTS[$GW2_PORT]}" \
  "through nginx" "$NGINX" "${RESULTS[$NGX_PORT]}" \
  "through nginx, same headers" "$NGINX_HEADERS" "${RESULTS[$NGX2_PORT]}"
python3 - "$DIRECT" "$GATEWAY" "$GATEWAY_NOLIMIT" "$NGINX" "$NGINX_HEADERS" <<'PY'
import sys
direct, gateway, nolimit, nginx, nginx_headers = map(float, sys.argv[1:])
print(f"gateway / nginx               = {gateway / nginx:.2f}")
print(f"gateway / nginx, same headers = {gateway / nginx_headers:.2f}")
print(f"gateway (limits off) / nginx  = {nolimit / nginx:.2f}")
print(f"gateway / direct              = {gateway / direct:.2f}")
print(f"nginx / direct                = {nginx / direct:.2f}")
PY

# Throughput on a shared, busy machine is noisy; CPU time per request of the proxy process itself
# (perf stat task-clock over one more run) is the steadier comparison.
if command -v perf >/dev/null; then
  cpu_per_request() {
    local pids=$1 port=$2
    perf stat -x, -e task-clock -p "$pids" -o "$WORK/perf-$port.txt" -- sleep 3 2>/dev/null &
    local perf_pid=$!
    "${LOAD[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d3s "http://127.0.0.1:$port$PATH_UNDER_TEST" > "$WORK/cpu-$port.txt"
    wait "$perf_pid" || true
    python3 - "$WORK/perf-$port.txt" "$WORK/cpu-$port.txt" <<'PY'
import re, sys
ms = next(float(l.split(",")[0]) for l in open(sys.argv[1]) if "task-clock" in l)
n = int(re.search(r"(\d+) requests in", open(sys.argv[2]).read()).group(1))
print(f"{ms * 1000 / n:.1f}")
PY
  }
  WORKERS=$(ps --ppid "$NGINX_PID" -o pid= | tr -s ' \n' ',' | sed 's/^,//;s/,$//')
  GW_CPU=$(cpu_per_request "$GW_PID" "$GW_PORT")
  NGX_CPU=$(cpu_per_request "$WORKERS" "$NGX_PORT")
  NGX2_CPU=$(cpu_per_request "$WORKERS" "$NGX2_PORT")
  echo "CPU per request (user+sys, incl. loopback TCP): gateway ${GW_CPU} us, nginx ${NGX_CPU} us," \
       "nginx with the same headers ${NGX2_CPU} us" \
       "(gateway/nginx = $(python3 -c "print(f'{$GW_CPU / $NGX_CPU:.2f}')")," \
       "gateway/nginx same headers = $(python3 -c "print(f'{$GW_CPU / $NGX2_CPU:.2f}')"))"
fi
