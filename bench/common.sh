# Shared by the bench scripts (sourced): tool checks, free ports, a work directory cleaned up on
# exit with every process started, the services' and the gateway's environment, a stand-in for the
# services a service started alone asks, bench access tokens, the header set nginx adds to match
# the gateway, medians, CPU and memory of a process, and waiting for a URL to answer.

set -euo pipefail
# Every script runs from the repository's root.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# need TOOL...: fails naming the first tool missing.
need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y $tool)" >&2; exit 1; }
  done
}

# defaults NAME=VALUE...: each NAME the caller did not set (or set empty) takes its VALUE.
defaults() {
  local pair name
  for pair in "$@"; do
    name=${pair%%=*}
    [[ -n "${!name:-}" ]] || printf -v "$name" '%s' "${pair#*=}"
  done
}

# Where the release builds are.
BIN="${CARGO_TARGET_DIR:-target}/release"

# prepare TOOL...: fails naming a missing tool, builds the gateway and the trivial upstream.
prepare() {
  need "$@"
  cargo build --release -q -p api-gateway --bin api-gateway --example bench_upstream
}

# release_bin VAR PACKAGE BINARY: the build VAR names (another one to measure), else BINARY built
# from PACKAGE, with VAR set to it.
release_bin() {
  if [[ -z "${!1:-}" ]]; then
    cargo build --release -q -p "$2" --bin "$3"
    printf -v "$1" '%s' "$BIN/$3"
  fi
}

# free_ports N: N free loopback TCP ports on one line, outside the range outgoing connections
# draw from (see .ci/ports.py).
free_ports() { python3 .ci/ports.py "$1"; }

# PIN=1: the proxies under test on CPU 0 with one worker each (TOKIO_WORKER_THREADS=1, one nginx
# worker), the load generator and the upstream on CPU 1, so each proxy's throughput is one core's
# and other processes disturb the comparison less. SUT and LOAD prefix the commands; PROXY_WORKERS
# is nginx's worker_processes line and GATEWAY_WORKERS the gateway's extra environment.
if [[ "${PIN:-0}" == 1 ]]; then
  need taskset
  SUT=(taskset -c 0) LOAD=(taskset -c 1)
  PROXY_WORKERS="worker_processes 1;" GATEWAY_WORKERS=(TOKIO_WORKER_THREADS=1)
else
  SUT=() LOAD=() PROXY_WORKERS="worker_processes auto;" GATEWAY_WORKERS=()
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Whatever has not ended 10 s after TERM (nginx under valgrind does not) is killed.
  local tries=100 alive
  while ((tries-- > 0)); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The secrets and log level of every service a bench starts alone (bench_token signs with the same
# JWT secret; INTERNAL_TOKEN is what internal calls send).
BENCH_JWT_SECRET=bench-jwt-secret-0123456789abcdef0123
INTERNAL_TOKEN=bench-internal-token-0123456789abcdef
SERVICE_ENV=(
  JWT_SECRET=$BENCH_JWT_SECRET
  ENCRYPTION_KEY=12345678901234567890123456789012
  INTERNAL_TOKEN=$INTERNAL_TOKEN
  RUST_LOG=warn
)

# The gateway's settings for a run against the upstream on $UP_PORT: logging at warn (nginx runs with
# access_log off) and a read limit so high that every request is counted but none refused.
GATEWAY_ENV=("${SERVICE_ENV[@]}" RATE_LIMIT_READ=1000000000/900)

# stub_peers PORT: a stand-in on PORT for the services a service started alone calls: every
# session is live (GET /internal/sessions/:sid, and /health), every event accepted (POST /events).
stub_peers() {
  python3 - "$1" >"$WORK/stub-$1.log" 2>&1 <<'PY' &
import http.server, sys
class Stub(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.answer(200, b'{"success":true,"data":{"revoked":false}}')
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.answer(202, b'{"success":true}')
    def log_message(self, *args):
        pass
# Keep-alive and a deep listen backlog: with a connection per request and the default backlog of
# 5, a session check now and then waited past its 2 s timeout under load (a 503 in the results).
Stub.protocol_version = "HTTP/1.1"
http.server.ThreadingHTTPServer.request_queue_size = 1024
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Stub).serve_forever()
PY
  PIDS+=($!)
}

# bench_token ROLE USER_ID: an access token signed as the auth service signs them (HS256, same
# claims, session `bench-session`, 15 minutes).
bench_token() {
  python3 - "$BENCH_JWT_SECRET" "$1" "$2" <<'PY'
import base64, hashlib, hmac, json, sys, time
secret, role, user = sys.argv[1:4]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
claims = {"userId": user, "role": role, "iat": now, "nbf": now, "exp": now + 900, "jti": "bench",
          "iss": "ecommerce-auth", "aud": "ecommerce-api", "sid": "bench-session"}
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
print(head + "." + b64(hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()))
PY
}

# median NUMBER...: their median.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# cpu_ticks PID: the user and system CPU time a process has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

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

# nginx_config PROCESS_LINES HTTP_LINES: an nginx.conf in $WORK that keeps its pid, log and
# temporary files there, with PROCESS_LINES at the top level (workers, master) and HTTP_LINES
# (upstreams, servers) in its http block.
nginx_config() {
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
$2
}
NGINX
}

# nginx_conf PROCESS_LINES: an nginx.conf in $WORK proxying 127.0.0.1:$NGX_PORT plainly and
# 127.0.0.1:$NGX2_PORT with the gateway's headers to the upstream on $UP_PORT (keep-alive pool).
nginx_conf() {
  nginx_config "$1" "$(cat <<NGINX
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
NGINX
)"
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
