#!/usr/bin/env bash
# Logins/s of the whole platform (`ecommerce`, embedded mode) against what argon2id allows, and
# the p99 of a monitoring-style `/health` probe during a login storm against idle. The platform is pinned to CPU 0 and the load
# generators to CPU 1, so the bound is 1 ÷ (one argon2id verification, timed on CPU 0 in the same
# run by auth-service/examples/hash_time.rs).
#
# Usage: bash bench/logins.sh
# Env:   DURATION=10s CONNECTIONS=8 ECOMMERCE_BIN=<another build of the launcher>
#        BENCH_EXTRA_ENV="HASH_CONCURRENCY=2 …" (more settings for the launcher)
# Needs: wrk, curl, taskset. The launcher uses its usual ports (3000, 4001–4005).
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
defaults DURATION=10s CONNECTIONS=8
need wrk curl taskset
release_bin ECOMMERCE_BIN stack ecommerce
cargo build --release -q -p auth-service --example hash_time

HASH_MS=$(taskset -c 0 "$BIN/examples/hash_time")

DATA_DIR="$WORK/data" RUST_LOG=warn RATE_LIMIT_AUTH=100000000/60 env ${BENCH_EXTRA_ENV:-} \
  taskset -c 0 "$ECOMMERCE_BIN" >"$WORK/ecommerce.log" 2>&1 &
PIDS+=($!)
LAUNCHER=$!
wait_for http://127.0.0.1:3000/health
IDLE_RSS=$(rss "$LAUNCHER")
curl -fsS -o /dev/null -X POST http://127.0.0.1:3000/api/auth/register \
  -H 'Content-Type: application/json' \
  -d '{"name": "Bench", "email": "bench@example.com", "password": "password123"}'
cat >"$WORK/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email": "bench@example.com", "password": "password123"}'
done = function(summary, latency, requests)
  io.write(string.format("non-2xx %d\n", summary.errors.status))
end
LUA

# A monitoring-style probe: N sequential `/health` requests, 10 ms apart, on one keep-alive
# connection; prints the p99 latency in ms.
probe() {
  taskset -c 1 python3 - "$1" <<'PY'
import http.client, sys, time
n = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", 3000, timeout=10)
times = []
for _ in range(n):
    started = time.perf_counter()
    c.request("GET", "/health")
    r = c.getresponse(); r.read()
    assert r.status == 200
    times.append((time.perf_counter() - started) * 1000)
    time.sleep(0.01)
times.sort()
print(f"{times[int(len(times) * 0.99) - 1]:.3f}")
PY
}
logins() { # DURATION OUTPUT
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$1" -s "$WORK/login.lua" \
    http://127.0.0.1:3000/api/auth/login >"$2"
  grep -q '^non-2xx 0$' "$2" || { cat "$2"; echo "some logins failed" >&2; exit 1; }
}

logins 3s "$WORK/warm.txt"
logins "$DURATION" "$WORK/login.txt"
LOGINS=$(awk '/Requests\/sec/ {print $2}' "$WORK/login.txt")
IDLE_P99=$(probe 300)
logins 8s "$WORK/storm.txt" &
STORM=$!
sleep 1
STORM_P99=$(probe 300)
wait "$STORM"

awk -v h="$HASH_MS" -v l="$LOGINS" -v i="$IDLE_P99" -v s="$STORM_P99" 'BEGIN {
  bound = 1000 / h
  printf "one argon2id verification %.1f ms on CPU 0 -> bound %.1f logins/s\n", h, bound
  printf "logins/s (wrk -c%d)        %.1f  = %.2f of the bound\n", '"$CONNECTIONS"', l, l / bound
  printf "/health probe p99 idle %.2f ms, during a login storm %.2f ms (%.2fx)\n", i, s, s / i
}'
echo "launcher resident memory: idle $IDLE_RSS; after the runs $(rss "$LAUNCHER")"
