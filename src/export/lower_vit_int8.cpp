// ViT -> full-integer int8 TFLite ops. Same graph as lower_vit.cpp with these differences:
//   * LayerNorm is 3 int8 ops: mu = MEAN(x); d = SUB(x, mu); u = L2_NORMALIZATION(d), so
//     u = d / ||d|| = z / sqrt(D) with z the normalized value (eps dropped). The row's sum of
//     squares and its inverse square root stay in int32 inside L2_NORMALIZATION (TFLite's
//     integer kernel), where an int8 variance + RSQRT lost most of the precision of
//     low-variance tokens. u is fixed at 1/128, 0; gamma * sqrt(D) and beta are folded into
//     the next linear layer (fold_vit_int8).
//   * a convolutional tokenizer runs as in the float graph, the normalization as an int8
//     per-channel MUL + ADD (fold_vit_int8 stores it when it cannot fold)
//   * the patch-embedding output is quantized with the parameters of the token CONCATENATION
//     (shared parameters are a TFLite rule), and the cls token constant with them too.
// Shapes are TFLite's; T tokens, D embed dim, H_i heads of width hd, M_i MLP width.
#include <cmath>
#include <set>

#include "common/error.h"
#include "export/lower_int8.h"
#include "export/tflite_export_int8.h"

