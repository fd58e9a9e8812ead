// Loader + verifier: flatbuffers Verifier over the whole file, then our own checks on
// everything the kernels will rely on. After load_model() succeeds:
//   - every tensor has rank <= 6, dims >= 1, a supported type, < 2^31 bytes;
//   - every constant's buffer holds exactly its bytes, inside the file, suitably aligned;
//   - every int8 tensor has valid quantization (finite positive scales, zp in [-128, 127],
//     per-channel only along a valid axis with one scale per channel);
//   - every op index / tensor index is in range, each activation is written exactly once
//     (by a graph input or an earlier op) before it is read, and no op writes a constant;
//   - every op passed its kernel's prepare() (types, shapes, options).
#include <cmath>
#include <cstring>
#include <new>

#include "flatbuffers/flatbuffers.h"
#include "kernels/arm/arm_kernels.h"
#include "kernels/kernel.h"
#include "model.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

template <typename T>
T* alloc_array(int n) {
  if (n <= 0) n = 1;
  return new (std::nothrow) T[static_cast<std::size_t>(n)]();
}

Status map_type(tfl::TensorType t, DType* out) {
  switch (t) {
    case tfl::TensorType::FLOAT32: *out = DType::kFloat32; return Status::kOk;
    case tfl::TensorType::INT8: *out = DType::kInt8; return Status::kOk;
    case tfl::TensorType::INT32: *out = DType::kInt32; return Status::kOk;
    default: return Status::kUnsupported;
  }
}

Status read_tensor(Model& m, const tfl::Model* model, const tfl::Tensor* t, int index,
                   Tensor& out) {
  if (!t) return fail(m, Status::kMalformedModel, "tensor %d is null", index);
  out.name = t->name() ? t->name()->c_str() : "";
  if (map_type(t->type(), &out.type) != Status::kOk)
    return fail(m, Status::kUnsupported, "tensor %d '%s': type %s is not supported", index,
                out.name, tfl::EnumNameTensorType(t->type()));
  const auto* shape = t->shape();
  const int rank = shape ? static_cast<int>(shape->size()) : 0;
  if (rank > kMaxRank)
    return fail(m, Status::kUnsupported, "tensor '%s': rank %d > %d", out.name, rank, kMaxRank);
  out.rank = rank;
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) {
    const int32_t d = shape->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (d < 1)
      return fail(m, Status::kMalformedModel, "tensor '%s': dimension %d is %d", out.name, i, static_cast<int>(d));
    out.dims[i] = d;
    n *= d;
    if (n > (int64_t{1} << 29))
      return fail(m, Status::kMalformedModel, "tensor '%s' is too large", out.name);
  }
  out.elements = n;
  out.bytes = static_cast<std::size_t>(n) * dtype_size(out.type);

  // Constant data.
  const auto* buffers = model->buffers();
  const uint32_t b = t->buffer();
  if (!buffers || b >= buffers->size())
    return fail(m, Status::kMalformedModel, "tensor '%s': buffer %u out of range", out.name, static_cast<unsigned>(b));
  const auto* buf = buffers->Get(b);
  if (buf && buf->data() && buf->data()->size() > 0) {
    if (b == 0) return fail(m, Status::kMalformedModel, "buffers[0] must be empty");
    if (buf->data()->size() != out.bytes)
      return fail(m, Status::kMalformedModel, "constant '%s': %u bytes, shape needs %zu", out.name,
                  static_cast<unsigned>(buf->data()->size()), out.bytes);
    const uint8_t* p = buf->data()->data();
    if (reinterpret_cast<uintptr_t>(p) % dtype_size(out.type) != 0)
      return fail(m, Status::kMalformedModel, "constant '%s' is misaligned in the file", out.name);
    out.const_data = p;
    out.data = const_cast<uint8_t*>(p);
  }

  // Quantization.
  const auto* qp = t->quantization();
  const auto* scales = qp ? qp->scale() : nullptr;
  const auto* zps = qp ? qp->zero_point() : nullptr;
  const int ns = scales ? static_cast<int>(scales->size()) : 0;
  if (out.type == DType::kInt8 || (out.type == DType::kInt32 && ns > 0)) {
    if (ns < 1)
      return fail(m, Status::kMalformedModel, "int8 tensor '%s' has no quantization scale",
                  out.name);
    if (zps && static_cast<int>(zps->size()) != ns && zps->size() != 1 && zps->size() != 0)
      return fail(m, Status::kMalformedModel, "tensor '%s': %u zero points for %d scales",
                  out.name, static_cast<unsigned>(zps->size()), ns);
    for (int i = 0; i < ns; ++i) {
      const float s = scales->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (!(s > 0.f) || !std::isfinite(s))
        return fail(m, Status::kMalformedModel, "tensor '%s': scale %g is not finite positive",
                    out.name, static_cast<double>(s));
    }
    int64_t zp0 = (zps && zps->size() > 0) ? zps->Get(0) : 0;
    if (out.type == DType::kInt8 && (zp0 < -128 || zp0 > 127))
      return fail(m, Status::kMalformedModel, "tensor '%s': zero point %lld outside int8",
                  out.name, static_cast<long long>(zp0));
    if (out.type == DType::kInt32 && zp0 != 0)
      return fail(m, Status::kMalformedModel, "int32 tensor '%s': zero point must be 0", out.name);
    out.scale = scales->Get(0);
    out.zero_point = static_cast<int32_t>(zp0);
    if (ns > 1) {
      const int qd = qp->quantized_dimension();
      if (qd < 0 || qd >= rank || out.dims[qd] != ns)
        return fail(m, Status::kMalformedModel,
                    "tensor '%s': %d scales do not match quantized dimension %d", out.name, ns, qd);
      if (zps)
        for (flatbuffers::uoffset_t i = 0; i < zps->size(); ++i)
          if (zps->Get(i) != 0)
            return fail(m, Status::kUnsupported,
                        "per-channel tensor '%s': zero points must be 0", out.name);
      if (reinterpret_cast<uintptr_t>(scales->data()) % alignof(float) != 0)
        return fail(m, Status::kMalformedModel, "tensor '%s': misaligned scales", out.name);
      out.num_scales = ns;
      out.scales = reinterpret_cast<const float*>(scales->data());
      out.quantized_dim = qd;
    } else {
      out.num_scales = 1;
      out.scales = nullptr;
    }
  }
  return Status::kOk;
}

