#include "quantize/rotate.h"

#include <ATen/CPUGeneratorImpl.h>

#include <string>

#include "common/error.h"

namespace tinyvit::quantize {
namespace {

// Q of the QR decomposition of A, columns' signs fixed so that diag(R) > 0 (then Q is
// Haar-distributed for a Gaussian A).
torch::Tensor orthonormal(const torch::Tensor& A) {
  auto [q, r] = torch::linalg_qr(A);
  return q * torch::sign(torch::diagonal(r)).unsqueeze(0);
}

torch::Tensor random_orthogonal(int64_t n, at::Generator& gen) {
  return orthonormal(torch::randn({n, n}, gen, torch::TensorOptions().dtype(torch::kFloat64)));
}

// The folded weight `name`, or a clear error naming it.
torch::Tensor& folded(exporter::ParamMap& F, const std::string& name) {
  auto it = F.find(name);
  if (it == F.end()) throw Error("rotate: the folded weights have no '" + name + "'");
  return it->second;
}

}  // namespace

torch::Tensor residual_rotation(int64_t D, uint64_t seed) {
  if (D < 2) throw Error("rotate: the residual stream needs at least 2 channels");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  // Orthonormal basis whose first column is 1 / sqrt(D): the other D - 1 span 1's complement.
  auto A = torch::randn({D, D}, gen, f64);
  A.select(1, 0).fill_(1.0);
  const auto basis = orthonormal(A);
  const auto B = basis.slice(1, 1, D);                                       // (D, D-1)
  const auto R = random_orthogonal(D - 1, gen);                              // (D-1, D-1)
  const auto ones = torch::ones({D, 1}, f64);
  return ones.mm(ones.t()) / static_cast<double>(D) + B.mm(R).mm(B.t());
}

void rotate_residual_stream(const models::VitConfig& c, exporter::ParamMap& F,
                            const torch::Tensor& Q) {
  torch::NoGradGuard no_grad;
  const int64_t D = c.embed_dim;
  if (Q.dim() != 2 || Q.size(0) != D || Q.size(1) != D)
    throw Error("rotate: the rotation must be " + std::to_string(D) + " x " + std::to_string(D));
  const auto Qd = Q.to(torch::kFloat64);
  // writer: rows (output channels) of a (D, ...) weight and its (D) bias: Q^T W, Q^T b
  auto writer = [&](const std::string& layer) {
    auto& w = folded(F, layer + ".weight");
    auto& b = folded(F, layer + ".bias");
    const auto shape = w.sizes().vec();
    w = Qd.t().mm(w.to(torch::kFloat64).reshape({D, -1})).reshape(shape).to(w.dtype()).contiguous();
    b = Qd.t().mv(b.to(torch::kFloat64)).to(b.dtype()).contiguous();
  };
  // reader: every D-wide block of input columns of an (out, k D) weight: W Q
  auto reader = [&](const std::string& layer) {
    auto& w = folded(F, layer + ".weight");
    const int64_t out = w.size(0), blocks = w.size(1) / D;
    if (w.size(1) != blocks * D) throw Error("rotate: '" + layer + "' does not read D-wide rows");
    auto w3 = w.to(torch::kFloat64).reshape({out, blocks, D});
    w = torch::matmul(w3, Qd).reshape({out, blocks * D}).to(w.dtype()).contiguous();
  };
  // tokens: (1, n, D) rows x -> x Q
  auto rows = [&](const std::string& name) {
    auto& t = folded(F, name);
    t = torch::matmul(t.to(torch::kFloat64), Qd).to(t.dtype()).contiguous();
  };
  writer("patch_embed.proj");
  rows("cls_token");
  rows("pos_embed");
  for (int i = 0; i < c.depth; ++i) {
    const std::string blk = "blocks." + std::to_string(i);
    for (const char* r : {".attn.q", ".attn.k", ".attn.v", ".mlp.fc1"}) reader(blk + r);
    writer(blk + ".attn.proj");
    writer(blk + ".mlp.fc2");
  }
  reader("logits");
}

void rotate_attention_heads(const models::VitConfig& c, exporter::ParamMap& F, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0x6865616473ULL);  // "heads"
  const int64_t hd = c.head_dim_resolved();
  // rows [h hd, (h+1) hd) of a layer's weight and bias: R^T W, R^T b
  auto rotate_rows = [&](const std::string& layer, int64_t h, const torch::Tensor& R) {
    auto& w = folded(F, layer + ".weight");
    auto& b = folded(F, layer + ".bias");
    auto wd = w.to(torch::kFloat64), bd = b.to(torch::kFloat64);
    wd.narrow(0, h * hd, hd).copy_(R.t().mm(wd.narrow(0, h * hd, hd)));
    bd.narrow(0, h * hd, hd).copy_(R.t().mv(bd.narrow(0, h * hd, hd)));
    w = wd.to(w.dtype()).contiguous();
    b = bd.to(b.dtype()).contiguous();
  };
  for (int i = 0; i < c.depth; ++i) {
    const std::string blk = "blocks." + std::to_string(i);
    const int64_t H = c.heads_of(i);
    for (int64_t h = 0; h < H; ++h) {
      const auto R = random_orthogonal(hd, gen), S = random_orthogonal(hd, gen);
      rotate_rows(blk + ".attn.q", h, R);
      rotate_rows(blk + ".attn.k", h, R);
      rotate_rows(blk + ".attn.v", h, S);
      auto& wp = folded(F, blk + ".attn.proj.weight");  // (D, H hd): columns of head h times S
      auto wpd = wp.to(torch::kFloat64);
      wpd.narrow(1, h * hd, hd).copy_(wpd.narrow(1, h * hd, hd).mm(S));
      wp = wpd.to(wp.dtype()).contiguous();
    }
  }
}

}  // namespace tinyvit::quantize
