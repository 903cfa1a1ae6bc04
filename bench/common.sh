# Shared by the bench scripts (sourced): free ports, a work directory cleaned up on exit with every
# process started, the gateway's environment, the header set nginx adds to match the gateway, and
# waiting for a URL to answer.

# prepare TOOL...: fails naming a missing tool, builds the gateway and the trivial upstream, and
# sets BIN to where they are.
prepare() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null ||
      { echo "missing $tool (apt-get install -y wrk nginx valgrind curl python3)" >&2; exit 1; }
  done
  cargo build --release -q -p api-gateway --bin api-gateway --example bench_upstream
  BIN="${CARGO_TARGET_DIR:-target}/release"
}

# free_ports N: N free loopback TCP ports on one line.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()
PY
}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The gateway's settings for a run against the upstream on $UP_PORT: logging at warn (nginx runs with
# access_log off) and a read limit so high that every request is counted but none refused.
GATEWAY_ENV=(
  JWT_SECRET=bench-jwt-secret-0123456789abcdef0123
  ENCRYPTION_KEY=12345678901234567890123456789012
  INTERNAL_TOKEN=bench-internal-token-0123456789abcdef
  RATE_LIMIT_READ=1000000000/900
  RUST_LOG=warn
)

# nginx directives adding the response headers the gateway adds (helmet's set and a request id).
NGINX_SAME_HEADERS=$(cat <<'NGINX'
      proxy_set_header X-Request-Id $request_id;
      add_header X-Request-Id $request_id always;
      add_header Content-Security-Policy "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests" always;
      add_header Cross-Origin-Opener-Policy same-origin always;
      add_header Cross-Origin-Resource-Policy same-origin always;
      add_header Origin-Agent-Cluster "?1" always;
      add_header Referrer-Policy no-referrer always;
      add_header Strict-Transport-Security "max-age=15552000; includeSubDomains" always;
      add_header X-Content-Type-Options nosniff always;
      add_header X-DNS-Prefetch-Control off always;
      add_header X-Download-Options noopen always;
      add_header X-Frame-Options SAMEORIGIN always;
      add_header X-Permitted-Cross-Domain-Policies none always;
      add_header X-XSS-Protection 0 always;
NGINX
)

# nginx_conf PROCESS_LINES: an nginx.conf in $WORK proxying 127.0.0.1:$NGX_PORT plainly and
# 127.0.0.1:$NGX2_PORT with the gateway's headers to the upstream on $UP_PORT (keep-alive pool);
# PROCESS_LINES are the top-level directives on processes (workers, master).
nginx_conf() {
  cat > "$WORK/nginx.conf" <<NGINX
$1
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
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
  # The same proxy doing the gateway's response work: helmet's headers and a request id.
  server {
    listen 127.0.0.1:$NGX2_PORT;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
$NGINX_SAME_HEADERS
    }
  }
}
NGINX
}

# wait_for URL [SECONDS]: until the URL answers 2xx, or fail with the logs.
# rss PID: a running process's resident memory now and its peak (VmRSS, VmHWM).
rss() {
  awk '/^VmRSS/ {r = $2} /^VmHWM/ {h = $2} END {printf "%.1f MiB now, peak %.1f MiB", r / 1024, h / 1024}' \
    "/proc/$1/status"
}

wait_for() {
  local url=$1 deadline=$((SECONDS + ${2:-30}))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    if ((SECONDS > deadline)); then echo "no answer from $url" >&2; cat "$WORK"/*.log >&2; exit 1; fi
    sleep 0.2
  done
}
