// tinyvit predict --model CKPT|model.tflite IMAGE... [--top-k 5]
//                 [--raw-input FILE.bin] [--dump-logits OUT.bin]
// Top-k classes with confidence per image. Images (JPEG/PNG, any size) are decoded and resized
// to the model's input size; --raw-input takes one already-preprocessed input instead.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "common/error.h"
#include "report/inference.h"
#include "train/trainer.h"

namespace tinyvit::cli {

void register_predict_command(CLI::App& app) {
  struct Args {
    std::string model;
    std::string backend = "runtime";
    std::vector<std::string> images;
    int top_k = 5;
    std::string raw_input;
    std::string dump_logits;
    std::string classes;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("predict", "Top-k classes with confidence for image files");
  cmd->add_option("--model", a->model, "Checkpoint (.pt) or exported .tflite (see --backend)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("images", a->images, "JPEG/PNG files (any size; resized to the model input)");
  cmd->add_option("--top-k,-k", a->top_k, "Classes listed per image")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--raw-input", a->raw_input,
                  "One preprocessed input instead of images: float32 little-endian NCHW "
                  "(1,3,S,S), normalized exactly as the checkpoint model's forward receives it");
  cmd->add_option("--dump-logits", a->dump_logits,
                  "Write the raw logits (float32 little-endian, N x classes) to this file");
  cmd->add_option("--classes", a->classes,
                  "Comma-separated class names (for a .tflite that carries none)");
  cmd->add_option("--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--backend", a->backend,
                  "Runs a .tflite in: runtime (tinyvit's own, float32/int8) | litert (LiteRT.js)")
      ->capture_default_str()
      ->check(CLI::IsMember({"runtime", "litert"}));
  cmd->callback([a] {
    if (a->images.empty() == a->raw_input.empty())
      throw Error("predict: give image files or --raw-input FILE.bin (exactly one of them)");
    train::configure_threads(a->threads);
    auto model = report::open_model(a->model, report::parse_tflite_backend(a->backend));
    if (!a->classes.empty()) {
      std::vector<std::string> names;
      std::stringstream ss(a->classes);
      for (std::string s; std::getline(ss, s, ',');) names.push_back(s);
      model->set_class_names(names);
    }
    const int S = model->input_size();
    torch::Tensor logits;
    std::vector<std::string> labels;
    if (!a->raw_input.empty()) {
      logits = model->logits_from_normalized(report::read_raw_input(a->raw_input, S));
      labels.push_back(a->raw_input);
    } else {
      std::vector<torch::Tensor> px;
      for (const auto& p : a->images) px.push_back(report::load_image_pixels(p, S));
      logits = model->logits_from_pixels(torch::stack(px));
      labels = a->images;
    }
    if (!a->dump_logits.empty()) report::write_raw_floats(a->dump_logits, logits);
    const auto top = report::top_k(logits, a->top_k);
    size_t width = 0;
    for (const auto& n : model->class_names()) width = std::max(width, n.size());
    for (size_t i = 0; i < top.size(); ++i) {
      std::cout << labels[i] << "\n";
      for (size_t j = 0; j < top[i].classes.size(); ++j)
        std::cout << fmt::format("  {}. {:<{}}  {:6.2f}%\n", j + 1,
                                 model->class_names()[top[i].classes[j]], width,
                                 100.0 * top[i].probs[j]);
    }
    if (!a->dump_logits.empty())
      std::cerr << fmt::format("logits ({} x {} float32) -> {}\n", logits.size(0), logits.size(1),
                               a->dump_logits);
  });
}

}  // namespace tinyvit::cli
