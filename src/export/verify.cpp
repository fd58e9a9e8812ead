#include "export/verify.h"

#include <chrono>
#include <cstring>
#include <sstream>

#include "common/error.h"
#include "export/litert_runner.h"
#include "export/runtime_runner.h"
#include "export/tflite_reader.h"

namespace tinyvit::exporter {

nlohmann::json read_tinyvit_metadata(const std::string& tflite_path) {
  const auto model = read_tflite_file(tflite_path);
  for (const auto& m : model->metadata) {
    if (m->name != "tinyvit") continue;
    const auto& data = model->buffers.at(m->buffer)->data;
    try {
      return nlohmann::json::parse(std::string(data.begin(), data.end()));
    } catch (const std::exception&) {
      throw Error(tflite_path + ": the 'tinyvit' metadata is not valid JSON");
    }
  }
  return nlohmann::json::object();
}

namespace {

// Whether any tensor of the file is integer-quantized (an int8 graph, whatever its I/O).
bool has_quantized_tensors(const std::string& tflite_path) {
  const auto model = read_tflite_file(tflite_path);
  for (const auto& sg : model->subgraphs)
    for (const auto& t : sg->tensors)
      if (t->type == tfl::TensorType::INT8 || t->type == tfl::TensorType::UINT8 ||
          t->type == tfl::TensorType::INT16)
        return true;
  return false;
}

}  // namespace

VerifyResult verify_tflite(models::Classifier& model, const std::string& tflite_path,
                           const torch::Tensor& pixels, const torch::Tensor& labels,
                           const std::vector<float>& mean, const std::vector<float>& std,
                           int64_t locate_images) {
  if (pixels.dim() != 4) throw Error("verify: images must be (N, C, S, S)");
  const int64_t n = pixels.size(0), C = pixels.size(1);
  if (n == 0) throw Error("verify: no images");
  torch::Tensor normalized = pixels.to(torch::kFloat32);
  if (!mean.empty()) {
    if (static_cast<int64_t>(mean.size()) != C || static_cast<int64_t>(std.size()) != C)
      throw Error("verify: mean/std do not match the image channels");
    normalized = (normalized - torch::tensor(mean).view({1, C, 1, 1})) /
                 torch::tensor(std).view({1, C, 1, 1});
  }
  const auto meta = read_tinyvit_metadata(tflite_path);
  const bool in_graph = meta.value("input", std::string("pixels_0_1")) == "pixels_0_1";
  if (in_graph && meta.contains("mean") && !mean.empty()) {
    const auto m = meta["mean"].get<std::vector<float>>();
    const auto s = meta["std"].get<std::vector<float>>();
    for (int64_t c = 0; c < C; ++c)
      if (std::abs(m.at(c) - mean[c]) > 1e-6f || std::abs(s.at(c) - std[c]) > 1e-6f)
        throw Error("verify: " + tflite_path + " normalizes with other mean/std than the "
                    "checkpoint's; re-export it from this checkpoint");
  }

  // LiteRT: all images in one Node process.
  const torch::Tensor tfl_in = (in_graph ? pixels.to(torch::kFloat32) : normalized)
                                   .permute({0, 2, 3, 1}).contiguous();
  std::vector<float> flat(tfl_in.data_ptr<float>(), tfl_in.data_ptr<float>() + tfl_in.numel());
  auto t0 = std::chrono::steady_clock::now();
  std::vector<float> out = run_litert_f32(tflite_path, flat);
  auto t1 = std::chrono::steady_clock::now();
  if (out.size() % static_cast<std::size_t>(n) != 0)
    throw Error("verify: LiteRT returned " + std::to_string(out.size()) + " values for " +
                std::to_string(n) + " images");
  const int64_t K = static_cast<int64_t>(out.size()) / n;
  const torch::Tensor got = torch::from_blob(out.data(), {n, K}, torch::kFloat32).clone();

  // LibTorch, in batches, eval mode, on CPU.
  model.eval();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  const auto device = model.parameters().empty() ? torch::kCPU : model.parameters()[0].device();
  for (int64_t s = 0; s < n; s += 256)
    parts.push_back(
        model.forward(normalized.slice(0, s, std::min(n, s + 256)).to(device)).to(torch::kCPU));
  const torch::Tensor want = torch::cat(parts);
  auto t2 = std::chrono::steady_clock::now();
  const std::vector<float> rt_out = run_runtime(tflite_path, flat);
  auto t3 = std::chrono::steady_clock::now();
  // The two int8 arithmetics differ only on quantized ops: a float file's second run would
  // repeat the first.
  const bool quantized = has_quantized_tensors(tflite_path);
  const std::vector<float> rtl_out =
      quantized ? run_runtime(tflite_path, flat, RuntimeKernels::kAuto, RuntimeArithmetic::kLiteRt)
                : rt_out;
  auto t4 = std::chrono::steady_clock::now();
  if (rt_out.size() != out.size())
    throw Error("verify: the tinyvit runtime returned " + std::to_string(rt_out.size()) +
                " values, LiteRT " + std::to_string(out.size()));
  const torch::Tensor rt = torch::from_blob(const_cast<float*>(rt_out.data()), {n, K}, torch::kFloat32).clone();
  if (want.size(1) != K)
    throw Error("verify: the .tflite gives " + std::to_string(K) + " logits, the model " +
                std::to_string(want.size(1)));

  VerifyResult r;
  r.count = n;
  const torch::Tensor diff = (got - want).abs();
  r.max_abs_diff = diff.max().item<double>();
  r.mean_abs_diff = diff.mean().item<double>();
  const torch::Tensor top_got = got.argmax(1), top_want = want.argmax(1);
  const torch::Tensor same = top_got.eq(top_want);
  r.agreement = same.to(torch::kFloat64).mean().item<double>();
  r.disagreements = n - same.sum().item<int64_t>();
  if (r.disagreements > 0) {
    const torch::Tensor per_image = std::get<0>(diff.max(1));
    const torch::Tensor margin =
        want.gather(1, top_want.unsqueeze(1)).squeeze(1) - want.gather(1, top_got.unsqueeze(1)).squeeze(1);
    r.near_tie_disagreements =
        (same.logical_not() & margin.le(2 * per_image)).sum().item<int64_t>();
  }
  if (labels.defined() && labels.numel() == n) {
    const torch::Tensor l = labels.to(torch::kLong).view({n});
    r.torch_accuracy = top_want.eq(l).to(torch::kFloat64).mean().item<double>();
    r.tflite_accuracy = top_got.eq(l).to(torch::kFloat64).mean().item<double>();
  }
  r.seconds_litert = std::chrono::duration<double>(t1 - t0).count();
  r.seconds_torch = std::chrono::duration<double>(t2 - t1).count();

  const torch::Tensor rt_diff = (rt - want).abs(), top_rt = rt.argmax(1);
  r.runtime.max_abs_diff = rt_diff.max().item<double>();
  r.runtime.mean_abs_diff = rt_diff.mean().item<double>();
  r.runtime.agreement = top_rt.eq(top_want).to(torch::kFloat64).mean().item<double>();
  r.runtime.disagreements = n - top_rt.eq(top_want).sum().item<int64_t>();
  r.runtime.max_abs_diff_vs_litert = (rt - got).abs().max().item<double>();
  r.runtime.agreement_with_litert = top_rt.eq(top_got).to(torch::kFloat64).mean().item<double>();
  if (labels.defined() && labels.numel() == n)
    r.runtime.accuracy = top_rt.eq(labels.to(torch::kLong).view({n})).to(torch::kFloat64).mean().item<double>();
  r.runtime.seconds = std::chrono::duration<double>(t3 - t2).count();

  // bit-identical: compare the float bits (an int8 file's outputs are dequantized int8 values)
  int64_t same_logits = 0, same_images = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t same_here = 0;
    for (int64_t k = 0; k < K; ++k)
      same_here += std::memcmp(&rtl_out[i * K + k], &out[i * K + k], sizeof(float)) == 0;
    same_logits += same_here;
    same_images += same_here == K;
    if (same_here != K && r.runtime_litert.differing.size() < 20) r.runtime_litert.differing.push_back(i);
  }
  const torch::Tensor rtl = torch::from_blob(const_cast<float*>(rtl_out.data()), {n, K}, torch::kFloat32);
  r.runtime_litert.identical_logits = static_cast<double>(same_logits) / static_cast<double>(n * K);
  r.runtime_litert.identical_images = same_images;
  r.runtime_litert.max_abs_diff_vs_litert = (rtl - got).abs().max().item<double>();
  r.runtime_litert.agreement_with_litert = rtl.argmax(1).eq(top_got).to(torch::kFloat64).mean().item<double>();
  r.runtime_litert.seconds =
      quantized ? std::chrono::duration<double>(t4 - t3).count() : r.runtime.seconds;
  r.runtime_litert.same_run = !quantized;
  if (locate_images > 0) {
    r.tensor_diff_images = std::min(locate_images, n);
    const auto end = static_cast<std::ptrdiff_t>(flat.size() / static_cast<std::size_t>(n) *
                                                 static_cast<std::size_t>(r.tensor_diff_images));
    const std::vector<float> first(flat.begin(), flat.begin() + end);
    r.tensor_diffs = compare_every_tensor(tflite_path, first, RuntimeArithmetic::kLiteRt);
  }
  return r;
}

