#!/usr/bin/env bash
# README command (1): install what is needed, build, and run the main job:
#   scripts/run.sh [DATA] [PRESET] [PIPELINE FLAGS...]
# DATA defaults to ../shared/data/cifar10-train-jpeg.tar.gz, PRESET to quick (under 20 min
# on 2 cores). Results land in runs/<preset>/ (summary.json, pipeline.log, checkpoints, .tflite),
# or runs/<preset>_<data name>/ when DATA is given, so another data set gets its own run.
# Further arguments go to `tinyvit pipeline`, e.g. `--val-size 300` for a small data set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,7s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
  exit 0
fi
data="${1:-../shared/data/cifar10-train-jpeg.tar.gz}"
preset="${2:-quick}"
out="runs/$preset"
if [[ $# -ge 1 ]]; then
  name="$(basename -- "${data%/}")"
  name="${name%.tar.gz}"
  out="runs/${preset}_${name//[^A-Za-z0-9_.-]/_}"
fi
shift $(( $# < 2 ? $# : 2 ))
bash scripts/install-deps.sh --test   # --test: LiteRT.js verifies the exported .tflite
bash scripts/build.sh
export OMP_WAIT_POLICY=PASSIVE
./build/tinyvit pipeline --preset "$preset" --data "$data" --out "$out" "$@"
