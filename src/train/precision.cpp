#include "train/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "common/error.h"

// LibTorch 2.4 replaced the per-device autocast functions (set_cpu_enabled, ...) by ones taking
// a device type, and deprecated the old ones; Debian's 1.13 has only the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define TINYVIT_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace tinyvit::train {
namespace {

bool autocast_enabled(torch::DeviceType t) {
#ifdef TINYVIT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(t);
#else
  return t == torch::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void set_autocast_enabled(torch::DeviceType t, bool on) {
#ifdef TINYVIT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(t, on);
#else
  if (t == torch::kCUDA)
    at::autocast::set_enabled(on);
  else
    at::autocast::set_cpu_enabled(on);
#endif
}

at::ScalarType autocast_dtype(torch::DeviceType t) {
#ifdef TINYVIT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(t);
#else
  return t == torch::kCUDA ? at::autocast::get_autocast_gpu_dtype()
                           : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast_dtype(torch::DeviceType t, at::ScalarType dtype) {
#ifdef TINYVIT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(t, dtype);
#else
  if (t == torch::kCUDA)
    at::autocast::set_autocast_gpu_dtype(dtype);
  else
    at::autocast::set_autocast_cpu_dtype(dtype);
#endif
}

}  // namespace

bool cpu_has_native_bf16() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
#elif defined(__x86_64__) && defined(__clang__)
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;  // Arm's BF16 extension is not detected: auto means fp32 there
#endif
}

Precision resolve_precision(const std::string& name, const torch::Device& device) {
  if (name == "fp32") return Precision::kFloat32;
  if (name == "bf16") return Precision::kBFloat16;
  if (name == "auto") {
    const bool native = device.is_cuda() || (device.is_cpu() && cpu_has_native_bf16());
    return native ? Precision::kBFloat16 : Precision::kFloat32;
  }
  throw Error("precision must be \"fp32\", \"bf16\" or \"auto\", got \"" + name + "\"");
}

const char* precision_name(Precision p) { return p == Precision::kBFloat16 ? "bf16" : "fp32"; }

AutocastScope::AutocastScope(const torch::Device& device, bool enabled)
    : type_(device.type()),
      was_enabled_(autocast_enabled(type_)),
      was_dtype_(autocast_dtype(type_)) {
  if (type_ != torch::kCPU && type_ != torch::kCUDA)
    throw Error("autocast is supported on cpu and cuda devices only");
  set_autocast_enabled(type_, enabled);
  set_autocast_dtype(type_, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(type_, was_enabled_);
  set_autocast_dtype(type_, was_dtype_);
}

}  // namespace tinyvit::train