nlohmann::json to_json(const VerifyResult& r) {
  nlohmann::json j = {{"images", r.count},
          {"top1_agreement", r.agreement},
          {"max_abs_logit_diff", r.max_abs_diff},
          {"mean_abs_logit_diff", r.mean_abs_diff},
          {"accuracy_libtorch", r.torch_accuracy},
          {"accuracy_tflite", r.tflite_accuracy},
          {"disagreements", r.disagreements},
          {"near_tie_disagreements", r.near_tie_disagreements},
          {"seconds_litert", r.seconds_litert},
          {"seconds_libtorch", r.seconds_torch},
          {"runtime", "LiteRT.js (wasm, float32)"},
          {"tinyvit_runtime",
           {{"top1_agreement", r.runtime.agreement},
            {"max_abs_logit_diff", r.runtime.max_abs_diff},
            {"mean_abs_logit_diff", r.runtime.mean_abs_diff},
            {"accuracy", r.runtime.accuracy},
            {"disagreements", r.runtime.disagreements},
            {"max_abs_logit_diff_vs_litert", r.runtime.max_abs_diff_vs_litert},
            {"top1_agreement_with_litert", r.runtime.agreement_with_litert},
            {"seconds", r.runtime.seconds}}},
          {"tinyvit_runtime_litert_arithmetic",
           {{"identical_logits", r.runtime_litert.identical_logits},
            {"identical_images", r.runtime_litert.identical_images},
            {"differing_images", r.runtime_litert.differing},
            {"max_abs_logit_diff_vs_litert", r.runtime_litert.max_abs_diff_vs_litert},
            {"top1_agreement_with_litert", r.runtime_litert.agreement_with_litert},
            {"same_run_as_reference", r.runtime_litert.same_run},
            {"seconds", r.runtime_litert.seconds}}}};
  if (r.tensor_diff_images > 0) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& d : r.tensor_diffs)
      if (d.differing > 0)
        rows.push_back({{"op", d.op}, {"op_name", d.op_name}, {"tensor", d.tensor},
                        {"type", d.type}, {"values", d.values}, {"differing", d.differing},
                        {"max_abs_diff", d.max_abs_diff}});
    j["every_tensor_vs_litert"] = {{"images", r.tensor_diff_images},
                                   {"op_outputs", r.tensor_diffs.size()},
                                   {"differing_in_op_order", rows}};
  }
  return j;
}

