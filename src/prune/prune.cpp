#include "prune/prune.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "common/error.h"

namespace tinyvit::prune {
namespace {

using ParamDict = torch::OrderedDict<std::string, torch::Tensor>;

const models::VisionTransformer& as_vit(const models::Classifier& m) {
  const auto* v = dynamic_cast<const models::VisionTransformer*>(&m);
  if (!v)
    throw Error("prune: only ViT models can be pruned, '" + m.config().name + "' is a " +
                m.config().family);
  return *v;
}

const torch::Tensor& get(const ParamDict& P, const std::string& name) {
  const torch::Tensor* t = P.find(name);
  if (!t) throw Error("prune: the model has no parameter '" + name + "'");
  return *t;
}

std::string bname(int b, const char* rest) { return "blocks." + std::to_string(b) + "." + rest; }

// Per-unit sums of an element-wise score `s` (same shapes as the weights):
//   heads: qkv.weight (3A, D) -> (3, H, hd, D), qkv.bias (3A) -> (3, H, hd),
//          proj.weight (D, A) -> (D, H, hd)            => (H,)
//   mlp:   fc1.weight (M, D) rows, fc1.bias (M), fc2.weight (D, M) columns => (M,)
torch::Tensor head_sums(const torch::Tensor& qkv_w, const torch::Tensor& qkv_b,
                        const torch::Tensor& proj_w, int64_t H, int64_t hd) {
  const int64_t D = qkv_w.size(1);
  const std::vector<int64_t> d023{0, 2, 3}, d02{0, 2};
  return qkv_w.reshape({3, H, hd, D}).sum(d023) + qkv_b.reshape({3, H, hd}).sum(d02) +
         proj_w.reshape({proj_w.size(0), H, hd}).sum(d02);
}

torch::Tensor mlp_sums(const torch::Tensor& fc1_w, const torch::Tensor& fc1_b,
                       const torch::Tensor& fc2_w) {
  return fc1_w.sum(1) + fc1_b + fc2_w.sum(0);
}

std::vector<double> to_vec(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// Element-wise score of a weight tensor for the magnitude criteria (L2 is squared here and
// square-rooted after summation).
torch::Tensor elem(const torch::Tensor& w, Criterion c) {
  auto d = w.detach().to(torch::kFloat64);
  return c == Criterion::kL1 ? d.abs() : d * d;
}

const char* const kBlockWeights[] = {"attn.qkv.weight", "attn.qkv.bias",  "attn.proj.weight",
                                     "attn.proj.bias",  "mlp.fc1.weight", "mlp.fc1.bias",
                                     "mlp.fc2.weight",  "mlp.fc2.bias"};

// Indices of the `keep` highest scores, returned in ascending index order. Ties keep the lower
// index (stable), so plans are deterministic.
std::vector<int64_t> top_k(const std::vector<double>& s, int64_t keep) {
  std::vector<int64_t> idx(s.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return s[a] > s[b]; });
  idx.resize(static_cast<size_t>(std::clamp<int64_t>(keep, 0, static_cast<int64_t>(s.size()))));
  std::sort(idx.begin(), idx.end());
  return idx;
}

int64_t round_up(int64_t v, int64_t m) { return m <= 1 ? v : (v + m - 1) / m * m; }

// Kept counts per block for one kind of unit (heads or MLP units).
//   scores[j]: unit scores of kept block j; cur[j]: its current width; ref[j]: the width the
//   fraction refers to; floor_: minimum per block; multiple: round kept widths up to it.
std::vector<int64_t> keep_counts(const std::vector<std::vector<double>>& scores,
                                 const std::vector<int64_t>& cur, const std::vector<int64_t>& ref,
                                 double frac, bool global, int64_t floor_, int64_t multiple) {
  const size_t n = scores.size();
  std::vector<int64_t> keep(n);
  if (!global) {
    for (size_t j = 0; j < n; ++j) {
      const int64_t target = ref[j] - std::llround(frac * static_cast<double>(ref[j]));
      keep[j] = std::min(cur[j], target);
    }
  } else {
    // One ranking over every unit of every kept block; remove the lowest scores until the
    // total reaches the target, never taking a block below its floor.
    const int64_t ref_total = std::accumulate(ref.begin(), ref.end(), int64_t{0});
    const int64_t cur_total = std::accumulate(cur.begin(), cur.end(), int64_t{0});
    int64_t to_remove =
        cur_total - (ref_total - std::llround(frac * static_cast<double>(ref_total)));
    struct U { double s; size_t b; int64_t i; };
    std::vector<U> all;
    for (size_t j = 0; j < n; ++j)
      for (size_t i = 0; i < scores[j].size(); ++i)
        all.push_back({scores[j][i], j, static_cast<int64_t>(i)});
    std::stable_sort(all.begin(), all.end(), [](const U& a, const U& b) { return a.s < b.s; });
    keep = cur;
    for (const U& u : all) {
      if (to_remove <= 0) break;
      if (keep[u.b] > std::max<int64_t>(floor_, 1)) {
        --keep[u.b];
        --to_remove;
      }
    }
  }
  for (size_t j = 0; j < n; ++j)
    keep[j] = std::min(cur[j], round_up(std::max(keep[j], std::max<int64_t>(floor_, 1)), multiple));
  return keep;
}

void check_fraction(double f, const char* what) {
  if (!(f >= 0.0 && f < 1.0))
    throw Error(fmt::format("prune: --{} must be a fraction in [0, 1), got {}", what, f));
}

}  // namespace

Criterion parse_criterion(const std::string& name) {
  if (name == "l1") return Criterion::kL1;
  if (name == "l2") return Criterion::kL2;
  if (name == "taylor") return Criterion::kTaylor;
  throw Error("prune: unknown criterion '" + name + "' (expected l1, l2 or taylor)");
}

std::string criterion_name(Criterion c) {
  switch (c) {
    case Criterion::kL1: return "l1";
    case Criterion::kL2: return "l2";
    case Criterion::kTaylor: return "taylor";
  }
  return "?";
}

Importance magnitude_importance(const models::VisionTransformer& model, Criterion criterion) {
  if (criterion == Criterion::kTaylor)
    throw Error("prune: magnitude_importance takes l1 or l2, not taylor");
  torch::NoGradGuard g;
  const auto& c = model.config().vit;
  const auto P = model.named_parameters();
  const int64_t hd = c.head_dim_resolved();
  const bool l2 = criterion == Criterion::kL2;
  Importance imp;
  for (int b = 0; b < c.depth; ++b) {
    auto e = [&](const char* n) { return elem(get(P, bname(b, n)), criterion); };
    auto h = head_sums(e("attn.qkv.weight"), e("attn.qkv.bias"), e("attn.proj.weight"),
                       c.heads_of(b), hd);
    auto m = mlp_sums(e("mlp.fc1.weight"), e("mlp.fc1.bias"), e("mlp.fc2.weight"));
    imp.heads.push_back(to_vec(l2 ? h.sqrt() : h));
    imp.mlp.push_back(to_vec(l2 ? m.sqrt() : m));
    double sum = 0.0;
    int64_t count = 0;
    for (const char* n : kBlockWeights) {
      sum += e(n).sum().item<double>();
      count += get(P, bname(b, n)).numel();
    }
    const double mean = sum / static_cast<double>(std::max<int64_t>(count, 1));
    imp.blocks.push_back(l2 ? std::sqrt(mean) : mean);
  }
  return imp;
}

Importance taylor_importance(models::VisionTransformer& model, const BatchSource& batches,
                             torch::Device device) {
  if (!batches) throw Error("prune: the taylor criterion needs calibration data (--calib)");
  const auto& c = model.config().vit;
  const int64_t hd = c.head_dim_resolved();
  const bool was_training = model.is_training();
  model.eval();  // dropout / drop-path off: score the function that is deployed
  model.to(device);
  auto P = model.named_parameters();
  Importance imp;
  imp.heads.assign(c.depth, std::vector<double>(0));
  std::vector<torch::Tensor> heads(c.depth), mlp(c.depth), blocks(c.depth);
  for (int b = 0; b < c.depth; ++b) {
    heads[b] = torch::zeros({c.heads_of(b)}, torch::kFloat64);
    mlp[b] = torch::zeros({c.mlp_of(b)}, torch::kFloat64);
    blocks[b] = torch::zeros({}, torch::kFloat64);
  }
  model.zero_grad();
  int64_t n_batches = 0;
  batches([&](const torch::Tensor& x, const torch::Tensor& y) {
    auto logits = model.forward(x.to(device));
    auto loss = torch::nn::functional::cross_entropy(logits, y.to(device));
    loss.backward();
    torch::NoGradGuard g;
    // |w * dL/dw| per weight, summed per unit; one batch at a time (accumulated over batches).
    auto s = [&](const std::string& n) {
      const auto& w = get(P, n);
      if (!w.grad().defined()) return torch::zeros_like(w, torch::kFloat64).cpu();
      return (w.detach() * w.grad()).abs().to(torch::kCPU, torch::kFloat64);
    };
    for (int b = 0; b < c.depth; ++b) {
      heads[b] += head_sums(s(bname(b, "attn.qkv.weight")), s(bname(b, "attn.qkv.bias")),
                            s(bname(b, "attn.proj.weight")), c.heads_of(b), hd);
      mlp[b] += mlp_sums(s(bname(b, "mlp.fc1.weight")), s(bname(b, "mlp.fc1.bias")),
                         s(bname(b, "mlp.fc2.weight")));
      const std::string prefix = "blocks." + std::to_string(b) + ".";
      for (const auto& p : P)
        if (p.key().rfind(prefix, 0) == 0) blocks[b] += s(p.key()).sum();
    }
    model.zero_grad();
    ++n_batches;
  });
  if (n_batches == 0) throw Error("prune: the calibration data gave no batches");
  model.train(was_training);
  for (int b = 0; b < c.depth; ++b) {
    imp.heads[b] = to_vec(heads[b]);
    imp.mlp.push_back(to_vec(mlp[b]));
    imp.blocks.push_back(blocks[b].item<double>());
  }
  return imp;
}

PrunePlan full_plan(const models::ModelConfig& config) {
  const auto& c = config.vit;
  PrunePlan p;
  for (int b = 0; b < c.depth; ++b) {
    p.blocks.push_back(b);
    std::vector<int64_t> h(c.heads_of(b)), m(c.mlp_of(b));
    std::iota(h.begin(), h.end(), 0);
    std::iota(m.begin(), m.end(), 0);
    p.heads.push_back(std::move(h));
    p.mlp.push_back(std::move(m));
  }
  return p;
}

PrunePlan plan_pruning(const models::ModelConfig& config, const Importance& imp,
                       const PruneOptions& o) {
  if (config.family != "vit") throw Error("prune: only ViT models can be pruned");
  const auto& c = config.vit;
  check_fraction(o.heads, "heads");
  check_fraction(o.mlp, "mlp");
  if (o.blocks < 0 || (c.depth > 0 && o.blocks >= c.depth))
    throw Error(fmt::format("prune: --blocks must be in [0, {}] for a {}-block model, got {}",
                            c.depth - 1, c.depth, o.blocks));
  if (static_cast<int>(imp.heads.size()) != c.depth || static_cast<int>(imp.mlp.size()) != c.depth ||
      static_cast<int>(imp.blocks.size()) != c.depth)
    throw Error("prune: importance scores do not match the model's depth");
  if ((!o.ref_heads.empty() && static_cast<int>(o.ref_heads.size()) != c.depth) ||
      (!o.ref_mlp.empty() && static_cast<int>(o.ref_mlp.size()) != c.depth))
    throw Error("prune: reference widths do not match the model's depth");

  // 1. Blocks: drop the `o.blocks` lowest block scores.
  std::vector<int64_t> kb64 = top_k(imp.blocks, c.depth - o.blocks);
  PrunePlan plan;
  std::vector<std::vector<double>> hs, ms;
  std::vector<int64_t> hcur, hrefs, mcur, mrefs;
  for (int64_t b : kb64) {
    plan.blocks.push_back(static_cast<int>(b));
    hs.push_back(imp.heads[b]);
    ms.push_back(imp.mlp[b]);
    hcur.push_back(c.heads_of(static_cast<int>(b)));
    mcur.push_back(c.mlp_of(static_cast<int>(b)));
    hrefs.push_back(o.ref_heads.empty() ? hcur.back() : o.ref_heads[b]);
    mrefs.push_back(o.ref_mlp.empty() ? mcur.back() : o.ref_mlp[b]);
    if (static_cast<int64_t>(imp.heads[b].size()) != hcur.back() ||
        static_cast<int64_t>(imp.mlp[b].size()) != mcur.back())
      throw Error(fmt::format("prune: importance of block {} does not match its widths", b));
  }
  // 2. Heads and MLP units of the kept blocks.
  const auto hk = keep_counts(hs, hcur, hrefs, o.heads, o.global, o.min_heads, 1);
  const auto mk = keep_counts(ms, mcur, mrefs, o.mlp, o.global, o.min_mlp, o.mlp_multiple);
  for (size_t j = 0; j < plan.blocks.size(); ++j) {
    plan.heads.push_back(top_k(hs[j], hk[j]));
    plan.mlp.push_back(top_k(ms[j], mk[j]));
  }
  return plan;
}

models::ModelConfig pruned_config(const models::ModelConfig& config, const PrunePlan& plan) {
  models::ModelConfig out = config;
  auto& v = out.vit;
  v.head_dim = config.vit.head_dim_resolved();
  v.depth = static_cast<int>(plan.blocks.size());
  v.block_heads.clear();
  v.block_mlp.clear();
  for (size_t j = 0; j < plan.blocks.size(); ++j) {
    v.block_heads.push_back(static_cast<int>(plan.heads.at(j).size()));
    v.block_mlp.push_back(static_cast<int>(plan.mlp.at(j).size()));
  }
  models::validate(out);
  return out;
}

models::ClassifierPtr apply_plan(const models::Classifier& model, const PrunePlan& plan) {
  const auto& vit = as_vit(model);
  const auto& c = vit.config().vit;
  if (plan.heads.size() != plan.blocks.size() || plan.mlp.size() != plan.blocks.size())
    throw Error("prune: malformed plan (blocks, heads and mlp lists differ in length)");
  for (size_t j = 0; j < plan.blocks.size(); ++j) {
    const int b = plan.blocks[j];
    if (b < 0 || b >= c.depth) throw Error(fmt::format("prune: plan names block {}", b));
    for (int64_t h : plan.heads[j])
      if (h < 0 || h >= c.heads_of(b)) throw Error(fmt::format("prune: block {} has no head {}", b, h));
    for (int64_t u : plan.mlp[j])
      if (u < 0 || u >= c.mlp_of(b)) throw Error(fmt::format("prune: block {} has no MLP unit {}", b, u));
  }
  const models::ModelConfig cfg = pruned_config(vit.config(), plan);
  auto out = models::build_model(cfg);

  torch::NoGradGuard g;
  const auto src = vit.named_parameters();
  auto dst = out->named_parameters();
  const int64_t hd = c.head_dim_resolved();
  auto cpu = [](const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat32); };
  auto idx = [](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); };
  for (auto& p : dst) {
    const std::string& name = p.key();
    torch::Tensor v;
    if (name.rfind("blocks.", 0) != 0) {
      v = cpu(get(src, name));
    } else {
      // "blocks.<j>.<rest>" -> the kept block's original index and its slices.
      const size_t dot = name.find('.', 7);
      const size_t j = std::stoul(name.substr(7, dot - 7));
      const std::string rest = name.substr(dot + 1);
      const int b = plan.blocks.at(j);
      const torch::Tensor s = cpu(get(src, bname(b, rest.c_str())));
      const int64_t A = c.heads_of(b) * hd;
      if (rest == "attn.qkv.weight" || rest == "attn.qkv.bias") {
        // rows p*A + h*hd + d for p in {q, k, v}, kept h (in order), d < hd
        std::vector<int64_t> rows;
        for (int64_t part = 0; part < 3; ++part)
          for (int64_t h : plan.heads[j])
            for (int64_t d = 0; d < hd; ++d) rows.push_back(part * A + h * hd + d);
        v = s.index_select(0, idx(rows));
      } else if (rest == "attn.proj.weight") {
        std::vector<int64_t> cols;
        for (int64_t h : plan.heads[j])
          for (int64_t d = 0; d < hd; ++d) cols.push_back(h * hd + d);
        v = s.index_select(1, idx(cols));
      } else if (rest == "mlp.fc1.weight" || rest == "mlp.fc1.bias") {
        v = s.index_select(0, idx(plan.mlp[j]));
      } else if (rest == "mlp.fc2.weight") {
        v = s.index_select(1, idx(plan.mlp[j]));
      } else {
        v = s;  // norms, proj / fc2 biases: unchanged
      }
    }
    if (v.sizes() != p.value().sizes())
      throw Error(fmt::format("prune: '{}' sliced to {} but the pruned model expects {}", name,
                              fmt::join(v.sizes(), "x"), fmt::join(p.value().sizes(), "x")));
    p.value().copy_(v);
  }
  out->train(model.is_training());
  return out;
}

