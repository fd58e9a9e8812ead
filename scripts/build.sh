#!/usr/bin/env bash
# Configures and builds tinyvit-edge into ./build (Release, Ninja). Incremental on reruns.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
