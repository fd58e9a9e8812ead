#include "quantize/litert_arith.h"

#include <cmath>

#include "common/error.h"
#include "quant.h"  // the runtime's integer helpers (runtime/src): one definition of TFLite's math

namespace tinyvit::quantize::litert {
namespace {

torch::Tensor f32(float v) { return torch::tensor(v, torch::kFloat32); }

// q - zp as float64 (exact).
torch::Tensor centered(const torch::Tensor& q, QuantParam p) {
  return (q - p.zero_point).to(torch::kFloat64);
}

// XNNPACK's fp32 requantization: rne(clamp(float(acc) * scale)) + zp; scale float32,
// broadcastable to acc (a float64 tensor of exact integers).
torch::Tensor requantize_fp32(const torch::Tensor& acc, const torch::Tensor& scale, QuantParam py) {
  auto f = acc.to(torch::kFloat32) * scale;
  f = torch::clamp(f, -128 - py.zero_point, 127 - py.zero_point);
  return torch::round(f).to(torch::kInt64) + py.zero_point;  // torch::round: ties to even
}

// TFLite's MultiplyByQuantizedMultiplier(acc, M, shift) + zp on int64 tensors: SRDHM (nudge
// 2^30, or 1 - 2^30 for a negative product; truncating division) then RoundingDivideByPOT.
torch::Tensor requantize_mbqm(const torch::Tensor& acc, double m, QuantParam py) {
  int32_t mult = 0;
  int shift = 0;
  rt::q::quantize_multiplier(m, &mult, &shift);
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  auto x = acc.to(torch::kInt64) * (int64_t{1} << left);
  auto ab = x * static_cast<int64_t>(mult);
  auto nudge = torch::where(ab >= 0, torch::full_like(ab, int64_t{1} << 30),
                            torch::full_like(ab, 1 - (int64_t{1} << 30)));
  auto high = torch::div(ab + nudge, int64_t{1} << 31, "trunc");
  if (right > 0) {
    const int64_t mask = (int64_t{1} << right) - 1;
    auto rem = torch::bitwise_and(high, mask);
    auto threshold = (mask >> 1) + (high < 0).to(torch::kInt64);
    high = torch::div(high, int64_t{1} << right, "floor") + (rem > threshold).to(torch::kInt64);
  }
  return torch::clamp(high + py.zero_point, -128, 127);
}

// Per-channel requantization scales as XNNPACK computes them: s_x * s_w[c] / s_y in float32.
torch::Tensor channel_scales(QuantParam px, const torch::Tensor& w_scale, QuantParam py) {
  return (f32(px.scale) * w_scale.to(torch::kFloat32)) / f32(py.scale);
}

}  // namespace

torch::Tensor quantize(const torch::Tensor& x, QuantParam p) {
  auto f = x.to(torch::kFloat32) * (f32(1.0f) / f32(p.scale));
  f = torch::clamp(f, -128 - p.zero_point, 127 - p.zero_point);
  return torch::round(f).to(torch::kInt64) + p.zero_point;
}

torch::Tensor dequantize(const torch::Tensor& q, QuantParam p) {
  return (q - p.zero_point).to(torch::kFloat32) * p.scale;
}

torch::Tensor constant(const torch::Tensor& value, QuantParam p) {
  return exporter::quantize_int8(value, p).to(torch::kInt64);
}

torch::Tensor fully_connected(const torch::Tensor& x, QuantParam px, const torch::Tensor& w,
                              const torch::Tensor& b, QuantParam py) {
  const auto wq = exporter::quantize_weight(w);
  const auto bq = exporter::quantize_bias(b, px.scale, wq.scale);
  auto acc = torch::matmul(centered(x, px), wq.q.to(torch::kFloat64).t()) + bq.to(torch::kFloat64);
  return requantize_fp32(acc, channel_scales(px, wq.scale, py), py);
}

torch::Tensor conv2d(const torch::Tensor& x, QuantParam px, const torch::Tensor& w,
                     const torch::Tensor& b, int stride, QuantParam py, int pad, bool relu) {
  const auto wq = exporter::quantize_weight(w);
  const auto bq = exporter::quantize_bias(b, px.scale, wq.scale);
  auto acc = torch::conv2d(centered(x, px), wq.q.to(torch::kFloat64), bq.to(torch::kFloat64),
                           stride, pad);
  auto y = requantize_fp32(acc, channel_scales(px, wq.scale, py).view({1, -1, 1, 1}), py);
  return relu ? torch::clamp_min(y, std::max<int64_t>(-128, py.zero_point)) : y;
}

torch::Tensor max_pool(const torch::Tensor& x, int k) {  // int8 values are exact in float32
  return torch::max_pool2d(x.to(torch::kFloat32), k, k).to(torch::kInt64);
}

torch::Tensor mul(const torch::Tensor& a, QuantParam pa, const torch::Tensor& b, QuantParam pb,
                  QuantParam py) {
  auto acc = centered(a, pa) * centered(b, pb);  // |acc| <= 2^16: exact
  const float r = pa.scale * pb.scale / py.scale;  // float32, as the runtime's eval_mul_xnn
  if (r >= 1.f / 65536 && r < 256.f) return requantize_fp32(acc, f32(r), py);
  return requantize_mbqm(acc, static_cast<double>(pa.scale) * pb.scale / py.scale, py);
}

torch::Tensor batch_matmul(const torch::Tensor& a, QuantParam pa, const torch::Tensor& b,
                           QuantParam pb, QuantParam py) {
  auto acc = torch::matmul(centered(a, pa), centered(b, pb));
  if (pb.zero_point == 0)  // XNNPACK takes it
    return requantize_fp32(acc, (f32(pa.scale) * f32(pb.scale)) / f32(py.scale), py);
  // s_a * s_b in float32, then double (TFLite's GetQuantizedConvolutionMultipler, no bias)
  return requantize_mbqm(acc, static_cast<double>(pa.scale * pb.scale) / py.scale, py);
}

torch::Tensor add(const torch::Tensor& a, QuantParam pa, const torch::Tensor& b, QuantParam pb,
                  QuantParam py, bool subtract) {
  int32_t ma = 0, mb = 0;
  int shift = 0;
  if (!rt::q::xnn_add_params(pa.scale / py.scale, (subtract ? -pb.scale : pb.scale) / py.scale,
                             &ma, &mb, &shift))
    throw Error("quantize: exact int8 simulation: ADD/SUB scale ratio outside XNNPACK's range "
                "[2^-10, 2^8)");
  auto acc = (a - pa.zero_point) * static_cast<int64_t>(ma) +
             (b - pb.zero_point) * static_cast<int64_t>(mb) + (int64_t{1} << (shift - 1));
  return torch::clamp(torch::div(acc, int64_t{1} << shift, "floor") + py.zero_point, -128, 127);
}

torch::Tensor mean_last(const torch::Tensor& x, QuantParam px, QuantParam py) {
  float inv = 0.f, zy = 0.f;
  rt::q::xnn_mean_params(px.scale, px.zero_point, py.scale, py.zero_point,
                         static_cast<int32_t>(x.size(-1)), &inv, &zy);
  auto f = x.sum(-1, true).to(torch::kFloat32) * f32(inv);
  f = f + f32(zy);  // a separate op: no fused multiply-add, as XNNPACK
  return torch::clamp(torch::round(f), -128, 127).to(torch::kInt64);
}

namespace {

// Applies row(x_row, y_row, D) to every last-axis row of x (int8 values in int32).
template <typename Row>
torch::Tensor by_rows(const torch::Tensor& x, Row row) {
  auto in = x.to(torch::kInt32).contiguous();
  auto out = torch::empty_like(in);
  const int64_t D = in.size(-1), rows = in.numel() / D;
  const int32_t* xp = in.data_ptr<int32_t>();
  int32_t* yp = out.data_ptr<int32_t>();
  for (int64_t r = 0; r < rows; ++r) row(xp + r * D, yp + r * D, D);
  return out.to(torch::kInt64);
}

}  // namespace

torch::Tensor l2_normalization(const torch::Tensor& x, QuantParam px) {
  return by_rows(x, [&](const int32_t* xr, int32_t* yr, int64_t D) {
    rt::q::l2_normalization_row(xr, yr, D, px.zero_point);
  });
}

torch::Tensor softmax(const torch::Tensor& x, QuantParam px) {
  // optimized_ops::Softmax's table, sums and rounding, as the runtime's kLiteRt kernel
  float table[256];
  rt::q::softmax_float_table(px.scale, 1.0f, table);
  const QuantParam py = exporter::softmax_output_param();
  return by_rows(x, [&](const int32_t* xr, int32_t* yr, int64_t D) {
    rt::q::softmax_row_float_table(xr, yr, D, table, py.scale, py.zero_point);
  });
}

torch::Tensor gelu(const torch::Tensor& x, QuantParam px, QuantParam py) {
  // TFLite's int8 GELU table (LUTPopulate), as runtime/src/kernels/reference/unary.cpp
  std::vector<int64_t> lut(256);
  const float inv = 1.f / py.scale;
  for (int32_t v = -128; v <= 127; ++v) {
    const float dq = px.scale * static_cast<float>(v - px.zero_point);
    const float t = 0.5f * dq * (1.f + std::erf(dq * 0.70710678118654752440f));
    const int32_t r = rt::q::clamp(rt::q::round_to_int(t * inv), -65536, 65536);
    lut[static_cast<std::size_t>(v + 128)] = rt::q::clamp(r + py.zero_point, -128, 127);
  }
  return torch::tensor(lut, torch::kInt64).index({x + 128});
}

}  // namespace tinyvit::quantize::litert
