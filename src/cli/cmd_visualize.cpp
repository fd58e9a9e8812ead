// tinyvit visualize --model CKPT|model.tflite --data PATH [--count 32] [--seed S] [--only-wrong]
//                   -o samples.png
// The seed project's verification view: a grid of validation images, each with its true label,
// the prediction with its confidence, and the loss; misclassified ones framed in red.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "pipeline/samples.h"
#include "report/inference.h"
#include "train/trainer.h"

namespace tinyvit::cli {

void register_visualize_command(CLI::App& app) {
  struct Args {
    std::string model;
    std::string backend = "runtime";
    std::string out;
    int count = 32;
    int cols = 8;
    int scale = 0;
    bool only_wrong = false;
    pipeline::DataConfig data;
    int threads = 0;
    std::string device = "cpu";
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "visualize", "PNG grid of validation images with label, prediction, loss and confidence");
  cmd->add_option("--model", a->model, "Checkpoint (.pt) or exported .tflite (see --backend)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", a->out, "PNG file to write")->required();
  cmd->add_option("--count", a->count, "Images in the grid")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--cols", a->cols, "Images per row")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--scale", a->scale, "Upscaling of each image (0 = about 128 px per image)")
      ->capture_default_str()
      ->check(CLI::Range(0, 16));
  cmd->add_flag("--only-wrong", a->only_wrong, "Show misclassified images only");
  cmd->add_option("--backend", a->backend,
                  "Runs a .tflite in: runtime (tinyvit's own, float32/int8) | litert (LiteRT.js)")
      ->capture_default_str()
      ->check(CLI::IsMember({"runtime", "litert"}));
  add_data_options(cmd, a->data);
  add_runtime_options(cmd, a->threads, a->device, a->seed);
  cmd->callback([a] {
    train::configure_threads(a->threads);
    auto model = report::open_model(a->model, report::parse_tflite_backend(a->backend));
    const auto d = pipeline::prepare_data(a->data);
    pipeline::SamplesOptions o;
    o.count = a->count;
    o.cols = a->cols;
    o.scale = a->scale;
    o.only_wrong = a->only_wrong;
    o.seed = a->seed;
    o.title = a->model;
    const auto r = pipeline::write_samples_png(*model, d, a->data, o, a->out);
    std::cout << fmt::format("{}: {} images, accuracy {:.2f}% ({} wrong), mean loss {:.4f} -> {} "
                             "({}x{})\n",
                             a->model, r.shown, 100.0 * double(r.correct) / double(r.shown),
                             r.shown - r.correct, r.mean_loss, a->out, r.width, r.height);
  });
}

}  // namespace tinyvit::cli
