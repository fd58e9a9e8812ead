#include "export/tflite_builder.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"

namespace tinyvit::exporter {

std::size_t element_size(tfl::TensorType type) {
  switch (type) {
    case tfl::TensorType::FLOAT32: return 4;
    case tfl::TensorType::INT32: return 4;
    case tfl::TensorType::INT64: return 8;
    case tfl::TensorType::INT16: return 2;
    case tfl::TensorType::INT8: return 1;
    case tfl::TensorType::UINT8: return 1;
    case tfl::TensorType::BOOL: return 1;
    case tfl::TensorType::FLOAT16: return 2;
    default:
      throw Error(std::string("tflite: tensor type ") + type_name(type) + " is not supported");
  }
}

const char* type_name(tfl::TensorType type) {
  const char* name = tfl::EnumNameTensorType(type);
  return (name && *name) ? name : "UNKNOWN";
}

const char* op_name(tfl::BuiltinOperator op) {
  const char* name = tfl::EnumNameBuiltinOperator(op);
  return (name && *name) ? name : "UNKNOWN";
}

int64_t num_elements(const std::vector<int32_t>& shape) {
  int64_t n = 1;
  for (int32_t d : shape) n *= d;
  return n;
}

GraphBuilder::GraphBuilder(std::string description) {
  model_.version = 3;
  model_.description = std::move(description);
  model_.buffers.push_back(std::make_unique<tfl::BufferT>());  // buffers[0]: always empty
  auto sg = std::make_unique<tfl::SubGraphT>();
  sg->name = "main";
  model_.subgraphs.push_back(std::move(sg));
}

int GraphBuilder::add_buffer(const void* data, std::size_t bytes) {
  auto buffer = std::make_unique<tfl::BufferT>();
  buffer->data.resize(bytes);
  if (bytes) std::memcpy(buffer->data.data(), data, bytes);
  model_.buffers.push_back(std::move(buffer));
  return static_cast<int>(model_.buffers.size() - 1);
}

int GraphBuilder::add_tensor(const std::string& name, std::vector<int32_t> shape,
                             tfl::TensorType type, int buffer) {
  if (name.empty()) throw Error("tflite builder: tensor without a name");
  if (names_.count(name)) throw Error("tflite builder: duplicate tensor name '" + name + "'");
  if (buffer < 0 || buffer >= static_cast<int>(model_.buffers.size()))
    throw Error("tflite builder: tensor '" + name + "' refers to a missing buffer");
  for (int32_t d : shape)
    if (d <= 0) throw Error("tflite builder: tensor '" + name + "' has a non-positive dimension");
  if (buffer > 0) {
    const std::size_t want = static_cast<std::size_t>(num_elements(shape)) * element_size(type);
    if (model_.buffers[buffer]->data.size() != want)
      throw Error("tflite builder: constant '" + name + "' holds " +
                  std::to_string(model_.buffers[buffer]->data.size()) + " bytes, its shape needs " +
                  std::to_string(want));
  }
  auto t = std::make_unique<tfl::TensorT>();
  t->name = name;
  t->shape = std::move(shape);
  t->type = type;
  t->buffer = static_cast<uint32_t>(buffer);
  auto& tensors = model_.subgraphs[0]->tensors;
  tensors.push_back(std::move(t));
  const int index = static_cast<int>(tensors.size() - 1);
  names_[name] = index;
  return index;
}

int GraphBuilder::add_constant(const std::string& name, std::vector<int32_t> shape,
                               const float* data) {
  const int b = add_buffer(data, static_cast<std::size_t>(num_elements(shape)) * sizeof(float));
  return add_tensor(name, std::move(shape), tfl::TensorType::FLOAT32, b);
}

int GraphBuilder::add_constant(const std::string& name, std::vector<int32_t> shape,
                               const int32_t* data) {
  const int b = add_buffer(data, static_cast<std::size_t>(num_elements(shape)) * sizeof(int32_t));
  return add_tensor(name, std::move(shape), tfl::TensorType::INT32, b);
}

void GraphBuilder::set_quantization(int t, std::vector<float> scale,
                                    std::vector<int64_t> zero_point, int quantized_dimension) {
  tensor(t);  // range check
  if (scale.empty() || scale.size() != zero_point.size())
    throw Error("tflite builder: tensor '" + name(t) + "': scale/zero_point count mismatch");
  auto q = std::make_unique<tfl::QuantizationParametersT>();
  q->scale = std::move(scale);
  q->zero_point = std::move(zero_point);
  q->quantized_dimension = quantized_dimension;
  model_.subgraphs[0]->tensors[t]->quantization = std::move(q);
}

uint32_t GraphBuilder::opcode_index(tfl::BuiltinOperator op) {
  const int32_t code = static_cast<int32_t>(op);
  auto it = opcodes_.find(code);
  if (it != opcodes_.end()) return it->second;
  auto oc = std::make_unique<tfl::OperatorCodeT>();
  // Readers before TF 2.4 only know the int8 field; codes >= 127 read there as the placeholder.
  oc->deprecated_builtin_code = static_cast<int8_t>(std::min<int32_t>(code, 127));
  oc->builtin_code = op;
  oc->version = 1;
  model_.operator_codes.push_back(std::move(oc));
  const uint32_t index = static_cast<uint32_t>(model_.operator_codes.size() - 1);
  opcodes_[code] = index;
  return index;
}

void GraphBuilder::add_op(tfl::BuiltinOperator op, std::vector<int32_t> inputs,
                          std::vector<int32_t> outputs, tfl::BuiltinOptionsUnion options) {
  const int n = num_tensors();
  for (int32_t i : inputs)
    if (i < -1 || i >= n) throw Error(std::string("tflite builder: ") + op_name(op) +
                                      " input index out of range");
  for (int32_t o : outputs)
    if (o < 0 || o >= n) throw Error(std::string("tflite builder: ") + op_name(op) +
                                     " output index out of range");
  auto o = std::make_unique<tfl::OperatorT>();
  o->opcode_index = opcode_index(op);
  o->inputs = std::move(inputs);
  o->outputs = std::move(outputs);
  o->builtin_options = std::move(options);
  model_.subgraphs[0]->operators.push_back(std::move(o));
}

void GraphBuilder::set_inputs(std::vector<int32_t> tensors) {
  model_.subgraphs[0]->inputs = std::move(tensors);
}

void GraphBuilder::set_outputs(std::vector<int32_t> tensors) {
  model_.subgraphs[0]->outputs = std::move(tensors);
}

void GraphBuilder::add_signature(const std::string& key,
                                 const std::vector<std::pair<std::string, int>>& inputs,
                                 const std::vector<std::pair<std::string, int>>& outputs) {
  auto sig = std::make_unique<tfl::SignatureDefT>();
  sig->signature_key = key;
  sig->subgraph_index = 0;
  for (const auto& [name, index] : inputs) {
    auto m = std::make_unique<tfl::TensorMapT>();
    m->name = name;
    m->tensor_index = static_cast<uint32_t>(index);
    sig->inputs.push_back(std::move(m));
  }
  for (const auto& [name, index] : outputs) {
    auto m = std::make_unique<tfl::TensorMapT>();
    m->name = name;
    m->tensor_index = static_cast<uint32_t>(index);
    sig->outputs.push_back(std::move(m));
  }
  model_.signature_defs.push_back(std::move(sig));
}

void GraphBuilder::add_metadata(const std::string& name, const std::string& bytes) {
  auto m = std::make_unique<tfl::MetadataT>();
  m->name = name;
  m->buffer = static_cast<uint32_t>(add_buffer(bytes.data(), bytes.size()));
  model_.metadata.push_back(std::move(m));
}

const tfl::TensorT& GraphBuilder::tensor(int index) const {
  const auto& tensors = model_.subgraphs[0]->tensors;
  if (index < 0 || index >= static_cast<int>(tensors.size()))
    throw Error("tflite builder: tensor index " + std::to_string(index) + " out of range");
  return *tensors[index];
}

const std::vector<int32_t>& GraphBuilder::shape(int t) const { return tensor(t).shape; }
tfl::TensorType GraphBuilder::type(int t) const { return tensor(t).type; }
const std::string& GraphBuilder::name(int t) const { return tensor(t).name; }
int GraphBuilder::num_tensors() const {
  return static_cast<int>(model_.subgraphs[0]->tensors.size());
}
int GraphBuilder::num_ops() const {
  return static_cast<int>(model_.subgraphs[0]->operators.size());
}

std::vector<uint8_t> GraphBuilder::finish() const {
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  fbb.Finish(tfl::Model::Pack(fbb, &model_), tfl::ModelIdentifier());
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

}  // namespace tinyvit::exporter
