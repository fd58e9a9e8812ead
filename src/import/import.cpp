#include "import/import.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include "common/error.h"
#include "import/name_map.h"
#include "import/pth.h"
#include "import/safetensors.h"
#include "models/registry.h"

namespace tinyvit::import {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_str(const torch::Tensor& t) {
  std::string s = "(";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + ")";
}

bool is_head(const models::ModelConfig& c, const std::string& name) {
  if (c.family == "vit")
    return name == "head.weight" || name == "head.bias" || name == "head_dist.weight" ||
           name == "head_dist.bias";
  return name == "fc.weight" || name == "fc.bias";
}

std::string join_list(const std::vector<std::string>& v, std::size_t max_items = 24) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < max_items; ++i) s += "\n    " + v[i];
  if (v.size() > max_items) s += fmt::format("\n    ... and {} more", v.size() - max_items);
  return s;
}

torch::Tensor from_safetensors(const SafetensorsFile& f, const TensorEntry& e) {
  if (SafetensorsFile::is_floating(e.dtype)) {
    auto v = f.to_float32(e);
    return torch::from_blob(v.data(), e.shape, torch::kFloat).clone();
  }
  auto v = f.to_int64(e);
  return torch::from_blob(v.data(), e.shape, torch::kLong).clone();
}

}  // namespace

StateDict read_weights(const std::string& path) {
  char head[9] = {};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot open weights file '" + path + "'");
    in.read(head, 9);
  }
  const bool zip = std::string(head, 4) == std::string("PK\x03\x04", 4);
  const bool st = ends_with(path, ".safetensors") || (!zip && head[8] == '{');
  if (zip && !st) return read_pth(path);
  if (!st) {
    if (static_cast<unsigned char>(head[0]) == 0x80)
      throw Error("'" + path + "' is a legacy (pre-1.6, non-zip) torch.save file; re-save it in "
                  "Python with torch.save(dict(torch.load(f)), 'file.pth') or as safetensors "
                  "(docs/pretrained.md)");
    throw Error("'" + path + "' is neither a safetensors file nor a zip-format .pth");
  }
  const auto f = SafetensorsFile::open(path);
  StateDict sd;
  for (const auto& e : f.tensors()) sd.emplace_back(e.name, from_safetensors(f, e));
  return sd;
}

torch::Tensor resample_pos_embed(const torch::Tensor& pos, int src_prefix, int dst_prefix, int gh,
                                 int gw) {
  namespace F = torch::nn::functional;
  if (pos.dim() != 3 || pos.size(0) != 1) throw Error("pos_embed must be (1, T, D)");
  if (dst_prefix > src_prefix)
    throw Error(fmt::format("pos_embed has {} prefix token(s), the model needs {}", src_prefix,
                            dst_prefix));
  const int64_t n = pos.size(1) - src_prefix, D = pos.size(2);
  const auto g = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(n, 0)))));
  if (n <= 0 || g * g != n)
    throw Error(fmt::format("pos_embed has {} patch rows, not a square grid", n));
  auto p = pos.to(torch::kFloat);
  auto prefix = p.narrow(1, 0, dst_prefix);                                  // (1, P, D)
  auto grid = p.narrow(1, src_prefix, n).reshape({1, g, g, D}).permute({0, 3, 1, 2});  // (1,D,g,g)
  if (g != gh || g != gw) {
    const bool shrink = gh < g || gw < g;
    grid = F::interpolate(grid, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{gh, gw})
                                    .mode(torch::kBicubic)
                                    .align_corners(false)
                                    .antialias(shrink));
  }
  grid = grid.permute({0, 2, 3, 1}).reshape({1, int64_t(gh) * gw, D});     // (1, gh*gw, D)
  return torch::cat({prefix, grid}, 1).contiguous();
}