int builtin_code(const tfl::OperatorCode* oc) {
  const int deprecated = oc->deprecated_builtin_code();
  const int code = static_cast<int>(oc->builtin_code());
  return code > deprecated ? code : deprecated;
}

}  // namespace

void* persistent_alloc(Model& m, std::size_t bytes) {
  const std::size_t aligned = (bytes + 15) & ~std::size_t{15};
  if (!m.persistent || m.persistent_used + aligned > m.persistent_size) return nullptr;
  void* p = m.persistent + m.persistent_used;
  m.persistent_used += aligned;
  return p;
}

void free_model(Model& m) {
  delete[] m.tensors;
  delete[] m.ops;
  delete[] m.inputs;
  delete[] m.outputs;
  delete[] m.persistent;
  char* err = m.error;
  const KernelSet ks = m.kernels;
  const Int8Arithmetic ar = m.arithmetic;
  m = Model{};
  m.error = err;
  m.kernels = ks;
  m.arithmetic = ar;
}

Status load_model(Model& m, const void* data, std::size_t size) {
  if (!data || size < 8) return fail(m, Status::kMalformedModel, "model is empty or truncated");
  if (reinterpret_cast<uintptr_t>(data) % 16 != 0)
    return fail(m, Status::kInvalidArgument, "model buffer must be 16-byte aligned");
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (!tfl::ModelBufferHasIdentifier(bytes))
    return fail(m, Status::kMalformedModel, "not a TFLite file (identifier is not \"TFL3\")");
  flatbuffers::Verifier::Options vo;
  vo.max_depth = 32;
  vo.max_tables = 1000000;
  flatbuffers::Verifier verifier(bytes, size, vo);
  if (!tfl::VerifyModelBuffer(verifier))
    return fail(m, Status::kMalformedModel, "flatbuffers verifier rejected the file");
  const tfl::Model* model = tfl::GetModel(bytes);
  if (model->version() != 3)
    return fail(m, Status::kUnsupported, "schema version %u (expected 3)", static_cast<unsigned>(model->version()));
  if (!model->subgraphs() || model->subgraphs()->size() < 1)
    return fail(m, Status::kMalformedModel, "no subgraph");
  if (model->subgraphs()->size() > 1)
    return fail(m, Status::kUnsupported, "%u subgraphs (only one is supported)",
                static_cast<unsigned>(model->subgraphs()->size()));
  const tfl::SubGraph* sg = model->subgraphs()->Get(0);
  if (!sg || !sg->tensors() || !sg->operators() || !sg->inputs() || !sg->outputs())
    return fail(m, Status::kMalformedModel, "subgraph lacks tensors, operators, inputs or outputs");
  const auto* opcodes = model->operator_codes();
  if (!opcodes) return fail(m, Status::kMalformedModel, "no operator codes");
  const auto* buffers = model->buffers();
  if (!buffers || buffers->size() < 1) return fail(m, Status::kMalformedModel, "no buffers");
  if (buffers->Get(0) && buffers->Get(0)->data() && buffers->Get(0)->data()->size() != 0)
    return fail(m, Status::kMalformedModel, "buffers[0] must be empty");
  if (sg->tensors()->size() > 100000 || sg->operators()->size() > 100000)
    return fail(m, Status::kUnsupported, "graph too large");

  m.base = bytes;
  m.size = size;
  m.num_tensors = static_cast<int>(sg->tensors()->size());
  m.num_ops = static_cast<int>(sg->operators()->size());
  m.num_inputs = static_cast<int>(sg->inputs()->size());
  m.num_outputs = static_cast<int>(sg->outputs()->size());
  m.tensors = alloc_array<Tensor>(m.num_tensors);
  m.ops = alloc_array<Op>(m.num_ops);
  m.inputs = alloc_array<int>(m.num_inputs);
  m.outputs = alloc_array<int>(m.num_outputs);
  if (!m.tensors || !m.ops || !m.inputs || !m.outputs)
    return fail(m, Status::kOutOfMemory, "cannot allocate the model tables");

  for (int i = 0; i < m.num_tensors; ++i) {
    Status s = read_tensor(m, model, sg->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i)), i,
                           m.tensors[i]);
    if (s != Status::kOk) return s;
  }
  if (m.num_inputs < 1 || m.num_outputs < 1)
    return fail(m, Status::kMalformedModel, "graph has no inputs or no outputs");
  for (int i = 0; i < m.num_inputs; ++i) {
    const int t = sg->inputs()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (t < 0 || t >= m.num_tensors)
      return fail(m, Status::kMalformedModel, "graph input %d out of range", t);
    Tensor& x = m.tensors[t];
    if (x.const_data || x.written)
      return fail(m, Status::kMalformedModel, "graph input '%s' is a constant or repeated", x.name);
    x.is_graph_input = x.written = true;
    x.first_use = -1;
    if (x.last_use < -1) x.last_use = -1;
    m.inputs[i] = t;
  }

  // Operators: indices, producers before consumers, kernel prepare.
  std::size_t persistent = 0;
  for (int i = 0; i < m.num_ops; ++i) {
    const tfl::Operator* o = sg->operators()->Get(static_cast<flatbuffers::uoffset_t>(i));
    Op& op = m.ops[i];
    if (!o || o->opcode_index() >= opcodes->size() || !opcodes->Get(o->opcode_index()))
      return fail(m, Status::kMalformedModel, "op %d: opcode index out of range", i);
    const tfl::OperatorCode* oc = opcodes->Get(o->opcode_index());
    op.code = builtin_code(oc);
    op.version = oc->version();
    const KernelRegistration* reg = find_kernel(op.code);
    if (!reg)
      return fail(m, Status::kUnsupported, "op %d: operator %s (%d) is not supported", i,
                  builtin_name(op.code), op.code);
    if (op.version < 1 || op.version > reg->max_version)
      return fail(m, Status::kUnsupported, "op %d: %s version %d (this runtime runs <= %d)", i,
                  reg->name, op.version, reg->max_version);
    if (!o->inputs() || !o->outputs() || o->outputs()->size() != 1 ||
        o->inputs()->size() > static_cast<flatbuffers::uoffset_t>(kMaxOpInputs))
      return fail(m, Status::kUnsupported, "op %d (%s): %s inputs/outputs", i, reg->name,
                  (!o->inputs() || !o->outputs()) ? "missing" : "unsupported number of");
    op.num_inputs = static_cast<int>(o->inputs()->size());
    for (int k = 0; k < op.num_inputs; ++k) {
      const int t = o->inputs()->Get(static_cast<flatbuffers::uoffset_t>(k));
      if (t < -1 || t >= m.num_tensors)
        return fail(m, Status::kMalformedModel, "op %d (%s): input %d out of range", i, reg->name, t);
      op.inputs[k] = t;
      if (t < 0) continue;
      Tensor& x = m.tensors[t];
      if (!x.const_data) {
        if (!x.written)
          return fail(m, Status::kMalformedModel, "op %d (%s): reads '%s' before it is written", i,
                      reg->name, x.name);
        if (x.last_use < i) x.last_use = i;
      }
    }
    const int out = o->outputs()->Get(0);
    if (out < 0 || out >= m.num_tensors)
      return fail(m, Status::kMalformedModel, "op %d (%s): output out of range", i, reg->name);
    Tensor& y = m.tensors[out];
    if (y.const_data || y.written)
      return fail(m, Status::kMalformedModel, "op %d (%s): output '%s' is a constant or written twice",
                  i, reg->name, y.name);
    y.written = true;
    y.first_use = i;
    if (y.last_use < i) y.last_use = i;
    op.output = out;
    op.options = o;
    // Per-op persistent needs (int8 only): per-channel multipliers and shifts (2 x int32 per
    // output channel) for CONV_2D / FULLY_CONNECTED / BATCH_MATMUL, a 256-entry LUT for the
    // unary ops computed through a table (GELU, TANH, LOGISTIC, RSQRT), the exp tables of
    // SOFTMAX.
    if (y.type == DType::kInt8) {
      const std::size_t ch = static_cast<std::size_t>(y.rank ? y.dims[y.rank - 1] : 1);
      switch (static_cast<tfl::BuiltinOperator>(op.code)) {
        case tfl::BuiltinOperator::CONV_2D:
        case tfl::BuiltinOperator::FULLY_CONNECTED:
        case tfl::BuiltinOperator::BATCH_MATMUL:
          persistent += 2 * ((sizeof(int32_t) * ch + 15) & ~std::size_t{15});
          break;
        case tfl::BuiltinOperator::GELU:
        case tfl::BuiltinOperator::TANH:
        case tfl::BuiltinOperator::LOGISTIC:
        case tfl::BuiltinOperator::RSQRT:
          persistent += 256;
          break;
        case tfl::BuiltinOperator::SOFTMAX:  // exp table, 256 int32
          persistent += 256 * sizeof(int32_t);
          break;
        default: break;
      }
    }
  }
  for (int i = 0; i < m.num_outputs; ++i) {
    const int t = sg->outputs()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (t < 0 || t >= m.num_tensors)
      return fail(m, Status::kMalformedModel, "graph output %d out of range", t);
    Tensor& y = m.tensors[t];
    if (!y.written && !y.const_data)
      return fail(m, Status::kMalformedModel, "graph output '%s' is never written", y.name);
    if (y.const_data)
      return fail(m, Status::kUnsupported, "graph output '%s' is a constant", y.name);
    y.is_graph_output = true;
    y.last_use = m.num_ops;
    m.outputs[i] = t;
  }

  // Only int8 ops use the persistent block; keep it small for float models.
  m.persistent_size = persistent;
  m.persistent = new (std::nothrow) uint8_t[persistent ? persistent : 16];
  if (!m.persistent) return fail(m, Status::kOutOfMemory, "cannot allocate op parameters");

  for (int i = 0; i < m.num_ops; ++i) {
    Op& op = m.ops[i];
    OpContext ctx{m, op};
    const KernelRegistration* reg = find_kernel(op.code);
    Status s = reg->prepare(ctx);
    if (s != Status::kOk) {
      // Prefix the kernel's message with the op.
      char tmp[256];
      std::memcpy(tmp, m.error, sizeof(tmp));
      tmp[255] = '\0';
      return fail(m, s, "op %d (%s -> '%s'): %s", i, reg->name, m.tensors[op.output].name, tmp);
    }
    if (!op.eval) return fail(m, Status::kUnsupported, "op %d (%s): no kernel", i, reg->name);
    arm::select(ctx);  // aarch64: NEON variants of FC / BATCH_MATMUL / CONV_2D (kAuto)
  }
  return Status::kOk;
}

}  // namespace tinyvit::rt
