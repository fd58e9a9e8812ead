#include "quantize/quant_sim.h"

#include <cmath>

#include "common/error.h"
#include "export/tflite_export_int8.h"
#include "quantize/litert_arith.h"

namespace tinyvit::quantize {
namespace {

namespace F = torch::nn::functional;
using exporter::QuantParam;

// Straight-through: forward = q, backward = identity (w.r.t. x).
torch::Tensor straight_through(const torch::Tensor& x, const torch::Tensor& q) {
  return x + (q - x).detach();
}

}  // namespace

bool QuantSim::quant_on(const std::string& name) const {
  return mode == SimMode::kQuant && (!quantize_activation || quantize_activation(name));
}

QuantParam QuantSim::act_param(const std::string& name) const {
  if (name == "image") return exporter::pixel_param();
  auto it = table.find(name);
  if (it == table.end())
    throw Error("quantize: the quantization table has no entry for '" + name + "'");
  return it->second;
}

torch::Tensor QuantSim::qp(const std::string& name, const torch::Tensor& x) {
  if (mode == SimMode::kCalibrate && observer) observer->observe(name, x);
  if (!quant_on(name)) return x;
  return qfixed(name, x, act_param(name));
}

torch::Tensor QuantSim::qfixed(const std::string& name, const torch::Tensor& x, QuantParam p) {
  if (!quant_on(name)) return x;
  auto q = exporter::fake_quant(x, p);
  if (capture) (*capture)[name] = q.detach();
  return ste ? straight_through(x, q) : q;
}

torch::Tensor QuantSim::qconst(const std::string& name, const torch::Tensor& x, QuantParam p) {
  if (mode != SimMode::kQuant || (quantize_weight && !quantize_weight(name))) return x;
  auto q = exporter::fake_quant(x, p);
  return ste ? straight_through(x, q) : q;
}

torch::Tensor QuantSim::weight(const std::string& name) {
  const auto& w = exporter::param(F_, name + ".weight");
  const torch::Tensor& wr = F_.at(name + ".weight");  // the (possibly trainable) tensor itself
  if (mode != SimMode::kQuant || (quantize_weight && !quantize_weight(name))) return wr;
  auto q = exporter::quantize_weight(w).dequantized();
  return ste ? straight_through(wr, q) : q;
}

torch::Tensor QuantSim::bias(const std::string& name, const std::string& input) {
  const torch::Tensor& b = F_.at(name + ".bias");
  if (mode != SimMode::kQuant || (quantize_weight && !quantize_weight(name))) return b;
  const auto ws = exporter::quantize_weight(F_.at(name + ".weight")).scale;
  const float in_scale = act_param(input).scale;
  auto q = exporter::quantize_bias(b, in_scale, ws).to(torch::kFloat64) *
           exporter::bias_scale(in_scale, ws).to(torch::kFloat64);
  q = q.to(torch::kFloat32);
  return ste ? straight_through(b, q) : q;
}

torch::Tensor QuantSim::normalize(const torch::Tensor& x, torch::Tensor scale,
                                  torch::Tensor shift) {
  scale = qconst("normalize.scale", scale, exporter::const_params(scale));
  shift = qconst("normalize.shift", shift, exporter::const_params(shift));
  return qp("normalize", qp("normalize.scaled", x * scale.view({1, -1, 1, 1})) +
                             shift.view({1, -1, 1, 1}));
}

torch::Tensor QuantSim::linear(const torch::Tensor& x, const std::string& name,
                               const std::string& input) {
  return F::linear(x, weight(name), bias(name, input));
}

namespace {

class VitSim : public QuantSim {
 public:
  VitSim(const models::ModelConfig& c, exporter::ParamMap folded) : QuantSim(c, std::move(folded)) {
    const auto& v = config_.vit;
    for (std::size_t j = 0; j < v.stem_channels.size(); ++j)
      layers_.push_back("patch_embed.stem." + std::to_string(j));
    layers_.push_back("patch_embed.proj");
    for (int i = 0; i < v.depth; ++i) {
      const std::string b = "blocks." + std::to_string(i);
      for (const char* l : {".attn.q", ".attn.k", ".attn.v", ".attn.proj", ".mlp.fc1", ".mlp.fc2"})
        layers_.push_back(b + l);
    }
    layers_.push_back("logits");
  }

