// tinyvit info MODEL_OR_CHECKPOINT [--layers]   parameters, MACs, per-layer table
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "models/checkpoint.h"
#include "models/info.h"
#include "models/registry.h"

namespace tinyvit::cli {

void register_info_command(CLI::App& app) {
  struct Args {
    std::string what;
    bool layers = false, list = false;
    int classes = 10;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("info", "Parameters, MACs and a per-layer table of a model");
  cmd->add_option("model", a->what, "Registered model name or checkpoint file");
  cmd->add_flag("--layers", a->layers, "Print the per-layer table");
  cmd->add_flag("--list", a->list, "List the registered models");
  cmd->add_option("--num-classes", a->classes, "Classes (for a registered name)")
      ->capture_default_str();
  cmd->callback([a] {
    if (a->list || a->what.empty()) {
      for (const auto& n : models::registered_model_names()) {
        auto c = models::model_config(n, a->classes);
        auto i = models::model_info(c);
        std::cout << n << "  " << i.params / 1e6 << " M params, " << i.macs / 1e6
                  << " M MACs\n";
      }
      return;
    }
    models::ModelConfig c;
    if (std::filesystem::is_regular_file(a->what)) c = models::load_checkpoint(a->what).model->config();
    else c = models::model_config(a->what, a->classes);
    std::cout << models::format_model_info(c, models::model_info(c), a->layers);
  });
}

}  // namespace tinyvit::cli
