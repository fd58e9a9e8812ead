#pragma once
// Reads and validates a .tflite file written in our schema subset (or by any TFLite writer,
// for the tables we know). Validation = the flatbuffers Verifier (every offset and vector
// inside the file) plus our own checks: identifier "TFL3", schema version 3, one or more
// subgraphs, every tensor/buffer/opcode index in range, buffers[0] empty, constant buffer sizes
// consistent with their tensor's shape and type, and signature tensor indices in range.
// Anything wrong -> tinyvit::Error naming the file and the problem; never a crash.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "export/tflite_schema_generated.h"

namespace tinyvit::exporter {

namespace tfl = ::tinyvit::tflite;

// `what` names the source in error messages (a path, or "exported model").
std::unique_ptr<tfl::ModelT> read_tflite(const void* data, std::size_t size,
                                         const std::string& what = "tflite");
std::unique_ptr<tfl::ModelT> read_tflite_file(const std::string& path);

// Operator counts by name ("FULLY_CONNECTED" -> 12), for reports and tests.
std::map<std::string, int> op_histogram(const tfl::ModelT& model);
// Sum of all constant buffer bytes.
int64_t constant_bytes(const tfl::ModelT& model);
// Multi-line human-readable summary: inputs, outputs, operator histogram, sizes.
std::string summarize(const tfl::ModelT& model);

}  // namespace tinyvit::exporter
