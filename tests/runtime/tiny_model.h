#pragma once
// Test helper: builds small .tflite graphs (float32 or int8, with quantization parameters)
// directly with the flatbuffers object API of our schema (src/export/tflite_schema.fbs), so
// runtime tests need neither LibTorch nor the exporter. Used for single-op models that run in
// both our runtime and LiteRT.js.
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "export/tflite_schema_generated.h"

namespace tinyvit::rt::testing {

namespace tfl = ::tinyvit::tflite;

struct Quant {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int axis = 0;
  bool empty() const { return scale.empty(); }
};

inline Quant per_tensor(float scale, int zp) { return Quant{{scale}, {zp}, 0}; }

class TinyModel {
 public:
  TinyModel() {
    m_.version = 3;
    m_.description = "tinyvit runtime test";
    m_.buffers.push_back(std::make_unique<tfl::BufferT>());
    auto sg = std::make_unique<tfl::SubGraphT>();
    sg->name = "main";
    m_.subgraphs.push_back(std::move(sg));
  }
  int tensor(const std::string& name, std::vector<int32_t> shape, tfl::TensorType type,
             const Quant& q = {}, const void* data = nullptr, std::size_t bytes = 0) {
    auto t = std::make_unique<tfl::TensorT>();
    t->name = name;
    t->shape = std::move(shape);
    t->type = type;
    if (data) {
      auto b = std::make_unique<tfl::BufferT>();
      b->data.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + bytes);
      m_.buffers.push_back(std::move(b));
      t->buffer = static_cast<uint32_t>(m_.buffers.size() - 1);
    }
    if (!q.empty()) {
      auto qp = std::make_unique<tfl::QuantizationParametersT>();
      qp->scale = q.scale;
      qp->zero_point = q.zero_point;
      qp->quantized_dimension = q.axis;
      t->quantization = std::move(qp);
    }
    sg().tensors.push_back(std::move(t));
    return static_cast<int>(sg().tensors.size() - 1);
  }
  int f32(const std::string& name, std::vector<int32_t> shape) {
    return tensor(name, std::move(shape), tfl::TensorType::FLOAT32);
  }
  int i8(const std::string& name, std::vector<int32_t> shape, float scale, int zp) {
    return tensor(name, std::move(shape), tfl::TensorType::INT8, per_tensor(scale, zp));
  }
  int const_f32(const std::string& name, std::vector<int32_t> shape, const std::vector<float>& v) {
    return tensor(name, std::move(shape), tfl::TensorType::FLOAT32, {}, v.data(), v.size() * 4);
  }
  int const_i32(const std::string& name, std::vector<int32_t> shape, const std::vector<int32_t>& v,
                const Quant& q = {}) {
    return tensor(name, std::move(shape), tfl::TensorType::INT32, q, v.data(), v.size() * 4);
  }
  int const_i8(const std::string& name, std::vector<int32_t> shape, const std::vector<int8_t>& v,
               const Quant& q) {
    return tensor(name, std::move(shape), tfl::TensorType::INT8, q, v.data(), v.size());
  }
  void op(tfl::BuiltinOperator code, std::vector<int32_t> in, std::vector<int32_t> out,
          tfl::BuiltinOptionsUnion options = {}, int version = 1) {
    uint32_t idx = 0;
    for (; idx < m_.operator_codes.size(); ++idx)
      if (m_.operator_codes[idx]->builtin_code == code && m_.operator_codes[idx]->version == version) break;
    if (idx == m_.operator_codes.size()) {
      auto oc = std::make_unique<tfl::OperatorCodeT>();
      oc->builtin_code = code;
      oc->deprecated_builtin_code = static_cast<int8_t>(static_cast<int>(code) < 127 ? static_cast<int>(code) : 127);
      oc->version = version;
      m_.operator_codes.push_back(std::move(oc));
    }
    auto o = std::make_unique<tfl::OperatorT>();
    o->opcode_index = idx;
    o->inputs = std::move(in);
    o->outputs = std::move(out);
    o->builtin_options = std::move(options);
    sg().operators.push_back(std::move(o));
  }
  void io(std::vector<int32_t> inputs, std::vector<int32_t> outputs) {
    sg().inputs = inputs;
    sg().outputs = outputs;
    auto sig = std::make_unique<tfl::SignatureDefT>();
    sig->signature_key = "serving_default";
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      auto mp = std::make_unique<tfl::TensorMapT>();
      mp->name = "in" + std::to_string(i);
      mp->tensor_index = static_cast<uint32_t>(inputs[i]);
      sig->inputs.push_back(std::move(mp));
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      auto mp = std::make_unique<tfl::TensorMapT>();
      mp->name = "out" + std::to_string(i);
      mp->tensor_index = static_cast<uint32_t>(outputs[i]);
      sig->outputs.push_back(std::move(mp));
    }
    m_.signature_defs.push_back(std::move(sig));
  }
  std::vector<uint8_t> finish() const {
    flatbuffers::FlatBufferBuilder fbb(1 << 16);
    fbb.Finish(tfl::Model::Pack(fbb, &m_), tfl::ModelIdentifier());
    return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  }
  tfl::ModelT& model() { return m_; }

 private:
  tfl::SubGraphT& sg() { return *m_.subgraphs[0]; }
  tfl::ModelT m_;
};

template <typename T>
tfl::BuiltinOptionsUnion opts(T value) {
  tfl::BuiltinOptionsUnion u;
  u.Set(std::move(value));
  return u;
}

inline std::vector<float> randn(std::mt19937& rng, std::size_t n, float sd = 1.f) {
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline std::vector<int8_t> rand_i8(std::mt19937& rng, std::size_t n, int lo = -128, int hi = 127) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

}  // namespace tinyvit::rt::testing