torch::Tensor resize_patch_kernel(const torch::Tensor& w, int q) {
  namespace F = torch::nn::functional;
  if (w.dim() != 4 || w.size(2) != w.size(3)) throw Error("patch kernel must be (D, C, p, p)");
  const int64_t p = w.size(2);
  if (p == q) return w.to(torch::kFloat);
  // Rows of B: each of the p*p one-hot p x p images resized to q x q -> B: (p^2, q^2).
  // For a patch x resized as x' = x B, we want <x', w'> = <x, w> for all x: B w' = w, solved in
  // the least-squares / minimum-norm sense: w' = pinv(B) w.
  auto basis = torch::eye(p * p, torch::kDouble).reshape({p * p, 1, p, p});
  auto B = F::interpolate(basis, F::InterpolateFuncOptions()
                                     .size(std::vector<int64_t>{q, q})
                                     .mode(torch::kBicubic)
                                     .align_corners(false)
                                     .antialias(q < p))
               .reshape({p * p, int64_t(q) * q});
  auto pinv = at::linalg_pinv(B, 1e-15, false);                             // (q^2, p^2)
  auto flat = w.to(torch::kDouble).reshape({-1, p * p});                    // (D*C, p^2)
  return torch::matmul(flat, pinv.t()).reshape({w.size(0), w.size(1), q, q}).to(torch::kFloat);
}

std::string ImportReport::format() const {
  std::string s = fmt::format(
      "import: {} tensors loaded, {} adapted, {} replaced, {} missing, {} mismatched, {} unexpected",
      loaded.size(), adapted.size(), replaced.size(), missing.size(), mismatched.size(),
      unexpected.size());
  for (const auto& n : notes) s += "\n  name map: " + n;
  if (!adapted.empty()) s += "\n  adapted:" + join_list(adapted);
  if (!replaced.empty()) s += "\n  replaced (new head, seeded init):" + join_list(replaced);
  if (!missing.empty()) s += "\n  missing (left as initialised):" + join_list(missing);
  if (!mismatched.empty()) s += "\n  mismatched shape (left as initialised):" + join_list(mismatched);
  if (!unexpected.empty()) s += "\n  unexpected (ignored):" + join_list(unexpected);
  return s;
}

nlohmann::json ImportReport::to_json() const {
  return {{"loaded", loaded.size()}, {"adapted", adapted},       {"replaced", replaced},
          {"missing", missing},      {"mismatched", mismatched}, {"unexpected", unexpected},
          {"notes", notes}};
}

