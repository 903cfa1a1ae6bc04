#!/usr/bin/env bash
# The order flow end to end through the gateway, with the simulated payment provider answering in
# 200 ms: one closed-loop client (the flow's latency, order placed → seen `confirmed`), then 64
# (confirmed orders/s), against their bounds: latency ≤ provider + 50 ms, and orders/s ≥ 0.9 × 64 ÷
# the one-client latency. The platform runs on CPU 0, the clients (crates/stack/examples/
# order_flow.rs, polling every 5 ms) on CPU 1.
#
# Usage: bash bench/order_flow.sh
# Env:   SECONDS_ONE=10 SECONDS_MANY=15 CLIENTS=64 POLL_ONE_MS=5 POLL_MANY_MS=5 (how often a client
#        looks at its order) ECOMMERCE_BIN=<another build of the launcher>
# Needs: curl, taskset. The launcher uses its usual ports (3000, 4001–4005).
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
defaults SECONDS_ONE=10 SECONDS_MANY=15 CLIENTS=64 POLL_ONE_MS=5 POLL_MANY_MS=5
cargo build --release -q -p stack --example order_flow
release_bin ECOMMERCE_BIN stack ecommerce

DATA_DIR="$WORK/data" ADMIN_PASSWORD=bench-admin-password RUST_LOG=warn \
  RATE_LIMIT_ENABLED=false PAYMENT_LATENCY_MS=200 PAYMENT_FAILURE_RATE=0 \
  taskset -c 0 "$ECOMMERCE_BIN" >"$WORK/ecommerce.log" 2>&1 &
PIDS+=($!)
LAUNCHER=$!
wait_for http://127.0.0.1:3000/health
flow() {
  ADMIN_PASSWORD=bench-admin-password CLIENTS=$1 SECONDS=$2 POLL_MS=$3 taskset -c 1 \
    "$BIN/examples/order_flow"
}
flow 4 3 5 >/dev/null # warm-up
ONE=$(flow 1 "$SECONDS_ONE" "$POLL_ONE_MS")
T0=$(cpu_ticks "$LAUNCHER") S0=$(date +%s%3N)
MANY=$(flow "$CLIENTS" "$SECONDS_MANY" "$POLL_MANY_MS")
T1=$(cpu_ticks "$LAUNCHER") S1=$(date +%s%3N)
RSS=$(rss "$LAUNCHER")
echo "$ONE"
echo "$MANY"
BUSY=$(awk -v t="$((T1 - T0))" -v hz="$(getconf CLK_TCK)" -v ms="$((S1 - S0))" \
  'BEGIN {printf "%.2f", t / hz / (ms / 1000)}')
L1=$(sed -E 's/.*p50 ([0-9.]+) ms.*/\1/' <<<"$ONE")
RATE=$(sed -E 's/.*= ([0-9.]+)\/s.*/\1/' <<<"$MANY")
awk -v l="$L1" -v r="$RATE" -v n="$CLIENTS" -v busy="$BUSY" 'BEGIN {
  printf "one-client latency %.1f ms (bound 250 ms); %d clients: %.1f orders/s = %.3f of %d / latency\n",
    l, n, r, r / (n * 1000 / l), n
  printf "with %d clients the platform used %.2f of its core: %.2f ms of CPU per confirmed order (its polls included)\n",
    n, busy, busy * 1000 / r
}'
echo "launcher resident memory after the runs: $RSS"
