#include "export/quant_params.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace tinyvit::exporter {

bool operator==(const QuantParam& a, const QuantParam& b) {
  return a.scale == b.scale && a.zero_point == b.zero_point;
}

QuantParam softmax_output_param() { return {1.f / 256.f, -128}; }
QuantParam l2norm_output_param() { return {1.f / 128.f, 0}; }
QuantParam pixel_param() { return {1.f / 255.f, -128}; }

QuantParam int8_params(double lo, double hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi))
    throw Error("quantize: non-finite calibration range [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  if (hi - lo < 1e-8) hi = lo + 1e-8;
  const double scale = (hi - lo) / 255.0;
  // zero point so that lo maps to -128; rounded, then clamped into the int8 range
  const double zp = std::round(-128.0 - lo / scale);
  QuantParam p;
  p.scale = static_cast<float>(scale);
  p.zero_point = static_cast<int32_t>(std::clamp(zp, -128.0, 127.0));
  return p;
}

QuantParam const_params(const torch::Tensor& value) {
  auto v = value.to(torch::kFloat64);
  return int8_params(v.min().item<double>(), v.max().item<double>());
}

torch::Tensor quantize_int8(const torch::Tensor& x, QuantParam p) {
  return torch::clamp(torch::round(x.to(torch::kFloat32) / p.scale) + p.zero_point, -128, 127)
      .to(torch::kInt8);
}

torch::Tensor dequantize_int8(const torch::Tensor& q, QuantParam p) {
  return (q.to(torch::kFloat32) - static_cast<float>(p.zero_point)) * p.scale;
}

torch::Tensor fake_quant(const torch::Tensor& x, QuantParam p) {
  auto q = torch::clamp(torch::round(x / p.scale) + p.zero_point, -128, 127);
  return (q - static_cast<float>(p.zero_point)) * p.scale;
}

torch::Tensor ChannelQuant::dequantized() const {
  std::vector<int64_t> shape(q.dim(), 1);
  shape[0] = q.size(0);
  return q.to(torch::kFloat32) * scale.view(shape);
}

ChannelQuant quantize_weight(const torch::Tensor& w) {
  auto wf = w.detach().to(torch::kFloat32).contiguous();
  auto absmax = wf.abs().reshape({wf.size(0), -1}).amax(1);
  ChannelQuant c;
  c.scale = torch::where(absmax > 0, absmax / 127.f, torch::ones_like(absmax)).contiguous();
  std::vector<int64_t> shape(wf.dim(), 1);
  shape[0] = wf.size(0);
  c.q = torch::clamp(torch::round(wf / c.scale.view(shape)), -127, 127).to(torch::kInt8);
  return c;
}

torch::Tensor bias_scale(float input_scale, const torch::Tensor& weight_scale) {
  return (weight_scale.to(torch::kFloat64) * static_cast<double>(input_scale))
      .to(torch::kFloat32);
}

torch::Tensor quantize_bias(const torch::Tensor& b, float input_scale,
                            const torch::Tensor& weight_scale) {
  auto s = bias_scale(input_scale, weight_scale).to(torch::kFloat64);
  auto q = torch::round(b.detach().to(torch::kFloat64) / s);
  const double lim = static_cast<double>(std::numeric_limits<int32_t>::max());
  if (q.abs().max().item<double>() > lim)
    throw Error("quantize: a bias does not fit int32 at scale input x weight (input scale " +
                std::to_string(input_scale) + " is too small for it)");
  return q.to(torch::kInt32);
}

nlohmann::json to_json(const QuantTable& table) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, p] : table) j[name] = {{"scale", p.scale}, {"zero_point", p.zero_point}};
  return j;
}

QuantTable quant_table_from_json(const nlohmann::json& j) {
  QuantTable t;
  for (auto it = j.begin(); it != j.end(); ++it)
    t[it.key()] = {it.value().at("scale").get<float>(), it.value().at("zero_point").get<int32_t>()};
  return t;
}

}  // namespace tinyvit::exporter
