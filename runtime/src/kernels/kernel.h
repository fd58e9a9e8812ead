#pragma once
// The op interface, as in TensorFlow Lite Micro: prepare() checks everything about the op
// (types, shapes against the declared output shape, options, quantization) and precomputes
// parameters into Op::p; eval() then runs without any failure path and never reads or writes
// outside its tensors. One op per file under reference/ (the specification); faster variants
// (x86/) have the same EvalFn signature and are chosen in prepare().
#include "model.h"

namespace tinyvit::rt {

struct OpContext {
  Model& m;
  Op& op;
  Tensor& in(int k) const { return m.tensors[op.inputs[k]]; }
  bool has_in(int k) const { return k < op.num_inputs && op.inputs[k] >= 0; }
  Tensor& out() const { return m.tensors[op.output]; }
};

using PrepareFn = Status (*)(OpContext& ctx);

struct KernelRegistration {
  int code;
  const char* name;
  PrepareFn prepare;
  int max_version;
};

// nullptr if the op code is not supported.
const KernelRegistration* find_kernel(int code);
const char* builtin_name(int code);

// One prepare function per op (reference/*.cpp).
Status prepare_conv2d(OpContext& ctx);
Status prepare_fully_connected(OpContext& ctx);
Status prepare_batch_matmul(OpContext& ctx);
Status prepare_add(OpContext& ctx);
Status prepare_sub(OpContext& ctx);
Status prepare_mul(OpContext& ctx);
Status prepare_squared_difference(OpContext& ctx);
Status prepare_rsqrt(OpContext& ctx);
Status prepare_tanh(OpContext& ctx);
Status prepare_logistic(OpContext& ctx);
Status prepare_gelu(OpContext& ctx);
Status prepare_mean(OpContext& ctx);
Status prepare_l2_normalization(OpContext& ctx);
Status prepare_softmax(OpContext& ctx);
Status prepare_reshape(OpContext& ctx);
Status prepare_transpose(OpContext& ctx);
Status prepare_concatenation(OpContext& ctx);
Status prepare_strided_slice(OpContext& ctx);
Status prepare_gather(OpContext& ctx);
Status prepare_pad(OpContext& ctx);
Status prepare_max_pool2d(OpContext& ctx);
Status prepare_quantize(OpContext& ctx);
Status prepare_dequantize(OpContext& ctx);

// ---- helpers shared by prepare functions --------------------------------------------------
bool same_shape(const Tensor& a, const Tensor& b);
// Checks the op has `n_in` inputs (optional ones may be -1 only where allowed by the caller).
Status expect_io(OpContext& ctx, int min_in, int max_in);
// Type checks with a message naming the op and tensor.
Status expect_type(OpContext& ctx, const Tensor& t, DType type, const char* what);
// int8 tensors must be per-tensor quantized (activations).
Status expect_per_tensor(OpContext& ctx, const Tensor& t, const char* what);
// Reads a constant int32 vector input (shape/axes/perm...): n elements, or fail.
Status const_int32(OpContext& ctx, int input, const int32_t** data, int* n);
// Fused activation -> float and int8 clamps in op.p.
Status set_activation(OpContext& ctx, int fused_activation);

}  // namespace tinyvit::rt
