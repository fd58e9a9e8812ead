// tinyvit verify --model CKPT --tflite FILE --data PATH [--limit N]
// The exported file, run by LiteRT.js (a real TFLite runtime), vs the LibTorch model on the
// validation split: top-1 agreement, max/mean |logit diff|, accuracy of each.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "export/verify.h"
#include "models/checkpoint.h"
#include "pipeline/stage.h"
#include "train/trainer.h"

namespace tinyvit::cli {

void register_verify_command(CLI::App& app) {
  using namespace tinyvit;
  struct Args {
    std::string model;
    std::string tflite;
    int64_t limit = 0;
    int64_t locate = 0;
    std::string json_out;
    pipeline::DataConfig data;
    int threads = 0;
    std::string device = "cpu";
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "verify", "Compare an exported .tflite (run in LiteRT.js) with its checkpoint");
  cmd->add_option("--model", a->model, "Checkpoint the file was exported from")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--tflite", a->tflite, ".tflite file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--limit", a->limit, "Use at most N validation images (0 = all)")
      ->capture_default_str();
  cmd->add_option("--json", a->json_out, "Also write the summary as JSON to this file");
  cmd->add_option("--locate", a->locate,
                  "Also compare every op output of the file, LiteRT.js vs the runtime in "
                  "LiteRT's arithmetic, on the first N images: where they first differ")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cli::add_data_options(cmd, a->data);
  cli::add_runtime_options(cmd, a->threads, a->device, a->seed);
  cmd->callback([a] {
    train::configure_threads(a->threads);
    auto m = models::load_checkpoint(a->model);
    if (a->limit > 0) a->data.val_limit = a->limit;
    const auto d = pipeline::prepare_data(a->data);
    const auto [pixels, labels] =
        pipeline::validation_pixels(d, a->data, m.model->config().img_size());
    std::vector<float> mean, std;
    if (m.meta.contains("mean") && m.meta.contains("std")) {
      mean = m.meta["mean"].get<std::vector<float>>();
      std = m.meta["std"].get<std::vector<float>>();
    }
    const auto r =
        exporter::verify_tflite(*m.model, a->tflite, pixels, labels, mean, std, a->locate);
    std::cout << a->tflite << " vs " << a->model << "\n" << exporter::format_verify(r);
    if (!a->json_out.empty()) write_text_atomic(a->json_out, exporter::to_json(r).dump(2) + "\n");
  });
}

}  // namespace tinyvit::cli
