#!/usr/bin/env bash
# A cached product list page: requests/s of the product service's cached `GET /api/products`
# (PRODUCTS products, one page) served directly as identity, gzip and br, through the api-gateway,
# and by nginx serving the identical identity bytes as a static file. Servers (product service,
# gateway, nginx: one worker) are pinned to the first core, wrk to the last; the targets are
# measured in alternating rounds and the median of each is reported, with the goal ratios
# (list / nginx >= 0.5, gzip / plain >= 0.8, gateway / direct >= 0.8). Baseline of the hop: nginx
# proxying to the product service on the same core, as the gateway does.
#
# Usage: bench/products_cache.sh       (from anywhere)
# Env:   DURATION=5s ROUNDS=3 CONNECTIONS=32 THREADS=1 PRODUCTS=20
#        PRODUCT_SERVICE_BIN=path API_GATEWAY_BIN=path   (measure other builds instead of this tree)
# Needs: wrk, nginx, python3, curl (apt-get install -y wrk nginx curl python3).
#
# The service accepts an admin token only while its session is live, and a service running alone
# asks the auth service: a stub answers that every session is live. The products are created
# through the API, so the cached page is exactly what clients get.

# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
defaults DURATION=5s ROUNDS=3 CONNECTIONS=32 THREADS=1 PRODUCTS=20
need wrk nginx python3 curl
release_bin PRODUCT_SERVICE_BIN product-service product-service
release_bin API_GATEWAY_BIN api-gateway api-gateway

# Servers on the first core, the load generator on the last (when there are two).
CPUS=$(nproc)
SERVER_CPU=0
CLIENT_CPU=$((CPUS > 1 ? CPUS - 1 : 0))
read -r STUB_PORT PS_PORT GW_PORT NGX_PORT NGX_PROXY_PORT < <(free_ports 5)

stub_peers "$STUB_PORT"

env "${SERVICE_ENV[@]}" PORT="$PS_PORT" \
  DATABASE_URL="sqlite://$WORK/products.db" AUTH_SERVICE_URL="http://127.0.0.1:$STUB_PORT" \
  taskset -c "$SERVER_CPU" "$PRODUCT_SERVICE_BIN" >> "$WORK/product.log" 2>&1 &
PIDS+=($!)
env "${GATEWAY_ENV[@]}" PORT="$GW_PORT" PRODUCT_SERVICE_URL="http://127.0.0.1:$PS_PORT" \
  taskset -c "$SERVER_CPU" "$API_GATEWAY_BIN" >> "$WORK/gateway.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$STUB_PORT/health"
wait_for "http://127.0.0.1:$PS_PORT/health"
wait_for "http://127.0.0.1:$GW_PORT/api/products"

# PRODUCTS products with varied text (seeded, so every run serves the same page), created by an
# admin whose token is signed like the auth service signs them.
python3 - "$(bench_token admin 64b7f0c2a1b2c3d4e5f60001)" "http://127.0.0.1:$PS_PORT" "$PRODUCTS" <<'PY'
import json, random, sys, urllib.request
token, base, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(7)
words = ("sturdy light compact wireless premium steel oak cotton quiet fast smart classic "
         "portable durable soft bright warm modern vintage ergonomic waterproof rechargeable "
         "handmade organic adjustable foldable slim heavy elegant everyday travel studio").split()
for i in range(count):
    desc = " ".join(rng.choice(words) for _ in range(45)).capitalize() + "."
    body = {
        "name": f"{rng.choice(words).capitalize()} {rng.choice(words)} item {i:03d}",
        "description": desc,
        "price": round(rng.uniform(5, 500), 2),
        "stock": rng.randint(1, 1000),
        "category": rng.choice(["Electronics", "Home", "Garden", "Sports", "Books"]),
        "sku": f"BENCH-{i:04d}",
        "images": [f"https://cdn.example.com/products/{i:04d}/{n}.jpg" for n in (1, 2)],
        "metadata": {"color": rng.choice(words), "weightGrams": rng.randint(50, 5000)},
    }
    req = urllib.request.Request(f"{base}/api/products", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json",
                                          "authorization": f"Bearer {token}"})
    urllib.request.urlopen(req).read()
PY

LIST="http://127.0.0.1:$PS_PORT/api/products"
mkdir -p "$WORK/www/api"
curl -fsS "$LIST" -o "$WORK/www/api/products"
# nginx's workers drop root privileges: let them reach the file.
chmod o+x "$WORK" && chmod -R o+rX "$WORK/www"
nginx_config "worker_processes 1;" "$(cat <<NGINX
  sendfile on;
  tcp_nopush on;
  types { }
  default_type application/json;
  server {
    listen 127.0.0.1:$NGX_PORT;
    root $WORK/www;
  }
  # The proxy baseline: nginx in front of the product service as the gateway is, kept-alive.
  upstream products { server 127.0.0.1:$PS_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGX_PROXY_PORT;
    location / {
      proxy_pass http://products;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
NGINX
)"
taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)
STATIC="http://127.0.0.1:$NGX_PORT/api/products"
VIA_GATEWAY="http://127.0.0.1:$GW_PORT/api/products"
VIA_NGINX="http://127.0.0.1:$NGX_PROXY_PORT/api/products"
wait_for "$STATIC"
wait_for "$VIA_NGINX"

