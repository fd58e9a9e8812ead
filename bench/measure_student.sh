#!/usr/bin/env bash
# The measurements behind the README's worked example and docs/benchmarks.md /
# docs/quantization.md for a trained student (and optionally its teacher):
#   bench/measure_student.sh STUDENT.pt OUTDIR [TEACHER.pt]
# 1. float32 export + verify on the whole 5,000-image validation split: LiteRT.js and our
#    runtime vs LibTorch; the same for the --target tflm file (tanh-form GELU);
# 2. int8 PTQ (METHODS, default percentile; CALIB images, default 2048) with the accuracy report on the whole
#    validation split, 1,000 of those images also run in LiteRT.js;
# 3. batch-1 latency of the float and int8 files: our runtime vs LiteRT.js vs LibTorch;
# 4. samples.png of the int8 file run in our runtime.
# DATA (env) defaults to ../shared/data/cifar10-train-jpeg.tar.gz; TINYVIT to ./build/tinyvit.
set -euo pipefail
student=${1:?usage: measure_student.sh STUDENT.pt OUTDIR [TEACHER.pt]}
out=${2:?usage: measure_student.sh STUDENT.pt OUTDIR [TEACHER.pt]}
teacher=${3:-}
bin=${TINYVIT:-./build/tinyvit}
data=${DATA:-../shared/data/cifar10-train-jpeg.tar.gz}
export OMP_WAIT_POLICY=PASSIVE
mkdir -p "$out"
t() { local s=$SECONDS; "$@"; echo "  ($((SECONDS - s)) s)"; }

echo "== evaluate (5,000 validation images)"
t "$bin" evaluate --model "$student" --data "$data" --threads 2 | tee "$out/evaluate.txt"
echo "== float32 export + verify"
t "$bin" export --model "$student" --format tflite -o "$out/student_f32.tflite"
t "$bin" verify --model "$student" --tflite "$out/student_f32.tflite" --data "$data" --threads 2 \
  --json "$out/verify_f32.json" | tee "$out/verify_f32.txt"
echo "== float32, --target tflm (GELU as its tanh approximation) + verify"
t "$bin" export --model "$student" --format tflite --target tflm -o "$out/student_f32_tflm.tflite"
t "$bin" verify --model "$student" --tflite "$out/student_f32_tflm.tflite" --data "$data" --threads 2 \
  --json "$out/verify_f32_tflm.json" | tee "$out/verify_f32_tflm.txt"
methods=${METHODS:-percentile}
main=${methods%% *}  # the file the latency and samples steps use
for method in $methods; do
  echo "== int8 PTQ ($method)"
  t "$bin" quantize --model "$student" --calib "$data" --method "$method" --calib-size "${CALIB:-2048}" --eval-limit 0 \
    --litert 1000 --threads 2 -o "$out/student_int8_$method.tflite" | tee "$out/quantize_$method.txt"
done
echo "== latency, batch 1: runtime vs LiteRT.js vs LibTorch"
"$bin" bench "$out/student_f32.tflite" --runs 200 --litert --checkpoint "$student" \
  --json "$out/bench_f32.json" | tee "$out/bench_f32.txt"
"$bin" bench "$out/student_int8_$main.tflite" --runs 200 --litert --checkpoint "$student" \
  --json "$out/bench_int8.json" | tee "$out/bench_int8.txt"
"$bin" bench "$out/student_int8_$main.tflite" --runs 200 --kernels reference \
  --json "$out/bench_int8_reference.json" | tee "$out/bench_int8_reference.txt"
echo "== samples.png (int8 file in our runtime)"
"$bin" visualize --model "$out/student_int8_$main.tflite" --data "$data" -o "$out/samples_int8.png"
if [ -n "$teacher" ]; then
  echo "== teacher float32 export + verify"
  t "$bin" export --model "$teacher" --format tflite -o "$out/teacher_f32.tflite"
  t "$bin" verify --model "$teacher" --tflite "$out/teacher_f32.tflite" --data "$data" --threads 2 \
    --json "$out/verify_teacher_f32.json" | tee "$out/verify_teacher_f32.txt"
  "$bin" bench "$out/teacher_f32.tflite" --runs 20 --litert --checkpoint "$teacher" \
    --json "$out/bench_teacher_f32.json" | tee "$out/bench_teacher_f32.txt"
fi
echo "results in $out"