  // u = (x - mu) / ||x - mu||_2 = z / sqrt(D), as the int8 graph (MEAN, SUB,
  // L2_NORMALIZATION with its output fixed at 1/128, 0); the next linear layer's folded weights
  // hold sqrt(D). kFloat keeps eps (the model itself); kQuant drops it like the graph.
  torch::Tensor ln(const torch::Tensor& x, const std::string& name) {
    const double inv_sqrt_d = 1.0 / std::sqrt(static_cast<double>(x.size(-1)));
    const auto fixed = exporter::l2norm_output_param();
    auto normalize = [&](const torch::Tensor& d) {
      return d * torch::rsqrt(d.pow(2).mean(-1, true) + config_.vit.ln_eps) * inv_sqrt_d;
    };
    if (float_layers.count(name)) {
      return qfixed(name, normalize(x - x.mean(-1, true)), fixed);
    }
    auto mu = qp(name + ".mean", x.mean(-1, true));
    auto d = qp(name + ".centered", x - mu);
    auto u = quant_on(name) ? d * torch::rsqrt(torch::clamp_min(d.pow(2).sum(-1, true), 1e-30))
                            : normalize(d);
    return qfixed(name, u, fixed);
  }

  // SimMode::kExact: lower_vit_int8's graph, op for op, on stored int8 values (int64 tensors)
  // with LiteRT's arithmetic; the same folded weights and table as the exporter.
  torch::Tensor forward_exact(const torch::Tensor& pixels) {
    namespace L = litert;
    if (!float_layers.empty() || quantize_activation || quantize_weight || config_.vit.distill_token)
      throw Error("quantize: the exact int8 simulation needs a fully int8 ViT without "
                  "distillation token");
    const auto& c = config_.vit;
    const int64_t B = pixels.size(0);
    const int hd = c.head_dim_resolved();
    auto P = [&](const std::string& n) { return act_param(n); };
    auto W = [&](const std::string& n) { return F_.at(n + ".weight"); };
    auto Bi = [&](const std::string& n) { return F_.at(n + ".bias"); };
    const QuantParam l2p = exporter::l2norm_output_param();
    auto ln = [&](const torch::Tensor& x, QuantParam px, const std::string& n) {
      auto mu = L::mean_last(x, px, P(n + ".mean"));
      auto d = L::add(x, px, mu, P(n + ".mean"), P(n + ".centered"), true);
      return L::l2_normalization(d, P(n + ".centered"));
    };
    auto img = L::quantize(pixels, exporter::pixel_param());
    QuantParam pin = exporter::pixel_param();
    if (F_.count("normalize.scale")) {  // convolutional tokenizer: MUL + ADD per channel
      const auto& sc = F_.at("normalize.scale");
      const auto& sh = F_.at("normalize.shift");
      const QuantParam psc = exporter::const_params(sc), psh = exporter::const_params(sh);
      img = L::mul(img, pin, L::constant(sc, psc).view({1, -1, 1, 1}), psc, P("normalize.scaled"));
      img = L::add(img, P("normalize.scaled"), L::constant(sh, psh).view({1, -1, 1, 1}), psh,
                   P("normalize"), false);
      pin = P("normalize");
    }
    for (std::size_t j = 0; j < c.stem_channels.size(); ++j) {
      const std::string n = "patch_embed.stem." + std::to_string(j);
      img = L::max_pool(L::conv2d(img, pin, W(n), Bi(n), 1, P(n), 1, true), 2);
      pin = P(n);  // MAX_POOL_2D keeps its input's parameters
    }
    auto t = L::conv2d(img, pin, W("patch_embed.proj"), Bi("patch_embed.proj"), c.patch_size,
                       P("patch_embed.proj"));
    t = t.flatten(2).transpose(1, 2);  // (B, N, D)
    if (P("patch_embed.proj") != P("tokens"))
      throw Error("quantize: exact int8 simulation: tokens and patch embedding parameters differ");
    auto cls = L::constant(F_.at("cls_token"), P("tokens"));
    auto x = torch::cat({cls.expand({B, -1, -1}), t}, 1);  // (B, T, D)
    const auto& pos = F_.at("pos_embed");
    const QuantParam pp = exporter::const_params(pos);
    x = L::add(x, P("tokens"), L::constant(pos, pp), pp, P("tokens.pos"), false);
    QuantParam px = P("tokens.pos");
    const int64_t T = x.size(1);
    for (int i = 0; i < c.depth; ++i) {
      const std::string blk = "blocks." + std::to_string(i);
      const int64_t H = c.heads_of(i), A = H * hd;
      auto heads = [&](const torch::Tensor& y) { return y.reshape({B, T, H, hd}).permute({0, 2, 1, 3}); };
      auto z = ln(x, px, blk + ".norm1");
      auto fc = [&](const torch::Tensor& in, QuantParam pin, const std::string& n) {
        return L::fully_connected(in, pin, W(n), Bi(n), P(n));
      };
      auto q = heads(fc(z, l2p, blk + ".attn.q"));
      auto k = heads(fc(z, l2p, blk + ".attn.k"));
      auto v = heads(fc(z, l2p, blk + ".attn.v"));
      auto s = L::batch_matmul(q, P(blk + ".attn.q"), k.transpose(-2, -1), P(blk + ".attn.k"),
                               P(blk + ".attn.scores"));
      auto a = L::softmax(s, P(blk + ".attn.scores"));
      auto ctx = L::batch_matmul(a, exporter::softmax_output_param(), v, P(blk + ".attn.v"),
                                 P(blk + ".attn.context"));
      ctx = ctx.permute({0, 2, 1, 3}).reshape({B, T, A});
      auto proj = fc(ctx, P(blk + ".attn.context"), blk + ".attn.proj");
      x = L::add(x, px, proj, P(blk + ".attn.proj"), P(blk + ".attn.residual"), false);
      px = P(blk + ".attn.residual");
      z = ln(x, px, blk + ".norm2");
      auto h = fc(z, l2p, blk + ".mlp.fc1");
      h = L::gelu(h, P(blk + ".mlp.fc1"), P(blk + ".mlp.gelu"));
      h = fc(h, P(blk + ".mlp.gelu"), blk + ".mlp.fc2");
      x = L::add(x, px, h, P(blk + ".mlp.fc2"), P(blk + ".mlp.residual"), false);
      px = P(blk + ".mlp.residual");
    }
    auto z = ln(x, px, "norm").slice(1, 0, c.num_prefix_tokens()).flatten(1);
    auto logits = L::fully_connected(z, l2p, W("logits"), Bi("logits"), P("logits"));
    return L::dequantize(logits, P("logits"));
  }

