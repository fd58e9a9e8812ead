#pragma once
// A small TFLite graph builder: one subgraph, tensors with readable names, constant buffers,
// operators in execution order, signature_defs. finish() serialises it with our schema subset
// (tflite_schema.fbs): file identifier "TFL3", schema version 3, buffers[0] empty, every
// constant buffer 16-byte aligned in the file. Shapes are TFLite's (NHWC for images).
// Identical quantization parameters (tables and scale / zero_point vectors) are written once
// and shared by the tensors that have them (a file without quantization is exactly what
// tfl::Model::Pack writes); see finish() in tflite_builder.cpp.
//
// The builder checks what it can cheaply (unique tensor names, indices in range, constant
// sizes); shape inference for the ops lives in the lowering helpers (lower_common.h).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "export/tflite_schema_generated.h"

namespace tinyvit::exporter {

namespace tfl = ::tinyvit::tflite;

// Bytes of one element of `type`; throws tinyvit::Error for types we do not write.
std::size_t element_size(tfl::TensorType type);
const char* type_name(tfl::TensorType type);
const char* op_name(tfl::BuiltinOperator op);
int64_t num_elements(const std::vector<int32_t>& shape);

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string description = "tinyvit-edge");

  // A constant buffer holding a copy of `bytes` bytes at `data`; returns its index (>= 1).
  int add_buffer(const void* data, std::size_t bytes);
  // A tensor; buffer 0 = activation (no data), otherwise the constant buffer it reads.
  // Names must be unique (they are how a person reads the graph).
  int add_tensor(const std::string& name, std::vector<int32_t> shape, tfl::TensorType type,
                 int buffer = 0);
  // Constant tensors: a buffer + a tensor in one call. `data` has num_elements(shape) values.
  int add_constant(const std::string& name, std::vector<int32_t> shape, const float* data);
  int add_constant(const std::string& name, std::vector<int32_t> shape, const int32_t* data);
  // Quantization of an int8/uint8/int32 tensor: real = scale * (q - zero_point); one entry
  // per tensor, or one per slice along `quantized_dimension` (per-channel weights).
  void set_quantization(int tensor, std::vector<float> scale, std::vector<int64_t> zero_point,
                        int quantized_dimension = 0);

  // Appends an operator (execution order = call order). -1 in `inputs` = omitted optional.
  void add_op(tfl::BuiltinOperator op, std::vector<int32_t> inputs,
              std::vector<int32_t> outputs, tfl::BuiltinOptionsUnion options = {});

  void set_inputs(std::vector<int32_t> tensors);
  void set_outputs(std::vector<int32_t> tensors);
  // One signature over the subgraph: names are what runtimes show for inputs and outputs.
  void add_signature(const std::string& key,
                     const std::vector<std::pair<std::string, int>>& inputs,
                     const std::vector<std::pair<std::string, int>>& outputs);
  // Metadata entry (name -> buffer with the bytes), e.g. "min_runtime_version".
  void add_metadata(const std::string& name, const std::string& bytes);

  const std::vector<int32_t>& shape(int tensor) const;
  tfl::TensorType type(int tensor) const;
  const std::string& name(int tensor) const;
  int num_tensors() const;
  int num_ops() const;
  bool has_tensor(const std::string& name) const { return names_.count(name) != 0; }

  // Serialises the model. The builder can be finished more than once.
  std::vector<uint8_t> finish() const;

 private:
  const tfl::TensorT& tensor(int index) const;
  uint32_t opcode_index(tfl::BuiltinOperator op);

  tfl::ModelT model_;
  std::map<std::string, int> names_;
  std::map<int32_t, uint32_t> opcodes_;
};

}  // namespace tinyvit::exporter
