#pragma once
// LiteRT.js (the real TFLite runtime, as wasm under Node 20) as an independent referee for the
// files we export. Runs tools/litert/run.mjs once for a whole batch of inputs.
//
// Where tools/litert is: $TINYVIT_LITERT_DIR if set, else the source tree's tools/litert.
// Missing node or missing node_modules -> tinyvit::Error that says to run
// scripts/install-deps.sh --test.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tinyvit::exporter {

std::string litert_dir();
// Throws tinyvit::Error (with the install hint) unless node and @litertjs/core are present.
void check_litert_available(const std::string& dir = litert_dir());

struct LiteRtOutput {
  std::vector<uint8_t> bytes;  // N samples x (all outputs of one sample), raw
  nlohmann::json info;         // {"samples", "inputs":[{name,type,shape,bytes}], "outputs":[..]}
};

// `inputs`: N samples back to back, each = all model inputs in signature order, raw bytes of
// their declared types (float32 or int8, little-endian). One Node process for the whole batch.
LiteRtOutput run_litert(const std::string& model_path, const void* inputs, std::size_t bytes,
                        const std::string& dir = litert_dir());

// float32 convenience: a single float32 input and a single float32 output per sample.
std::vector<float> run_litert_f32(const std::string& model_path, const std::vector<float>& inputs,
                                  const std::string& dir = litert_dir());

}  // namespace tinyvit::exporter
