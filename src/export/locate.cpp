#include "export/locate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/error.h"
#include "export/litert_runner.h"
#include "export/tflite_builder.h"
#include "export/tflite_reader.h"

namespace tinyvit::exporter {
namespace {

// |a - b| of one value of `type` (`width` bytes) stored at a and b; 0 when bit-identical.
double value_diff(tfl::TensorType type, std::size_t width, const uint8_t* a, const uint8_t* b) {
  switch (type) {
    case tfl::TensorType::INT8:
      return std::abs(double(int8_t(*a)) - double(int8_t(*b)));
    case tfl::TensorType::UINT8:
      return std::abs(double(*a) - double(*b));
    case tfl::TensorType::INT32: {
      int32_t x, y;
      std::memcpy(&x, a, 4);
      std::memcpy(&y, b, 4);
      return std::abs(double(x) - double(y));
    }
    case tfl::TensorType::FLOAT32: {
      float x, y;
      std::memcpy(&x, a, 4);
      std::memcpy(&y, b, 4);
      if (std::memcmp(a, b, 4) == 0) return 0;
      const double d = std::abs(double(x) - double(y));
      return std::isnan(d) ? INFINITY : (d == 0 ? 1e-45 : d);  // -0 vs +0 still "differs"
    }
    default:  // other types: identical or not
      return std::memcmp(a, b, width) == 0 ? 0 : 1;
  }
}

}  // namespace

std::vector<TensorDiff> compare_every_tensor(const std::string& tflite_path,
                                             const std::vector<float>& inputs,
                                             RuntimeArithmetic arithmetic) {
  auto model = read_tflite_file(tflite_path);
  if (model->subgraphs.empty()) throw Error(tflite_path + ": no subgraph");
  auto& sg = *model->subgraphs[0];
  if (sg.inputs.size() != 1)
    throw Error(tflite_path + ": comparing every tensor needs a file with one input");
  // Every op output, in op order, becomes a graph output (and a signature output named after
  // its position, so LiteRT's name-ordered signature lists them in the same order).
  struct Watched {
    int op, tensor;
  };
  std::vector<Watched> watched;
  std::vector<bool> seen(sg.tensors.size(), false);
  for (std::size_t i = 0; i < sg.operators.size(); ++i)
    for (int t : sg.operators[i]->outputs)
      if (t >= 0 && static_cast<std::size_t>(t) < seen.size() && !seen[t]) {
        seen[t] = true;
        watched.push_back({static_cast<int>(i), t});
      }
  sg.outputs.clear();
  for (const auto& w : watched) sg.outputs.push_back(w.tensor);
  if (model->signature_defs.empty()) {  // a file from another tool may have none; LiteRT.js
    auto sig = std::make_unique<tfl::SignatureDefT>();  // runs signature 0
    sig->signature_key = "serving_default";
    sig->subgraph_index = 0;
    auto in = std::make_unique<tfl::TensorMapT>();
    in->name = "input";
    in->tensor_index = static_cast<uint32_t>(sg.inputs[0]);
    sig->inputs.push_back(std::move(in));
    model->signature_defs.push_back(std::move(sig));
  }
  {
    auto& outs = model->signature_defs[0]->outputs;
    outs.clear();
    for (std::size_t k = 0; k < watched.size(); ++k) {
      auto tm = std::make_unique<tfl::TensorMapT>();
      tm->name = fmt::format("t{:06d}", k);
      tm->tensor_index = static_cast<uint32_t>(watched[k].tensor);
      outs.push_back(std::move(tm));
    }
  }
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  fbb.Finish(tfl::Model::Pack(fbb, model.get()), tfl::ModelIdentifier());
  const std::string bytes(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());

  // Ours first: it also fixes the input bytes both runtimes get.
  const RawRun ours = run_runtime_all_outputs(bytes, inputs, RuntimeKernels::kAuto, arithmetic);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tinyvit-locate-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "every_tensor.tflite").string();
  write_bytes_atomic(path, bytes.data(), bytes.size());
  LiteRtOutput theirs;
  try {
    theirs = run_litert(path, ours.input_bytes.data(), ours.input_bytes.size());
  } catch (...) {
    std::filesystem::remove_all(dir);
    throw;
  }
  std::filesystem::remove_all(dir);
  if (theirs.bytes.size() != ours.output_bytes.size())
    throw Error(fmt::format("{}: LiteRT returned {} output bytes, the runtime {}", tflite_path,
                            theirs.bytes.size(), ours.output_bytes.size()));

  // LiteRT's outputs by signature name -> offset within one sample.
  std::map<std::string, std::size_t> litert_offset;
  std::size_t off = 0;
  for (const auto& o : theirs.info.at("outputs")) {
    litert_offset[o.at("name").get<std::string>()] = off;
    off += o.at("bytes").get<std::size_t>();
  }
  const std::size_t per_sample = off;
  const std::size_t samples = per_sample ? ours.output_bytes.size() / per_sample : 0;
  std::vector<TensorDiff> diffs;
  std::size_t ours_off = 0;
  for (std::size_t k = 0; k < watched.size(); ++k) {
    const auto& t = *sg.tensors[watched[k].tensor];
    const std::size_t size = ours.output_sizes.at(k), width = element_size(t.type);
    const std::string name = fmt::format("t{:06d}", k);
    const auto found = litert_offset.find(name);
    if (found == litert_offset.end())
      throw Error(tflite_path + ": LiteRT returned no output " + name + " (" + t.name + ")");
    const std::size_t lrt_off = found->second;
    TensorDiff d;
    d.op = watched[k].op;
    const auto& code = *model->operator_codes.at(sg.operators[d.op]->opcode_index);
    d.op_name = op_name(code.builtin_code);
    d.tensor = t.name;
    d.type = type_name(t.type);
    for (std::size_t s = 0; s < samples; ++s) {
      const uint8_t* a = ours.output_bytes.data() + s * per_sample + ours_off;
      const uint8_t* b = theirs.bytes.data() + s * per_sample + lrt_off;
      for (std::size_t i = 0; i + width <= size; i += width) {
        const double v = value_diff(t.type, width, a + i, b + i);
        ++d.values;
        d.differing += v != 0;
        d.max_abs_diff = std::max(d.max_abs_diff, v);
      }
    }
    ours_off += size;
    diffs.push_back(std::move(d));
  }
  return diffs;
}

std::string format_tensor_diffs(const std::vector<TensorDiff>& diffs, int rows) {
  std::string out;
  int shown = 0, differing = 0;
  for (const auto& d : diffs) differing += d.differing > 0;
  if (differing == 0)
    return fmt::format("every tensor identical: {} op outputs compared\n", diffs.size());
  out += fmt::format("{} of {} op outputs differ; in op order:\n", differing, diffs.size());
  for (const auto& d : diffs) {
    if (d.differing == 0) continue;
    if (shown++ == rows) break;
    out += fmt::format("  op {:4d} {:<18} {:<36} {:>10} of {:>10} values differ, max {:g}{}\n",
                       d.op, d.op_name, d.tensor, d.differing, d.values, d.max_abs_diff,
                       d.type == "FLOAT32" ? "" : " steps");
  }
  return out;
}

}  // namespace tinyvit::exporter
