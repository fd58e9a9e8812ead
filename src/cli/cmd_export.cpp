// tinyvit export --model CKPT --format tflite|c-array [--target tflm] -o OUT
// tinyvit export --model FILE.tflite --format c-array -o OUT     (e.g. the int8 file)
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "common/atomic_file.h"
#include "common/error.h"
#include "export/tflite_export.h"
#include "export/verify.h"
#include "models/checkpoint.h"

namespace tinyvit::cli {
namespace {

struct ExportArgs {
  std::string model;
  std::string format = "tflite";
  std::string target = "tflite";
  std::string out;
  std::string symbol = "g_model";
};

// OUT without a .h/.cc/.cpp/.c extension: the prefix write_c_array appends them to.
std::string c_array_prefix(std::string prefix) {
  for (const char* ext : {".h", ".cc", ".cpp", ".c"}) {
    const std::string e(ext);
    if (prefix.size() > e.size() && prefix.compare(prefix.size() - e.size(), e.size(), e) == 0)
      prefix.resize(prefix.size() - e.size());
  }
  return prefix;
}

// The flatbuffer file identifier "TFL3" at bytes 4-7 (only the head is read: a checkpoint
// can be large).
bool is_tflite_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char head[8] = {};
  return f.read(head, sizeof(head)) && std::string(head + 4, 4) == "TFL3";
}

// A finished .tflite (the int8 file `tinyvit quantize` writes, or any exported one) as a C
// array: the file is parsed and checked first; class names from its "tinyvit" metadata.
void tflite_to_c_array(const ExportArgs& a) {
  if (a.format != "c-array")
    throw Error("export: " + a.model + " is a .tflite file already; --format c-array turns it "
                "into a C array (--format tflite needs a checkpoint)");
  if (a.target != "tflite")
    throw Error("export: --target applies when exporting a checkpoint, not to " + a.model);
  const auto meta = exporter::read_tinyvit_metadata(a.model);  // parses and checks the file
  const std::string data = read_file_bytes(a.model);
  const std::vector<uint8_t> bytes(data.begin(), data.end());
  const auto names = models::stored_class_names(meta);
  const std::string prefix = c_array_prefix(a.out);
  exporter::write_c_array(prefix, bytes, a.symbol, names);
  std::cout << fmt::format("{}.h, {}.cc: {} ({} bytes{}{})\n", prefix, prefix, a.model,
                           bytes.size(),
                           meta.contains("quantization")
                               ? ", " + meta["quantization"].get<std::string>()
                               : std::string(),
                           names.empty() ? std::string(", no class names in its metadata")
                                         : fmt::format(", {} class names", names.size()));
}

}  // namespace

void register_export_command(CLI::App& app) {
  using namespace tinyvit;
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export", "Export a checkpoint as a float32 .tflite file or a C array for firmware (also "
                "an existing .tflite, e.g. the int8 one, as a C array)");
  cmd->add_option("--model", a->model, "Checkpoint, or a .tflite file for --format c-array")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--format", a->format, "tflite | c-array")
      ->check(CLI::IsMember({"tflite", "c-array"}))
      ->capture_default_str();
  cmd->add_option("--target", a->target,
                  "tflite (any TFLite runtime) | tflm (TensorFlow Lite Micro: GELU as tanh form)")
      ->check(CLI::IsMember({"tflite", "tflm"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", a->out,
                  "Output .tflite file; for c-array a path prefix (writes PREFIX.h and PREFIX.cc)")
      ->required();
  cmd->add_option("--symbol", a->symbol, "C array name for --format c-array")
      ->capture_default_str();
  cmd->callback([a] {
    if (is_tflite_file(a->model)) return tflite_to_c_array(*a);
    auto loaded = models::load_checkpoint(a->model);
    exporter::ExportOptions o;
    o.target = exporter::parse_export_target(a->target);
    if (loaded.meta.contains("mean") && loaded.meta.contains("std")) {
      o.mean = loaded.meta["mean"].get<std::vector<float>>();
      o.std = loaded.meta["std"].get<std::vector<float>>();
    } else {
      std::cerr << "note: " << a->model << " stores no mean/std: the exported model takes "
                << "already-normalized NHWC input\n";
    }
    o.class_names = models::stored_class_names(loaded.meta);
    const auto r = exporter::export_tflite(*loaded.model, o);
    std::string written;
    if (a->format == "tflite") {
      exporter::write_tflite(a->out, r.bytes);
      written = a->out;
    } else {
      const std::string prefix = c_array_prefix(a->out);
      exporter::write_c_array(prefix, r.bytes, a->symbol, o.class_names);
      written = prefix + ".h, " + prefix + ".cc";
    }
    std::cout << fmt::format(
        "{}: {} ({}), {} bytes ({:+.2f}% vs {} parameter bytes), {} ops, {} tensors, "
        "exported in {:.3f} s\n",
        written, loaded.model->config().name, a->target, r.bytes.size(),
        100.0 * (static_cast<double>(r.bytes.size()) / static_cast<double>(r.parameter_bytes) - 1),
        r.parameter_bytes, r.num_ops, r.num_tensors, r.seconds);
    std::cout << "input  image  float32 [" << fmt::format("{}", fmt::join(r.input_shape, ","))
              << "] NHWC" << (o.mean.empty() ? ", normalized" : ", pixels in [0,1]") << "\n"
              << "output logits float32 [" << fmt::format("{}", fmt::join(r.output_shape, ","))
              << "]\n";
  });
}

}  // namespace tinyvit::cli
