// tinyvit pipeline --config FILE.toml | --preset NAME [--data PATH] [--out DIR] [--val-size N]
//                  [--skip-bad] [--device cpu|cuda] [--threads N] [--print-config]
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "pipeline/config.h"
#include "pipeline/pipeline.h"

namespace tinyvit::cli {

void register_pipeline_command(CLI::App& app) {
  struct Args {
    std::string config, preset, data, out, device;
    int threads = -1, val_size = 0;
    bool print = false, skip_bad = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "pipeline", "Run all stages (teacher -> student -> evaluation) into one run directory");
  auto* cfg = cmd->add_option("--config", a->config, "Pipeline configuration (TOML)")
                  ->check(CLI::ExistingFile);
  auto* pre = cmd->add_option("--preset", a->preset, "Built-in configuration: smoke, quick, full");
  cfg->excludes(pre);
  cmd->add_option("--data", a->data, "Override [data] path");
  cmd->add_option("--out", a->out, "Override [run] out (the run directory)");
  cmd->add_option("--device", a->device, "Override [run] device (cpu | cuda)");
  cmd->add_option("--threads", a->threads, "Override [run] threads (0 = all cores)");
  cmd->add_option("--val-size", a->val_size, "Override [data] val_size (validation images)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--skip-bad", a->skip_bad,
                "Override [data] skip_bad: skip undecodable images, print their count");
  cmd->add_flag("--print-config", a->print, "Print the resolved configuration and exit");
  cmd->callback([a] {
    if (a->config.empty() && a->preset.empty())
      throw Error("give --config FILE.toml or --preset NAME (smoke, quick, full)");
    const std::string text =
        a->config.empty() ? pipeline::preset_toml(a->preset) : read_file_bytes(a->config);
    auto c = pipeline::parse_pipeline_config(
        text, a->config.empty() ? "preset '" + a->preset + "'" : a->config);
    if (!a->data.empty()) c.data.path = a->data;
    if (!a->out.empty()) c.out = a->out;
    if (!a->device.empty()) c.device = a->device;
    if (a->threads >= 0) c.threads = a->threads;
    if (a->val_size > 0) c.data.val_size = a->val_size;
    if (a->skip_bad) c.data.skip_bad = true;
    if (a->print) {
      std::cout << pipeline::to_toml(c);
      return;
    }
    pipeline::run_pipeline(c);
  });
}

}  // namespace tinyvit::cli
