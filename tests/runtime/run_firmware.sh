#!/usr/bin/env bash
# The runtime as Cortex-M firmware (firmware/), emulated, checked byte for byte against the host:
#   1. host tvrt_run (reference kernels) on NSAMPLES inputs cut from each model's golden
#      inputs (tests/runtime/golden/NAME.in.bin) -> expected output bytes;
#   2. firmware/ built with arm-none-eabi-gcc + newlib-nano for QEMU mps2-an505 (Cortex-M33,
#      reference kernels only), the model and the same inputs compiled in as C arrays, the
#      arena sized to what the host reports;
#   3. qemu-system-arm runs it (timeout); every "out <i> <hex>" line it prints over
#      semihosting must equal the host output bytes exactly.
# Usage: run_firmware.sh BUILD_DIR HOST_TVRT_RUN MODEL.tflite[:TOL] [MODEL.tflite[:TOL]...]
# MODEL:TOL (float32 outputs) allows a relative difference TOL instead of equal bytes: float
# ops with exp/erf/tanh call newlib's expf/erff/tanhf on the device and glibc's on the host,
# which differ by an ulp on some arguments (models without them are bit-exact in float too).
# Env: NSAMPLES (default 3); INPUTS=FILE takes the inputs from FILE (concatenated raw inputs)
# instead of the golden NAME.in.bin (for a model without golden inputs; one model per run);
# FW_HEAP_BYTES overrides the firmware's pool for load()'s tables (default 64 KB); JOBS the
# build's parallelism (default 2). Fails (never skips) when a tool is missing:
# scripts/install-deps.sh --test installs gcc-arm-none-eabi, libnewlib-arm-none-eabi,
# libstdc++-arm-none-eabi-newlib and qemu-system-arm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fwsrc="$here/../../firmware"
build="${1:?usage: run_firmware.sh BUILD_DIR HOST_TVRT_RUN MODEL.tflite...}"
host="${2:?usage: run_firmware.sh BUILD_DIR HOST_TVRT_RUN MODEL.tflite...}"
shift 2
[ $# -ge 1 ] || { echo "run_firmware.sh: no model given" >&2; exit 2; }
nsamples="${NSAMPLES:-3}"
for tool in arm-none-eabi-g++ qemu-system-arm od; do
  command -v "$tool" >/dev/null || {
    echo "run_firmware.sh: $tool missing: scripts/install-deps.sh --test" >&2
    exit 1
  }
done
[ -x "$host" ] || { echo "run_firmware.sh: host tvrt_run '$host' not built" >&2; exit 1; }
mkdir -p "$build"
work="$build/io"
rc=0
for arg in "$@"; do
  model="${arg%%:*}"
  tol=""
  [ "$arg" = "$model" ] || tol="${arg#*:}"
  model="$(cd "$(dirname "$model")" && pwd)/$(basename "$model")"
  name="$(basename "$model" .tflite)"
  golden="${INPUTS:-${model%.tflite}.in.bin}"
  rm -rf "$work" && mkdir -p "$work"
  info=$("$host" "$model" --runs 1 --reference)
  in_bytes=$(echo "$info" | sed -n 's/^input .*: \([0-9]*\) bytes$/\1/p')
  arena=$(echo "$info" | sed -n 's/^arena \([0-9]*\) bytes.*/\1/p')
  [ -n "$in_bytes" ] && [ -n "$arena" ] || { echo "run_firmware.sh: cannot parse tvrt_run output" >&2; exit 1; }
  total=$(stat -c %s "$golden")
  n=$(( total / in_bytes < nsamples ? total / in_bytes : nsamples ))
  [ "$n" -ge 1 ] || { echo "run_firmware.sh: $golden holds less than one input ($in_bytes bytes)" >&2; exit 1; }
  inputs=""
  for ((i = 0; i < n; ++i)); do
    dd if="$golden" of="$work/in$i.bin" bs="$in_bytes" skip="$i" count=1 status=none
    "$host" "$model" --runs 1 --reference --input "$work/in$i.bin" --output "$work/out$i.bin" >/dev/null
    od -An -v -tx1 "$work/out$i.bin" | tr -d ' \n' > "$work/out$i.hex"
    inputs+="${inputs:+;}$work/in$i.bin"
  done
  t0=$(date +%s)
  toolchain=()
  [ -f "$build/CMakeCache.txt" ] || toolchain=(-G Ninja -DCMAKE_TOOLCHAIN_FILE="$fwsrc/cmake/arm-none-eabi-m33.cmake")
  cmake -S "$fwsrc" -B "$build" "${toolchain[@]}" \
    -DFW_MODEL="$model" -DFW_INPUTS="$inputs" -DFW_ARENA_BYTES=$(( (arena + 15) / 16 * 16 )) \
    ${FW_HEAP_BYTES:+-DFW_HEAP_BYTES="$FW_HEAP_BYTES"} >/dev/null
  cmake --build "$build" -j"${JOBS:-2}" > "$build/build.log" 2>&1 || { cat "$build/build.log" >&2; exit 1; }
  t1=$(date +%s)
  set +e
  timeout 120 qemu-system-arm -M mps2-an505 -nographic -semihosting-config enable=on,target=native \
    -kernel "$build/tinyvit_fw.elf" > "$work/qemu.log" 2>&1
  qrc=$?
  set -e
  t2=$(date +%s)
  echo "== $name: $n inputs of $in_bytes bytes (firmware build $((t1 - t0)) s, qemu $((t2 - t1)) s)"
  grep -A2 "Memory region" "$build/build.log" || true
  grep -v '^out ' "$work/qemu.log" || true
  if [ "$qrc" -ne 0 ] || ! grep -qx done "$work/qemu.log"; then
    echo "run_firmware.sh: $name: qemu exit status $qrc" >&2
    rc=1
    continue
  fi
  for ((i = 0; i < n; ++i)); do
    got=$(sed -n "s/^out $i //p" "$work/qemu.log")
    if [ "$got" = "$(cat "$work/out$i.hex")" ]; then
      echo "$name input $i: firmware output == host output ($(( ${#got} / 2 )) bytes)"
    elif [ -n "$tol" ] && [ "${#got}" = "$(wc -c < "$work/out$i.hex")" ] && {
        printf '%b' "$(echo "$got" | sed 's/../\\x&/g')" > "$work/fw$i.bin"
        paste <(od -An -v -tf4 -w4 "$work/out$i.bin") <(od -An -v -tf4 -w4 "$work/fw$i.bin") |
          awk -v tol="$tol" '{ d = $1 - $2; if (d < 0) d = -d; a = $1 < 0 ? -$1 : $1;
                               r = d / (a > 1 ? a : 1); if (r > m) m = r; if (d > 0) nd++ }
                             END { printf "max rel diff %.3g, %d of %d values differ\n", m, nd, NR > "/dev/stderr";
                                   exit !(m <= tol) }' 2> "$work/cmp$i.txt"; }; then
      echo "$name input $i: firmware output within $tol of host output ($(cat "$work/cmp$i.txt"))"
    else
      echo "run_firmware.sh: $name input $i: firmware output differs from the host" >&2
      echo "  host:     $(cut -c1-96 "$work/out$i.hex")" >&2
      echo "  firmware: ${got:0:96}" >&2
      rc=1
    fi
  done
done
exit $rc
