#pragma once
// Structured pruning of the ViT student: whole attention heads, MLP hidden units and whole
// blocks are removed, and the result is a physically smaller VisionTransformer with its own
// per-block config (block_heads / block_mlp), not a mask. docs/pruning.md has the details.
//
// Units and the weights they own (timm layout, hd = head_dim, A = H*hd):
//   head h of block b:  attn.qkv rows {p*A + h*hd + j : p in {q,k,v}, j < hd} (+ those bias
//                       entries) and attn.proj columns h*hd .. h*hd+hd-1
//   MLP unit u:         mlp.fc1 row u (+ bias u) and mlp.fc2 column u
//   block b:            everything under blocks.b (its residual branches vanish; the residual
//                       stream passes through unchanged)
// Removing a unit whose owned weights are all zero leaves the model's function unchanged
// (a zero head contributes proj(0) = 0 and a zero fc1 row gives GELU(0) = 0 into fc2).
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/vit.h"

namespace tinyvit::prune {

enum class Criterion {
  kL1,      // sum |w| over the unit's weights
  kL2,      // sqrt(sum w^2) over the unit's weights
  kTaylor,  // sum over calibration batches of sum |w * dL/dw| (first-order Taylor, per weight)
};
// "l1" | "l2" | "taylor"; throws tinyvit::Error otherwise.
Criterion parse_criterion(const std::string& name);
std::string criterion_name(Criterion c);

// Importance of every prunable unit of a ViT (higher = more important), by original index.
struct Importance {
  std::vector<std::vector<double>> heads;  // [block][head]
  std::vector<std::vector<double>> mlp;    // [block][hidden unit]
  std::vector<double> blocks;              // [block]
};

// L1 / L2 magnitude from the weights alone. Block scores are the mean |w| (L1) or the RMS (L2)
// over the block's attention and MLP weights, so blocks of different widths compare fairly.
Importance magnitude_importance(const models::VisionTransformer& model, Criterion criterion);

// Calibration data: a BatchSource calls `visit(x, y)` once per batch, x (B, 3, S, S)
// normalized, y (B,) int64 labels; it may be called again (iterative pruning) and should then
// visit the same batches.
using BatchVisitor = std::function<void(const torch::Tensor& x, const torch::Tensor& y)>;
using BatchSource = std::function<void(const BatchVisitor& visit)>;

// First-order Taylor: for each batch, loss = CE(model(x), y) (eval mode: no dropout/drop-path),
// then per unit sum_w |w * dL/dw|, accumulated over batches. Block score: the same sum over all
// block parameters. The model's gradients are cleared before and after.
Importance taylor_importance(models::VisionTransformer& model, const BatchSource& batches,
                             torch::Device device = torch::kCPU);

struct PruneOptions {
  double heads = 0.0;     // fraction of heads removed (of the remaining blocks), in [0, 1)
  double mlp = 0.0;       // fraction of MLP hidden units removed, in [0, 1)
  int blocks = 0;         // number of whole blocks removed (lowest block scores first)
  bool global = false;    // false: the same fraction in every block; true: one ranking over
                          // all blocks (scores compared as they are; see docs/pruning.md)
  int min_heads = 1;      // never fewer heads per block
  int min_mlp = 8;        // never fewer MLP units per block
  int mlp_multiple = 1;   // kept MLP widths rounded up to a multiple of this (e.g. 8 for SIMD)
  // Widths the fractions refer to, per block of the model being pruned (empty = its current
  // widths). The iterative schedule passes the ORIGINAL widths so that k steps end exactly
  // where one step would.
  std::vector<int> ref_heads, ref_mlp;
};

// Which units survive, as sorted indices into the ORIGINAL model.
struct PrunePlan {
  std::vector<int> blocks;                     // kept blocks
  std::vector<std::vector<int64_t>> heads;     // [kept block position] -> kept heads
  std::vector<std::vector<int64_t>> mlp;       // [kept block position] -> kept MLP units
};

// Blocks are chosen first (by Importance::blocks), then heads and MLP units among the kept
// blocks. Throws tinyvit::Error for out-of-range options.
PrunePlan plan_pruning(const models::ModelConfig& config, const Importance& importance,
                       const PruneOptions& options);

// The config a plan produces: depth = kept blocks, block_heads / block_mlp filled, head_dim
// explicit. Same name, classes, embedding width, tokens and heads.
models::ModelConfig pruned_config(const models::ModelConfig& config, const PrunePlan& plan);

// A new model of pruned_config(...) whose weights are sliced from `model` (same device/dtype
// as CPU float32 copies). The source model is not modified. Throws for non-ViT models.
models::ClassifierPtr apply_plan(const models::Classifier& model, const PrunePlan& plan);

// Keeps everything (identity plan) for `config`.
PrunePlan full_plan(const models::ModelConfig& config);

// One line per block: "block 3 <- 5: heads 4 -> 3, mlp 256 -> 128", plus removed blocks.
std::string describe_plan(const models::ModelConfig& config, const PrunePlan& plan);

// Convenience: importance (magnitude, or Taylor over `batches`) + plan + apply.
struct PruneResult {
  models::ClassifierPtr model;
  PrunePlan plan;
  Importance importance;
};
PruneResult prune_vit(models::Classifier& model, const PruneOptions& options,
                      Criterion criterion, const BatchSource& batches = {},
                      torch::Device device = torch::kCPU);

// Iterative schedule: `steps` rounds of (importance on the current model, prune, recover).
// Round k reaches fraction f*k/steps of the ORIGINAL heads / MLP units and round(N*k/steps)
// removed blocks, so the last round ends at exactly the one-shot plan's sizes. `recover`
// fine-tunes the pruned model of round k (1-based) and returns it (identity if empty).
// The returned plan maps the final model back to the original indices.
using RecoverFn = std::function<models::ClassifierPtr(models::ClassifierPtr model, int step)>;
PruneResult prune_iterative(models::Classifier& model, const PruneOptions& total, int steps,
                            Criterion criterion, const BatchSource& batches,
                            const RecoverFn& recover, torch::Device device = torch::kCPU);

}  // namespace tinyvit::prune
