#include "quantize/quantize.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "common/error.h"
#include "export/litert_runner.h"
#include "export/verify.h"
#include "quantize/litert_arith.h"

namespace tinyvit::quantize {
namespace {

bool matches(const std::string& pattern, const std::string& name) {
  if (pattern.empty()) return false;
  if (pattern == "*") return true;
  if (pattern.back() == '*') return name.compare(0, pattern.size() - 1, pattern, 0,
                                                 pattern.size() - 1) == 0;
  if (pattern.front() == '*') {
    const std::string suf = pattern.substr(1);
    return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  }
  return pattern == name;
}

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

}  // namespace

std::vector<std::pair<std::string, CalibMethod>> parse_overrides(const std::string& spec) {
  std::vector<std::pair<std::string, CalibMethod>> out;
  std::size_t start = 0;
  while (start < spec.size()) {
    auto end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    const std::string item = spec.substr(start, end - start);
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("quantize: per-tensor method '" + item + "' is not PATTERN=METHOD");
    out.emplace_back(item.substr(0, eq), parse_calib_method(item.substr(eq + 1)));
    start = end + 1;
  }
  return out;
}

RangeObserver observe(QuantSim& sim, const torch::Tensor& pixels, int64_t batch_size,
                      uint64_t seed) {
  torch::NoGradGuard no_grad;
  RangeObserver obs(8192, seed);
  sim.mode = SimMode::kCalibrate;
  sim.observer = &obs;
  for (int64_t i = 0; i < pixels.size(0); i += batch_size)
    sim.forward(pixels.slice(0, i, std::min(pixels.size(0), i + batch_size)));
  sim.observer = nullptr;
  sim.mode = SimMode::kFloat;
  return obs;
}

exporter::QuantTable make_table(const QuantSim& sim, const RangeObserver& obs,
                                const CalibrationOptions& o) {
  exporter::QuantTable t;
  for (const auto& name : obs.names()) {
    CalibMethod m = o.method;
    for (const auto& [pattern, method] : o.overrides)
      if (matches(pattern, name)) {
        m = method;
        break;
      }
    const auto [lo, hi] = obs.range(name, m, o.percentile);
    t[name] = exporter::int8_params(lo, hi);
  }
  if (sim.config().family == "vit") {
    for (int i = 0; i < sim.config().vit.depth; ++i) {
      const std::string b = "blocks." + std::to_string(i);
      t[b + ".attn.softmax"] = exporter::softmax_output_param();
      t[b + ".norm1"] = t[b + ".norm2"] = exporter::l2norm_output_param();
    }
    t["norm"] = exporter::l2norm_output_param();
    t["patch_embed.proj"] = t.at("tokens");  // CONCATENATION inputs share its parameters
  }
  return t;
}

exporter::QuantTable calibrate(QuantSim& sim, const torch::Tensor& pixels,
                               const CalibrationOptions& o) {
  return make_table(sim, observe(sim, pixels, o.batch_size, o.seed), o);
}

torch::Tensor sim_logits(QuantSim& sim, const torch::Tensor& pixels, SimMode mode,
                         int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const SimMode saved = sim.mode;
  sim.mode = mode;
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < pixels.size(0); i += batch_size)
    out.push_back(sim.forward(pixels.slice(0, i, std::min(pixels.size(0), i + batch_size))));
  sim.mode = saved;
  return torch::cat(out);
}

