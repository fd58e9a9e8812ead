// tinyvit: train a CNN teacher, distill a small ViT, export and run it on devices.
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <iostream>

#include "cli/commands.h"
#include "common/error.h"

int main(int argc, char** argv) {
  CLI::App app{
      "tinyvit: CNN teacher -> ViT student (distillation) -> TFLite, from one C++ toolkit.\n"
      "Run `tinyvit <command> --help` for the options of a command.",
      "tinyvit"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tinyvit-edge 0.1.0");
  tinyvit::cli::register_pipeline_command(app);
  tinyvit::cli::register_train_command(app);
  tinyvit::cli::register_evaluate_command(app);
  tinyvit::cli::register_info_command(app);
  tinyvit::cli::register_export_command(app);
  tinyvit::cli::register_verify_command(app);
  tinyvit::cli::register_bench_command(app);
  tinyvit::cli::register_quantize_command(app);
  tinyvit::cli::register_prune_command(app);
  tinyvit::cli::register_predict_command(app);
  tinyvit::cli::register_visualize_command(app);
  tinyvit::cli::register_import_command(app);
  tinyvit::cli::register_export_weights_command(app);
  if (argc == 1) {  // no command: the command list, not CLI11's "A subcommand is required"
    std::cout << app.help();
    return 1;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const tinyvit::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "error (LibTorch): " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
