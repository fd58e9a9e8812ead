#include "export/tflite_export_int8.h"

#include <nlohmann/json.hpp>

#include <chrono>

#include "common/error.h"
#include "export/int8_rules.h"
#include "export/lower_int8.h"
#include "export/tflite_reader.h"

namespace tinyvit::exporter {

// lower_vit_int8.cpp / lower_resnet_int8.cpp: {graph input, int8 logits}
std::pair<int, int> lower_vit_int8(QEmitter& e, const models::VitConfig& c, const ParamMap& F,
                                   tfl::TensorType io_type,
                                   const std::set<std::string>& float_layers);
std::pair<int, int> lower_resnet_int8(QEmitter& e, const models::ResNetConfig& c,
                                      const ParamMap& F, tfl::TensorType io_type,
                                      const std::vector<float>& mean,
                                      const std::vector<float>& std);

Int8Io parse_int8_io(const std::string& name) {
  if (name == "int8") return Int8Io::kInt8;
  if (name == "uint8") return Int8Io::kUint8;
  if (name == "float32" || name == "float") return Int8Io::kFloat32;
  throw Error("export int8: unknown I/O type '" + name + "' (expected int8, uint8 or float32)");
}

const char* int8_io_name(Int8Io io) {
  switch (io) {
    case Int8Io::kInt8: return "int8";
    case Int8Io::kUint8: return "uint8";
    case Int8Io::kFloat32: return "float32";
  }
  return "?";
}

ExportResult export_tflite_int8(const models::ModelConfig& config, const ParamMap& params,
                                const QuantTable& table, const Int8ExportOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.mean.size() != options.std.size())
    throw Error("export int8: mean and std must have the same number of channels");
  const tfl::TensorType io_type = options.io == Int8Io::kInt8    ? tfl::TensorType::INT8
                                  : options.io == Int8Io::kUint8 ? tfl::TensorType::UINT8
                                                                 : tfl::TensorType::FLOAT32;
  std::string description = options.description;
  if (description.empty())
    description = "tinyvit-edge " + (config.name.empty() ? config.family : config.name) +
                  " full-integer int8; I/O " + int8_io_name(options.io);
  GraphBuilder graph(description);
  QEmitter e(graph, table);
  torch::NoGradGuard no_grad;
  std::pair<int, int> io;
  if (config.family == "vit") {
    io = lower_vit_int8(e, config.vit,
                        options.params_folded
                            ? params
                            : fold_vit_int8(config.vit, params, options.mean, options.std),
                        io_type, options.float_layers);
  } else if (config.family == "resnet") {
    if (!options.float_layers.empty())
      throw Error("export int8: float layers are supported for ViT LayerNorms only");
    io = lower_resnet_int8(e, config.resnet,
                           options.params_folded ? params : fold_resnet_int8(config.resnet, params),
                           io_type,
                           options.mean, options.std);
  } else {
    throw Error("export int8: model family '" + config.family + "' cannot be exported");
  }
  const QuantParam out_q = e.param(io.second);
  int out = io.second;
  if (options.io == Int8Io::kUint8) out = e.quantize(out, "logits.uint8", tfl::TensorType::UINT8, out_q);
  if (options.io == Int8Io::kFloat32) out = e.dequantize(out, "logits.float");
  graph.set_inputs({io.first});
  std::vector<int32_t> outs{out};
  std::vector<std::pair<std::string, int>> sig_outs{{"logits", out}};
  for (const auto& name : options.extra_outputs) {
    outs.push_back(e.find(name));
    sig_outs.emplace_back(name, e.find(name));
  }
  graph.set_outputs(outs);
  graph.add_signature("serving_default", {{"image", io.first}}, sig_outs);
  const QuantParam in_q = pixel_param();
  nlohmann::json meta = {
      {"producer", "tinyvit-edge"}, {"model", config.name}, {"family", config.family},
      {"target", "tflite"}, {"quantization", "int8"}, {"io", int8_io_name(options.io)},
      {"input", "pixels_0_1"}, {"layout", "NHWC"},
      {"input_scale", in_q.scale},
      {"input_zero_point", in_q.zero_point + (options.io == Int8Io::kUint8 ? 128 : 0)},
      {"output_scale", out_q.scale},
      {"output_zero_point", out_q.zero_point + (options.io == Int8Io::kUint8 ? 128 : 0)}};
  if (!options.float_layers.empty())
    meta["float_layers"] = std::vector<std::string>(options.float_layers.begin(),
                                                    options.float_layers.end());
  if (!options.mean.empty()) {
    meta["mean"] = options.mean;
    meta["std"] = options.std;
  }
  add_class_names(meta, options.class_names, config.num_classes());
  graph.add_metadata("tinyvit", meta.dump());

  ExportResult r;
  r.bytes = graph.finish();
  const auto model = read_tflite(r.bytes.data(), r.bytes.size(), "exported int8 model");
  const auto violations = check_int8_rules(*model);
  if (!violations.empty()) {
    std::string msg = "export int8: the file breaks " + std::to_string(violations.size()) +
                      " int8 rule(s):";
    for (std::size_t i = 0; i < violations.size() && i < 20; ++i) msg += "\n  " + violations[i];
    throw Error(msg);
  }
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

}  // namespace tinyvit::exporter