  torch::Tensor forward(const torch::Tensor& pixels) override {
    if (mode == SimMode::kExact) return forward_exact(pixels);
    const auto& c = config_.vit;
    const int64_t B = pixels.size(0);
    const int hd = c.head_dim_resolved();
    auto x = qfixed("image", pixels, exporter::pixel_param());
    std::string in = "image";
    if (F_.count("normalize.scale")) {  // convolutional tokenizer: (x - m) / s as MUL + ADD
      x = normalize(x, F_.at("normalize.scale"), F_.at("normalize.shift"));
      in = "normalize";
    }
    for (std::size_t j = 0; j < c.stem_channels.size(); ++j) {  // conv 3x3 + ReLU, 2x2 pool
      const std::string n = "patch_embed.stem." + std::to_string(j);
      auto y = F::conv2d(x, weight(n), F::Conv2dFuncOptions().bias(bias(n, in)).padding(1));
      x = torch::max_pool2d(qp(n, torch::relu(y)), 2, 2);
      in = n;
    }
    auto t = F::conv2d(x, weight("patch_embed.proj"),
                       F::Conv2dFuncOptions().bias(bias("patch_embed.proj", in))
                           .stride(c.patch_size));
    t = t.flatten(2).transpose(1, 2);  // (B, N, D)
    auto cls = F_.at("cls_token");
    if (mode == SimMode::kQuant) cls = qconst("cls_token", cls, act_param("tokens"));
    x = qp("tokens", torch::cat({cls.expand({B, -1, -1}), t}, 1));  // (B, T, D)
    const auto& pos = F_.at("pos_embed");
    x = qp("tokens.pos", x + qconst("pos_embed", pos, exporter::const_params(pos)));
    const int64_t T = x.size(1);
    for (int i = 0; i < c.depth; ++i) {
      const std::string blk = "blocks." + std::to_string(i);
      const int64_t H = c.heads_of(i), A = H * hd;
      auto z = ln(x, blk + ".norm1");
      auto heads = [&](const torch::Tensor& y) {  // (B, T, A) -> (B, H, T, hd)
        return y.reshape({B, T, H, hd}).permute({0, 2, 1, 3});
      };
      auto q = heads(qp(blk + ".attn.q", linear(z, blk + ".attn.q", blk + ".norm1")));
      auto k = heads(qp(blk + ".attn.k", linear(z, blk + ".attn.k", blk + ".norm1")));
      auto v = heads(qp(blk + ".attn.v", linear(z, blk + ".attn.v", blk + ".norm1")));
      auto s = qp(blk + ".attn.scores", torch::matmul(q, k.transpose(-2, -1)));  // (B,H,T,T)
      auto a = qfixed(blk + ".attn.softmax", torch::softmax(s, -1),
                      exporter::softmax_output_param());
      auto ctx = qp(blk + ".attn.context", torch::matmul(a, v));               // (B,H,T,hd)
      ctx = ctx.permute({0, 2, 1, 3}).reshape({B, T, A});
      auto proj = qp(blk + ".attn.proj", linear(ctx, blk + ".attn.proj", blk + ".attn.context"));
      x = qp(blk + ".attn.residual", x + proj);
      z = ln(x, blk + ".norm2");
      auto h = qp(blk + ".mlp.fc1", linear(z, blk + ".mlp.fc1", blk + ".norm2"));
      h = qp(blk + ".mlp.gelu", torch::gelu(h));
      h = qp(blk + ".mlp.fc2", linear(h, blk + ".mlp.fc2", blk + ".mlp.gelu"));
      x = qp(blk + ".mlp.residual", x + h);
    }
    // final LayerNorm on every token, then the prefix token(s), as the int8 graph
    auto z = ln(x, "norm").slice(1, 0, c.num_prefix_tokens()).flatten(1);  // (B, prefix * D)
    return qp("logits", linear(z, "logits", "norm"));
  }
};

class ResNetSim : public QuantSim {
 public:
  ResNetSim(const models::ModelConfig& c, exporter::ParamMap folded, std::vector<float> mean,
            std::vector<float> std)
      : QuantSim(c, std::move(folded)), mean_(std::move(mean)), std_(std::move(std)) {
    layers_.push_back("conv1");
    for (std::size_t l = 0; l < config_.resnet.layers.size(); ++l)
      for (int j = 0; j < config_.resnet.layers[l]; ++j) {
        const std::string blk = "layer" + std::to_string(l + 1) + "." + std::to_string(j);
        layers_.push_back(blk + ".conv1");
        layers_.push_back(blk + ".conv2");
        if (F_.count(blk + ".downsample.0.weight")) layers_.push_back(blk + ".downsample.0");
      }
    layers_.push_back("logits");
  }