std::string format_verify(const VerifyResult& r) {
  std::ostringstream os;
  os.precision(6);
  os << "images:               " << r.count << "\n"
     << "top-1 agreement:      " << 100.0 * r.agreement << "% (" << r.disagreements
     << " disagreements, " << r.near_tie_disagreements << " of them near-ties)\n"
     << "max |logit diff|:     " << r.max_abs_diff << "\n"
     << "mean |logit diff|:    " << r.mean_abs_diff << "\n"
     << "accuracy LibTorch:    " << 100.0 * r.torch_accuracy << "%\n"
     << "accuracy TFLite:      " << 100.0 * r.tflite_accuracy << "% (LiteRT.js, float32)\n"
     << "time LiteRT / torch:  " << r.seconds_litert << " s / " << r.seconds_torch << " s\n"
     << "tinyvit runtime:      top-1 agreement " << 100.0 * r.runtime.agreement << "% ("
     << r.runtime.disagreements << " disagreements), max |logit diff| " << r.runtime.max_abs_diff
     << ", vs LiteRT " << r.runtime.max_abs_diff_vs_litert << ", accuracy "
     << 100.0 * r.runtime.accuracy << "%, " << r.runtime.seconds << " s\n"
     << "  with LiteRT's int8 arithmetic" << (r.runtime_litert.same_run ? " (float file: the same run)" : "")
     << ": " << 100.0 * r.runtime_litert.identical_logits
     << "% of logits bit-identical to LiteRT (" << r.runtime_litert.identical_images << " of "
     << r.count << " images entirely), max |diff| " << r.runtime_litert.max_abs_diff_vs_litert
     << ", top-1 agreement " << 100.0 * r.runtime_litert.agreement_with_litert << "%, "
     << r.runtime_litert.seconds << " s\n";
  if (r.tensor_diff_images > 0)
    os << "every op output, runtime (LiteRT arithmetic) vs LiteRT, " << r.tensor_diff_images
       << " images: " << format_tensor_diffs(r.tensor_diffs);
  return os.str();
}

}  // namespace tinyvit::exporter
