#pragma once
// What `tinyvit train`, `tinyvit distill` and the pipeline's training stages share: the data
// set-up and one training stage described by a StageConfig.
#include <nlohmann/json.hpp>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/split.h"
#include "train/trainer.h"

namespace tinyvit::pipeline {

struct DataConfig {
  std::string path;              // image folders, .tar.gz, or CIFAR-10 .bin (file or folder)
  int64_t val_size = 5000;       // stratified validation images carved from `path`
  int64_t train_limit = 0;       // > 0: stratified subset of the training part
  int64_t val_limit = 0;         // > 0: stratified subset of the validation part
  uint64_t split_seed = 0;       // the split is fixed by this seed, not by the run's seed
  std::string cache_dir = ".cache/tinyvit";
  bool skip_bad = false;
  int workers = 1;               // loader threads
  int store_size = 32;           // images are decoded/cached at this size
};

struct StageConfig {
  std::string model;             // registry name (registry.h)
  std::string init;              // optional checkpoint to start from (e.g. `tinyvit import`);
                                 // its architecture replaces `model`
  int64_t batch_size = 128;
  bool distill_token = false;    // DeiT distillation token (ViT students)
  float drop_path = 0.f;         // ViT stochastic depth (max rate)
  data::AugmentOptions aug;
  train::TrainOptions train;
};

// Numeric ranges of a stage's settings, checked before any work: throws tinyvit::Error
// "<where> <key> must be <rule> (got <value>)" with the config key (= the CLI flag without
// "--", '_' for '-'). `student`: also alpha and temperature.
void validate_stage(const StageConfig& s, bool student, const std::string& where);

struct PreparedData {
  data::ImageDataset dataset;
  std::vector<int64_t> train, val;
  std::array<float, 3> mean{}, std{};   // per-channel statistics of the training part
};

PreparedData prepare_data(const DataConfig& config);

// Loader over `indices` for a model of input size `input_size`.
data::LoaderOptions loader_options(const PreparedData& d, const DataConfig& dc, int64_t batch,
                                   int input_size, bool train, const data::AugmentOptions& aug,
                                   uint64_t seed);

// The training images a data-dependent init (the cnn family's whitening stem) is computed
// from: a class-stratified, seeded sample of at most 5,000 of d.train (datasets are often
// stored class by class, so the first 5,000 could be one or two classes).
std::vector<int64_t> init_sample(const PreparedData& d, uint64_t seed);

// Positions 0..N-1 of `labels` in the class-interleaved order described below.
std::vector<int64_t> class_interleaved_order(const std::vector<int32_t>& labels);

// The validation images as pixels in [0, 1]: {(N, 3, S, S) float32, (N,) int64}, resized to
// `input_size` (what verification feeds both LibTorch and the .tflite), classes interleaved:
// image j of the n_c images of class c (in split order) sorts by (j + 0.5) / n_c, so every
// prefix holds each class in proportion to its count. Verification, the int8 report and its
// LiteRT.js check take prefixes, and split order is class by class for image folders.
std::pair<torch::Tensor, torch::Tensor> validation_pixels(const PreparedData& d,
                                                         const DataConfig& dc, int input_size);

// Trains (teacher_ckpt empty) or distills into out_ckpt; resumes from out_ckpt when asked.
train::TrainResult run_stage(const PreparedData& data, const DataConfig& dc, const StageConfig& sc,
                             const std::string& teacher_ckpt, const std::string& out_ckpt,
                             const std::string& metrics_path, bool resume);

}  // namespace tinyvit::pipeline
