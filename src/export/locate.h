#pragma once
// Where two runtimes part on a .tflite file: every op output made a graph output, the file run
// in LiteRT.js and in tinyvit's runtime on the same input bytes, and each tensor compared in op
// order. When `tinyvit verify` reports logits that are not bit-identical to LiteRT, the first
// differing tensor names the op whose arithmetic differs (how the BATCH_MATMUL multiplier of
// session 14 was found: docs/runtime.md).
#include <cstdint>
#include <string>
#include <vector>

#include "export/runtime_runner.h"

namespace tinyvit::exporter {

struct TensorDiff {
  int op = 0;               // index of the op that writes the tensor (execution order)
  std::string op_name;      // e.g. "BATCH_MATMUL"
  std::string tensor;       // the tensor's name in the file
  std::string type;         // "INT8", "FLOAT32", ...
  int64_t values = 0;       // over all samples
  int64_t differing = 0;    // values not bit-identical
  double max_abs_diff = 0;  // in stored units: quantization steps for integer tensors
};

// `inputs`: N samples back to back as real values for the file's single input (an int8/uint8
// input is quantized as run_runtime does, and both runtimes get those bytes). One entry per op
// output tensor, in op order. Throws tinyvit::Error for a file with other than one input.
std::vector<TensorDiff> compare_every_tensor(const std::string& tflite_path,
                                             const std::vector<float>& inputs,
                                             RuntimeArithmetic arithmetic);

// "every tensor identical" or the first differing tensors (at most `rows`), one per line.
std::string format_tensor_diffs(const std::vector<TensorDiff>& diffs, int rows = 8);

}  // namespace tinyvit::exporter
