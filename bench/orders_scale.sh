#!/usr/bin/env bash
# Does `GET /api/orders` for one user cost the same whatever other users have stored? Starts two
# order-services (release build, SQLite), one holding only that user's orders and one holding them
# plus OTHERS orders of other users, and measures both with wrk in alternating rounds (servers pinned
# to one core, wrk to another). Prints p50 latency and requests/s of each (medians) and their ratios.
#
# Usage: bench/orders_scale.sh       (from anywhere)
# Env:   OTHERS=20000 OWN=10 DURATION=5s ROUNDS=3 CONNECTIONS=32 THREADS=1
#        ORDER_SERVICE_BIN=path   (measure another build instead of building this tree)
# Needs: wrk, sqlite3, python3, curl (apt-get install -y wrk sqlite3 curl python3).
#
# The service accepts a token only while its session is live, and a service running alone asks the
# auth service; a stub answers that every session is live (and acknowledges events, so the outbox
# relay has nowhere to fail). The orders are written straight into each service's database.

# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
defaults OTHERS=20000 OWN=10 DURATION=5s ROUNDS=3 CONNECTIONS=32 THREADS=1
need wrk sqlite3 python3 curl
release_bin ORDER_SERVICE_BIN order-service order-service

# Servers on the first core, the load generator on the last (when there are two).
CPUS=$(nproc)
SERVER_CPU=0
CLIENT_CPU=$((CPUS > 1 ? CPUS - 1 : 0))
read -r STUB_PORT EMPTY_PORT FULL_PORT < <(free_ports 3)

stub_peers "$STUB_PORT"

start_service() { # PORT DB
  env "${SERVICE_ENV[@]}" PORT="$1" \
    DATABASE_URL="sqlite://$2" AUTH_SERVICE_URL="http://127.0.0.1:$STUB_PORT" \
    EVENT_BUS_URL="http://127.0.0.1:$STUB_PORT" PRODUCT_SERVICE_URL="http://127.0.0.1:$STUB_PORT" \
    taskset -c "$SERVER_CPU" "$ORDER_SERVICE_BIN" >> "$WORK/order-$1.log" 2>&1 &
  PIDS+=($!)
}
start_service "$EMPTY_PORT" "$WORK/empty.db"
start_service "$FULL_PORT" "$WORK/full.db"
wait_for "http://127.0.0.1:$STUB_PORT/health"
wait_for "http://127.0.0.1:$EMPTY_PORT/health"
wait_for "http://127.0.0.1:$FULL_PORT/health"

# The services have created their tables; add the orders (valid rows, as the store writes them).
# seed DB USERS COUNT USER_OFFSET: COUNT orders spread over USERS users, created over the last day
# in an order that interleaves the users, so that no index can be dodged by insertion order.
USER_ID=0000000000000000000000aa
seed() {
  sqlite3 -cmd ".timeout 10000" "$1" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3)
INSERT INTO orders (id, user_id, items, total_cents, status, payment_status, payment_id,
                    shipping_address, tracking_number, notes, created_at, updated_at)
SELECT printf('%024x', $4 + i),
       CASE WHEN $2 = 0 THEN '$USER_ID' ELSE printf('%024x', 1000000000 + i % $2) END,
       '[{"product_id":"64b7f0c2a1b2c3d4e5f60718","name":"Widget","price_cents":1999,"quantity":2}]',
       3998, 'confirmed', 'completed', NULL,
       '{"street":"1 Main St","city":"Springfield","state":"IL","zip_code":"62701","country":"US"}',
       NULL, NULL, 1700000000000 + (i * 7919) % 86400000, 1700000000000 + (i * 7919) % 86400000
FROM n;
SQL
}
seed "$WORK/empty.db" 0 "$OWN" 0
seed "$WORK/full.db" 0 "$OWN" 0
seed "$WORK/full.db" $((OTHERS / 10 > 0 ? OTHERS / 10 : 1)) "$OTHERS" 100000000

# An access token for the user, signed like the auth service signs them (HS256, same claims).
TOKEN=$(bench_token user "$USER_ID")

# Both services must answer the same page: the user's own orders, newest first.
for port in "$EMPTY_PORT" "$FULL_PORT"; do
  curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/api/orders" > "$WORK/page-$port.json"
done
python3 - "$OWN" "$WORK/page-$EMPTY_PORT.json" "$WORK/page-$FULL_PORT.json" <<'PY'
import json, sys
own = int(sys.argv[1])
empty, full = (json.load(open(p)) for p in sys.argv[2:])
assert empty["pagination"]["total"] == own, empty["pagination"]
assert empty == full, "the two services answer different pages"
PY

# measure PORT: "p50_ms requests_per_s" of one wrk run.
measure() {
  taskset -c "$CLIENT_CPU" wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
    -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$1/api/orders" | tee -a "$WORK/wrk.log" |
    awk '/^ +50%/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                    p50 = v * (u == "us" ? 0.001 : u == "s" ? 1000 : 1) }
         /Requests\/sec/ { rps = $2 }
         END { printf "%.3f %.0f\n", p50, rps }'
}

for port in "$EMPTY_PORT" "$FULL_PORT"; do measure "$port" >/dev/null; done # warm up
: > "$WORK/wrk.log"
declare -A P50 RPS
for ((round = 1; round <= ROUNDS; round++)); do
  for port in "$EMPTY_PORT" "$FULL_PORT"; do
    read -r p50 rps < <(measure "$port")
    P50[$port]+=" $p50"
    RPS[$port]+=" $rps"
  done
done
if grep -q "Non-2xx" "$WORK/wrk.log"; then
  echo "warning: some responses were not 2xx:" >&2
  grep "Non-2xx" "$WORK/wrk.log" >&2
fi

EMPTY_P50=$(median ${P50[$EMPTY_PORT]}) FULL_P50=$(median ${P50[$FULL_PORT]})
EMPTY_RPS=$(median ${RPS[$EMPTY_PORT]}) FULL_RPS=$(median ${RPS[$FULL_PORT]})
echo "GET /api/orders ($OWN own orders), wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of" \
  "$ROUNDS alternating rounds, server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU of $CPUS," \
  "load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %10s %12s   %s\n' "orders stored" "p50 ms" "requests/s" "rounds (p50 ms)"
printf '%-34s %10s %12s  %s\n' \
  "$OWN (the user's only)" "$EMPTY_P50" "$EMPTY_RPS" "${P50[$EMPTY_PORT]}" \
  "$((OWN + OTHERS)) ($OTHERS of other users)" "$FULL_P50" "$FULL_RPS" "${P50[$FULL_PORT]}"
python3 - "$EMPTY_P50" "$FULL_P50" "$EMPTY_RPS" "$FULL_RPS" <<'PY'
import sys
empty_p50, full_p50, empty_rps, full_rps = map(float, sys.argv[1:])
print(f"p50 with others / p50 without  = {full_p50 / empty_p50:.2f}   (goal <= 1.5)")
print(f"req/s without / req/s with     = {empty_rps / full_rps:.2f}")
PY
