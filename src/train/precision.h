#pragma once
// Mixed-precision training with LibTorch's autocast.
//
//   fp32: every op in float32.
//   bf16: the forward pass runs under autocast: matmuls and convolutions (linear, addmm, bmm,
//         matmul, conv*) take bfloat16 copies of their inputs and weights and return bfloat16;
//         the other ops run in the dtype they are given. Parameters, gradients, optimizer state
//         and the loss (computed on float32 logits) stay float32, so only the forward's
//         rounding changes (bf16 keeps 8 significant bits: relative error <= 2^-9 per value).
//   auto: bf16 where the hardware computes it natively (x86 CPUs with AVX512-BF16 or AMX-BF16,
//         CUDA devices), fp32 elsewhere: without those instructions LibTorch falls back to
//         kernels that convert in software, which are not expected to beat float32 (unmeasured
//         on such a CPU; correct there: the tests pass under `qemu-x86_64 -cpu Haswell`).
// Validation always runs in float32: the accuracy reported is that of the weights exported.
#include <torch/torch.h>

#include <string>

namespace tinyvit::train {

enum class Precision { kFloat32, kBFloat16 };

// "fp32" | "bf16" | "auto" for `device`; throws tinyvit::Error for anything else.
Precision resolve_precision(const std::string& name, const torch::Device& device);

const char* precision_name(Precision p);  // "fp32" | "bf16"

// True on x86 CPUs with AVX512-BF16 or AMX-BF16 (the instructions oneDNN's bf16 kernels use).
bool cpu_has_native_bf16();

// Scoped autocast for `device`'s type, in bf16 when `enabled`, off otherwise; restores the
// previous state (enabled flag and dtype) on exit, and, like Python's torch.autocast, clears
// autocast's cache of weight casts when the outermost scope ends. Thread-local, as autocast is.
class AutocastScope {
 public:
  AutocastScope(const torch::Device& device, bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  torch::DeviceType type_;
  bool was_enabled_;
  at::ScalarType was_dtype_;
};

}  // namespace tinyvit::train
