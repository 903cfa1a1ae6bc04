#!/usr/bin/env bash
# Browser-like traffic through the gateway against nginx doing the same header work: on every
# keep-alive connection a CORS preflight, then GETs and JSON POSTs (the cycle per wrk thread is
# preflight, GET, GET, POST, GET, GET), to a trivial upstream. nginx answers the preflight itself
# with the same CORS and security headers and adds the gateway's headers to every proxied answer;
# plain nginx proxies everything (preflights too) and adds nothing.
# GATEWAY_BIN_B measures a second gateway build in the same rounds (an A/B).
#
# Usage: bench/gateway_mix.sh        Env: DURATION=5s ROUNDS=3 CONNECTIONS=64 THREADS=2 GATEWAY_BIN_B=
#        PIN=0 (PIN=1: proxies on CPU 0, one worker each; wrk and the upstream on CPU 1; see common.sh)
# Needs: wrk and nginx (apt-get install -y wrk nginx), python3, curl.

# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
defaults DURATION=5s ROUNDS=3 CONNECTIONS=64 THREADS=2
prepare wrk nginx curl python3
read -r UP_PORT GW_PORT GWB_PORT NGX_PORT NGX2_PORT < <(free_ports 5)

"${LOAD[@]}" "$BIN/examples/bench_upstream" "$UP_PORT" & PIDS+=($!)
start_gateway() { # BINARY PORT
  "${SUT[@]}" env "${GATEWAY_ENV[@]}" "${GATEWAY_WORKERS[@]}" RATE_LIMIT_WRITE=1000000000/900 PRODUCT_SERVICE_URL="http://127.0.0.1:$UP_PORT" \
    PORT="$2" "$1" >> "$WORK/gateway-$2.log" 2>&1 &
  PIDS+=($!)
}
start_gateway "$BIN/api-gateway" "$GW_PORT"
TARGETS=("$GW_PORT")
if [[ -n "${GATEWAY_BIN_B:-}" ]]; then
  start_gateway "$GATEWAY_BIN_B" "$GWB_PORT"
  TARGETS+=("$GWB_PORT")
fi

# nginx's same-headers server, answering preflights itself like the gateway does.
CORS_ANSWER='add_header Access-Control-Allow-Origin * always;
      add_header Access-Control-Expose-Headers "x-request-id,ratelimit-limit,ratelimit-remaining,ratelimit-reset,retry-after" always;'
PREFLIGHT="      if (\$request_method = OPTIONS) {
$(grep add_header <<<"$NGINX_SAME_HEADERS")
        add_header Vary \"origin, access-control-request-method, access-control-request-headers\" always;
        add_header Access-Control-Allow-Methods GET,HEAD,PUT,PATCH,POST,DELETE always;
        add_header Access-Control-Allow-Headers \$http_access_control_request_headers always;
        add_header Access-Control-Max-Age 600 always;
        add_header Access-Control-Allow-Origin * always;
        return 200;
      }"
NGINX_SAME_HEADERS="$PREFLIGHT
$NGINX_SAME_HEADERS
      $CORS_ANSWER"
nginx_conf "$PROXY_WORKERS"
"${SUT[@]}" nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)
# Plain nginx proxies everything, preflights too, and adds no headers.
TARGETS+=("$NGX2_PORT" "$NGX_PORT")

for port in "$UP_PORT" "${TARGETS[@]}"; do wait_for "http://127.0.0.1:$port/api/products/bench"; done

cat > "$WORK/mix.lua" <<'LUA'
local step = 0
-- Built before wrk knows the host: each request names it.
local preflight = wrk.format("OPTIONS", "/api/products", {
  ["Host"] = "shop",
  ["Origin"] = "https://shop.example",
  ["Access-Control-Request-Method"] = "POST",
  ["Access-Control-Request-Headers"] = "content-type, authorization",
})
local get = wrk.format("GET", "/api/products/bench", {
  ["Host"] = "shop",
  ["Origin"] = "https://shop.example",
})
local post = wrk.format("POST", "/api/products/bench", {
  ["Host"] = "shop",
  ["Origin"] = "https://shop.example",
  ["Content-Type"] = "application/json",
}, '{"name":"Widget","price":19.99,"stock":5}')
local cycle = { preflight, get, get, post, get, get }
request = function()
  step = step % #cycle + 1
  return cycle[step]
end
LUA
rps() {
  echo "target port $2" >> "$WORK/wrk.log"
  "${LOAD[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1" -s "$WORK/mix.lua" "http://127.0.0.1:$2" |
    tee -a "$WORK/wrk.log" | awk '/Requests\/sec/ {print $2}'
}
for port in "${TARGETS[@]}"; do rps 2s "$port" >/dev/null; done
: > "$WORK/wrk.log"
declare -A RESULTS
for ((round = 1; round <= ROUNDS; round++)); do
  for port in "${TARGETS[@]}"; do RESULTS[$port]+=" $(rps "$DURATION" "$port")"; done
done
if grep -q "Non-2xx" "$WORK/wrk.log"; then
  echo "warning: some responses were not 2xx:" >&2
  grep -B8 "Non-2xx" "$WORK/wrk.log" | grep "target port\|Non-2xx" >&2
  echo "(ports: gateway $GW_PORT, gateway B $GWB_PORT, nginx $NGX2_PORT, plain nginx $NGX_PORT)" >&2
fi
GW=$(median ${RESULTS[$GW_PORT]}) NGX=$(median ${RESULTS[$NGX2_PORT]}) PLAIN=$(median ${RESULTS[$NGX_PORT]})
echo "browser-like mix (preflight, GET, GET, POST, GET, GET per thread), wrk -t$THREADS -c$CONNECTIONS -d$DURATION," \
  "median of $ROUNDS alternating rounds, $(nproc) CPUs${PIN:+, PIN=$PIN}, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %12.0f  %s\n' "through api-gateway" "$GW" "${RESULTS[$GW_PORT]}"
if [[ -n "${GATEWAY_BIN_B:-}" ]]; then
  GWB=$(median ${RESULTS[$GWB_PORT]})
  printf '%-40s %12.0f  %s\n' "through api-gateway (GATEWAY_BIN_B)" "$GWB" "${RESULTS[$GWB_PORT]}"
  python3 -c "print(f'gateway / gateway B                   = {$GW / $GWB:.2f}')"
fi
printf '%-40s %12.0f  %s\n' "through nginx, same headers" "$NGX" "${RESULTS[$NGX2_PORT]}" \
  "through nginx, plain" "$PLAIN" "${RESULTS[$NGX_PORT]}"
python3 -c "print(f'gateway / nginx, same headers         = {$GW / $NGX:.2f}')"
python3 -c "print(f'gateway / plain nginx                 = {$GW / $PLAIN:.2f}')"
