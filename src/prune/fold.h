#pragma once
// Inference-only simplifications of a ViT (the seed project's "pruning"), done exactly.
//
//   dropout / drop-path   identities in eval mode; `strip_training_only` also zeroes their
//                         rates in the config so an exported or re-built model has none.
//   LayerNorm affine      LN(x) = g * xhat + b feeds a Linear W, c:
//                           W (g * xhat + b) + c = (W diag(g)) xhat + (W b + c)
//                         so W' = W * g (per input column), c' = c + W b, and the LayerNorm
//                         keeps g = 1, b = 0. Exact in real arithmetic (float32: ~1 ulp per
//                         product). Folded pairs: norm1 -> attn.qkv, norm2 -> mlp.fc1,
//                         norm -> head (and head_dist: both read the final norm's output).
//   q scaling             1/sqrt(head_dim) is folded into the q rows by the TFLite exporter
//                         (src/export/lower_vit.cpp) already, so it is not repeated here.
#include <string>

#include "models/vit.h"

namespace tinyvit::prune {

struct FoldReport {
  int layer_norms_folded = 0;
  std::string summary;  // one line
};

// In place. The model's outputs are unchanged up to float32 rounding.
FoldReport fold_layernorm_affine(models::VisionTransformer& model);

// Returns `config` with dropout and drop_path set to 0 (what eval mode already does).
models::ModelConfig strip_training_only(models::ModelConfig config);

}  // namespace tinyvit::prune