  torch::Tensor conv(const torch::Tensor& x, const std::string& name, const std::string& input,
                     int stride, int pad, bool relu) {
    auto y = F::conv2d(x, weight(name),
                       F::Conv2dFuncOptions().bias(bias(name, input)).stride(stride).padding(pad));
    return qp(name, relu ? torch::relu(y) : y);
  }

  torch::Tensor forward(const torch::Tensor& pixels) override {
    if (mode == SimMode::kExact)
      throw Error("quantize: the exact int8 simulation is implemented for ViTs only");
    const auto& c = config_.resnet;
    auto x = qfixed("image", pixels, exporter::pixel_param());
    std::string in = "image";
    if (!mean_.empty()) {
      auto m = torch::tensor(mean_), s = torch::tensor(std_);
      x = normalize(x, 1.0f / s, -m / s);
      in = "normalize";
    }
    if (c.stem == "imagenet") {
      x = conv(x, "conv1", in, 2, 3, true);
      x = torch::max_pool2d(x, 3, 2, 1);  // x >= 0: same as the graph's zero PAD + VALID pool
    } else {
      x = conv(x, "conv1", in, 1, 1, true);
    }
    in = "conv1";
    for (std::size_t l = 0; l < c.layers.size(); ++l) {
      for (int j = 0; j < c.layers[l]; ++j) {
        const std::string blk = "layer" + std::to_string(l + 1) + "." + std::to_string(j);
        const int stride = (l > 0 && j == 0) ? 2 : 1;
        auto out = conv(x, blk + ".conv1", in, stride, 1, true);
        out = conv(out, blk + ".conv2", blk + ".conv1", 1, 1, false);
        auto sc = x;
        if (F_.count(blk + ".downsample.0.weight"))
          sc = conv(x, blk + ".downsample.0", in, stride, 0, false);
        x = qp(blk, torch::relu(out + sc));
        in = blk;
      }
    }
    x = qp("avgpool", x.mean({2, 3}));
    return qp("logits", linear(x, "logits", "avgpool"));
  }

 private:
  std::vector<float> mean_, std_;
};

}  // namespace

std::unique_ptr<QuantSim> make_quant_sim(const models::ModelConfig& config,
                                         const exporter::ParamMap& params,
                                         const std::vector<float>& mean,
                                         const std::vector<float>& std) {
  if (config.family == "vit")
    return std::make_unique<VitSim>(config, exporter::fold_vit_int8(config.vit, params, mean, std));
  if (config.family == "resnet")
    return std::make_unique<ResNetSim>(config, exporter::fold_resnet_int8(config.resnet, params),
                                       mean, std);
  throw Error("quantize: model family '" + config.family + "' is not supported");
}

}  // namespace tinyvit::quantize
