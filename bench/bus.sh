#!/usr/bin/env bash
# Event bus throughput against the speed of its subscribers: three fast stub subscribers
# (event-bus/examples/bench_subscriber.rs, counting every event id per subscriber), the bus (release
# build, SQLite file in a temporary directory) pinned to core 0, the stubs and the publishing wrk
# pinned to core 1. wrk publishes events with unique ids for DURATION (BATCH events per request, as
# the services' outbox relays send them), then the script waits until every stored event has been
# delivered and reports: events/s accepted, events/s delivered (first publish to last delivery),
# the bus's CPU per event, the exactly-once check per subscriber, and the baseline: the requests/s
# one stub serves to direct POSTs of one delivery's body (wrk on core 0, where the bus was, stub on
# core 1), with the ratio events/s delivered x 3 / stub requests/s; and the ceiling of the bus's
# own HTTP client on core 0 (event-bus/examples/bench_client.rs posting the same body).
#
# Usage: bash bench/bus.sh
# Env:   DURATION=5s BATCH=10 CONNECTIONS=4 (publishers) BASELINE_CONNECTIONS=32 DRAIN_TIMEOUT=120
#        PROFILE=<perf.data> (needs perf)
#        BUS_ENV="DELIVERY_CONCURRENCY=8 ..." (extra bus settings) EVENT_BUS_BIN=<another build>
# Needs: wrk (apt-get install -y wrk), curl, python3, taskset.
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
defaults DURATION=5s BATCH=10 CONNECTIONS=4 BASELINE_CONNECTIONS=32 DRAIN_TIMEOUT=120
need wrk curl python3 taskset
cargo build --release -q -p event-bus --example bench_subscriber --example bench_client
release_bin EVENT_BUS_BIN event-bus event-bus
read -r BUS_PORT S1 S2 S3 S0 < <(free_ports 5)
TOKEN=$INTERNAL_TOKEN

taskset -c 1 "$BIN/examples/bench_subscriber" "$S1" "$S2" "$S3" "$S0" >"$WORK/stubs.log" 2>&1 &
PIDS+=($!)
# shellcheck disable=SC2086
env "${SERVICE_ENV[@]}" PORT="$BUS_PORT" DATABASE_URL="sqlite://$WORK/events.db" \
  HEALTH_REFRESH_MS=100 EVENT_SUBSCRIBERS="s1=http://127.0.0.1:$S1,s2=http://127.0.0.1:$S2,s3=http://127.0.0.1:$S3" \
  ${BUS_ENV:-} taskset -c 0 "$EVENT_BUS_BIN" >"$WORK/bus.log" 2>&1 &
PIDS+=($!)
BUS_PID=$!
for port in "$S1" "$S2" "$S3" "$S0"; do wait_for "http://127.0.0.1:$port/stats"; done
wait_for "http://127.0.0.1:$BUS_PORT/health"

# Unique ids per request: thread number and a counter; the body is what a relay sends.
cat >"$WORK/publish.lua" <<LUA
local batch, n = $BATCH, 0
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local headers = {["Content-Type"] = "application/json", ["x-internal-token"] = "$TOKEN"}
local one = '{"id":"b%d-%d","type":"OrderCreated","source":"order-service",'
  .. '"data":{"orderId":"o%d-%d","userId":"u1","totalAmount":49.99,'
  .. '"items":[{"productId":"p1","quantity":1,"price":49.99}]}}'
request = function()
  local parts = {}
  for i = 1, batch do
    n = n + 1
    parts[i] = string.format(one, tid, n, tid, n)
  end
  local body = "[" .. table.concat(parts, ",") .. "]"
  return wrk.format("POST", "/events", headers, body)
end
LUA
# One delivery's body, for the baseline.
DELIVERY='{"id":"b1-1","type":"OrderCreated","data":{"orderId":"o1-1","userId":"u1","totalAmount":49.99,"items":[{"productId":"p1","quantity":1,"price":49.99}]},"occurredAt":"2026-11-25T10:00:00.000Z","source":"order-service"}'
cat >"$WORK/deliver.lua" <<LUA
wrk.method = "POST"
wrk.body = '$DELIVERY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-internal-token"] = "$TOKEN"
LUA

