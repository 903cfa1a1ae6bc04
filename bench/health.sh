#!/usr/bin/env bash
# `/health` of the gateway against one service's `/health`, on the whole platform (`ecommerce`,
# embedded mode): the platform pinned to one core, wrk to the other, the targets measured in
# alternation for ROUNDS rounds; prints the medians and the ratio. Both answer from a view a
# background task refreshes, so neither calls a database or another service per request.
#
# Usage: bash bench/health.sh
# Env:   DURATION=5s ROUNDS=3 CONNECTIONS=32 ECOMMERCE_BIN=<another build of the launcher>
# Needs: wrk (apt-get install -y wrk), curl, taskset. The launcher uses its usual ports (3000,
#        4001–4005): nothing else may listen there.
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
defaults DURATION=5s ROUNDS=3 CONNECTIONS=32
need wrk curl taskset
release_bin ECOMMERCE_BIN stack ecommerce

DATA_DIR="$WORK/data" RUST_LOG=warn taskset -c 0 "$ECOMMERCE_BIN" >"$WORK/ecommerce.log" 2>&1 &
PIDS+=($!)
LAUNCHER=$!
wait_for http://127.0.0.1:3000/health
# The gateway's view says every service is up once its first check ran.
until curl -fsS http://127.0.0.1:3000/health | grep -q '"status":"healthy"'; do sleep 0.2; done
IDLE_RSS=$(rss "$LAUNCHER")

rps() {
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$1" "$2" | awk '/Requests\/sec/ {print $2}'
}

TARGETS=(http://127.0.0.1:3000/health http://127.0.0.1:4002/health)
for t in "${TARGETS[@]}"; do rps 2s "$t" >/dev/null; done
declare -A RESULTS
for ((round = 1; round <= ROUNDS; round++)); do
  for t in "${TARGETS[@]}"; do RESULTS[$t]+=" $(rps "$DURATION" "$t")"; done
done
GATEWAY=$(median ${RESULTS[${TARGETS[0]}]})
SERVICE=$(median ${RESULTS[${TARGETS[1]}]})
printf 'gateway /health          %10.0f req/s  (rounds:%s)\n' "$GATEWAY" "${RESULTS[${TARGETS[0]}]}"
printf 'product-service /health  %10.0f req/s  (rounds:%s)\n' "$SERVICE" "${RESULTS[${TARGETS[1]}]}"
awk -v g="$GATEWAY" -v s="$SERVICE" 'BEGIN { printf "gateway / one service = %.2f\n", g / s }'
echo "launcher resident memory: idle $IDLE_RSS; after the runs $(rss "$LAUNCHER")"
