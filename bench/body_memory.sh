#!/usr/bin/env bash
# Memory and latency of hostile request bodies: eight concurrent 1 MiB JSON bodies (half a million
# array elements where a string is expected) sent through the gateway to each write endpoint kind,
# against the whole platform (`ecommerce`, embedded mode). Reports every answer's status and time
# and how far the process's resident memory rose above where it stood before the burst (peak RSS,
# reset before each burst through /proc/<pid>/clear_refs).
#
#   bash bench/body_memory.sh                 # the current code
#   bash bench/body_memory.sh path/to/ecommerce  # also an other build of the launcher, same run
#
# The launcher uses its usual ports (3000, 4001–4005): nothing else may listen there.
source "$(dirname "$0")/common.sh"

need python3
cargo build --release -q -p stack --bin ecommerce
BINS=("$BIN/ecommerce" "$@")

run_one() { # BIN LABEL
  local data="$WORK/data-${2%% *}"
  DATA_DIR="$data" ADMIN_PASSWORD=bench-admin-password RATE_LIMIT_ENABLED=false RUST_LOG=warn \
    "$1" >"$data.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do
    curl -fs http://127.0.0.1:3000/health >/dev/null 2>&1 && break
    sleep 0.1
  done
  python3 - "$pid" "$2" <<'PY'
import concurrent.futures, http.client, json, sys, time

pid, label = int(sys.argv[1]), sys.argv[2]

def status(key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise KeyError(key)

def call(method, path, body, token=None, ctype="application/json"):
    c = http.client.HTTPConnection("127.0.0.1", 3000, timeout=30)
    headers = {"Content-Type": ctype}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.monotonic()
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    return r.status, time.monotonic() - started, data

def login(email, password):
    s, _, d = call("POST", "/api/auth/login", json.dumps({"email": email, "password": password}))
    assert s == 200, (s, d)
    return json.loads(d)["data"]["accessToken"]

call("POST", "/api/auth/register",
     json.dumps({"name": "Bench", "email": "bench@example.com", "password": "password123"}))
admin = login("admin@example.com", "bench-admin-password")
user = login("bench@example.com", "password123")
hostile = ('{"name":[' + "1," * 500_000 + '1]}').encode()
cases = [
    ("POST /api/products (1 MiB limit)", "/api/products", admin),
    ("POST /api/orders (64 KiB limit)", "/api/orders", user),
    ("POST /api/auth/login (16 KiB limit)", "/api/auth/login", None),
]
print(f"== {label}: body {len(hostile)} bytes, 8 at once")
for name, path, token in cases:
    time.sleep(0.5)
    before = status("VmRSS:")
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: call("POST", path, hostile, token), range(8)))
    peak = status("VmHWM:")
    codes = sorted({s for s, _, _ in results})
    slowest = max(t for _, t, _ in results)
    print(f"  {name:38} statuses {codes}  slowest {slowest * 1000:7.1f} ms  "
          f"peak RSS +{(peak - before) / 2**20:6.1f} MiB (from {before / 2**20:.0f} MiB)")
PY
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

i=0
for bin in "${BINS[@]}"; do
  i=$((i + 1))
  run_one "$bin" "$i ($bin)"
done
