#include "export/runtime_runner.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/atomic_file.h"
#include "common/error.h"
#include "tinyvit_rt/runtime.h"

namespace tinyvit::exporter {
namespace {

struct alignas(16) Block {
  uint8_t b[16];
};

std::vector<Block> aligned_copy(const std::string& bytes) {
  std::vector<Block> v(bytes.size() / sizeof(Block) + 1);
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

// Writes n real values into a float32 or int8 input: int8 as
// q = clamp(round_half_away(x / scale) + zero_point, -128, 127), as TFLite's QUANTIZE.
void fill_input(const rt::TensorView& in, const float* x, std::size_t n) {
  if (in.type == rt::DType::kFloat32) {
    std::memcpy(in.data, x, n * sizeof(float));
    return;
  }
  auto* q = static_cast<int8_t*>(in.data);
  for (std::size_t i = 0; i < n; ++i) {
    const long v = std::lround(x[i] / in.scale) + in.zero_point;
    q[i] = static_cast<int8_t>(std::clamp<long>(v, -128, 127));
  }
}

// A file's bytes in the runtime: copied 16-aligned (constants are read in place), loaded with
// the requested kernels and arithmetic, arena allocated. Errors start with `what`.
struct LoadedRuntime {
  std::vector<Block> model;
  rt::Interpreter it;
  std::vector<Block> arena;

  LoadedRuntime(const std::string& bytes, RuntimeKernels kernels, RuntimeArithmetic arithmetic,
                const std::string& what)
      : model(aligned_copy(bytes)) {
    rt::LoadOptions lo;
    lo.kernels =
        kernels == RuntimeKernels::kReference ? rt::KernelSet::kReference : rt::KernelSet::kAuto;
    lo.arithmetic = arithmetic == RuntimeArithmetic::kLiteRt ? rt::Int8Arithmetic::kLiteRt
                                                             : rt::Int8Arithmetic::kReference;
    if (it.load(model.data(), bytes.size(), lo) != rt::Status::kOk)
      throw Error(what + "tinyvit runtime: " + it.error());
    arena.resize(it.arena_bytes_needed() / sizeof(Block) + 1);
    if (it.allocate(arena.data(), arena.size() * sizeof(Block)) != rt::Status::kOk)
      throw Error(what + "tinyvit runtime: " + it.error());
  }
};

}  // namespace

std::vector<float> run_runtime(const std::string& tflite_path, const std::vector<float>& inputs,
                               RuntimeKernels kernels, RuntimeArithmetic arithmetic) {
  using namespace tinyvit::rt;
  LoadedRuntime loaded(read_file_bytes(tflite_path), kernels, arithmetic, tflite_path + ": ");
  Interpreter& it = loaded.it;
  if (it.num_inputs() != 1 || it.num_outputs() != 1)
    throw Error(tflite_path + ": the runtime runner needs one input and one output, the file has " +
                std::to_string(it.num_inputs()) + " and " + std::to_string(it.num_outputs()));

  const TensorView in = it.input(0), out = it.output(0);
  if ((in.type != DType::kFloat32 && in.type != DType::kInt8) ||
      (out.type != DType::kFloat32 && out.type != DType::kInt8))
    throw Error(tflite_path + ": the runtime runner handles float32 and int8 inputs/outputs only");
  const std::size_t n_in = in.bytes / dtype_size(in.type), n_out = out.bytes / dtype_size(out.type);
  if (n_in == 0 || inputs.size() % n_in != 0)
    throw Error(tflite_path + ": " + std::to_string(inputs.size()) + " input values are not a "
                "whole number of samples of " + std::to_string(n_in) + " values");
  const std::size_t samples = inputs.size() / n_in;
  std::vector<float> result(samples * n_out);
  for (std::size_t s = 0; s < samples; ++s) {
    const float* x = inputs.data() + s * n_in;
    fill_input(in, x, n_in);
    it.invoke();
    float* y = result.data() + s * n_out;
    if (out.type == DType::kFloat32) {
      std::memcpy(y, out.data, n_out * sizeof(float));
    } else {
      const auto* q = static_cast<const int8_t*>(out.data);
      for (std::size_t i = 0; i < n_out; ++i) y[i] = out.scale * static_cast<float>(q[i] - out.zero_point);
    }
  }
  return result;
}

RawRun run_runtime_all_outputs(const std::string& model_bytes, const std::vector<float>& inputs,
                               RuntimeKernels kernels, RuntimeArithmetic arithmetic) {
  using namespace tinyvit::rt;
  LoadedRuntime loaded(model_bytes, kernels, arithmetic, "");
  Interpreter& it = loaded.it;
  if (it.num_inputs() != 1)
    throw Error("the runtime runner needs one input, the file has " +
                std::to_string(it.num_inputs()));
  const TensorView in = it.input(0);
  if (in.type != DType::kFloat32 && in.type != DType::kInt8)
    throw Error("the runtime runner handles float32 and int8 inputs only");
  const std::size_t n_in = in.bytes / dtype_size(in.type);
  if (n_in == 0 || inputs.size() % n_in != 0)
    throw Error(std::to_string(inputs.size()) + " input values are not a whole number of "
                "samples of " + std::to_string(n_in) + " values");
  RawRun r;
  std::size_t per_sample = 0;
  for (int o = 0; o < it.num_outputs(); ++o) {
    r.output_sizes.push_back(it.output(o).bytes);
    per_sample += it.output(o).bytes;
  }
  const std::size_t samples = inputs.size() / n_in;
  r.input_bytes.resize(samples * in.bytes);
  r.output_bytes.resize(samples * per_sample);
  for (std::size_t s = 0; s < samples; ++s) {
    fill_input(in, inputs.data() + s * n_in, n_in);
    std::memcpy(r.input_bytes.data() + s * in.bytes, in.data, in.bytes);
    it.invoke();
    uint8_t* y = r.output_bytes.data() + s * per_sample;
    for (int o = 0; o < it.num_outputs(); ++o) {
      const TensorView out = it.output(o);
      std::memcpy(y, out.data, out.bytes);
      y += out.bytes;
    }
  }
  return r;
}

}  // namespace tinyvit::exporter
