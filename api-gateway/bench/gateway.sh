#!/usr/bin/env bash
# Compares requests/s of a trivial upstream reached directly, through the gateway, and through
# nginx (keep-alive upstream pool), in one run, with wrk. Prints the numbers and the ratios.
#
# Usage: api-gateway/bench/gateway.sh            (from the repository root)
# Env:   DURATION=10s CONNECTIONS=64 THREADS=2 PATH_UNDER_TEST=/api/products/bench
# Needs: wrk and nginx (apt-get install -y wrk nginx), python3 (free ports), curl.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PATH_UNDER_TEST=${PATH_UNDER_TEST:-/api/products/bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/ecommerce-target}

for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk nginx curl python3)" >&2; exit 1; }
done

cd "$(dirname "$0")/../.."
cargo build --release -q -p api-gateway --bin api-gateway --example bench_upstream
BIN="$CARGO_TARGET_DIR/release"

read -r UP_PORT GW_PORT NGX_PORT < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()
PY
)

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/examples/bench_upstream" "$UP_PORT" & PIDS+=($!)

JWT_SECRET=bench-jwt-secret-0123456789abcdef0123 \
ENCRYPTION_KEY=12345678901234567890123456789012 \
INTERNAL_TOKEN=bench-internal-token-0123456789abcdef \
PORT=$GW_PORT \
PRODUCT_SERVICE_URL=http://127.0.0.1:$UP_PORT \
RATE_LIMIT_READ=1000000000/900 \
RUST_LOG=warn \
"$BIN/api-gateway" > "$WORK/gateway.log" 2>&1 & PIDS+=($!)

cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/body;
  proxy_temp_path $WORK/proxy;
  fastcgi_temp_path $WORK/fastcgi;
  uwsgi_temp_path $WORK/uwsgi;
  scgi_temp_path $WORK/scgi;
  upstream bench_upstream { server 127.0.0.1:$UP_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)

wait_for() {
  local url=$1 deadline=$((SECONDS + 20))
  until curl -fsS -o /dev/null "$url"; do
    if ((SECONDS > deadline)); then echo "no answer from $url" >&2; cat "$WORK"/*.log >&2; exit 1; fi
    sleep 0.2
  done
}
wait_for "http://127.0.0.1:$UP_PORT$PATH_UNDER_TEST"
wait_for "http://127.0.0.1:$GW_PORT$PATH_UNDER_TEST"
wait_for "http://127.0.0.1:$NGX_PORT$PATH_UNDER_TEST"

rps() {
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$1" | tee -a "$WORK/wrk.log" | awk '/Requests\/sec/ {print $2}'
}
# Warm up every path (connection pools, caches), then measure.
for port in "$UP_PORT" "$GW_PORT" "$NGX_PORT"; do
  wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$port$PATH_UNDER_TEST" >/dev/null
done
DIRECT=$(rps "http://127.0.0.1:$UP_PORT$PATH_UNDER_TEST")
GATEWAY=$(rps "http://127.0.0.1:$GW_PORT$PATH_UNDER_TEST")
NGINX=$(rps "http://127.0.0.1:$NGX_PORT$PATH_UNDER_TEST")

if grep -q "Non-2xx" "$WORK/wrk.log"; then
  echo "warning: some responses were not 2xx:" >&2
  grep "Non-2xx" "$WORK/wrk.log" >&2
fi
printf '%-28s %12s\n' "target ($PATH_UNDER_TEST)" "requests/s"
printf '%-28s %12.0f\n' "upstream direct" "$DIRECT" "through api-gateway" "$GATEWAY" "through nginx" "$NGINX"
python3 - "$DIRECT" "$GATEWAY" "$NGINX" <<'PY'
import sys
direct, gateway, nginx = map(float, sys.argv[1:])
print(f"gateway / nginx  = {gateway / nginx:.2f}")
print(f"gateway / direct = {gateway / direct:.2f}")
print(f"nginx / direct   = {nginx / direct:.2f}")
PY
