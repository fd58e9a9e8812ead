#!/usr/bin/env bash
# README command (2): install what is needed, build, and run the whole test suite (CTest).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-deps.sh --test
bash scripts/build.sh
export OMP_WAIT_POLICY=PASSIVE
ctest --test-dir build --output-on-failure -j2 --timeout 900
