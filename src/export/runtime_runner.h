#pragma once
// tinyvit's own runtime (runtime/, no LibTorch) as the second backend for exported files, next
// to LiteRT.js: `tinyvit verify`, `predict` and `visualize` run .tflite files through it.
#include <cstddef>
#include <string>
#include <vector>

namespace tinyvit::exporter {

enum class RuntimeKernels { kAuto, kReference };
// int8 arithmetic (runtime.h, Int8Arithmetic): TFLite's reference kernels (what TFLite Micro
// computes) or what LiteRT's CPU runtime computes (XNNPACK requantization, float-table SOFTMAX).
enum class RuntimeArithmetic { kReference, kLiteRt };

// Runs `tflite_path` on N samples with one input and one output each. `inputs` holds the N
// inputs back to back as real values (e.g. NHWC pixels in [0, 1]); an int8 input is quantized
// with its scale and zero point (round half away from zero, saturate), an int8 output is
// dequantized. Returns N x (output elements) floats. Throws tinyvit::Error with the runtime's
// message for a file it refuses, or when inputs.size() is not a multiple of the input size.
std::vector<float> run_runtime(const std::string& tflite_path, const std::vector<float>& inputs,
                               RuntimeKernels kernels = RuntimeKernels::kAuto,
                               RuntimeArithmetic arithmetic = RuntimeArithmetic::kReference);

// The file's bytes run on N samples of real-valued inputs for its single input (quantized as
// above when it is int8), keeping every graph output as raw bytes.
struct RawRun {
  std::vector<uint8_t> input_bytes;    // N samples: the input exactly as the runtime got it
  std::vector<uint8_t> output_bytes;   // N samples: every graph output, in graph-output order
  std::vector<std::size_t> output_sizes;  // bytes of each graph output (one sample)
};
RawRun run_runtime_all_outputs(const std::string& model_bytes, const std::vector<float>& inputs,
                               RuntimeKernels kernels, RuntimeArithmetic arithmetic);

}  // namespace tinyvit::exporter
