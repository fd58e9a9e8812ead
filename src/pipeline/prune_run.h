#pragma once
// Structured pruning of a ViT checkpoint into a smaller one, with optional recovery by
// distillation after each step: what `tinyvit prune` and the pipeline's [prune] stage both run.
#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/stage.h"
#include "prune/prune.h"

namespace tinyvit::pipeline {

struct PruneJob {
  std::string model;            // ViT checkpoint to prune
  std::string out;              // pruned (and recovered) checkpoint
  std::string teacher;          // teacher of recovery; empty = the unpruned `model` itself
  std::string criterion = "l1";  // l1 | l2 | taylor
  std::string report;           // JSON report; empty = <out stem>.prune.json
  std::string metrics;          // recovery metrics; empty = <out stem>.recover.metrics.jsonl
  prune::PruneOptions opt;
  int calib_batches = 16;       // taylor calibration batches of the training split
  int64_t calib_batch_size = 64;
  int steps = 1;                // iterative schedule: K steps, recovering after each
  int latency_runs = 50;        // batch-1 LibTorch timing runs per reported model (0 = skip)
  bool fold = false;            // fold LayerNorm affines into the next Linear
  StageConfig stage;            // recovery (distillation fine-tuning); train.epochs 0 = none
  std::string device = "cpu";
  uint64_t seed = 0;
  PruneJob();                   // recovery defaults: 0 epochs, lr 5e-4, warmup 0.2 epochs
};

// Prunes (and recovers) job.model into job.out, written only once complete, with the pruning
// record (meta "prune", including "plan") in its metadata; writes the report and returns it:
// {"models": [{what, config, params, macs, int8_weight_bytes, latency_ms, val_accuracy}...],
//  "recover_seconds", "recover_epochs"}. `d` (may be null: no evaluation, no recovery, no
// taylor) is the data of calibration, evaluation and recovery.
nlohmann::json prune_checkpoint(const PruneJob& job, const PreparedData* d, const DataConfig& dc);

// True when `path` is a checkpoint prune_checkpoint finished (its metadata holds the plan).
bool prune_complete(const std::string& path);

}  // namespace tinyvit::pipeline
