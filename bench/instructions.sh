#!/usr/bin/env bash
# Counts user-space instructions per proxied request, under valgrind's callgrind, for the gateway
# and for nginx (plain, and adding the same response headers), on the same trivial upstream. The
# counts do not depend on what else the machine is doing, unlike requests/s, so they are the
# steady comparison; the kernel's share of the work (the same socket calls for both) is not in
# them. One keep-alive connection sends REQUESTS GETs after a warm-up.
#
# Usage: bench/instructions.sh        Env: REQUESTS=5000
# Needs: valgrind and nginx (apt-get install -y valgrind nginx), python3, curl.

# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
defaults REQUESTS=5000
prepare valgrind callgrind_control callgrind_annotate nginx curl python3
read -r UP_PORT GW_PORT NGX_PORT NGX2_PORT < <(free_ports 4)

"$BIN/examples/bench_upstream" "$UP_PORT" & PIDS+=($!)

cat > "$WORK/load.py" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
request = b"GET /api/products/bench HTTP/1.1\r\nHost: bench\r\n\r\n"
for i in range(n):
    s.sendall(request)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(f"connection closed after {i} answers")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit(f"unexpected answer: {head[:80]!r}")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += s.recv(65536)
PY

# measure <pid> <port> <callgrind out file>: instructions per request between a zero and a dump.
measure() {
  local pid=$1 port=$2 out=$3
  python3 "$WORK/load.py" "$port" 300
  callgrind_control -z "$pid" >/dev/null 2>&1
  python3 "$WORK/load.py" "$port" "$REQUESTS"
  callgrind_control -d "$pid" >/dev/null 2>&1
  local dump
  dump=$(ls -t "$out".* | head -1)
  callgrind_annotate "$dump" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}' |
    python3 -c "import sys; print(int(sys.stdin.read()) // $REQUESTS)"
}

env "${GATEWAY_ENV[@]}" PRODUCT_SERVICE_URL="http://127.0.0.1:$UP_PORT" \
  PORT="$GW_PORT" TOKIO_WORKER_THREADS=1 \
  valgrind --tool=callgrind --callgrind-out-file="$WORK/gw.out" "$BIN/api-gateway" \
  > "$WORK/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=($GW_PID)

nginx_conf "master_process off;
worker_processes 1;"
valgrind --tool=callgrind --callgrind-out-file="$WORK/ngx.out" \
  nginx -c "$WORK/nginx.conf" -p "$WORK" > "$WORK/nginx.log" 2>&1 &
NGX_PID=$!
PIDS+=($NGX_PID)

wait_for "http://127.0.0.1:$GW_PORT/api/products/bench" 60
wait_for "http://127.0.0.1:$NGX_PORT/api/products/bench" 60
wait_for "http://127.0.0.1:$NGX2_PORT/api/products/bench" 60

GW=$(measure "$GW_PID" "$GW_PORT" "$WORK/gw.out")
NGX=$(measure "$NGX_PID" "$NGX_PORT" "$WORK/ngx.out")
NGX2=$(measure "$NGX_PID" "$NGX2_PORT" "$WORK/ngx.out")

echo "user-space instructions per proxied request (callgrind, $REQUESTS keep-alive GETs):"
printf '  %-40s %8s\n' "api-gateway (rate limits on)" "$GW" \
  "nginx" "$NGX" "nginx adding the same headers" "$NGX2"
python3 - "$GW" "$NGX" "$NGX2" <<'PY'
import sys
gw, ngx, ngx2 = map(int, sys.argv[1:])
print(f"gateway / nginx               = {gw / ngx:.2f}")
print(f"gateway / nginx, same headers = {gw / ngx2:.2f}")
PY
