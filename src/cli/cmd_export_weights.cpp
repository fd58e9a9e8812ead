// tinyvit export-weights --model CKPT -o FILE.safetensors
//   a checkpoint's weights as safetensors, with timm / torchvision names (back to Python)
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "import/import.h"
#include "models/checkpoint.h"

namespace tinyvit::cli {

void register_export_weights_command(CLI::App& app) {
  struct Args {
    std::string model, out;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "export-weights",
      "Write a checkpoint's weights as safetensors (F32; BatchNorm counters I64), named as in\n"
      "timm (ViT) / torchvision (ResNet); __metadata__ holds the model config and meta as JSON.");
  cmd->add_option("--model", a->model, "Checkpoint (.pt)")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--out", a->out, "Output .safetensors file")->required();
  cmd->callback([a] {
    auto loaded = models::load_checkpoint(a->model);
    import::export_safetensors(a->out, *loaded.model, loaded.meta);
    std::cout << "wrote " << a->out << " (" << import::model_state_dict(*loaded.model).size()
              << " tensors)\n";
  });
}

}  // namespace tinyvit::cli
