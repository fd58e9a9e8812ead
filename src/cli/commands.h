#pragma once
// Each `tinyvit <command>` lives in its own cmd_<command>.cpp and registers itself here.
#include <CLI/CLI.hpp>

namespace tinyvit::cli {

void register_pipeline_command(CLI::App& app);
void register_train_command(CLI::App& app);    // also registers `distill`
void register_info_command(CLI::App& app);
void register_evaluate_command(CLI::App& app);
void register_export_command(CLI::App& app);
void register_verify_command(CLI::App& app);
void register_bench_command(CLI::App& app);     // runtime/: latency, arena, size
void register_quantize_command(CLI::App& app);
void register_prune_command(CLI::App& app);
void register_predict_command(CLI::App& app);
void register_visualize_command(CLI::App& app);
void register_import_command(CLI::App& app);          // cmd_import.cpp
void register_export_weights_command(CLI::App& app);  // cmd_export_weights.cpp

}  // namespace tinyvit::cli
