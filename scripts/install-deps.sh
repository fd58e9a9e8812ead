#!/usr/bin/env bash
# Installs the Debian 12 packages tinyvit-edge needs. Idempotent; runs as root or via sudo.
#   scripts/install-deps.sh            # build + run (LibTorch, codecs, flatbuffers, ...)
#   scripts/install-deps.sh --test     # + what the tests need (python3-torch reference, LiteRT.js)
set -euo pipefail

want_test=0
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    *) echo "install-deps.sh: unknown option '$a' (use --test)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps.sh: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi

pkgs=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-openmp libtcmalloc-minimal4
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libtomlplusplus-dev
  libflatbuffers-dev flatbuffers-compiler
  libarchive-dev libturbojpeg0-dev libpng-dev zlib1g-dev
)
if [ "$want_test" = 1 ]; then
  pkgs+=(python3 python3-numpy python3-torch python3-torchvision nodejs)
  pkgs+=(clang)  # runtime: ASan/UBSan build + libFuzzer (tests/runtime/run_sanitized.sh)
  pkgs+=(g++-aarch64-linux-gnu qemu-user-static)  # runtime on aarch64 (tests/runtime/run_aarch64.sh)
  pkgs+=(gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm)  # firmware/ (tests/runtime/run_firmware.sh)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps.sh: all Debian packages present"
fi

# LiteRT.js (the independent TFLite referee) lives in tools/litert with its own package.json.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$want_test" = 1 ] && [ -f "$here/tools/litert/package.json" ] && [ ! -d "$here/tools/litert/node_modules/@litertjs" ]; then
  command -v npm >/dev/null || $SUDO apt-get install -y -qq npm >/dev/null
  (cd "$here/tools/litert" && npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error)
fi