ImportResult import_state_dict(const StateDict& sd_in, const ImportOptions& o) {
  models::ModelConfig cfg = models::model_config(o.arch, o.num_classes);
  if (o.img_size > 0) {
    cfg.set_img_size(o.img_size);
    models::validate(cfg);
  }
  torch::manual_seed(o.seed);
  ImportResult r;
  r.model = models::build_model(cfg);
  ImportReport& rep = r.report;

  const StateDict sd = canonicalize(sd_in, cfg.family, &rep.notes);
  std::map<std::string, torch::Tensor> src;
  for (const auto& [n, t] : sd)
    if (!src.emplace(n, t).second)
      throw Error("two tensors in the file map to the same name '" + n + "'");
  std::set<std::string> used;

  StateDict targets = model_state_dict(*r.model);  // detached views of the live tensors
  const int src_prefix = src.count("dist_token") ? 2 : 1;
  torch::NoGradGuard no_grad;
  for (auto& [name, dst] : targets) {
    auto it = src.find(name);
    if (it == src.end()) {
      if (ends_with(name, "num_batches_tracked")) continue;  // optional (older torchvision files)
      if (is_head(cfg, name)) rep.replaced.push_back(name + " (not in the file)");
      else rep.missing.push_back(name);
      continue;
    }
    used.insert(name);
    const torch::Tensor& t = it->second;
    if (t.sizes() == dst.sizes()) {
      dst.copy_(t.to(dst.scalar_type()));
      rep.loaded.push_back(name);
    } else if (is_head(cfg, name) && t.dim() == dst.dim() && t.dim() >= 1 &&
               t.size(0) != dst.size(0) && t.sizes().slice(1) == dst.sizes().slice(1)) {
      rep.replaced.push_back(fmt::format("{}: file has {} classes, model {}", name, t.size(0),
                                         dst.size(0)));
    } else if (cfg.family == "vit" && name == "pos_embed" && t.dim() == 3 &&
               t.size(2) == dst.size(2)) {
      const int g = cfg.vit.grid();
      auto pe = resample_pos_embed(t, src_prefix, cfg.vit.num_prefix_tokens(), g, g);
      dst.copy_(pe);
      rep.adapted.push_back(fmt::format("pos_embed: {} -> {}, patch grid resampled (bicubic), "
                                        "class token row kept",
                                        shape_str(t), shape_str(dst)));
    } else if (cfg.family == "vit" && name == "patch_embed.proj.weight" && t.dim() == 4 &&
               t.size(0) == dst.size(0) && t.size(1) == dst.size(1) && t.size(2) == t.size(3)) {
      dst.copy_(resize_patch_kernel(t, cfg.vit.patch_size));
      rep.adapted.push_back(fmt::format("patch_embed.proj.weight: kernel {} -> {} "
                                        "(pseudo-inverse resize)",
                                        shape_str(t), shape_str(dst)));
    } else {
      rep.mismatched.push_back(
          fmt::format("{}: file {} vs model {}", name, shape_str(t), shape_str(dst)));
    }
  }
  for (const auto& [n, t] : sd)
    if (!used.count(n)) rep.unexpected.push_back(n + " " + shape_str(t));

  if (!o.allow_missing && (!rep.missing.empty() || !rep.mismatched.empty()))
    throw Error(rep.format() +
                "\nthe file does not fit '" + o.arch +
                "' (wrong --arch?); pass --allow-missing to keep random weights for these");
  r.model->eval();
  return r;
}

StateDict model_state_dict(models::Classifier& model) {
  StateDict sd;
  for (const auto& p : model.named_parameters(true)) sd.emplace_back(p.key(), p.value().detach());
  for (const auto& b : model.named_buffers(true)) sd.emplace_back(b.key(), b.value().detach());
  return sd;
}

void export_safetensors(const std::string& path, models::Classifier& model,
                        const nlohmann::json& meta) {
  std::vector<OutTensor> out;
  for (const auto& [name, t0] : model_state_dict(model)) {
    OutTensor o;
    o.name = name;
    o.shape = t0.sizes().vec();
    if (t0.is_floating_point()) {
      auto t = t0.to(torch::kCPU, torch::kFloat).contiguous();
      o.dtype = DType::F32;
      o.f32.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    } else {
      auto t = t0.to(torch::kCPU, torch::kLong).contiguous();
      o.dtype = DType::I64;
      o.i64.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
    }
    out.push_back(std::move(o));
  }
  write_safetensors(path, out,
                    {{"format", "pt"},
                     {"tinyvit_config", nlohmann::json(model.config()).dump()},
                     {"tinyvit_meta", meta.dump()}});
}

nlohmann::json import_meta(const models::ModelConfig& config, const std::string& source,
                           const std::vector<std::string>& class_names,
                           const ImportReport& report) {
  std::vector<std::string> names = class_names;
  if (names.empty())
    for (int i = 0; i < config.num_classes(); ++i) names.push_back("class_" + std::to_string(i));
  if (static_cast<int>(names.size()) != config.num_classes())
    throw Error(fmt::format("{} class names given for {} classes", names.size(),
                            config.num_classes()));
  return {{"mean", {0.485, 0.456, 0.406}},  // ImageNet statistics: what the weights were trained on
          {"std", {0.229, 0.224, 0.225}},
          {"class_names", names},
          {"input_size", config.img_size()},
          {"model", config.name},
          {"stage", "import"},
          {"source", source},
          {"import", report.to_json()}};
}

}  // namespace tinyvit::import
