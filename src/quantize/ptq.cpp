#include "quantize/ptq.h"

#include <fmt/format.h>

#include <chrono>
#include <set>

#include "common/error.h"
#include "export/tflite_export.h"
#include "quantize/qat.h"
#include "quantize/rotate.h"

namespace tinyvit::quantize {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

PtqResult run_ptq(models::Classifier& model, const torch::Tensor& calib_pixels,
                  const torch::Tensor& calib_labels, const torch::Tensor& eval_pixels, const torch::Tensor& eval_labels,
                  const std::string& out_path, const PtqOptions& o) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto P = exporter::collect_params(model);
  auto sim = make_quant_sim(model.config(), P, o.mean, o.std);
  nlohmann::json rep;
  rep["model"] = model.config().name;
  const bool rotate = o.rotate && model.config().family == "vit";
  if (rotate) {
    const auto& vc = model.config().vit;
    rotate_residual_stream(vc, sim->params(), residual_rotation(vc.embed_dim, o.calib.seed));
    if (o.rotate_heads) rotate_attention_heads(vc, sim->params(), o.calib.seed);
  }
  rep["rotation"] = {{"residual_stream", rotate},
                     {"attention_heads", rotate && o.rotate_heads},
                     {"seed", o.calib.seed}};
  rep["calibration"] = {{"method", calib_method_name(o.calib.method)},
                        {"percentile", o.calib.percentile},
                        {"images", calib_pixels.size(0)},
                        {"seed", o.calib.seed}};

  auto t0 = std::chrono::steady_clock::now();
  const RangeObserver obs = observe(*sim, calib_pixels, o.calib.batch_size, o.calib.seed);
  sim->table = make_table(*sim, obs, o.calib);
  rep["calibration"]["seconds"] = seconds_since(t0);

  // float reference: the real model (normalized input) and the simulator in float mode
  const bool labels = eval_labels.defined();
  const auto float_logits = sim_logits(*sim, eval_pixels, SimMode::kFloat);
  std::vector<LayerSensitivity> sens;
  if ((o.sensitivity || o.keep_float_worst > 0) && labels)
    sens = sensitivity(*sim, eval_pixels, eval_labels);
  std::set<std::string> keep(o.keep_float.begin(), o.keep_float.end());
  int picked = 0;
  for (const auto& s : sens) {
    if (picked >= o.keep_float_worst) break;
    const auto& l = s.layer;
    const bool is_ln = l == "norm" || (l.size() > 6 && (l.compare(l.size() - 6, 6, ".norm1") == 0 ||
                                                       l.compare(l.size() - 6, 6, ".norm2") == 0));
    if (is_ln && keep.insert(l).second) ++picked;
  }
  sim->float_layers = keep;
  rep["float_layers"] = std::vector<std::string>(keep.begin(), keep.end());
  if (o.qat_steps > 0) {
    const auto before = sim_logits(*sim, eval_pixels, SimMode::kQuant);
    QatOptions qo;
    qo.steps = o.qat_steps;
    qo.lr = o.qat_lr;
    qo.alpha = o.qat_alpha;
    qo.temperature = o.qat_temperature;
    qo.augment = o.qat_augment;
    qo.seed = o.calib.seed;
    t0 = std::chrono::steady_clock::now();
    const auto qat_start = t0;
    qo.on_step = [&](int step, double loss) {
      if (step % 50 != 0 && step != o.qat_steps) return;
      const double s = seconds_since(qat_start);
      fmt::print(stderr, "[qat] step {}/{}  loss {:.4f}  {:.1f} s (ETA {:.0f} s)\n", step,
                 o.qat_steps, loss, s, s / step * (o.qat_steps - step));
    };
    torch::AutoGradMode grad(true);
    const bool own = o.qat_pixels.defined();
    const auto& qat_pixels = own ? o.qat_pixels : calib_pixels;
    const auto q = qat_finetune(*sim, qat_pixels, own ? o.qat_labels : calib_labels, qo);
    rep["qat"] = {{"steps", o.qat_steps}, {"lr", o.qat_lr}, {"alpha", o.qat_alpha},
                  {"temperature", o.qat_temperature}, {"augment", o.qat_augment},
                  {"images", qat_pixels.size(0)}, {"seconds", seconds_since(t0)},
                  {"first_loss", q.losses.front()}, {"last_loss", q.losses.back()}};
    if (labels) rep["qat"]["ptq_sim_accuracy"] = accuracy(before, eval_labels);
  }
  const auto int8_logits = sim_logits(*sim, eval_pixels, SimMode::kQuant);
  const float out_scale = sim->table.at("logits").scale;
  const auto fq = compare_logits(float_logits, int8_logits, eval_labels, out_scale);
  rep["eval_images"] = eval_pixels.size(0);
  if (labels) {
    rep["float_accuracy"] = fq.accuracy_a;
    rep["int8_sim_accuracy"] = fq.accuracy_b;
    rep["accuracy_drop_points"] = 100.0 * (fq.accuracy_a - fq.accuracy_b);
  }
  rep["int8_sim_vs_float_top1_agreement"] = fq.top1_agreement;
  // The exact simulation (LiteRT's integer arithmetic, op for op; ViT, all int8): the
  // accuracy the file itself has in LiteRT.
  torch::Tensor exact_logits;
  const auto& mc = model.config();
  if (mc.family == "vit" && keep.empty() && !mc.vit.distill_token) {
    t0 = std::chrono::steady_clock::now();
    exact_logits = sim_logits(*sim, eval_pixels, SimMode::kExact);
    const auto fe = compare_logits(float_logits, exact_logits, eval_labels, out_scale);
    rep["exact_sim"] = {{"vs_float_top1_agreement", fe.top1_agreement},
                        {"vs_fake_quant_top1_agreement",
                         exact_logits.argmax(1).eq(int8_logits.argmax(1)).to(torch::kFloat64).mean().item<double>()},
                        {"seconds", seconds_since(t0)}};
    if (labels) rep["exact_sim"]["accuracy"] = fe.accuracy_b;
  }

