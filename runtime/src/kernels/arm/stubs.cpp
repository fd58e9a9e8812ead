// Non-aarch64 builds: no NEON variants; available() is false and select() keeps the kernel
// prepare() chose (reference or, on x86, AVX2).
#include "kernels/arm/arm_kernels.h"

namespace tinyvit::rt::arm {

bool available() { return false; }
void select(OpContext&) {}
void fully_connected_float_neon(const OpContext&) {}
void fully_connected_int8_neon(const OpContext&) {}
void batch_matmul_float_neon(const OpContext&) {}
void batch_matmul_int8_neon(const OpContext&) {}
void conv2d_float_neon(const OpContext&) {}
void conv2d_int8_neon(const OpContext&) {}

}  // namespace tinyvit::rt::arm
