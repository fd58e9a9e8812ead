#pragma once
// aarch64 NEON variants of FULLY_CONNECTED, BATCH_MATMUL and CONV_2D (matmul_neon.cpp). NEON
// (Advanced SIMD) is mandatory on aarch64, so on an aarch64 build they are always available;
// other builds compile stubs.cpp (available() is false, select() does nothing).
// Same EvalFn interface and prepared parameters as the reference kernels: int8 results are
// bit-exact with the reference, float results differ only by summation order.
#include "kernels/kernel.h"

namespace tinyvit::rt::arm {

bool available();
// Called by load_model() after the op's reference prepare() succeeded: with
// KernelSet::kAuto on an aarch64 build, swaps in the NEON eval for FULLY_CONNECTED,
// CONV_2D and BATCH_MATMUL (without adj_x/adj_y) and sets op.kernel = "neon".
void select(OpContext& ctx);

void fully_connected_float_neon(const OpContext& ctx);
void fully_connected_int8_neon(const OpContext& ctx);
void batch_matmul_float_neon(const OpContext& ctx);
void batch_matmul_int8_neon(const OpContext& ctx);
void conv2d_float_neon(const OpContext& ctx);
void conv2d_int8_neon(const OpContext& ctx);

}  // namespace tinyvit::rt::arm
