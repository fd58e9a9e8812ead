#include "pipeline/quantize_run.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <iostream>
#include <tuple>
#include <vector>

#include "common/error.h"
#include "data/loader.h"
#include "models/checkpoint.h"

namespace tinyvit::pipeline {

std::pair<torch::Tensor, torch::Tensor> calibration_pixels(const PreparedData& d,
                                                          const DataConfig& dc, int input_size,
                                                          int64_t n, uint64_t seed) {
  const std::vector<int64_t>& idx = d.train;
  if (idx.empty()) throw Error("the training split of '" + dc.path + "' is empty");
  auto perm = torch::randperm(static_cast<int64_t>(idx.size()),
                              at::make_generator<at::CPUGeneratorImpl>(seed),
                              torch::TensorOptions().dtype(torch::kLong));
  std::vector<int64_t> pick;
  for (int64_t i = 0; i < std::min<int64_t>(n, perm.size(0)); ++i)
    pick.push_back(idx[perm[i].item<int64_t>()]);
  auto lo = loader_options(d, dc, 256, input_size, false, {}, 0);
  lo.mean = {0.f, 0.f, 0.f};  // identity normalization: x / 255
  lo.std = {1.f, 1.f, 1.f};
  lo.shuffle = false;
  data::BatchLoader loader(d.dataset, pick, lo);
  loader.start_epoch(0);
  std::vector<torch::Tensor> images, labels;
  while (auto b = loader.next()) {
    images.push_back(b->images);
    labels.push_back(b->labels);
  }
  return {torch::cat(images), torch::cat(labels)};
}

quantize::PtqResult quantize_checkpoint(const std::string& ckpt, const PreparedData& d,
                                        const DataConfig& dc, const QuantizeJob& job,
                                        const std::string& out_path) {
  auto m = models::load_checkpoint(ckpt);
  quantize::PtqOptions o = job.ptq;
  if (o.mean.empty() || o.std.empty()) {
    if (m.meta.contains("mean") && m.meta.contains("std")) {
      o.mean = m.meta["mean"].get<std::vector<float>>();
      o.std = m.meta["std"].get<std::vector<float>>();
    } else {
      std::cerr << "note: " << ckpt << " stores no mean/std: the model sees [0,1] pixels\n";
    }
  }
  if (o.class_names.empty()) o.class_names = models::stored_class_names(m.meta);
  const int S = m.model->config().img_size();
  const auto [calib, calib_labels] = calibration_pixels(d, dc, S, job.calib_size, o.calib.seed);
  if (o.qat_steps > 0 && job.qat_images > 0)
    std::tie(o.qat_pixels, o.qat_labels) =
        calibration_pixels(d, dc, S, job.qat_images, o.calib.seed);
  auto [pixels, labels] = validation_pixels(d, dc, S);
  if (job.eval_images > 0 && job.eval_images < pixels.size(0)) {
    pixels = pixels.slice(0, 0, job.eval_images);
    labels = labels.slice(0, 0, job.eval_images);
  }
  return quantize::run_ptq(*m.model, calib, calib_labels, pixels, labels, out_path, o);
}

}  // namespace tinyvit::pipeline
