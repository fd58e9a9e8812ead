#!/usr/bin/env bash
# README command (1): install what is needed, build, and run the main job:
#   scripts/run.sh [DATA] [PRESET]
# DATA defaults to ../shared/data/cifar10-train-jpeg.tar.gz, PRESET to quick (under 20 min
# on 2 cores). Results land in runs/<preset>/ (summary.json, pipeline.log, checkpoints, .tflite).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
data="${1:-../shared/data/cifar10-train-jpeg.tar.gz}"
preset="${2:-quick}"
bash scripts/install-deps.sh --test   # --test: LiteRT.js verifies the exported .tflite
bash scripts/build.sh
export OMP_WAIT_POLICY=PASSIVE
./build/tinyvit pipeline --preset "$preset" --data "$data" --out "runs/$preset"
