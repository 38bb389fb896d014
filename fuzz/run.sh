#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, with libFuzzer, on the machine's own (stable)
# toolchain: the coverage instrumentation cargo-fuzz would add is passed as RUSTFLAGS here,
# so nothing beyond the pinned toolchain and a C++ compiler (for libFuzzer) is needed.
#
# Usage: fuzz/run.sh [seconds-per-target]   (default 60; four targets)
# The corpora start from the conformance corpus (fuzz/seed.py) and grow in
# $FUZZ_CORPUS (default: target/fuzz-corpus under the fuzz target directory). A crash
# leaves its input in $FUZZ_ARTIFACTS and fails the run; turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-60}
TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/aether-target}/fuzz
CORPUS=${FUZZ_CORPUS:-$TARGET_DIR/corpus}
ARTIFACTS=${FUZZ_ARTIFACTS:-$TARGET_DIR/artifacts}
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the flags off build scripts and proc macros (as cargo-fuzz does).
HOST=$(rustc -vV | sed -n 's/^host: //p')
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet --bins --target "$HOST"
BIN_DIR="$TARGET_DIR/$HOST/release"
python3 seed.py "$CORPUS" >/dev/null
mkdir -p "$ARTIFACTS"
status=0
for target in sse_framer request stream response; do
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
  if ! "$BIN_DIR/$target" "$CORPUS/$target" -max_total_time="$SECONDS_PER_TARGET" \
      -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$ARTIFACTS/$target-" >"$TARGET_DIR/$target.log" 2>&1; then
    echo "fuzz: $target FAILED; input kept in $ARTIFACTS; last lines of its log:"
    tail -40 "$TARGET_DIR/$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$TARGET_DIR/$target.log" | tr '\n' ' '
    echo
  fi
done
exit $status
