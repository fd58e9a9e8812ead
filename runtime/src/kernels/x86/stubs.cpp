// Non-x86 builds: the x86 variants do not exist; available() is false, so prepare() never
// selects these (they are never called).
#include "kernels/x86/x86_kernels.h"

namespace tinyvit::rt::x86 {

bool available() { return false; }
void fully_connected_float_avx2(const OpContext&) {}
void fully_connected_int8_avx2(const OpContext&) {}
void batch_matmul_float_avx2(const OpContext&) {}
void batch_matmul_int8_avx2(const OpContext&) {}
void conv2d_float_avx2(const OpContext&) {}
void conv2d_int8_avx2(const OpContext&) {}
void add_int8_avx2(const OpContext&) {}
void sub_int8_avx2(const OpContext&) {}
void mul_int8_avx2(const OpContext&) {}
void squared_difference_int8_avx2(const OpContext&) {}
void requantize8_avx2(const int32_t*, const int32_t*, const int32_t*, int32_t*) {}

}  // namespace tinyvit::rt::x86