  if (o.compare_methods) {
    nlohmann::json rows = nlohmann::json::array();
    for (CalibMethod m : {CalibMethod::kMinMax, CalibMethod::kPercentile, CalibMethod::kMse}) {
      CalibrationOptions c = o.calib;
      c.method = m;
      c.overrides.clear();
      const auto saved = sim->table;
      sim->table = make_table(*sim, obs, c);
      const auto y = sim_logits(*sim, eval_pixels, SimMode::kQuant);
      const auto g = compare_logits(float_logits, y, eval_labels, 1.0);
      rows.push_back({{"method", calib_method_name(m)},
                      {"accuracy", g.accuracy_b},
                      {"agreement_with_float", g.top1_agreement}});
      sim->table = saved;
    }
    rep["methods"] = rows;
  }

  exporter::Int8ExportOptions eo;
  eo.io = o.io;
  eo.mean = o.mean;
  eo.std = o.std;
  eo.class_names = o.class_names;
  eo.float_layers = keep;
  eo.params_folded = true;  // the simulator's (possibly fine-tuned) folded weights
  const auto r = exporter::export_tflite_int8(model.config(), sim->params(), sim->table, eo);
  exporter::write_tflite(out_path, r.bytes);
  exporter::ExportOptions fo;
  fo.mean = o.mean;
  fo.std = o.std;
  fo.class_names = o.class_names;
  const auto f32 = exporter::export_tflite(model.config(), P, fo);
  rep["file"] = {{"path", out_path},
                 {"bytes", r.bytes.size()},
                 {"float32_bytes", f32.bytes.size()},
                 {"size_ratio", static_cast<double>(r.bytes.size()) / f32.bytes.size()},
                 {"ops", r.num_ops},
                 {"op_counts", r.op_counts},
                 {"io", exporter::int8_io_name(o.io)}};

  if (o.litert_images > 0) {
    const int64_t n = std::min<int64_t>(o.litert_images, eval_pixels.size(0));
    t0 = std::chrono::steady_clock::now();
    const auto lr = run_int8_tflite(out_path, eval_pixels.slice(0, 0, n));
    const auto sub_labels = labels ? eval_labels.slice(0, 0, n) : torch::Tensor();
    const auto g = compare_logits(int8_logits.slice(0, 0, n), lr.logits, sub_labels, lr.scale);
    const auto gf = compare_logits(float_logits.slice(0, 0, n), lr.logits, sub_labels, 1.0);
    rep["litert"] = {{"images", n},
                     {"top1_agreement_with_sim", g.top1_agreement},
                     {"mean_abs_diff_steps", g.mean_abs_diff},
                     {"max_abs_diff_steps", g.max_abs_diff},
                     {"top1_agreement_with_float", gf.top1_agreement},
                     {"seconds", seconds_since(t0)}};
    if (labels) {
      rep["litert"]["accuracy"] = g.accuracy_b;
      rep["litert"]["float_accuracy_same_images"] = gf.accuracy_a;
    }
    if (exact_logits.defined()) {
      const auto ex = exact_logits.slice(0, 0, n);
      const auto ge = compare_logits(ex, lr.logits, sub_labels, lr.scale);
      rep["litert"]["top1_agreement_with_exact_sim"] = ge.top1_agreement;
      rep["litert"]["mean_abs_diff_steps_exact_sim"] = ge.mean_abs_diff;
      rep["litert"]["max_abs_diff_steps_exact_sim"] = ge.max_abs_diff;
      rep["litert"]["identical_logits_exact_sim"] =
          ex.eq(lr.logits).to(torch::kFloat64).mean().item<double>();
    }
  }
  if (o.sensitivity && labels) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& s : sens)
      rows.push_back({{"layer", s.layer}, {"accuracy", s.accuracy}, {"drop_points", s.drop},
                      {"agreement_with_float", s.agreement}});
    rep["sensitivity"] = rows;
  }
  rep["table"] = exporter::to_json(sim->table);
  return {sim->table, r.bytes, rep};
}

