#pragma once
// The seed project's verification view, shared by `tinyvit visualize` and the pipeline's
// samples.png: a grid of seeded validation images, each with its true label, the prediction
// with its confidence, and the loss; misclassified ones framed in red.
#include <cstdint>
#include <string>

#include "pipeline/stage.h"
#include "report/inference.h"

namespace tinyvit::pipeline {

struct SamplesOptions {
  int count = 32;           // images in the grid
  int cols = 8;             // images per row
  int scale = 0;            // upscaling of each image (0 = about 160 px per image)
  bool only_wrong = false;  // misclassified images only
  uint64_t seed = 0;        // which validation images (Fisher-Yates over the split)
  std::string title;        // first header line (e.g. the model path)
};

struct SamplesResult {
  int64_t shown = 0, correct = 0, scanned = 0;
  double mean_loss = 0.0;
  int width = 0, height = 0;  // PNG size in pixels
};

// Scores a seeded sample of `d.val` with `model` and writes the grid to `png_path` (atomically).
// Throws tinyvit::Error when the class counts differ or nothing is left to show.
SamplesResult write_samples_png(report::InferenceModel& model, const PreparedData& d,
                                const DataConfig& dc, const SamplesOptions& o,
                                const std::string& png_path);

}  // namespace tinyvit::pipeline
