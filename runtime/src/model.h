#pragma once
// Internal model representation: the verified tensor table and op table the interpreter runs.
// Everything here is filled by load() (the only place that allocates) and read by the kernels.
#include <cstddef>
#include <cstdint>

#include "tinyvit_rt/runtime.h"

namespace tinyvit::rt {

struct Tensor {
  DType type = DType::kFloat32;
  int rank = 0;
  int32_t dims[kMaxRank] = {};
  int64_t elements = 1;
  std::size_t bytes = 0;
  const char* name = "";
  // Constant data inside the model buffer (null for activations).
  const uint8_t* const_data = nullptr;
  // Activations: arena offset from the plan (-1 = not in the arena: unused tensor).
  int64_t arena_offset = -1;
  uint8_t* data = nullptr;  // resolved by allocate() (or = const_data)
  // Quantization. Per-tensor: scale/zero_point. Per-channel (weights, bias): num_scales > 1,
  // scales[c] for c along quantized_dim (read from the model buffer, 4-byte aligned).
  float scale = 0.f;
  int32_t zero_point = 0;
  int num_scales = 0;
  const float* scales = nullptr;  // null if num_scales == 0
  int quantized_dim = 0;
  // Lifetime in op indices [first, last]; graph inputs start at -1, outputs end at num_ops.
  int first_use = 1 << 30;
  int last_use = -2;
  bool is_graph_input = false;
  bool is_graph_output = false;
  bool written = false;  // has a producer (op output or graph input)

  template <typename T> T* as() const { return reinterpret_cast<T*>(data); }
};

struct OpContext;
using EvalFn = void (*)(const OpContext& ctx);

constexpr int kMaxOpInputs = 8;
constexpr int kMaxOpOutputs = 1;
// Per-op precomputed parameters (filled by the op's prepare): enough for every op we run,
// with per-channel arrays living in the persistent block.
struct OpParams {
  // generic ints (axis, strides, paddings, activation, ...)
  int32_t i[24] = {};
  float f[4] = {};
  // int8 requantization
  int32_t multiplier = 0;
  int shift = 0;
  int32_t multiplier2 = 0;
  int shift2 = 0;
  int32_t multiplier3 = 0;
  int shift3 = 0;
  int32_t left_shift = 0;
  int32_t act_min = 0, act_max = 0;      // int8 output clamp
  float fact_min = 0.f, fact_max = 0.f;  // float output clamp
  int32_t* channel_multipliers = nullptr;  // per output channel (persistent block)
  int32_t* channel_shifts = nullptr;
  float* channel_scales = nullptr;  // Int8Arithmetic::kLiteRt: float requantization scales
  int32_t* lut = nullptr;  // 256-entry lookup table for int8 unary ops (persistent)
  int8_t* lut8 = nullptr;
  float* lutf = nullptr;  // 256-entry float table (SOFTMAX, Int8Arithmetic::kLiteRt)
};

struct Op {
  int code = 0;     // builtin operator code
  int version = 1;
  int num_inputs = 0;
  int inputs[kMaxOpInputs] = {};  // -1 = omitted optional input
  int output = -1;
  const void* options = nullptr;  // const tfl::Operator* (builtin options read in prepare)
  EvalFn eval = nullptr;
  const char* kernel = "reference";
  OpParams p;
};

struct Model {
  const uint8_t* base = nullptr;
  std::size_t size = 0;
  Tensor* tensors = nullptr;
  int num_tensors = 0;
  Op* ops = nullptr;
  int num_ops = 0;
  int* inputs = nullptr;
  int num_inputs = 0;
  int* outputs = nullptr;
  int num_outputs = 0;
  // Persistent block for per-op arrays (per-channel multipliers, LUTs), sized in load().
  uint8_t* persistent = nullptr;
  std::size_t persistent_size = 0, persistent_used = 0;
  std::size_t arena_needed = 0;
  std::size_t activation_total = 0;
  uint8_t* arena = nullptr;
  bool allocated = false;
  KernelSet kernels = KernelSet::kAuto;
  Int8Arithmetic arithmetic = Int8Arithmetic::kReference;
  char* error = nullptr;  // the interpreter's message buffer (256 bytes)
};

// Writes a printf-style message into model.error; returns `s` for `return fail(...)`.
Status fail(Model& m, Status s, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

// Loads and verifies (model.cpp); plans (planner.cpp).
Status load_model(Model& m, const void* data, std::size_t size);
Status plan_arena(Model& m);
void free_model(Model& m);

// Persistent allocation for prepare (null if the block is exhausted -> kOutOfMemory).
void* persistent_alloc(Model& m, std::size_t bytes);

}  // namespace tinyvit::rt
