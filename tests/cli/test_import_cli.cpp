// `tinyvit import` and `tinyvit export-weights` end to end, through their CLI11 registrations
// (the same functions src/cli/main.cpp calls).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/error.h"
#include "import/safetensors.h"
#include "models/checkpoint.h"
#include "models/registry.h"

namespace tinyvit::cli {
void register_import_command(CLI::App& app);
void register_export_weights_command(CLI::App& app);
}  // namespace tinyvit::cli

using namespace tinyvit;
namespace fs = std::filesystem;

namespace {

void run_cli(std::vector<std::string> args) {
  CLI::App app{"tinyvit"};
  app.require_subcommand(1);
  cli::register_import_command(app);
  cli::register_export_weights_command(app);
  args.insert(args.begin(), "tinyvit");
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  app.parse(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST(ImportCli, ImportThenExportWeights) {
  const auto dir = fs::temp_directory_path() / ("tinyvit_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // A small "pretrained" file: our own resnet18_cifar parameters (no BN statistics),
  // "module."-prefixed, 100 classes.
  const auto src = (dir / "src.safetensors").string();
  {
    std::vector<import::OutTensor> ts;
    torch::manual_seed(3);
    auto m = models::build_model(models::model_config("resnet18_cifar", 100));
    for (const auto& p : m->named_parameters()) {
      auto t = p.value().detach().contiguous();
      import::OutTensor o;
      o.name = "module." + p.key();
      o.shape = t.sizes().vec();
      o.f32.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
      ts.push_back(o);
    }
    import::write_safetensors(src, ts, {});
  }
  const auto ckpt = (dir / "m.pt").string();
  // BN running stats are absent from the file -> error without --allow-missing.
  EXPECT_THROW(run_cli({"import", "--from", src, "--arch", "resnet18_cifar", "--num-classes", "3",
                        "-o", ckpt}),
               Error);
  run_cli({"import", "--from", src, "--arch", "resnet18_cifar", "--num-classes", "3",
           "--class-names", "cat,dog,bird", "--allow-missing", "-o", ckpt});
  auto loaded = models::load_checkpoint(ckpt);
  EXPECT_EQ(loaded.meta["class_names"][2], "bird");
  EXPECT_EQ(loaded.meta["input_size"], 32);
  EXPECT_EQ(loaded.meta["import"]["replaced"].size(), 2u);
  EXPECT_EQ(loaded.model->config().num_classes(), 3);

  const auto out = (dir / "w.safetensors").string();
  run_cli({"export-weights", "--model", ckpt, "-o", out});
  const auto f = import::SafetensorsFile::open(out);
  ASSERT_NE(f.find("layer4.1.bn2.running_mean"), nullptr);
  EXPECT_EQ(f.find("fc.weight")->shape, (std::vector<int64_t>{3, 512}));
  EXPECT_NE(f.metadata().at("tinyvit_meta").find("bird"), std::string::npos);
  fs::remove_all(dir);
}
