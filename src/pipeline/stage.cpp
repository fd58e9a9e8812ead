#include "pipeline/stage.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <tuple>
#include <vector>

#include "common/error.h"
#include "data/rng.h"
#include "data/split.h"
#include "models/checkpoint.h"
#include "models/registry.h"

namespace tinyvit::pipeline {

std::vector<int64_t> init_sample(const PreparedData& d, uint64_t seed) {
  constexpr uint64_t kInitTag = 0x696e6974;  // "init"
  return data::stratified_subset(d.train, d.dataset.labels, 5000, data::derive_seed(seed, kInitTag));
}

void validate_stage(const StageConfig& s, bool student, const std::string& where) {
  const auto& t = s.train;
  const auto& a = s.aug;
  auto need = [&](bool ok, const char* key, const char* rule, double value) {
    if (!ok) throw Error(fmt::format("{} {} must be {} (got {})", where, key, rule, value));
  };
  // Every rule is a comparison that is false for NaN, so a NaN fails it too.
  need(t.epochs >= 0, "epochs", ">= 0", double(t.epochs));
  need(s.batch_size >= 1, "batch_size", ">= 1", double(s.batch_size));
  need(t.lr > 0, "lr", "> 0", t.lr);
  need(t.min_lr >= 0 && t.min_lr <= t.lr, "min_lr", "in [0, lr]", t.min_lr);
  need(t.weight_decay >= 0, "weight_decay", ">= 0", t.weight_decay);
  need(t.momentum >= 0 && t.momentum < 1, "momentum", "in [0, 1)", t.momentum);
  need(t.warmup_epochs >= 0, "warmup_epochs", ">= 0", t.warmup_epochs);
  need(t.label_smoothing >= 0 && t.label_smoothing < 1, "label_smoothing", "in [0, 1)",
       t.label_smoothing);
  need(t.grad_clip >= 0, "grad_clip", ">= 0 (0 = off)", t.grad_clip);
  need(t.checkpoint_minutes >= 0, "checkpoint_minutes", ">= 0 (0 = at epoch ends only)",
       t.checkpoint_minutes);
  need(t.max_steps_per_epoch >= 0, "max_steps_per_epoch", ">= 0 (0 = whole epochs)",
       double(t.max_steps_per_epoch));
  need(a.crop_padding >= 0, "crop_padding", ">= 0", a.crop_padding);
  need(a.randaugment_ops >= 0, "randaugment_ops", ">= 0 (0 = off)", a.randaugment_ops);
  need(a.randaugment_magnitude >= 0 && a.randaugment_magnitude <= 10, "randaugment_magnitude",
       "in [0, 10]", a.randaugment_magnitude);
  need(a.mixup_alpha >= 0, "mixup", ">= 0 (0 = off)", a.mixup_alpha);
  need(a.cutmix_alpha >= 0, "cutmix", ">= 0 (0 = off)", a.cutmix_alpha);
  need(a.random_erasing >= 0 && a.random_erasing <= 1, "random_erasing", "in [0, 1]",
       a.random_erasing);
  need(s.drop_path >= 0 && s.drop_path < 1, "drop_path", "in [0, 1)", s.drop_path);
  if (student) {
    need(t.distill.alpha >= 0 && t.distill.alpha <= 1, "alpha", "in [0, 1]", t.distill.alpha);
    need(t.distill.temperature > 0, "temperature", "> 0", t.distill.temperature);
  }
}

PreparedData prepare_data(const DataConfig& c) {
  if (c.path.empty()) throw Error("no data path given (--data PATH or [data] path in the config)");
  const auto t0 = std::chrono::steady_clock::now();
  PreparedData d;
  data::LoadOptions lo;
  lo.store_size = c.store_size;
  lo.skip_bad = c.skip_bad;
  lo.cache_dir = c.cache_dir;
  d.dataset = data::load_dataset(c.path, lo);
  if (c.val_size <= 0 || c.val_size >= d.dataset.size())
    throw Error(fmt::format(
        "{}: val_size {} must be between 1 and the data set size - 1 ({}); set it with "
        "--val-size N or [data] val_size",
        c.path, c.val_size, d.dataset.size() - 1));
  auto split = data::stratified_split(d.dataset.labels, c.val_size, c.split_seed);
  d.train = data::stratified_subset(split.train, d.dataset.labels, c.train_limit, c.split_seed + 1);
  d.val = data::stratified_subset(split.val, d.dataset.labels, c.val_limit, c.split_seed + 2);

  // Per-channel mean/std of the training part: (x/255 - mean) / std is the model's input.
  double sum[3] = {0, 0, 0}, sq[3] = {0, 0, 0};
  const int64_t px = int64_t(d.dataset.height) * d.dataset.width;
  for (int64_t i : d.train) {
    const uint8_t* p = d.dataset.image(i);
    for (int64_t k = 0; k < px; ++k)
      for (int ch = 0; ch < 3; ++ch) {
        const double v = p[k * 3 + ch] / 255.0;
        sum[ch] += v;
        sq[ch] += v * v;
      }
  }
  const double n = static_cast<double>(px) * static_cast<double>(d.train.size());
  for (int ch = 0; ch < 3; ++ch) {
    const double m = sum[ch] / n;
    d.mean[ch] = static_cast<float>(m);
    d.std[ch] = static_cast<float>(std::sqrt(std::max(1e-12, sq[ch] / n - m * m)));
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << fmt::format("[data] {}: {} images, {} classes, {}x{}; train {} / val {} ({:.1f} s)\n",
                           c.path, d.dataset.size(), d.dataset.num_classes(), d.dataset.height,
                           d.dataset.width, d.train.size(), d.val.size(), secs);
  return d;
}

data::LoaderOptions loader_options(const PreparedData& d, const DataConfig& dc, int64_t batch,
                                   int input_size, bool train, const data::AugmentOptions& aug,
                                   uint64_t seed) {
  data::LoaderOptions o;
  o.batch_size = batch;
  o.shuffle = train;
  o.drop_last = train;
  o.augment = train;
  o.aug = aug;
  o.input_size = input_size;
  o.mean = d.mean;
  o.std = d.std;
  o.seed = seed;
  o.num_workers = dc.workers;
  return o;
}

std::vector<int64_t> class_interleaved_order(const std::vector<int32_t>& labels) {
  std::map<int32_t, int64_t> count, seen;
  for (int32_t c : labels) ++count[c];
  std::vector<std::tuple<double, int32_t, int64_t>> key;  // ((j + 0.5) / n_c, class, position)
  key.reserve(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const int32_t c = labels[i];
    key.emplace_back((static_cast<double>(seen[c]++) + 0.5) / static_cast<double>(count[c]), c,
                     static_cast<int64_t>(i));
  }
  std::sort(key.begin(), key.end());
  std::vector<int64_t> order;
  order.reserve(key.size());
  for (const auto& k : key) order.push_back(std::get<2>(k));
  return order;
}

std::pair<torch::Tensor, torch::Tensor> validation_pixels(const PreparedData& d,
                                                         const DataConfig& dc, int input_size) {
  auto lo = loader_options(d, dc, 256, input_size, false, {}, 0);
  lo.mean = {0.f, 0.f, 0.f};  // identity normalization: x / 255
  lo.std = {1.f, 1.f, 1.f};
  std::vector<int32_t> val_labels;
  for (int64_t i : d.val) val_labels.push_back(d.dataset.labels[static_cast<std::size_t>(i)]);
  std::vector<int64_t> interleaved;
  for (int64_t k : class_interleaved_order(val_labels))
    interleaved.push_back(d.val[static_cast<std::size_t>(k)]);
  data::BatchLoader val(d.dataset, interleaved, lo);  // not shuffled: keeps this order
  val.start_epoch(0);
  std::vector<torch::Tensor> images, labels;
  while (auto b = val.next()) {
    images.push_back(b->images);
    labels.push_back(b->labels);
  }
  if (images.empty()) throw Error("the validation split of '" + dc.path + "' is empty");
  return {torch::cat(images), torch::cat(labels)};
}

train::TrainResult run_stage(const PreparedData& d, const DataConfig& dc, const StageConfig& sc,
                             const std::string& teacher_ckpt, const std::string& out_ckpt,
                             const std::string& metrics_path, bool resume) {
  models::LoadedModel init;
  if (!sc.init.empty()) init = models::load_checkpoint(sc.init);
  models::ModelConfig mc = init.model ? init.model->config()
                                      : models::model_config(sc.model, d.dataset.num_classes());
  if (mc.num_classes() != d.dataset.num_classes())
    throw Error(fmt::format("'{}' has {} classes, the data has {} (re-import with --num-classes {})",
                            sc.init, mc.num_classes(), d.dataset.num_classes(),
                            d.dataset.num_classes()));
  if (mc.family == "vit") {
    mc.vit.distill_token = sc.distill_token;
    mc.vit.drop_path = sc.drop_path;
  } else if (sc.distill_token) {
    throw Error("distill_token needs a ViT student, '" + sc.model + "' is a " + mc.family);
  }
  models::ClassifierPtr teacher;
  if (!teacher_ckpt.empty()) {
    auto t = models::load_checkpoint(teacher_ckpt);
    if (t.model->config().num_classes() != mc.num_classes())
      throw Error(fmt::format("teacher '{}' has {} classes, the data has {}", teacher_ckpt,
                              t.model->config().num_classes(), mc.num_classes()));
    teacher = t.model;
  }
  torch::manual_seed(sc.train.seed);
  auto model = models::build_model(mc);
  if (init.model) {
    torch::NoGradGuard g;
    auto src = init.model->named_parameters();
    for (auto& p : model->named_parameters())
      if (src.contains(p.key())) p.value().copy_(src[p.key()]);
    auto srcb = init.model->named_buffers();
    for (auto& b : model->named_buffers())
      if (srcb.contains(b.key())) b.value().copy_(srcb[b.key()]);
  }

  const int input = mc.img_size();
  if (!init.model && model->needs_data_init()) {
    // Data-dependent init (the cnn family's whitening stem) from init_sample's images,
    // normalized, not augmented. A resumed run overwrites it with its checkpoint.
    data::BatchLoader sample(d.dataset, init_sample(d, sc.train.seed),
                             loader_options(d, dc, 500, input, false, sc.aug, sc.train.seed));
    sample.start_epoch(0);
    std::vector<torch::Tensor> images;
    while (auto b = sample.next()) images.push_back(b->images);
    if (!images.empty()) model->init_from_data(torch::cat(images));
  }
  data::BatchLoader train_loader(
      d.dataset, d.train,
      loader_options(d, dc, sc.batch_size, input, true, sc.aug, sc.train.seed));
  data::BatchLoader val_loader(
      d.dataset, d.val, loader_options(d, dc, 256, input, false, sc.aug, sc.train.seed));

  nlohmann::json meta = {{"mean", d.mean},
                         {"std", d.std},
                         {"class_names", d.dataset.class_names},
                         {"input_size", input},
                         {"model", sc.model},
                         {"data", dc.path},
                         {"val_size", dc.val_size},
                         {"split_seed", dc.split_seed},
                         {"teacher", teacher_ckpt},
                         {"init", sc.init}};
  train::Trainer trainer(model, teacher, train_loader, val_loader, sc.train, meta, out_ckpt,
                         metrics_path);
  return trainer.run(resume);
}

}  // namespace tinyvit::pipeline
