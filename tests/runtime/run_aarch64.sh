#!/usr/bin/env bash
# The runtime on 64-bit Arm Linux (Raspberry Pi 4/5 class), emulated:
#   1. a standalone cross build of runtime/ (no LibTorch) with Debian's g++-aarch64-linux-gnu
#      (runtime/cmake/aarch64-linux-gnu.cmake), which compiles the NEON kernel variants;
#   2. test_runtime_core under qemu-aarch64-static (verifier, planner, corruption, NEON vs
#      reference: int8 bit-exact, float 1e-5; golden models vs LiteRT.js);
#   3. tvrt_run (load + 3 timed runs) on every golden model, checking that the matmul ops
#      of the ViT run the NEON variants, and for int8 models that the NEON and reference
#      kernels give the same output bytes on the model's first golden input.
# Usage: run_aarch64.sh BUILD_DIR. Fails (never skips) when the cross compiler or qemu is
# missing: scripts/install-deps.sh --test installs both.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/../../runtime"
build="${1:?usage: run_aarch64.sh BUILD_DIR}"
for tool in aarch64-linux-gnu-g++ qemu-aarch64-static; do
  command -v "$tool" >/dev/null || {
    echo "run_aarch64.sh: $tool missing: scripts/install-deps.sh --test (g++-aarch64-linux-gnu, qemu-user-static)" >&2
    exit 1
  }
done
t0=$(date +%s)
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$src/cmake/aarch64-linux-gnu.cmake" >/dev/null
cmake --build "$build" --target test_runtime_core tvrt_run -j2 >/dev/null
t1=$(date +%s)
run() { qemu-aarch64-static -L /usr/aarch64-linux-gnu "$@"; }
file "$build/tvrt_run" 2>/dev/null | grep -q aarch64 || [ ! -x /usr/bin/file ] || { echo "tvrt_run is not an aarch64 binary" >&2; exit 1; }
run "$build/tests_standalone/test_runtime_core" --gtest_brief=1
for m in "$here"/golden/*.tflite; do
  out=$(run "$build/tvrt_run" "$m" --runs 3)
  echo "$out" | head -n 3
  if [[ "$(basename "$m")" == rt_vit.tflite ]] && ! echo "$out" | grep -Eq ' [1-9][0-9]* neon\)'; then
    echo "run_aarch64.sh: $m: no op runs a NEON kernel" >&2
    exit 1
  fi
  if echo "$out" | grep -q '^output .*(int8)'; then
    in_bytes=$(echo "$out" | sed -n 's/^input .*: \([0-9]*\) bytes$/\1/p')
    dd if="${m%.tflite}.in.bin" of="$build/in.bin" bs="$in_bytes" count=1 status=none
    run "$build/tvrt_run" "$m" --runs 1 --input "$build/in.bin" --output "$build/out_neon.bin" >/dev/null
    run "$build/tvrt_run" "$m" --runs 1 --reference --input "$build/in.bin" --output "$build/out_ref.bin" >/dev/null
    cmp "$build/out_neon.bin" "$build/out_ref.bin" || { echo "run_aarch64.sh: $m: NEON and reference outputs differ" >&2; exit 1; }
    echo "$(basename "$m"): int8 output bytes NEON == reference"
  fi
done
echo "run_aarch64.sh: build $((t1 - t0)) s, qemu runs $(( $(date +%s) - t1 )) s"