namespace tinyvit::exporter {

ParamMap fold_vit_int8(const models::VitConfig& c, const ParamMap& P,
                       const std::vector<float>& mean, const std::vector<float>& std) {
  torch::NoGradGuard no_grad;
  const int p = c.patch_size, C = c.in_chans, D = c.embed_dim, T = c.num_tokens();
  const int Cp = c.proj_in_chans(), hd = c.head_dim_resolved(), K = c.num_classes;
  ParamMap F;
  torch::Tensor w = param(P, "patch_embed.proj.weight", {D, Cp, p, p}).clone();
  torch::Tensor b = param(P, "patch_embed.proj.bias", {D}).clone();
  if (!c.stem_channels.empty()) {
    // Convolutional tokenizer: its 3x3 convs zero-pad the normalized image, so the
    // normalization stays in the graph: (x - m) / s = x * (1 / s) + (-m / s), per channel.
    if (!mean.empty()) {
      auto m = torch::tensor(mean), s = torch::tensor(std);
      F["normalize.scale"] = 1.0f / s;
      F["normalize.shift"] = -m / s;
    }
    int cin = C;
    for (std::size_t j = 0; j < c.stem_channels.size(); ++j) {
      const std::string n = "patch_embed.stem." + std::to_string(j);
      const int cw = c.stem_channels[j];
      F[n + ".weight"] = param(P, n + ".weight", {cw, cin, 3, 3});
      F[n + ".bias"] = param(P, n + ".bias", {cw});
      cin = cw;
    }
  } else if (!mean.empty()) {  // conv(W, (x - m) / s) + b = conv(W / s, x) + b - sum W m / s
    auto m = torch::tensor(mean), s = torch::tensor(std);
    b = b - (w * (m / s).view({1, C, 1, 1})).sum({1, 2, 3});
    w = w / s.view({1, C, 1, 1});
  }
  F["patch_embed.proj.weight"] = w;
  F["patch_embed.proj.bias"] = b;
  torch::Tensor prefix = param(P, "cls_token", {1, 1, D});
  if (c.distill_token) prefix = torch::cat({prefix, param(P, "dist_token", {1, 1, D})}, 1);
  F["cls_token"] = prefix;
  F["pos_embed"] = param(P, "pos_embed", {1, T, D});

  // Linear after a LayerNorm whose int8 output is u = z / sqrt(D) (L2_NORMALIZATION):
  //   W (z * g + beta) + b = (W diag(g sqrt(D))) u + (W beta + b)
  const float sqrt_d = static_cast<float>(std::sqrt(static_cast<double>(D)));
  auto fold = [sqrt_d](const torch::Tensor& W, const torch::Tensor& bias, const torch::Tensor& g,
                       const torch::Tensor& beta) {
    return std::make_pair(W * (g * sqrt_d).view({1, -1}), bias + torch::mv(W, beta));
  };
  const float qscale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  for (int i = 0; i < c.depth; ++i) {
    const std::string blk = "blocks." + std::to_string(i);
    const int H = c.heads_of(i), M = c.mlp_of(i), A = H * hd;
    if (H <= 0 || M <= 0) throw Error("export int8: " + blk + " has no heads or no MLP units");
    const auto g1 = param(P, blk + ".norm1.weight", {D}), b1 = param(P, blk + ".norm1.bias", {D});
    const auto wqkv = param(P, blk + ".attn.qkv.weight", {3 * A, D});
    const auto bqkv = param(P, blk + ".attn.qkv.bias", {3 * A});
    const char* names[3] = {".attn.q", ".attn.k", ".attn.v"};
    for (int k = 0; k < 3; ++k) {
      auto [wk, bk] = fold(wqkv.slice(0, k * A, (k + 1) * A), bqkv.slice(0, k * A, (k + 1) * A),
                           g1, b1);
      if (k == 0) {
        wk = wk * qscale;
        bk = bk * qscale;
      }
      F[blk + names[k] + ".weight"] = wk.contiguous();
      F[blk + names[k] + ".bias"] = bk.contiguous();
    }
    F[blk + ".attn.proj.weight"] = param(P, blk + ".attn.proj.weight", {D, A});
    F[blk + ".attn.proj.bias"] = param(P, blk + ".attn.proj.bias", {D});
    auto [w1, bb1] = fold(param(P, blk + ".mlp.fc1.weight", {M, D}),
                          param(P, blk + ".mlp.fc1.bias", {M}), param(P, blk + ".norm2.weight", {D}),
                          param(P, blk + ".norm2.bias", {D}));
    F[blk + ".mlp.fc1.weight"] = w1.contiguous();
    F[blk + ".mlp.fc1.bias"] = bb1.contiguous();
    F[blk + ".mlp.fc2.weight"] = param(P, blk + ".mlp.fc2.weight", {D, M});
    F[blk + ".mlp.fc2.bias"] = param(P, blk + ".mlp.fc2.bias", {D});
  }
  const auto gn = param(P, "norm.weight", {D}), bn = param(P, "norm.bias", {D});
  auto [hw, hb] = fold(param(P, "head.weight", {K, D}), param(P, "head.bias", {K}), gn, bn);
  if (c.distill_token) {
    // (head(x_cls) + head_dist(x_dist)) / 2 as one FULLY_CONNECTED on [z_cls, z_dist]
    auto [dw, db] = fold(param(P, "head_dist.weight", {K, D}), param(P, "head_dist.bias", {K}),
                         gn, bn);
    hw = torch::cat({hw, dw}, 1) * 0.5f;
    hb = (hb + db) * 0.5f;
  }
  F["logits.weight"] = hw.contiguous();
  F["logits.bias"] = hb.contiguous();
  return F;
}

namespace {

// u = (x - mean(x)) / ||x - mean(x)||_2 = z / sqrt(D) over the last axis (1/128, 0); 3 int8 ops.
int layer_norm_core(QEmitter& e, int x, const std::string& name,
                    const std::set<std::string>& float_layers, double eps) {
  if (float_layers.count(name)) {
    // float island: u = (x - mu) * rsqrt(var + eps) / sqrt(D), then back to int8
    Emitter f(e.graph());
    const int D = e.shape(x).back();
    const int xf = e.dequantize(x, name + ".float_in");
    const int mu = f.mean(xf, {-1}, true, name + ".mean");
    const int var = f.mean(f.squared_difference(xf, mu, name + ".sqdiff"), {-1}, true,
                           name + ".var");
    const int r = f.rsqrt(f.add(var, f.scalar(name + ".eps", static_cast<float>(eps)),
                                name + ".var_eps"), name + ".rstd");
    const int rd = f.mul(r, f.scalar(name + ".inv_sqrt_d",
                                     static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)))),
                         name + ".rstd_d");
    const int u = f.mul(f.sub(xf, mu, name + ".centered"), rd, name + ".float_out");
    return e.quantize(u, name, tfl::TensorType::INT8, l2norm_output_param());
  }
  const int mu = e.mean(x, {-1}, true, name + ".mean");
  const int d = e.sub(x, mu, name + ".centered");
  return e.l2_normalization(d, name);
}

}  // namespace

