#pragma once
// Rotation of a ViT's residual stream before int8 quantization (incoherence processing, as in
// QuaRot / SpinQuant for LLMs, adapted to LayerNorm).
//
// The residual stream x (T, D) carries a few outlier channels; with one int8 scale per tensor
// they set the range and the other channels get few steps. Rotating it, x' = x Q, with Q
// orthogonal and Q 1 = 1 (1 = the all-ones vector) spreads every channel over all of them and
// leaves the network's function unchanged, because each LayerNorm is invariant under it:
//   mean(x Q) = x Q 1 / D = mean(x)          (Q 1 = 1)
//   (x - mean 1^T) Q = x Q - mean 1^T         (1^T Q = 1^T: Q^T 1 = 1 for an orthogonal Q)
//   || z Q || = || z ||                       -> u' = L2N(z Q) = u Q
// so on the folded weights (fold_vit_int8, PyTorch (out, in) layout):
//   writers of the stream (patch embedding, attn.proj, mlp.fc2; cls/dist token, pos_embed):
//     W' = Q^T W, b' = Q^T b;   readers of a LayerNorm output (attn.q/k/v, mlp.fc1, logits):
//     W' = W Q (each D-wide input block of logits for the distillation head).
// Nothing in the int8 graph changes but the weights; calibration then sees the rotated stream.
//
// Q = 1 1^T / D + B R B^T with B an orthonormal basis of 1's complement (D x (D-1)) and R a
// seeded random orthogonal (D-1) x (D-1) matrix (QR of a Gaussian, signs fixed): orthogonal,
// Q 1 = 1, every other direction rotated.
#include <torch/torch.h>

#include <cstdint>

#include "export/lower_common.h"
#include "models/config.h"

namespace tinyvit::quantize {

// (D, D) float64, orthogonal, Q 1 = 1; a function of (D, seed) only.
torch::Tensor residual_rotation(int64_t D, uint64_t seed);

// Rotates the residual stream of a ViT's folded weights in place (fold_vit_int8 names).
void rotate_residual_stream(const models::VitConfig& config, exporter::ParamMap& folded,
                            const torch::Tensor& Q);

// Per head h of every block, two seeded random orthogonal (hd, hd) rotations: R for queries and
// keys (scores = q k^T = (q R)(k R)^T), S for values (the context becomes context S, and
// proj(context) = (context S)(W_proj,h S)^T). On the folded weights:
//   attn.q / attn.k rows of head h: R^T W, R^T b;  attn.v rows: S^T W, S^T b;
//   attn.proj columns of head h: W S.
// Spreads outlier dimensions of q, k, v and the attention context over the head.
void rotate_attention_heads(const models::VitConfig& config, exporter::ParamMap& folded,
                            uint64_t seed);

}  // namespace tinyvit::quantize
