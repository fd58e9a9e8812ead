#!/usr/bin/env bash
# Measurements for docs/pruning.md: prune a trained student at several levels, recover each with
# the same distillation budget, and collect params / MACs / int8 bytes / batch-1 latency /
# validation accuracy from the JSON reports `tinyvit prune` writes.
#
#   bench/bench_prune.sh STUDENT.pt OUTDIR [RECOVER_EPOCHS] [RECOVER_STEPS_PER_EPOCH]
#
# RECOVER_STEPS_PER_EPOCH > 0 cuts each recovery epoch to that many batches of 128 (what the
# numbers in docs/pruning.md used on a shared, heavily loaded 2-core machine).
# ONLY="tag1 tag2" runs just those levels (no criteria section), e.g. ONLY="heads50_mlp50".
# Data: a stratified training subset (TRAIN_LIMIT, default 5,000 images) and validation subset
# (VAL_LIMIT, default 1,000; 0 = the whole 5,000-image split) of
# ../shared/data/cifar10-train-jpeg.tar.gz (the split the student was trained on).
set -euo pipefail
student=$1
out=$2
epochs=${3:-2}
steps=${4:-0}
bin=${TINYVIT:-./build/tinyvit}
data=${DATA:-../shared/data/cifar10-train-jpeg.tar.gz}
common=(--data "$data" --train-limit "${TRAIN_LIMIT:-5000}" --val-limit "${VAL_LIMIT:-1000}" --threads 2
        --latency-runs "${LATENCY_RUNS:-50}")
mkdir -p "$out"

# 1. Criteria at one level, no recovery: accuracy right after pruning 50% of MLP units + 1 head.
if [ -z "${ONLY:-}" ]; then
  for crit in l1 l2 taylor; do
    for g in "" $([ "$crit" = taylor ] && echo --global); do
      tag=crit_${crit}${g:+_global}
      "$bin" prune --model "$student" --heads 0.25 --mlp 0.5 --criterion "$crit" $g \
        "${common[@]}" -o "$out/$tag.pt" > "$out/$tag.log" 2>&1
    done
  done
fi

# 2. Levels, each recovered for the same budget (self-distillation from the unpruned student).
levels=(
  "base|--heads 0 --mlp 0"
  "mlp50|--mlp 0.5"
  "heads33_mlp50|--heads 0.3333 --mlp 0.5"
  "mlp75|--mlp 0.75"
  "heads25_mlp75|--heads 0.25 --mlp 0.75"
  "heads50_mlp50|--heads 0.5 --mlp 0.5"
  "heads50_mlp50_blocks1|--heads 0.5 --mlp 0.5 --blocks 1"
)
for l in "${levels[@]}"; do
  tag=${l%%|*}
  [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $tag "* ]] && continue
  args=${l#*|}
  # shellcheck disable=SC2086
  "$bin" prune --model "$student" $args --criterion taylor "${common[@]}" \
    --recover-epochs "$epochs" --max-steps-per-epoch "$steps" -o "$out/$tag.pt" > "$out/$tag.log" 2>&1
done
echo "reports in $out/*.prune.json"
