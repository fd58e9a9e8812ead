#pragma once
// x86 AVX2+FMA variants (matmul_avx2.cpp, compiled with -mavx2 -mfma; only called after
// cpu_has_avx2_fma()). Same EvalFn interface and same prepared parameters as the reference
// kernels they replace; int8 results are bit-exact with the reference, float results differ
// only by summation order (FMA, 8 lanes).
#include "kernels/kernel.h"

namespace tinyvit::rt::x86 {

bool available();  // built with the x86 variants and the CPU has AVX2 + FMA
void fully_connected_float_avx2(const OpContext& ctx);
void fully_connected_int8_avx2(const OpContext& ctx);
void batch_matmul_float_avx2(const OpContext& ctx);
void batch_matmul_int8_avx2(const OpContext& ctx);
void conv2d_float_avx2(const OpContext& ctx);
void conv2d_int8_avx2(const OpContext& ctx);
// int8 ADD / SUB / MUL / SQUARED_DIFFERENCE with elementwise.cpp's prepared parameters.
void add_int8_avx2(const OpContext& ctx);
void sub_int8_avx2(const OpContext& ctx);
void mul_int8_avx2(const OpContext& ctx);
void squared_difference_int8_avx2(const OpContext& ctx);
// For tests: out[i] = q::multiply_by_quantized_multiplier(x[i], m[i], shift[i]) for i < 8, by
// the 8-lane requantization the int8 variants use (m[i] >= 0). Only after available().
void requantize8_avx2(const int32_t* x, const int32_t* m, const int32_t* shift, int32_t* out);

}  // namespace tinyvit::rt::x86
