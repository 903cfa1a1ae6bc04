#!/usr/bin/env bash
# Runs every fuzz target of the gateway's HTTP/1.1 codec for a bounded time each:
#   api-gateway/fuzz/run.sh [seconds-per-target]     (default 30)
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Each target starts from a
# copy of its seed corpus (corpus/<target>/seed-*), kept between runs in the work directory so the
# corpus grows. Exits non-zero if any target crashed, after printing the crashing inputs.
#
# Environment:
#   FUZZ_TARGET_DIR  cargo target directory of the fuzz builds (default: fuzz/target); never the
#                    workspace's CARGO_TARGET_DIR, whose stable builds the sanitizer flags would evict
#   FUZZ_WORK_DIR    working corpora (default: $FUZZ_TARGET_DIR/fuzz-work)
#   FUZZ_TARGETS     targets to run, space-separated (default: every fuzz_targets/*.rs)
#   FUZZ_TOOLCHAIN   rustup toolchain (default: nightly)
#   FUZZ_CMIN_ABOVE  a working corpus with more files than this is minimised first (default: 3000)
set -euo pipefail

SECONDS_PER_TARGET="${1:-30}"
case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "usage: $0 [seconds-per-target]" >&2; exit 2 ;;
esac

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET_DIR="${FUZZ_TARGET_DIR:-$FUZZ_DIR/target}"
WORK_DIR="${FUZZ_WORK_DIR:-$TARGET_DIR/fuzz-work}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
CMIN_ABOVE="${FUZZ_CMIN_ABOVE:-3000}"
CRATE_DIR="$(dirname "$FUZZ_DIR")"
ARTIFACTS="$FUZZ_DIR/artifacts"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$PWD/$TARGET_DIR" ;; esac
case "$WORK_DIR" in /*) ;; *) WORK_DIR="$PWD/$WORK_DIR" ;; esac
unset CARGO_TARGET_DIR

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a TARGETS <<<"$FUZZ_TARGETS"
else
  TARGETS=()
  for f in "$FUZZ_DIR"/fuzz_targets/*.rs; do TARGETS+=("$(basename "$f" .rs)"); done
fi

if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz with a $TOOLCHAIN toolchain is needed: rustup toolchain install $TOOLCHAIN;" \
    "cargo install cargo-fuzz" >&2
  exit 2
fi

mkdir -p "$TARGET_DIR" "$WORK_DIR" "$ARTIFACTS"
cd "$CRATE_DIR"

FAILED=()
for target in "${TARGETS[@]}"; do
  corpus="$WORK_DIR/corpus/$target"
  mkdir -p "$corpus" "$ARTIFACTS/$target"
  if [ "$(find "$corpus" -type f | wc -l)" -gt "$CMIN_ABOVE" ]; then
    # libFuzzer only ever adds files: keep the kept corpus (and its load time) small.
    echo "== minimising the $target corpus"
    cargo "+$TOOLCHAIN" fuzz cmin --fuzz-dir "$FUZZ_DIR" --target-dir "$TARGET_DIR" "$target" "$corpus" \
      -- -rss_limit_mb=2048 -timeout=10 || echo "(cmin failed; the corpus is kept as it is)"
  fi
  cp "$FUZZ_DIR/corpus/$target"/seed-* "$corpus/"
  marker="$WORK_DIR/.start-$target"
  : >"$marker"
  printf '\n== fuzz %s: %ss, corpus %s (%s inputs)\n' \
    "$target" "$SECONDS_PER_TARGET" "$corpus" "$(find "$corpus" -type f | wc -l)"
  status=0
  cargo "+$TOOLCHAIN" fuzz run --fuzz-dir "$FUZZ_DIR" --target-dir "$TARGET_DIR" "$target" "$corpus" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$ARTIFACTS/$target/" || status=$?
  mapfile -t found < <(find "$ARTIFACTS/$target" -type f -newer "$marker" | sort)
  rm -f "$marker"
  if [ "$status" -ne 0 ] || [ "${#found[@]}" -gt 0 ]; then
    FAILED+=("$target")
    echo "!! fuzz target $target failed (exit $status)" >&2
    for artifact in "${found[@]}"; do
      echo "!! artifact: $artifact" >&2
      echo "!! input (hex, first 1 KiB): $(od -An -tx1 -v -N1024 "$artifact" | tr -d ' \n')" >&2
      echo "!! reproduce: cd $CRATE_DIR && cargo +$TOOLCHAIN fuzz run --target-dir $TARGET_DIR $target $artifact" >&2
    done
  fi
done

if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "fuzzing failed: ${FAILED[*]}" >&2
  exit 1
fi
echo "fuzzing passed: ${TARGETS[*]} (${SECONDS_PER_TARGET}s each)"
