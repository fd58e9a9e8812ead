// ViT (timm VisionTransformer, pre-norm) -> TFLite ops. Shapes below are TFLite's; T tokens,
// D embed dim, H_i heads of width hd in block i, M_i MLP width of block i.
#include <cmath>

#include "common/error.h"
#include "export/lower.h"

namespace tinyvit::exporter {

void lower_vit(Emitter& e, const models::VitConfig& c, const ParamMap& P,
               const LowerOptions& o) {
  const int S = c.img_size, p = c.patch_size, C = c.in_chans, D = c.embed_dim;
  const int Cp = c.proj_in_chans();
  if (p <= 0 || S % (c.stem_stride() * p) != 0)
    throw Error("export: ViT img_size must be a multiple of 2^(stem layers) * patch_size");
  const int N = c.num_patches(), T = c.num_tokens(), hd = c.head_dim_resolved();
  const int prefix = c.num_prefix_tokens();
  const double eps = c.ln_eps;

  const int image = e.input("image", {1, S, S, C});
  torch::Tensor w = param(P, "patch_embed.proj.weight", {D, Cp, p, p}).clone();
  torch::Tensor b = param(P, "patch_embed.proj.bias", {D}).clone();
  int x = image;
  if (c.stem_channels.empty()) {
    // Patch embedding: Conv2d(k = s = p, no padding). The input normalization folds into it
    // exactly (every tap reads a real pixel):  conv(W, (x - m) / s) + b
    //   = conv(W / s, x) + (b - sum_{c,i,j} W[:, c, i, j] m[c] / s[c]).
    if (!o.mean.empty()) {
      auto m = torch::tensor(o.mean), s = torch::tensor(o.std);
      b = b - (w * (m / s).view({1, C, 1, 1})).sum({1, 2, 3});
      w = w / s.view({1, C, 1, 1});
    }
  } else {
    // Convolutional tokenizer: normalization stays an op (the 3x3 convs zero-pad the
    // *normalized* image, so it cannot fold), then per layer CONV_2D 3x3 pad 1 with fused
    // ReLU and MAX_POOL_2D 2x2/2: (1, S_j, S_j, c_j) -> (1, S_j / 2, S_j / 2, c_j).
    x = normalize_input(e, x, o);
    int cin = C;
    for (std::size_t j = 0; j < c.stem_channels.size(); ++j) {
      const std::string n = "patch_embed.stem." + std::to_string(j);
      const int cw = c.stem_channels[j];
      x = e.conv2d(x, param(P, n + ".weight", {cw, cin, 3, 3}), param(P, n + ".bias", {cw}), 1,
                   {1, 1}, n, Activation::kRelu);
      x = e.max_pool_nonneg(x, 2, 2, 0, n + ".pool");  // no padding: exact for any sign
      cin = cw;
    }
  }
  x = e.conv2d(x, w, b, p, {0, 0}, "patch_embed.proj");  // (1, g, g, D)
  x = e.reshape(x, {1, N, D}, "patch_embed.tokens");  // row-major patch order, as timm

  // [cls, (dist), patches] + pos_embed: (1, T, D)
  torch::Tensor prefix_tokens = param(P, "cls_token", {1, 1, D});
  if (c.distill_token)
    prefix_tokens = torch::cat({prefix_tokens, param(P, "dist_token", {1, 1, D})}, 1);
  const int pt = e.constant(c.distill_token ? "cls_dist_tokens" : "cls_token", prefix_tokens);
  x = e.concat({pt, x}, 1, "tokens");
  x = e.add(x, e.constant("pos_embed", param(P, "pos_embed", {1, T, D})), "tokens.pos");

  for (int i = 0; i < c.depth; ++i) {
    const std::string blk = "blocks." + std::to_string(i);
    const int H = c.heads_of(i), M = c.mlp_of(i), A = H * hd;
    if (H <= 0 || M <= 0) throw Error("export: " + blk + " has no heads or no MLP units");

    // --- attention: x = x + proj(softmax(q k^T / sqrt(hd)) v)
    const int n1 = e.layer_norm(x, param(P, blk + ".norm1.weight", {D}),
                                param(P, blk + ".norm1.bias", {D}), eps, blk + ".norm1");
    const torch::Tensor wqkv = param(P, blk + ".attn.qkv.weight", {3 * A, D});
    const torch::Tensor bqkv = param(P, blk + ".attn.qkv.bias", {3 * A});
    // qkv rows are [q | k | v], each (h, d) row-major. q is pre-scaled by hd^-0.5 (folded into
    // its weights and bias), and q, k, v are three FULLY_CONNECTED ops (no split op needed).
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
    auto part = [&](const torch::Tensor& t, int k) { return t.slice(0, k * A, (k + 1) * A); };
    int q = e.fully_connected(n1, part(wqkv, 0) * scale, part(bqkv, 0) * scale, blk + ".attn.q",
                              true);                                          // (1, T, A)
    int k = e.fully_connected(n1, part(wqkv, 1), part(bqkv, 1), blk + ".attn.k", true);
    int v = e.fully_connected(n1, part(wqkv, 2), part(bqkv, 2), blk + ".attn.v", true);
    q = e.reshape(q, {T, H, hd}, blk + ".attn.q.heads");
    q = e.transpose(q, {1, 0, 2}, blk + ".attn.q.t");                        // (H, T, hd)
    k = e.reshape(k, {T, H, hd}, blk + ".attn.k.heads");
    k = e.transpose(k, {1, 2, 0}, blk + ".attn.k.t");                        // (H, hd, T)
    v = e.reshape(v, {T, H, hd}, blk + ".attn.v.heads");
    v = e.transpose(v, {1, 0, 2}, blk + ".attn.v.t");                        // (H, T, hd)
    int a = e.batch_matmul(q, k, blk + ".attn.scores");                     // (H, T, T)
    a = e.softmax(a, blk + ".attn.softmax");
    int ctx = e.batch_matmul(a, v, blk + ".attn.context");                  // (H, T, hd)
    ctx = e.transpose(ctx, {1, 0, 2}, blk + ".attn.context.t");             // (T, H, hd)
    ctx = e.reshape(ctx, {1, T, A}, blk + ".attn.context.merged");          // (1, T, A)
    const int proj = e.fully_connected(ctx, param(P, blk + ".attn.proj.weight", {D, A}),
                                       param(P, blk + ".attn.proj.bias", {D}),
                                       blk + ".attn.proj", true);            // (1, T, D)
    x = e.add(x, proj, blk + ".attn.residual");

    // --- MLP: x = x + fc2(gelu(fc1(norm2(x))))
    const int n2 = e.layer_norm(x, param(P, blk + ".norm2.weight", {D}),
                                param(P, blk + ".norm2.bias", {D}), eps, blk + ".norm2");
    int h = e.fully_connected(n2, param(P, blk + ".mlp.fc1.weight", {M, D}),
                              param(P, blk + ".mlp.fc1.bias", {M}), blk + ".mlp.fc1", true);
    h = e.gelu(h, blk + ".mlp.gelu", o.gelu_tanh);
    h = e.fully_connected(h, param(P, blk + ".mlp.fc2.weight", {D, M}),
                          param(P, blk + ".mlp.fc2.bias", {D}), blk + ".mlp.fc2", true);
    x = e.add(x, h, blk + ".mlp.residual");
  }

  // Head. The final LayerNorm is per token, so only the prefix token(s) are normalized
  // (slice first: same result, T times less work).
  int t = e.strided_slice(x, {0, 0, 0}, {1, prefix, D}, "prefix_tokens");  // (1, prefix, D)
  t = e.layer_norm(t, param(P, "norm.weight", {D}), param(P, "norm.bias", {D}), eps, "norm");
  const int K = c.num_classes;
  torch::Tensor hw = param(P, "head.weight", {K, D});
  torch::Tensor hb = param(P, "head.bias", {K});
  if (c.distill_token) {
    // (head(x_cls) + head_dist(x_dist)) / 2 as one FULLY_CONNECTED on [x_cls, x_dist]:
    //   W = [W_head, W_dist] / 2 : (K, 2D),  b = (b_head + b_dist) / 2
    hw = torch::cat({hw, param(P, "head_dist.weight", {K, D})}, 1) * 0.5f;
    hb = (hb + param(P, "head_dist.bias", {K})) * 0.5f;
    t = e.reshape(t, {1, 2 * D}, "norm.flat");
  }
  const int logits = e.fully_connected(t, hw, hb, "logits", false);  // (1, K)
  finish_graph(e, image, logits);
}

}  // namespace tinyvit::exporter
