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

namespace {

// Serialises a ModelT with the same calls, in the same order, as the generated
// tfl::CreateModel / CreateSubGraph / CreateTensor (so a model without quantization parameters,
// e.g. every float32 file, comes out byte for byte as Model::Pack writes it), except that
// quantization parameters are written once per distinct content and shared: a tensor's
// `quantization` table, and each `scale` / `zero_point` / `min` / `max` vector, is an offset to
// the first identical one already in the file. FlatBuffers offsets may point at any object
// written earlier (the format is a DAG: vtables and shared strings are deduplicated the same
// way); the Verifier checks each reference on its own, and TFLite copies the values out
// (InterpreterBuilder::ParseQuantization), so a reader cannot tell a shared vector from a copy.
// What it saves: per-channel zero points are all 0 and TFLite wants as many as there are
// scales (int64 each), so every layer with the same channel count had the same vector, for its
// weight and its bias; pass-through ops (RESHAPE, TRANSPOSE, ...) repeat their input's
// parameters.
class SharingPacker {
 public:
  explicit SharingPacker(flatbuffers::FlatBufferBuilder& fbb) : fbb_(fbb) {}

  flatbuffers::Offset<tfl::Model> model(const tfl::ModelT& m) {
    std::vector<flatbuffers::Offset<tfl::OperatorCode>> codes;
    for (const auto& oc : m.operator_codes) codes.push_back(tfl::CreateOperatorCode(fbb_, oc.get()));
    const auto operator_codes = codes.empty() ? 0 : fbb_.CreateVector(codes);
    std::vector<flatbuffers::Offset<tfl::SubGraph>> sgs;
    for (const auto& sg : m.subgraphs) sgs.push_back(subgraph(*sg));
    const auto subgraphs = sgs.empty() ? 0 : fbb_.CreateVector(sgs);
    const auto description = m.description.empty() ? 0 : fbb_.CreateString(m.description);
    std::vector<flatbuffers::Offset<tfl::Buffer>> bufs;
    for (const auto& b : m.buffers) bufs.push_back(tfl::CreateBuffer(fbb_, b.get()));
    const auto buffers = bufs.empty() ? 0 : fbb_.CreateVector(bufs);
    const auto metadata_buffer = m.metadata_buffer.empty() ? 0 : fbb_.CreateVector(m.metadata_buffer);
    std::vector<flatbuffers::Offset<tfl::Metadata>> mds;
    for (const auto& md : m.metadata) mds.push_back(tfl::CreateMetadata(fbb_, md.get()));
    const auto metadata = mds.empty() ? 0 : fbb_.CreateVector(mds);
    std::vector<flatbuffers::Offset<tfl::SignatureDef>> sigs;
    for (const auto& s : m.signature_defs) sigs.push_back(tfl::CreateSignatureDef(fbb_, s.get()));
    const auto signature_defs = sigs.empty() ? 0 : fbb_.CreateVector(sigs);
    return tfl::CreateModel(fbb_, m.version, operator_codes, subgraphs, description, buffers,
                            metadata_buffer, metadata, signature_defs);
  }

 private:
  flatbuffers::Offset<tfl::SubGraph> subgraph(const tfl::SubGraphT& sg) {
    std::vector<flatbuffers::Offset<tfl::Tensor>> ts;
    for (const auto& t : sg.tensors) ts.push_back(tensor(*t));
    const auto tensors = ts.empty() ? 0 : fbb_.CreateVector(ts);
    const auto inputs = sg.inputs.empty() ? 0 : fbb_.CreateVector(sg.inputs);
    const auto outputs = sg.outputs.empty() ? 0 : fbb_.CreateVector(sg.outputs);
    std::vector<flatbuffers::Offset<tfl::Operator>> os;
    for (const auto& o : sg.operators) os.push_back(tfl::CreateOperator(fbb_, o.get()));
    const auto operators = os.empty() ? 0 : fbb_.CreateVector(os);
    const auto name = sg.name.empty() ? 0 : fbb_.CreateString(sg.name);
    return tfl::CreateSubGraph(fbb_, tensors, inputs, outputs, operators, name);
  }

  flatbuffers::Offset<tfl::Tensor> tensor(const tfl::TensorT& t) {
    const auto shape = t.shape.empty() ? 0 : fbb_.CreateVector(t.shape);
    const auto name = t.name.empty() ? 0 : fbb_.CreateString(t.name);
    const auto quantization = t.quantization ? quant(*t.quantization) : 0;
    const auto shape_signature = t.shape_signature.empty() ? 0 : fbb_.CreateVector(t.shape_signature);
    return tfl::CreateTensor(fbb_, shape, t.type, t.buffer, name, quantization, t.is_variable,
                             shape_signature, t.has_rank);
  }

  flatbuffers::Offset<tfl::QuantizationParameters> quant(const tfl::QuantizationParametersT& q) {
    if (q.details.type != tfl::QuantizationDetails::NONE)  // never written by us: no sharing
      return tfl::CreateQuantizationParameters(fbb_, &q);
    std::string key = bytes_of(q.min) + '|' + bytes_of(q.max) + '|' + bytes_of(q.scale) + '|' +
                      bytes_of(q.zero_point) + '|' + std::to_string(q.quantized_dimension);
    auto it = tables_.find(key);
    if (it != tables_.end()) return it->second;
    const auto min = vec('m', q.min);
    const auto max = vec('M', q.max);
    const auto scale = vec('s', q.scale);
    const auto zero_point = vec('z', q.zero_point);
    const auto off = tfl::CreateQuantizationParameters(fbb_, min, max, scale, zero_point,
                                                       tfl::QuantizationDetails::NONE, 0,
                                                       q.quantized_dimension);
    tables_.emplace(std::move(key), off);
    return off;
  }

  template <typename T>
  static std::string bytes_of(const std::vector<T>& v) {
    return std::to_string(v.size()) + ':' +
           std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }

  template <typename T>
  flatbuffers::Offset<flatbuffers::Vector<T>> vec(char kind, const std::vector<T>& v) {
    if (v.empty()) return 0;
    std::string key = kind + bytes_of(v);
    auto it = vectors_.find(key);
    if (it != vectors_.end()) return flatbuffers::Offset<flatbuffers::Vector<T>>(it->second);
    const auto off = fbb_.CreateVector(v);
    vectors_.emplace(std::move(key), off.o);
    return off;
  }

  flatbuffers::FlatBufferBuilder& fbb_;
  std::map<std::string, flatbuffers::Offset<tfl::QuantizationParameters>> tables_;
  std::map<std::string, flatbuffers::uoffset_t> vectors_;
};

}  // namespace

std::vector<uint8_t> GraphBuilder::finish() const {
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  fbb.Finish(SharingPacker(fbb).model(model_), tfl::ModelIdentifier());
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

}  // namespace tinyvit::exporter