now_ms() { date +%s%3N; }
health() { curl -fsS "http://127.0.0.1:$BUS_PORT/health"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

# PROFILE=<file>: a perf profile of the bus from the first publish to the last delivery.
if [ -n "${PROFILE:-}" ]; then
  perf record -q -F 499 -g -p "$BUS_PID" -o "$PROFILE" 2>"$WORK/perf.log" & PERF_PID=$!
fi
TICKS0=$(cpu_ticks "$BUS_PID")
START=$(now_ms)
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$WORK/publish.lua" \
  "http://127.0.0.1:$BUS_PORT/events" >"$WORK/publish.txt"
PUBLISHED=$(now_ms)
# Wait until the (background-refreshed) health view shows nothing pending twice in a row.
deadline=$((SECONDS + DRAIN_TIMEOUT)) zero=0
while ((zero < 2)); do
  sleep 0.2
  if [ "$(health | field pending)" = 0 ]; then zero=$((zero + 1)); else zero=0; fi
  if ((SECONDS > deadline)); then echo "deliveries still pending after ${DRAIN_TIMEOUT}s" >&2; health >&2; break; fi
done
TICKS1=$(cpu_ticks "$BUS_PID")
if [ -n "${PROFILE:-}" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; fi
TOTAL=$(health | field totalEvents)
for port in "$S1" "$S2" "$S3"; do curl -fsS "http://127.0.0.1:$port/stats" >"$WORK/stats-$port.json"; done
grep -q "Non-2xx" "$WORK/publish.txt" && { echo "warning: some publishes were not 2xx:" >&2; grep "Non-2xx" "$WORK/publish.txt" >&2; }

# Baseline: one stub serving direct POSTs of one delivery's body.
taskset -c 0 wrk -t1 -c"$BASELINE_CONNECTIONS" -d2s -s "$WORK/deliver.lua" "http://127.0.0.1:$S0/events" >/dev/null
taskset -c 0 wrk -t1 -c"$BASELINE_CONNECTIONS" -d"$DURATION" -s "$WORK/deliver.lua" \
  "http://127.0.0.1:$S0/events" >"$WORK/baseline.txt"
STUB_RPS=$(awk '/Requests\/sec/ {print $2}' "$WORK/baseline.txt")
# The bus's HTTP client alone, on the bus's core, posting the same body to the same kind of stub:
# the most deliveries/s the bus could make if storing and accepting events were free.
CLIENT_RPS=$(taskset -c 0 "$BIN/examples/bench_client" "http://127.0.0.1:$S0/events" 64 \
  "${DURATION%s}" | awk '{print $1}')

python3 - "$WORK" "$START" "$PUBLISHED" "$TOTAL" "$TICKS0" "$TICKS1" "$STUB_RPS" "$(getconf CLK_TCK)" \
  "$CLIENT_RPS" "$S1" "$S2" "$S3" <<'PY'
import json, sys
work, start, published, total, t0, t1, stub_rps, hz, client_rps = sys.argv[1:10]
start, published, total, stub_rps = int(start), int(published), int(total), float(stub_rps)
client_rps = float(client_rps)
cpu_s = (int(t1) - int(t0)) / int(hz)
ok, last = True, start
for port in sys.argv[10:]:
    s = json.load(open(f"{work}/stats-{port}.json"))
    last = max(last, s["lastMs"])
    once = s["distinct"] == total and s["duplicates"] == 0 and s["unreadable"] == 0
    ok &= once
    print(f"stub {port}: received {s['received']}, distinct {s['distinct']}, duplicates "
          f"{s['duplicates']} -> {'exactly once' if once else 'NOT exactly once'}")
accepted = total / ((published - start) / 1000)
delivered = total / ((last - start) / 1000)
print(f"events stored                 {total}")
print(f"events/s accepted             {accepted:,.0f}")
print(f"events/s delivered            {delivered:,.0f}   (first publish to last delivery {(last - start) / 1000:.2f} s)")
print(f"bus CPU per event             {cpu_s * 1000 / max(total, 1):.3f} ms   ({cpu_s:.2f} s)")
print(f"one stub, direct POSTs        {stub_rps:,.0f} req/s")
print(f"events/s x 3 / stub req/s     {delivered * 3 / stub_rps:.2f}   (goal >= 0.5)")
print(f"the bus's HTTP client alone   {client_rps:,.0f} req/s on the bus's core (bench_client -c64)")
print(f"events/s x 3 / client req/s   {delivered * 3 / client_rps:.2f}   (the share of the core left to the client)")
print("exactly once per subscriber:  " + ("yes" if ok else "NO"))
PY
echo "wrk publish -t1 -c$CONNECTIONS -d$DURATION, $BATCH events per request; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
