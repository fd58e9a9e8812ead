#include "export/tflite_reader.h"

#include <cstring>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "export/tflite_builder.h"

namespace tinyvit::exporter {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& why) {
  throw Error(what + ": not a valid .tflite file: " + why);
}

void check_indices(const std::string& what, const std::vector<int32_t>& list, int n,
                   bool allow_optional, const std::string& where) {
  for (int32_t i : list) {
    if ((allow_optional && i == -1)) continue;
    if (i < 0 || i >= n)
      fail(what, where + " refers to tensor " + std::to_string(i) + " of " + std::to_string(n));
  }
}

}  // namespace

std::unique_ptr<tfl::ModelT> read_tflite(const void* data, std::size_t size,
                                         const std::string& what) {
  if (size < 8) fail(what, "file is " + std::to_string(size) + " bytes (truncated)");
  // The Verifier needs the root offset's alignment to hold; copy into aligned storage.
  std::vector<uint64_t> aligned((size + 7) / 8);
  std::memcpy(aligned.data(), data, size);
  const auto* bytes = reinterpret_cast<const uint8_t*>(aligned.data());
  if (!tfl::ModelBufferHasIdentifier(bytes))
    fail(what, "missing file identifier \"TFL3\" at bytes 4..7");
  flatbuffers::Verifier verifier(bytes, size, /*max_depth=*/64, /*max_tables=*/10000000);
  if (!tfl::VerifyModelBuffer(verifier))
    fail(what, "flatbuffers verification failed (truncated or corrupted)");

  std::unique_ptr<tfl::ModelT> model(tfl::GetModel(bytes)->UnPack());
  if (model->version != 3)
    fail(what, "schema version " + std::to_string(model->version) + " (expected 3)");
  if (model->subgraphs.empty()) fail(what, "no subgraphs");
  if (model->buffers.empty()) fail(what, "no buffers (buffers[0] must exist and be empty)");
  if (!model->buffers[0]->data.empty()) fail(what, "buffers[0] is not empty");
  const int num_buffers = static_cast<int>(model->buffers.size());
  const int num_opcodes = static_cast<int>(model->operator_codes.size());

  for (std::size_t s = 0; s < model->subgraphs.size(); ++s) {
    const auto& sg = *model->subgraphs[s];
    const std::string where = "subgraph " + std::to_string(s);
    const int n = static_cast<int>(sg.tensors.size());
    for (int t = 0; t < n; ++t) {
      const auto& tensor = *sg.tensors[t];
      const std::string tn = where + " tensor " + std::to_string(t) + " '" + tensor.name + "'";
      if (static_cast<int64_t>(tensor.buffer) >= num_buffers)
        fail(what, tn + " refers to buffer " + std::to_string(tensor.buffer) + " of " +
                       std::to_string(num_buffers));
      for (int32_t d : tensor.shape)
        if (d < 0) fail(what, tn + " has a negative dimension");
      const auto& data = model->buffers[tensor.buffer]->data;
      if (tensor.buffer != 0 && !data.empty()) {
        std::size_t elem = 0;
        try {
          elem = element_size(tensor.type);
        } catch (const Error&) {
          continue;  // a type we do not size (string, ...): nothing to check
        }
        const auto want = static_cast<std::size_t>(num_elements(tensor.shape)) * elem;
        if (data.size() != want)
          fail(what, tn + " has " + std::to_string(data.size()) + " bytes of data, its shape and " +
                         "type need " + std::to_string(want));
      }
    }
    check_indices(what, sg.inputs, n, false, where + " inputs");
    check_indices(what, sg.outputs, n, false, where + " outputs");
    for (std::size_t o = 0; o < sg.operators.size(); ++o) {
      const auto& op = *sg.operators[o];
      const std::string on = where + " operator " + std::to_string(o);
      if (static_cast<int64_t>(op.opcode_index) >= num_opcodes)
        fail(what, on + " uses opcode " + std::to_string(op.opcode_index) + " of " +
                       std::to_string(num_opcodes));
      check_indices(what, op.inputs, n, true, on + " input");
      check_indices(what, op.outputs, n, false, on + " output");
    }
  }
  for (const auto& sig : model->signature_defs) {
    if (sig->subgraph_index >= model->subgraphs.size())
      fail(what, "signature '" + sig->signature_key + "' refers to a missing subgraph");
    const int n = static_cast<int>(model->subgraphs[sig->subgraph_index]->tensors.size());
    for (const auto* list : {&sig->inputs, &sig->outputs})
      for (const auto& m : *list)
        if (static_cast<int64_t>(m->tensor_index) >= n)
          fail(what, "signature '" + sig->signature_key + "' entry '" + m->name +
                         "' refers to a missing tensor");
  }
  for (const auto& m : model->metadata)
    if (static_cast<int64_t>(m->buffer) >= num_buffers)
      fail(what, "metadata '" + m->name + "' refers to a missing buffer");
  return model;
}

std::unique_ptr<tfl::ModelT> read_tflite_file(const std::string& path) {
  const std::string bytes = read_file_bytes(path);
  return read_tflite(bytes.data(), bytes.size(), path);
}

std::map<std::string, int> op_histogram(const tfl::ModelT& model) {
  std::map<std::string, int> counts;
  for (const auto& sg : model.subgraphs)
    for (const auto& op : sg->operators) {
      const auto& code = *model.operator_codes.at(op->opcode_index);
      const std::string name = code.builtin_code == tfl::BuiltinOperator::CUSTOM
                                   ? "CUSTOM:" + code.custom_code
                                   : op_name(code.builtin_code);
      counts[name == "UNKNOWN" ? "BUILTIN_" + std::to_string(static_cast<int>(code.builtin_code))
                               : name]++;
    }
  return counts;
}

int64_t constant_bytes(const tfl::ModelT& model) {
  int64_t total = 0;
  for (const auto& b : model.buffers) total += static_cast<int64_t>(b->data.size());
  return total;
}

std::string summarize(const tfl::ModelT& model) {
  std::ostringstream os;
  const auto& sg = *model.subgraphs.at(0);
  auto describe = [&](int t) {
    const auto& tensor = *sg.tensors.at(t);
    os << "  " << tensor.name << " " << type_name(tensor.type) << "[";
    for (std::size_t i = 0; i < tensor.shape.size(); ++i) os << (i ? "," : "") << tensor.shape[i];
    os << "]\n";
  };
  os << "description: " << model.description << "\n";
  os << "inputs:\n";
  for (int t : sg.inputs) describe(t);
  os << "outputs:\n";
  for (int t : sg.outputs) describe(t);
  int total = 0;
  for (const auto& [name, count] : op_histogram(model)) total += count;
  os << "operators (" << total << "):\n";
  for (const auto& [name, count] : op_histogram(model)) os << "  " << name << " x" << count << "\n";
  os << "tensors: " << sg.tensors.size() << ", constant bytes: " << constant_bytes(model) << "\n";
  return os.str();
}

}  // namespace tinyvit::exporter
