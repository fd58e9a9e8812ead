#pragma once
// LiteRT's int8 arithmetic on LibTorch tensors: each function takes and returns int64 tensors
// of stored int8 values q (zero point included; the real value is (q - zp) * scale) and
// computes exactly what LiteRT's CPU runtime computes for that op (the runtime's
// Int8Arithmetic::kLiteRt; docs/runtime.md has the table of who runs what):
//   FULLY_CONNECTED, CONV_2D      XNNPACK: int32 accumulator with bias, rne(float(acc) * s_c)
//   BATCH_MATMUL                  rhs zero point 0: XNNPACK (as FC); else the builtin kernel,
//                                 TFLite's MultiplyByQuantizedMultiplier (two roundings) with
//                                 the multiplier double(float(s_a * s_b)) / s_y
//   ADD / SUB                     XNNPACK's fixed point (21-bit multipliers, round half up)
//   MUL                           XNNPACK: rne(float(acc) * float(s_a s_b) / s_y) for
//                                 s_a s_b / s_y in [2^-16, 2^8); else the builtin kernel (MBQM)
//   MEAN                          XNNPACK: rne(float(S) * inv + zy'), S the raw int sum
//   L2_NORMALIZATION              builtin integer kernel (int32 sum of squares, fixed-point 1/sqrt)
//   SOFTMAX                       builtin float-table kernel
//   GELU                          the builtin 256-entry table
//   QUANTIZE (float input)        XNNPACK: rne(x * (1 / s)) + zp
// Accumulators are formed in float64, which holds every int32 accumulator exactly.
#include <torch/torch.h>

#include "export/quant_params.h"

namespace tinyvit::quantize::litert {

using exporter::QuantParam;

// float32 input x -> q.
torch::Tensor quantize(const torch::Tensor& x, QuantParam p);
// q -> float32 real values.
torch::Tensor dequantize(const torch::Tensor& q, QuantParam p);
// q (int64) of a constant, as the exporter stores it (exporter::quantize_int8).
torch::Tensor constant(const torch::Tensor& value, QuantParam p);

// x (..., K) with weights w (U, K) [float, quantized per output channel like the exporter] and
// float bias b (U) [quantized to int32 at s_x * s_w like the exporter] -> (..., U).
torch::Tensor fully_connected(const torch::Tensor& x, QuantParam px, const torch::Tensor& w,
                              const torch::Tensor& b, QuantParam py);
// NCHW x, OIHW w, zero padding `pad` (in real values: the input's zero point) on each side;
// relu: the fused activation's clamp at the output's zero point (TFLite's quantized ReLU).
torch::Tensor conv2d(const torch::Tensor& x, QuantParam px, const torch::Tensor& w,
                     const torch::Tensor& b, int stride, QuantParam py, int pad = 0,
                     bool relu = false);
// MAX_POOL_2D k x k, stride k, no padding, NCHW: the max of stored values.
torch::Tensor max_pool(const torch::Tensor& x, int k);
// a (..., M, K) x b (..., K, N) -> (..., M, N).
torch::Tensor batch_matmul(const torch::Tensor& a, QuantParam pa, const torch::Tensor& b,
                           QuantParam pb, QuantParam py);
// a +- b with numpy broadcasting (subtract: a - b).
torch::Tensor add(const torch::Tensor& a, QuantParam pa, const torch::Tensor& b, QuantParam pb,
                  QuantParam py, bool subtract);
// a * b with numpy broadcasting.
torch::Tensor mul(const torch::Tensor& a, QuantParam pa, const torch::Tensor& b, QuantParam pb,
                  QuantParam py);
// MEAN over the last axis, keep_dims.
torch::Tensor mean_last(const torch::Tensor& x, QuantParam px, QuantParam py);
// L2_NORMALIZATION over the last axis; output 1/128, 0.
torch::Tensor l2_normalization(const torch::Tensor& x, QuantParam px);
// SOFTMAX over the last axis (beta 1); output 1/256, -128.
torch::Tensor softmax(const torch::Tensor& x, QuantParam px);
// GELU (exact erf form).
torch::Tensor gelu(const torch::Tensor& x, QuantParam px, QuantParam py);

}  // namespace tinyvit::quantize::litert
