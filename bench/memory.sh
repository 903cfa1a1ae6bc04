#!/usr/bin/env bash
# The launcher's memory idle and under a sustained mixed load: the whole platform (`ecommerce`,
# embedded mode, rate limits off, provider latency PAYMENT_LATENCY_MS) pinned to CPU 0 is loaded
# from CPU 1 through the gateway for DURATION with, at once: cached product list reads, a
# customer's order list, product reads by id, and order placement (each order reserves stock,
# goes through the outbox, the bus and the payment worker to `confirmed`). The resident memory is
# sampled every second; the script reports it idle, its peak, the mean of each third of the run and
# the change from the second third to the last (a leak shows as steady growth between them).
#
# Usage: bash bench/memory.sh
# Env:   DURATION=150 PAYMENT_LATENCY_MS=20 ECOMMERCE_BIN=<another build of the launcher>
# Needs: wrk, curl, python3, taskset. The launcher uses its usual ports (3000, 4001–4005).
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
defaults DURATION=150 PAYMENT_LATENCY_MS=20
need wrk curl python3 taskset
release_bin ECOMMERCE_BIN stack ecommerce
CPUS=$(nproc)
CLIENT_CPU=$((CPUS > 1 ? CPUS - 1 : 0))

DATA_DIR="$WORK/data" ADMIN_PASSWORD=bench-admin-password RATE_LIMIT_ENABLED=false RUST_LOG=warn \
  PAYMENT_LATENCY_MS="$PAYMENT_LATENCY_MS" PAYMENT_FAILURE_RATE=0 \
  taskset -c 0 "$ECOMMERCE_BIN" >"$WORK/ecommerce.log" 2>&1 &
PID=$!
PIDS+=("$PID")
wait_for http://127.0.0.1:3000/health

# An admin, a customer, 20 products with plenty of stock; tokens and ids for the load scripts.
python3 - "$WORK" <<'PY'
import json, sys, urllib.request
work, base = sys.argv[1], "http://127.0.0.1:3000"
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    return json.load(urllib.request.urlopen(req))
admin = call("POST", "/api/auth/login",
             {"email": "admin@example.com", "password": "bench-admin-password"})["data"]["accessToken"]
call("POST", "/api/auth/register",
     {"name": "Bench Customer", "email": "bench@example.com", "password": "bench-password-1"})
user = call("POST", "/api/auth/login",
            {"email": "bench@example.com", "password": "bench-password-1"})["data"]["accessToken"]
ids = []
for i in range(20):
    p = call("POST", "/api/products", {"name": f"Bench item {i}", "description": "A bench product",
             "price": 9.99 + i, "stock": 10_000_000, "category": "Home", "sku": f"MEM-{i:03d}"},
             admin)
    ids.append(p["data"]["_id"])
open(f"{work}/user.token", "w").write(user)
open(f"{work}/product.ids", "w").write("\n".join(ids))
PY
USER_TOKEN=$(cat "$WORK/user.token")
FIRST_PRODUCT=$(head -1 "$WORK/product.ids")
cat >"$WORK/order.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $USER_TOKEN"
wrk.body = '{"items":[{"productId":"$FIRST_PRODUCT","quantity":1}],'
  .. '"shippingAddress":{"street":"1 Main St","city":"Pune","state":"MH","zipCode":"411001",'
  .. '"country":"India"}}'
LUA
cat >"$WORK/orders.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $USER_TOKEN"
LUA

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
# The resident memory by kind (anonymous, file-backed, shared: SQLite's WAL index) and the threads
# (one per open SQLite connection besides the runtime's).
composition() {
  awk '/^(RssAnon|RssFile|RssShmem|Threads)/ {printf "%s %s  ", $1, $2} END {print ""}' "/proc/$PID/status"
}
sleep 2
IDLE=$(rss_kib)
IDLE_PARTS=$(composition)
: >"$WORK/rss"
(
  for ((s = 0; s < DURATION; s++)); do
    sleep 1
    rss_kib >>"$WORK/rss"
  done
) &
SAMPLER=$!
load() { # NAME WRK-ARGS...: one wrk, its report in $WORK/wrk-NAME.log
  local name=$1
  shift
  taskset -c "$CLIENT_CPU" wrk -t1 "$@" >"$WORK/wrk-$name.log" 2>&1
}
load 1-list -c8 -d"${DURATION}s" http://127.0.0.1:3000/api/products &
L1=$!
load 2-orders -c4 -d"${DURATION}s" -s "$WORK/orders.lua" http://127.0.0.1:3000/api/orders &
L2=$!
load 3-product -c4 -d"${DURATION}s" "http://127.0.0.1:3000/api/products/$FIRST_PRODUCT" &
L3=$!
load 4-place -c4 -d"${DURATION}s" -s "$WORK/order.lua" http://127.0.0.1:3000/api/orders &
L4=$!
wait "$L1" "$L2" "$L3" "$L4" "$SAMPLER"
cat "$WORK"/wrk-*.log >"$WORK/wrk.log"
AFTER=$(rss_kib)
AFTER_PARTS=$(composition)
if grep -q "Non-2xx" "$WORK/wrk.log"; then
  echo "warning: some answers were not 2xx:" >&2
  grep "Non-2xx" "$WORK/wrk.log" >&2
fi
ORDERS=$(curl -fsS "http://127.0.0.1:3000/api/orders?limit=1" -H "Authorization: Bearer $USER_TOKEN" |
  python3 -c "import json,sys; print(json.load(sys.stdin)['pagination']['total'])")
python3 - "$IDLE" "$AFTER" "$WORK/rss" "$WORK/wrk.log" "$ORDERS" "$DURATION" <<'PY'
import re, sys
idle, after = int(sys.argv[1]) / 1024, int(sys.argv[2]) / 1024
rss = [int(l) / 1024 for l in open(sys.argv[3]) if l.strip()]
rates = [float(m) for m in re.findall(r"Requests/sec:\s+([\d.]+)", open(sys.argv[4]).read())]
n = len(rss) // 3
mean = lambda xs: sum(xs) / len(xs)
thirds = [mean(rss[:n]), mean(rss[n:2 * n]), mean(rss[2 * n:])]
print(f"launcher RSS idle (after setup)   {idle:7.1f} MiB")
print(f"peak under load                   {max(rss):7.1f} MiB")
print(f"mean by thirds of the run         " + " / ".join(f"{t:.1f}" for t in thirds) + " MiB")
print(f"last third - second third         {thirds[2] - thirds[1]:+7.1f} MiB")
last = rss[-60:]
xs = range(len(last))
mx, my = mean(xs), mean(last)
slope = sum((x - mx) * (y - my) for x, y in zip(xs, last)) / max(sum((x - mx) ** 2 for x in xs), 1)
print(f"trend over the last {len(last)} s            {slope * 60:+7.1f} MiB/min (least squares)")
print(f"after the load                    {after:7.1f} MiB")
print(f"load: requests/s list, order list, product, order placement = "
      + ", ".join(f"{r:,.0f}" for r in rates) + f"; {sys.argv[5]} orders placed in {sys.argv[6]} s")
PY
echo "idle:  $IDLE_PARTS"
echo "after: $AFTER_PARTS"
