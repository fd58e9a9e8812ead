#pragma once
// Command-line options shared by several commands, bound to the same structs the TOML
// configuration fills (so flags and config keys have one meaning).
#include <CLI/CLI.hpp>

#include "pipeline/stage.h"

namespace tinyvit::cli {

// --NAME sets `value`, --no-NAME clears it; the last one given wins (as with gcc's -fx / -fno-x).
// The help text gets the default, read from `value` now: "Random horizontal flip (default: on)".
void add_switch(CLI::App* cmd, const std::string& name, bool& value, const std::string& help);

// --precision fp32|bf16|auto of a training run (train/precision.h).
void add_precision_option(CLI::App* cmd, std::string& precision);

void add_data_options(CLI::App* cmd, pipeline::DataConfig& d);
void add_stage_options(CLI::App* cmd, pipeline::StageConfig& s, bool student);
void add_runtime_options(CLI::App* cmd, int& threads, std::string& device, uint64_t& seed);

}  // namespace tinyvit::cli
