#pragma once
// One training loop for both stages:
//   train:   loss = CE(student, labels; label smoothing)            (teacher == nullptr)
//   distill: loss = distill_loss(student, teacher, labels)           (frozen teacher, eval mode)
// Checkpoints (model + optimizer + schedule position + RNG + metrics history) are written
// atomically at the end of every epoch and every `checkpoint_minutes` inside an epoch, so
// `resume` after kill -9 continues from the last one and replays the same batches.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

#include "data/loader.h"
#include "models/model.h"
#include "train/lookahead.h"
#include "train/losses.h"

namespace tinyvit::train {

struct TrainOptions {
  int64_t epochs = 30;
  std::string optimizer = "adamw";   // "adamw" | "sgd" (momentum, nesterov)
  double lr = 1e-3;                   // peak learning rate (after warmup)
  double min_lr = 1e-5;               // cosine floor
  double weight_decay = 0.05;         // not applied to norms, biases, tokens, pos_embed ...
  bool decay_norms_and_biases = false; // ... unless this is set (train/optimizer.h)
  double momentum = 0.9;              // sgd only
  double warmup_epochs = 1.0;
  std::string schedule = "cosine";    // "cosine" | "triangular" (train/schedule.h)
  double norm_bias_lr_scale = 1.0;    // lr multiplier of norm-layer biases (airbench: 64)
  bool lookahead = false;             // slow-weight averaging (train/lookahead.h)
  double lookahead_start_epochs = 3.0;
  double whiten_bias_epochs = 0;       // cnn: train the whitening stem's bias this long; 0 = always
  bool eval_tta = false;              // also score the last epoch with flip+shift TTA
  double label_smoothing = 0.1;
  double grad_clip = 1.0;             // max global L2 norm; 0 = off
  uint64_t seed = 0;
  bool channels_last = false;         // faster convolutions on CPU (oneDNN)
  std::string precision = "fp32";     // "fp32" | "bf16" | "auto" (train/precision.h)
  double checkpoint_minutes = 5.0;    // mid-epoch checkpoint cadence; 0 = epoch ends only
  std::string device = "cpu";         // "cpu" | "cuda" | "cuda:N"
  std::string stage = "train";        // label of this run's lines in metrics.jsonl
  int64_t max_steps_per_epoch = 0;    // > 0: cut epochs short (smoke tests)
  double progress_seconds = 10.0;     // progress line cadence on stderr
  DistillLossOptions distill;         // used when a teacher is given
};

struct TrainResult {
  double final_val_accuracy = 0.0;
  double best_val_accuracy = 0.0;
  int64_t epochs_done = 0;
  double seconds = 0.0;               // wall time of this process's part of the run
  nlohmann::json history;             // one object per finished epoch
};

class Trainer {
 public:
  // `model` is trained in place. `meta` is stored in every checkpoint (mean, std, classes...).
  Trainer(models::ClassifierPtr model, models::ClassifierPtr teacher, data::BatchLoader& train,
          data::BatchLoader& val, TrainOptions options, nlohmann::json meta,
          std::string checkpoint_path, std::string metrics_path);

  // resume: continue from checkpoint_path if it exists (a finished checkpoint returns at once).
  TrainResult run(bool resume);

  models::ClassifierPtr model() const { return model_; }

 private:
  struct State;
  void save(const State& s, bool complete);
  bool load(State& s);
  void write_metrics(const nlohmann::json& history);

  models::ClassifierPtr model_, teacher_;
  data::BatchLoader& train_;
  data::BatchLoader& val_;
  TrainOptions opt_;
  nlohmann::json meta_;
  std::string ckpt_path_, metrics_path_;
  torch::Device device_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<Lookahead> lookahead_;
};

// Parses "cpu", "cuda", "cuda:1"; throws tinyvit::Error if CUDA is asked for but missing.
torch::Device parse_device(const std::string& name);

// Sets intra-op threads (0 = all cores) and returns the number in use.
int configure_threads(int threads);

// Requests a graceful stop (checkpoint, then return) at the next step; set by SIGINT/SIGTERM.
void install_stop_handlers();

}  // namespace tinyvit::train
