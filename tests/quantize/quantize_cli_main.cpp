// `tinyvit quantize` alone (the same cmd_quantize.cpp), for measurements without building the
// whole CLI: tinyvit-quantize --model CKPT --calib DATA -o OUT.tflite [...]
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <iostream>

#include "cli/commands.h"
#include "common/error.h"

int main(int argc, char** argv) {
  CLI::App app{"tinyvit quantize (standalone)"};
  app.require_subcommand(1);
  tinyvit::cli::register_quantize_command(app);
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
  }
  return 0;
}