std::string describe_plan(const models::ModelConfig& config, const PrunePlan& plan) {
  const auto& c = config.vit;
  std::ostringstream os;
  std::vector<bool> kept(static_cast<size_t>(c.depth), false);
  for (size_t j = 0; j < plan.blocks.size(); ++j) {
    const int b = plan.blocks[j];
    kept[b] = true;
    os << fmt::format("  block {} <- {}: heads {} -> {} [{}], mlp {} -> {}\n", j, b, c.heads_of(b),
                      plan.heads[j].size(), fmt::join(plan.heads[j], ","), c.mlp_of(b),
                      plan.mlp[j].size());
  }
  for (int b = 0; b < c.depth; ++b)
    if (!kept[b]) os << fmt::format("  block {} removed\n", b);
  return os.str();
}

PruneResult prune_vit(models::Classifier& model, const PruneOptions& options, Criterion criterion,
                      const BatchSource& batches, torch::Device device) {
  auto* vit = dynamic_cast<models::VisionTransformer*>(&model);
  if (!vit) as_vit(model);  // throws the readable error
  PruneResult r;
  r.importance = criterion == Criterion::kTaylor ? taylor_importance(*vit, batches, device)
                                                 : magnitude_importance(*vit, criterion);
  r.plan = plan_pruning(model.config(), r.importance, options);
  r.model = apply_plan(model, r.plan);
  return r;
}