// Returns {graph input, int8 logits}.
std::pair<int, int> lower_vit_int8(QEmitter& e, const models::VitConfig& c, const ParamMap& F,
                                   tfl::TensorType io_type,
                                   const std::set<std::string>& float_layers) {
  const int S = c.img_size, p = c.patch_size, C = c.in_chans, D = c.embed_dim;
  const int N = c.num_patches(), T = c.num_tokens(), hd = c.head_dim_resolved();
  const int prefix = c.num_prefix_tokens();
  auto f = [&](const std::string& n) { return param(F, n); };

  const int image = e.input("image", {1, S, S, C}, io_type, pixel_param());
  const int x0 = io_type == tfl::TensorType::INT8
                     ? image
                     : e.quantize(image, "image.int8", tfl::TensorType::INT8, pixel_param());
  int x = x0;
  if (F.count("normalize.scale"))  // convolutional tokenizer only (fold_vit_int8)
    x = e.normalize(x, f("normalize.scale"), f("normalize.shift"));
  for (std::size_t j = 0; j < c.stem_channels.size(); ++j) {  // (1, S_j, S_j, c_j), ReLU, pool
    const std::string n = "patch_embed.stem." + std::to_string(j);
    x = e.conv2d(x, f(n + ".weight"), f(n + ".bias"), 1, {1, 1}, n, Activation::kRelu);
    x = e.max_pool(x, 2, 2, 0, n + ".pool");
  }
  x = e.conv2d(x, f("patch_embed.proj.weight"), f("patch_embed.proj.bias"), p, {0, 0},
               "patch_embed.proj");                           // (1, g, g, D)
  x = e.reshape(x, {1, N, D}, "patch_embed.tokens");           // row-major patches, as timm
  const int cls = e.constant("cls_token", f("cls_token"), e.table("tokens"));
  x = e.concat({cls, x}, 1, "tokens");                         // (1, T, D)
  x = e.add(x, e.constant("pos_embed", f("pos_embed")), "tokens.pos");

  for (int i = 0; i < c.depth; ++i) {
    const std::string blk = "blocks." + std::to_string(i);
    const int H = c.heads_of(i), A = H * hd;
    const int z1 = layer_norm_core(e, x, blk + ".norm1", float_layers, c.ln_eps);      // (1, T, D)
    int q = e.fully_connected(z1, f(blk + ".attn.q.weight"), f(blk + ".attn.q.bias"),
                              blk + ".attn.q", true);         // (1, T, A), pre-scaled
    int k = e.fully_connected(z1, f(blk + ".attn.k.weight"), f(blk + ".attn.k.bias"),
                              blk + ".attn.k", true);
    int v = e.fully_connected(z1, f(blk + ".attn.v.weight"), f(blk + ".attn.v.bias"),
                              blk + ".attn.v", true);
    q = e.transpose(e.reshape(q, {T, H, hd}, blk + ".attn.q.heads"), {1, 0, 2},
                    blk + ".attn.q.t");                        // (H, T, hd)
    k = e.transpose(e.reshape(k, {T, H, hd}, blk + ".attn.k.heads"), {1, 2, 0},
                    blk + ".attn.k.t");                        // (H, hd, T)
    v = e.transpose(e.reshape(v, {T, H, hd}, blk + ".attn.v.heads"), {1, 0, 2},
                    blk + ".attn.v.t");                        // (H, T, hd)
    int a = e.batch_matmul(q, k, blk + ".attn.scores");        // (H, T, T)
    a = e.softmax(a, blk + ".attn.softmax");                   // 1/256, -128
    int ctx = e.batch_matmul(a, v, blk + ".attn.context");     // (H, T, hd)
    ctx = e.transpose(ctx, {1, 0, 2}, blk + ".attn.context.t");
    ctx = e.reshape(ctx, {1, T, A}, blk + ".attn.context.merged");
    const int proj = e.fully_connected(ctx, f(blk + ".attn.proj.weight"),
                                       f(blk + ".attn.proj.bias"), blk + ".attn.proj", true);
    x = e.add(x, proj, blk + ".attn.residual");

    const int z2 = layer_norm_core(e, x, blk + ".norm2", float_layers, c.ln_eps);
    int h = e.fully_connected(z2, f(blk + ".mlp.fc1.weight"), f(blk + ".mlp.fc1.bias"),
                              blk + ".mlp.fc1", true);        // (1, T, M)
    h = e.gelu(h, blk + ".mlp.gelu");
    h = e.fully_connected(h, f(blk + ".mlp.fc2.weight"), f(blk + ".mlp.fc2.bias"),
                          blk + ".mlp.fc2", true);
    x = e.add(x, h, blk + ".mlp.residual");
  }
  // The final LayerNorm runs on every token, then the prefix token(s) are sliced: an int8 MEAN
  // over a (1, 1, D) slice gives results several steps off in LiteRT.js (measured; the
  // (1, T, D) MEANs agree within a step), so the float lowering's slice-first shortcut is
  // not used here.
  x = layer_norm_core(e, x, "norm", float_layers, c.ln_eps);               // (1, T, D)
  int t = e.strided_slice(x, {0, 0, 0}, {1, prefix, D}, "prefix_tokens");  // (1, prefix, D)
  if (c.distill_token) t = e.reshape(t, {1, 2 * D}, "norm.flat");
  const int logits = e.fully_connected(t, f("logits.weight"), f("logits.bias"), "logits",
                                       false);                 // (1, K)
  return {image, logits};
}

}  // namespace tinyvit::exporter