# Every target must answer the same page: identity bytes equal to the file, gzip and br bodies that
# decompress to them, with the encoding announced.
for enc in gzip br; do
  curl -fsS -D "$WORK/$enc.head" -H "Accept-Encoding: $enc" "$LIST" -o "$WORK/$enc.body"
  grep -qi "^content-encoding: $enc" "$WORK/$enc.head" ||
    { echo "$enc was not served compressed:" >&2; cat "$WORK/$enc.head" >&2; exit 1; }
  curl -fsS --compressed -H "Accept-Encoding: $enc" "$LIST" | cmp -s - "$WORK/www/api/products" ||
    { echo "the $enc body does not decompress to the identity page" >&2; exit 1; }
done
curl -fsS "$VIA_GATEWAY" | cmp -s - "$WORK/www/api/products" ||
  { echo "the gateway answers another page" >&2; exit 1; }
curl -fsS "$VIA_NGINX" | cmp -s - "$WORK/www/api/products" ||
  { echo "the nginx proxy answers another page" >&2; exit 1; }
python3 - "$WORK/www/api/products" "$PRODUCTS" <<'PY'
import json, sys
page = json.load(open(sys.argv[1]))
assert len(page["data"]) == min(int(sys.argv[2]), 20), page["pagination"]
PY
SIZES="identity $(wc -c < "$WORK/www/api/products") B, gzip $(wc -c < "$WORK/gzip.body") B, br $(wc -c < "$WORK/br.body") B"

# rps URL [HEADER]: requests/s of one wrk run.
rps() {
  local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DUR:-$DURATION}")
  if [[ -n "${2:-}" ]]; then args+=(-H "$2"); fi
  taskset -c "$CLIENT_CPU" wrk "${args[@]}" "$1" | tee -a "$WORK/wrk.log" |
    awk '/Requests\/sec/ {print $2}'
}

NAMES=(plain gzip br nginx gateway proxy)
declare -A URL=([plain]=$LIST [gzip]=$LIST [br]=$LIST [nginx]=$STATIC [gateway]=$VIA_GATEWAY
  [proxy]=$VIA_NGINX)
declare -A HEADER=([gzip]="Accept-Encoding: gzip" [br]="Accept-Encoding: br")
for name in "${NAMES[@]}"; do DUR=2s rps "${URL[$name]}" "${HEADER[$name]:-}" >/dev/null; done # warm up
: > "$WORK/wrk.log"
declare -A RESULTS
for ((round = 1; round <= ROUNDS; round++)); do
  for name in "${NAMES[@]}"; do
    RESULTS[$name]+=" $(rps "${URL[$name]}" "${HEADER[$name]:-}")"
  done
done
if grep -q "Non-2xx" "$WORK/wrk.log"; then
  echo "warning: some responses were not 2xx:" >&2
  grep "Non-2xx" "$WORK/wrk.log" >&2
fi
declare -A MEDIAN
for name in "${NAMES[@]}"; do MEDIAN[$name]=$(median ${RESULTS[$name]}); done

echo "GET /api/products ($PRODUCTS products: $SIZES), wrk -t$THREADS -c$CONNECTIONS -d$DURATION," \
  "median of $ROUNDS alternating rounds, servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU of $CPUS," \
  "load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %12s   %s\n' "target" "requests/s" "rounds"
printf '%-44s %12.0f  %s\n' \
  "(a) product service, cached, identity" "${MEDIAN[plain]}" "${RESULTS[plain]}" \
  "(b) product service, cached, gzip" "${MEDIAN[gzip]}" "${RESULTS[gzip]}" \
  "(c) product service, cached, br" "${MEDIAN[br]}" "${RESULTS[br]}" \
  "(d) nginx, the same bytes as a static file" "${MEDIAN[nginx]}" "${RESULTS[nginx]}" \
  "(e) through api-gateway, identity" "${MEDIAN[gateway]}" "${RESULTS[gateway]}" \
  "(f) through nginx proxy_pass, identity" "${MEDIAN[proxy]}" "${RESULTS[proxy]}"
python3 - "${MEDIAN[plain]}" "${MEDIAN[gzip]}" "${MEDIAN[br]}" "${MEDIAN[nginx]}" "${MEDIAN[gateway]}" \
  "${MEDIAN[proxy]}" <<'PY'
import sys
plain, gz, br, nginx, gateway, proxy = map(float, sys.argv[1:])
print(f"list / nginx     = {plain / nginx:.2f}   (goal >= 0.5)")
print(f"gzip / plain     = {gz / plain:.2f}   (goal >= 0.8)")
print(f"br / plain       = {br / plain:.2f}")
print(f"gateway / direct = {gateway / plain:.2f}   (goal >= 0.8)")
print(f"nginx proxy / direct = {proxy / plain:.2f}   (the same hop by nginx, on the same core)")
print(f"gateway / nginx proxy = {gateway / proxy:.2f}")
PY