PruneResult prune_iterative(models::Classifier& model, const PruneOptions& total, int steps,
                            Criterion criterion, const BatchSource& batches,
                            const RecoverFn& recover, torch::Device device) {
  if (steps < 1) throw Error("prune: --steps must be >= 1");
  const auto& c0 = model.config().vit;
  // Original widths and indices of the blocks of the current model.
  std::vector<int> ref_heads, ref_mlp;
  for (int b = 0; b < c0.depth; ++b) {
    ref_heads.push_back(c0.heads_of(b));
    ref_mlp.push_back(c0.mlp_of(b));
  }
  PrunePlan composed = full_plan(model.config());
  models::ClassifierPtr current;
  models::Classifier* cur = &model;
  PruneResult r;
  for (int k = 1; k <= steps; ++k) {
    PruneOptions o = total;
    o.heads = total.heads * k / steps;
    o.mlp = total.mlp * k / steps;
    o.blocks = static_cast<int>(std::lround(double(total.blocks) * k / steps) -
                                std::lround(double(total.blocks) * (k - 1) / steps));
    o.ref_heads = ref_heads;
    o.ref_mlp = ref_mlp;
    PruneResult step = prune_vit(*cur, o, criterion, batches, device);
    // Compose: indices of this step refer to `composed`'s kept units.
    PrunePlan next;
    std::vector<int> nrh, nrm;
    for (size_t j = 0; j < step.plan.blocks.size(); ++j) {
      const int b = step.plan.blocks[j];
      next.blocks.push_back(composed.blocks[b]);
      std::vector<int64_t> h, m;
      for (int64_t i : step.plan.heads[j]) h.push_back(composed.heads[b][i]);
      for (int64_t i : step.plan.mlp[j]) m.push_back(composed.mlp[b][i]);
      next.heads.push_back(std::move(h));
      next.mlp.push_back(std::move(m));
      nrh.push_back(ref_heads[b]);
      nrm.push_back(ref_mlp[b]);
    }
    composed = std::move(next);
    ref_heads = std::move(nrh);
    ref_mlp = std::move(nrm);
    current = recover ? recover(step.model, k) : step.model;
    cur = current.get();
    r.importance = std::move(step.importance);
  }
  r.model = current;
  r.plan = std::move(composed);
  return r;
}

}  // namespace tinyvit::prune
