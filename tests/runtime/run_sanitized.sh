#!/usr/bin/env bash
# The runtime under AddressSanitizer + UndefinedBehaviorSanitizer, and its loader fuzzed:
#   1. a standalone clang build of runtime/ (no LibTorch) with
#      -fsanitize=address,undefined -fno-sanitize-recover=undefined (+ fuzzer coverage);
#   2. test_runtime_core under the sanitizers (malformed files, corruption, planner, kernels,
#      golden models);
#   3. fuzz_loader on every input it once crashed on (tests/runtime/fuzz_regressions/), then
#      for FUZZ_SECONDS (default 20), seeded with the golden models; libFuzzer's seed is
#      FUZZ_SEED (default 1, so a CI run is repeatable; FUZZ_SEED=0 picks a random one).
# Usage: run_sanitized.sh BUILD_DIR [FUZZ_SECONDS]. Exit status != 0 on any finding.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/../../runtime"
build="${1:?usage: run_sanitized.sh BUILD_DIR [FUZZ_SECONDS]}"
secs="${2:-20}"
command -v clang++ >/dev/null || { echo "run_sanitized.sh: clang++ missing: scripts/install-deps.sh --test" >&2; exit 1; }
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fsanitize=fuzzer-no-link -O1 -g"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DTINYVIT_RT_FUZZ=ON >/dev/null
cmake --build "$build" --target test_runtime_core fuzz_loader -j2 >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$build/tests_standalone/test_runtime_core" --gtest_brief=1
"$build/fuzz_loader" "$here"/fuzz_regressions/* 2>&1 | tail -n 3
corpus="$build/corpus"
mkdir -p "$corpus"
cp "$here"/golden/*.tflite "$corpus"/ 2>/dev/null || true
"$build/fuzz_loader" -seed="${FUZZ_SEED:-1}" -max_total_time="$secs" -max_len=300000 -rss_limit_mb=2048 -print_final_stats=1 \
  "$corpus" 2>&1 | tail -n 12
