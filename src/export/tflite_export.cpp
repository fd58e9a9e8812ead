#include "export/tflite_export.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "export/lower.h"
#include "export/tflite_reader.h"

namespace tinyvit::exporter {

ExportTarget parse_export_target(const std::string& name) {
  if (name == "tflite") return ExportTarget::kTflite;
  if (name == "tflm") return ExportTarget::kTflm;
  throw Error("export: unknown target '" + name + "' (expected tflite or tflm)");
}

int normalize_input(Emitter& e, int x, const LowerOptions& o) {
  if (o.mean.empty()) return x;
  auto m = torch::tensor(o.mean), s = torch::tensor(o.std);
  x = e.mul(x, e.constant("normalize.scale", 1.0f / s), "normalize.scaled");
  return e.add(x, e.constant("normalize.shift", -m / s), "normalize");
}

void finish_graph(Emitter& e, int input, int logits) {
  GraphBuilder& g = e.graph();
  g.set_inputs({input});
  g.set_outputs({logits});
  g.add_signature("serving_default", {{"image", input}}, {{"logits", logits}});
}

ExportResult export_tflite(const models::ModelConfig& config, const ParamMap& params,
                           const ExportOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  LowerOptions lo;
  lo.gelu_tanh = options.target == ExportTarget::kTflm;
  if (options.mean.size() != options.std.size())
    throw Error("export: mean and std must have the same number of channels");
  if (!options.mean.empty()) {
    const int chans = config.in_chans();
    if (static_cast<int>(options.mean.size()) != chans)
      throw Error("export: mean/std have " + std::to_string(options.mean.size()) +
                  " channels, the model takes " + std::to_string(chans));
    for (float s : options.std)
      if (!(s > 0)) throw Error("export: std must be positive");
    lo.mean = options.mean;
    lo.std = options.std;
  }
  std::string description = options.description;
  if (description.empty()) {
    description = "tinyvit-edge " + (config.name.empty() ? config.family : config.name) +
                  (lo.gelu_tanh ? " (tflm profile: tanh GELU)" : "") +
                  (lo.mean.empty() ? "; input: normalized NHWC float32"
                                   : "; input: NHWC float32 pixels in [0,1]");
  }
  GraphBuilder graph(description);
  // Our conventions, machine-readable (verify and predict read them back).
  nlohmann::json meta = {{"producer", "tinyvit-edge"},
                         {"model", config.name},
                         {"family", config.family},
                         {"target", lo.gelu_tanh ? "tflm" : "tflite"},
                         {"input", lo.mean.empty() ? "normalized" : "pixels_0_1"},
                         {"layout", "NHWC"}};
  if (!lo.mean.empty()) {
    meta["mean"] = lo.mean;
    meta["std"] = lo.std;
  }
  add_class_names(meta, options.class_names, config.num_classes());
  graph.add_metadata("tinyvit", meta.dump());
  Emitter e(graph);
  torch::NoGradGuard no_grad;
  if (config.family == "vit") {
    lower_vit(e, config.vit, params, lo);
  } else if (config.family == "resnet") {
    lower_resnet(e, config.resnet, params, lo);
  } else if (config.family == "cnn") {
    lower_cnn(e, config.cnn, params, lo);
  } else {
    throw Error("export: model family '" + config.family + "' cannot be exported to TFLite");
  }

  ExportResult r;
  r.bytes = graph.finish();
  // Self-check: what we hand out must pass our own reader (Verifier + index checks).
  const auto model = read_tflite(r.bytes.data(), r.bytes.size(), "exported model");
  r.constant_bytes = constant_bytes(*model);
  r.op_counts = op_histogram(*model);
  r.num_ops = graph.num_ops();
  r.num_tensors = graph.num_tensors();
  const auto& sg = *model->subgraphs[0];
  r.input_shape = sg.tensors[sg.inputs[0]]->shape;
  r.output_shape = sg.tensors[sg.outputs[0]]->shape;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

void add_class_names(nlohmann::json& meta, const std::vector<std::string>& names,
                     int num_classes) {
  if (names.empty()) return;
  if (static_cast<int>(names.size()) != num_classes)
    throw Error("export: " + std::to_string(names.size()) + " class names for a model with " +
                std::to_string(num_classes) + " classes");
  meta["class_names"] = names;
}

ExportResult export_tflite(const models::Classifier& model, const ExportOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ParamMap params = collect_params(model);
  int64_t numel = 0;
  for (const auto& p : model.parameters(true)) numel += p.numel();
  ExportResult r = export_tflite(model.config(), params, options);
  r.parameter_bytes = numel * 4;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

void write_tflite(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_bytes_atomic(path, bytes.data(), bytes.size());
}

namespace {

// `s` as a C string literal: printable ASCII as is, except quote, backslash and '?' (no
// trigraph can form); every other byte as a 3-digit octal escape (never a hex escape, which
// would swallow a following hex digit).
std::string c_string_literal(const std::string& s) {
  std::string out = "\"";
  char oct[8];
  for (unsigned char ch : s) {
    if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '?') {
      out += static_cast<char>(ch);
    } else {
      std::snprintf(oct, sizeof(oct), "\\%03o", ch);
      out += oct;
    }
  }
  return out + "\"";
}

}  // namespace

void write_c_array(const std::string& path_prefix, const std::vector<uint8_t>& bytes,
                   const std::string& symbol, const std::vector<std::string>& class_names) {
  bool ok = !symbol.empty() && !std::isdigit(static_cast<unsigned char>(symbol[0]));
  for (char ch : symbol) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
  if (!ok) throw Error("export: '" + symbol + "' is not a valid C identifier for --symbol");
  std::string base = path_prefix;
  const auto slash = base.find_last_of('/');
  if (slash != std::string::npos) base = base.substr(slash + 1);

  std::ostringstream h;
  h << "// Generated by tinyvit export: a TFLite model (" << bytes.size() << " bytes) for\n"
    << "// firmware. The array is 16-byte aligned as TFLite Micro requires; do not edit.\n"
    << "#pragma once\n\n"
    << "extern const unsigned char " << symbol << "[];\n"
    << "extern const unsigned int " << symbol << "_len;\n";
  if (!class_names.empty())
    h << "// Class names in label order (output index i is " << symbol << "_class_names[i]).\n"
      << "extern const char* const " << symbol << "_class_names[];\n"
      << "extern const unsigned int " << symbol << "_num_classes;\n";
  write_text_atomic(path_prefix + ".h", h.str());

  write_file_atomic(path_prefix + ".cc", [&](std::ostream& os) {
    os << "// Generated by tinyvit export; do not edit.\n"
       << "#include \"" << base << ".h\"\n\n"
       << "alignas(16) const unsigned char " << symbol << "[] = {\n";
    char hex[8];
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      std::snprintf(hex, sizeof(hex), "0x%02x,", bytes[i]);
      os << ((i % 12 == 0) ? "  " : " ") << hex;
      if (i % 12 == 11 || i + 1 == bytes.size()) os << "\n";
    }
    os << "};\n"
       << "const unsigned int " << symbol << "_len = " << bytes.size() << ";\n";
    if (!class_names.empty()) {
      os << "\nconst char* const " << symbol << "_class_names[] = {\n";
      for (const auto& n : class_names) os << "  " << c_string_literal(n) << ",\n";
      os << "};\n"
         << "const unsigned int " << symbol << "_num_classes = " << class_names.size() << ";\n";
    }
  });
}

}  // namespace tinyvit::exporter