std::string format_report(const nlohmann::json& r) {
  std::string s;
  const auto& f = r.at("file");
  s += fmt::format("{}: {} bytes, {:.3f} x the float32 file ({} bytes), {} ops, I/O {}\n",
                   f.at("path").get<std::string>(), f.at("bytes").get<int64_t>(),
                   f.at("size_ratio").get<double>(), f.at("float32_bytes").get<int64_t>(),
                   f.at("ops").get<int>(), f.at("io").get<std::string>());
  s += fmt::format("calibration: {} on {} images ({:.1f} s){}\n",
                   r["calibration"]["method"].get<std::string>(),
                   r["calibration"]["images"].get<int64_t>(),
                   r["calibration"]["seconds"].get<double>(),
                   r.contains("rotation") && r["rotation"]["residual_stream"].get<bool>()
                       ? ", residual stream rotated"
                       : "");
  if (r.contains("float_accuracy"))
    s += fmt::format("accuracy on {} images: float {:.2f}%, int8 (simulated) {:.2f}% ({:+.2f} points)\n",
                     r["eval_images"].get<int64_t>(), 100 * r["float_accuracy"].get<double>(),
                     100 * r["int8_sim_accuracy"].get<double>(),
                     -r["accuracy_drop_points"].get<double>());
  s += fmt::format("top-1 agreement int8 (simulated) vs float: {:.2f}%\n",
                   100 * r["int8_sim_vs_float_top1_agreement"].get<double>());
  if (r.contains("exact_sim")) {
    const auto& e = r["exact_sim"];
    s += fmt::format("exact int8 simulation (LiteRT's arithmetic): {}agreement with float {:.2f}%, "
                     "with the fake-quant simulation {:.2f}% ({:.1f} s)\n",
                     e.contains("accuracy")
                         ? fmt::format("accuracy {:.2f}%, ", 100 * e["accuracy"].get<double>())
                         : std::string(),
                     100 * e["vs_float_top1_agreement"].get<double>(),
                     100 * e["vs_fake_quant_top1_agreement"].get<double>(),
                     e["seconds"].get<double>());
  }
  if (r.contains("litert")) {
    const auto& l = r["litert"];
    s += fmt::format("LiteRT.js on {} images: agreement with simulation {:.2f}%, mean |diff| "
                     "{:.3f} steps (max {:.0f}), agreement with float {:.2f}%",
                     l["images"].get<int64_t>(), 100 * l["top1_agreement_with_sim"].get<double>(),
                     l["mean_abs_diff_steps"].get<double>(), l["max_abs_diff_steps"].get<double>(),
                     100 * l["top1_agreement_with_float"].get<double>());
    if (l.contains("accuracy"))
      s += fmt::format(", accuracy {:.2f}% (float {:.2f}%)", 100 * l["accuracy"].get<double>(),
                       100 * l["float_accuracy_same_images"].get<double>());
    s += "\n";
    if (l.contains("top1_agreement_with_exact_sim"))
      s += fmt::format("LiteRT.js vs the exact simulation: top-1 agreement {:.2f}%, {:.2f}% of "
                       "logits identical, mean |diff| {:.3f} steps (max {:.0f})\n",
                       100 * l["top1_agreement_with_exact_sim"].get<double>(),
                       100 * l["identical_logits_exact_sim"].get<double>(),
                       l["mean_abs_diff_steps_exact_sim"].get<double>(),
                       l["max_abs_diff_steps_exact_sim"].get<double>());
  }
  if (r.contains("qat"))
    s += fmt::format("QAT: {} steps, loss {:.4f} -> {:.4f}{}\n", r["qat"]["steps"].get<int>(),
                     r["qat"]["first_loss"].get<double>(), r["qat"]["last_loss"].get<double>(),
                     r["qat"].contains("ptq_sim_accuracy")
                         ? fmt::format(" (PTQ-only simulated accuracy {:.2f}%)",
                                       100 * r["qat"]["ptq_sim_accuracy"].get<double>())
                         : std::string());
  if (r.contains("float_layers") && !r["float_layers"].empty())
    s += fmt::format("kept in float32: {}\n", r["float_layers"].dump());
  if (r.contains("methods")) {
    s += "calibration methods (simulated int8):\n";
    for (const auto& m : r["methods"])
      s += fmt::format("  {:<11} accuracy {:.2f}%  agreement with float {:.2f}%\n",
                       m["method"].get<std::string>(), 100 * m["accuracy"].get<double>(),
                       100 * m["agreement_with_float"].get<double>());
  }
  if (r.contains("sensitivity")) {
    s += "sensitivity (only this layer quantized; worst first):\n";
    int shown = 0;
    for (const auto& m : r["sensitivity"]) {
      if (++shown > 12) break;
      s += fmt::format("  {:<28} accuracy {:.2f}%  drop {:+.2f}  agreement {:.2f}%\n",
                       m["layer"].get<std::string>(), 100 * m["accuracy"].get<double>(),
                       m["drop_points"].get<double>(),
                       100 * m["agreement_with_float"].get<double>());
    }
  }
  return s;
}

}  // namespace tinyvit::quantize
