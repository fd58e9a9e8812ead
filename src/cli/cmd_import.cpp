// tinyvit import --from FILE --arch NAME --num-classes N [--img-size S] -o model.pt
//   pretrained timm / torchvision weights (safetensors or .pth) -> a tinyvit checkpoint
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "common/error.h"
#include "import/import.h"
#include "models/checkpoint.h"

namespace tinyvit::cli {

namespace {

// "a,b,c" or a file with one class name per line.
std::vector<std::string> parse_class_names(const std::string& arg) {
  std::vector<std::string> names;
  if (arg.empty()) return names;
  if (std::filesystem::is_regular_file(arg)) {
    std::ifstream in(arg);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) names.push_back(line);
    return names;
  }
  std::size_t start = 0;
  while (start <= arg.size()) {
    const auto comma = arg.find(',', start);
    names.push_back(arg.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return names;
}

}  // namespace

void register_import_command(CLI::App& app) {
  struct Args {
    std::string from, out, class_names;
    import::ImportOptions opt;
    std::vector<float> mean{0.485f, 0.456f, 0.406f}, std{0.229f, 0.224f, 0.225f};
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "import",
      "Pretrained weights (safetensors or .pth; timm / torchvision names) -> a checkpoint.\n"
      "The head is re-initialised when --num-classes differs from the file's; the ViT position\n"
      "embedding (and patch kernel) is resampled when the image size or patch size differs.\n"
      "See docs/pretrained.md.");
  cmd->add_option("--from", a->from, "Weights file (.safetensors, or .pth/.pt from torch.save)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--arch", a->opt.arch,
                  "Registered architecture (`tinyvit info --list`), e.g. resnet18, "
                  "vit_tiny_patch16_224")
      ->required();
  cmd->add_option("--num-classes", a->opt.num_classes, "Classes of the new model")
      ->capture_default_str();
  cmd->add_option("--img-size", a->opt.img_size,
                  "Input size (default: the architecture's; ViT position embeddings are resampled)");
  cmd->add_option("--class-names", a->class_names,
                  "Comma-separated class names, or a file with one per line (default class_<i>)");
  cmd->add_option("--mean", a->mean, "Input normalisation mean stored in the checkpoint (ImageNet)")
      ->expected(3)
      ->capture_default_str();
  cmd->add_option("--std", a->std, "Input normalisation std stored in the checkpoint (ImageNet)")
      ->expected(3)
      ->capture_default_str();
  cmd->add_flag("--allow-missing", a->opt.allow_missing,
                "Keep random weights for tensors missing from the file or of another shape");
  cmd->add_option("--seed", a->opt.seed, "Seed of the new head's initialisation")
      ->capture_default_str();
  cmd->add_option("-o,--out", a->out, "Output checkpoint (.pt)")->required();
  cmd->callback([a] {
    auto sd = import::read_weights(a->from);
    auto r = import::import_state_dict(sd, a->opt);
    std::cout << r.report.format() << "\n";
    auto meta = import::import_meta(r.model->config(), a->from, parse_class_names(a->class_names),
                                     r.report);
    meta["mean"] = a->mean;
    meta["std"] = a->std;
    models::save_checkpoint(a->out, *r.model, meta);
    std::cout << "wrote " << a->out << " (" << r.model->config().name << ", "
              << r.model->config().num_classes() << " classes, " << r.model->config().img_size()
              << " px)\n";
  });
}

}  // namespace tinyvit::cli