TfliteRun run_int8_tflite(const std::string& path, const torch::Tensor& pixels) {
  const auto meta = exporter::read_tinyvit_metadata(path);
  if (meta.value("quantization", "") != "int8")
    throw Error("quantize: " + path + " is not an int8 file written by tinyvit");
  const std::string io = meta.value("io", "int8");
  TfliteRun r;
  r.scale = meta.at("output_scale").get<float>();
  r.zero_point = meta.at("output_zero_point").get<int32_t>();
  // (N, C, S, S) [0,1] -> NHWC in the file's input type
  auto nhwc = pixels.permute({0, 2, 3, 1}).contiguous();
  std::vector<uint8_t> in;
  if (io == "float32") {
    auto f = nhwc.to(torch::kFloat32).contiguous();
    in.resize(f.numel() * 4);
    std::memcpy(in.data(), f.data_ptr<float>(), in.size());
  } else {
    // The bytes the exact simulation starts from (litert::quantize: XNNPACK's
    // rne(x * (1 / s)) + zp, s = 1/255, zp = -128), so that both runs see one image. A resized
    // image has pixels on exact .5 ties (bilinear halves), where round(x * 255) differs.
    auto q = litert::quantize(nhwc, exporter::pixel_param());
    auto b = io == "int8" ? q.to(torch::kInt8) : (q + 128).to(torch::kUInt8);
    b = b.contiguous();
    in.resize(b.numel());
    std::memcpy(in.data(), b.data_ptr(), in.size());
  }
  const auto out = exporter::run_litert(path, in.data(), in.size());
  const int64_t n = pixels.size(0);
  torch::Tensor raw;
  if (io == "float32") {
    raw = torch::from_blob(const_cast<uint8_t*>(out.bytes.data()),
                           {static_cast<int64_t>(out.bytes.size() / 4)}, torch::kFloat32).clone();
    r.logits = raw.view({n, -1});
    r.steps = r.logits / r.scale;
  } else {
    raw = torch::from_blob(const_cast<uint8_t*>(out.bytes.data()),
                           {static_cast<int64_t>(out.bytes.size())},
                           io == "int8" ? torch::kInt8 : torch::kUInt8).clone();
    r.steps = raw.to(torch::kFloat32).view({n, -1});
    r.logits = (r.steps - static_cast<float>(r.zero_point)) * r.scale;
  }
  return r;
}

double accuracy(const torch::Tensor& logits, const torch::Tensor& labels) {
  return logits.argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>();
}

Agreement compare_logits(const torch::Tensor& a, const torch::Tensor& b,
                         const torch::Tensor& labels, double scale) {
  Agreement g;
  g.count = a.size(0);
  g.top1_agreement = a.argmax(1).eq(b.argmax(1)).to(torch::kFloat64).mean().item<double>();
  auto d = (a - b).abs().to(torch::kFloat64) / scale;
  g.mean_abs_diff = d.mean().item<double>();
  g.max_abs_diff = d.max().item<double>();
  if (labels.defined()) {
    g.accuracy_a = accuracy(a, labels);
    g.accuracy_b = accuracy(b, labels);
  }
  return g;
}

nlohmann::json to_json(const Agreement& a) {
  return {{"count", a.count},           {"top1_agreement", a.top1_agreement},
          {"mean_abs_diff", a.mean_abs_diff}, {"max_abs_diff", a.max_abs_diff},
          {"accuracy_a", a.accuracy_a}, {"accuracy_b", a.accuracy_b}};
}

std::string layer_group(const std::string& name) {
  for (const char* suf : {".mean", ".centered"})
    if (ends_with(name, suf)) return name.substr(0, name.size() - std::strlen(suf));
  return name;
}

std::vector<LayerSensitivity> sensitivity(QuantSim& sim, const torch::Tensor& pixels,
                                          const torch::Tensor& labels) {
  const auto ref = sim_logits(sim, pixels, SimMode::kFloat);
  const double base = accuracy(ref, labels);
  std::vector<std::string> groups;
  std::set<std::string> seen;
  for (const auto& l : sim.layers())
    if (seen.insert(l).second) groups.push_back(l);
  for (const auto& [name, p] : sim.table)
    if (name != "patch_embed.proj" && seen.insert(layer_group(name)).second)
      groups.push_back(layer_group(name));
  std::vector<LayerSensitivity> out;
  for (const auto& g : groups) {
    sim.quantize_activation = [&](const std::string& n) { return layer_group(n) == g; };
    sim.quantize_weight = [&](const std::string& n) { return n == g; };
    const auto y = sim_logits(sim, pixels, SimMode::kQuant);
    LayerSensitivity s;
    s.layer = g;
    s.accuracy = accuracy(y, labels);
    s.drop = 100.0 * (base - s.accuracy);
    s.agreement = y.argmax(1).eq(ref.argmax(1)).to(torch::kFloat64).mean().item<double>();
    out.push_back(s);
  }
  sim.quantize_activation = nullptr;
  sim.quantize_weight = nullptr;
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.agreement < b.agreement; });
  return out;
}

}  // namespace tinyvit::quantize
