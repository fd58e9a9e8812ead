#include "export/int8_rules.h"

#include <algorithm>
#include <cmath>

#include "export/tflite_builder.h"

namespace tinyvit::exporter {
namespace {

using Op = tfl::BuiltinOperator;
using TT = tfl::TensorType;

bool is_quantized_type(TT t) { return t == TT::INT8 || t == TT::UINT8 || t == TT::INT16; }

const tfl::QuantizationParametersT* quant(const tfl::TensorT& t) {
  return t.quantization && !t.quantization->scale.empty() ? t.quantization.get() : nullptr;
}

bool same_quant(const tfl::TensorT& a, const tfl::TensorT& b) {
  const auto* qa = quant(a);
  const auto* qb = quant(b);
  if (!qa || !qb) return !qa && !qb;
  return qa->scale == qb->scale && qa->zero_point == qb->zero_point;
}

std::string describe(const tfl::TensorT& t) {
  const auto* q = quant(t);
  if (!q) return "'" + t.name + "' (no quantization)";
  return "'" + t.name + "' (scale " + std::to_string(q->scale[0]) + ", zero point " +
         std::to_string(q->zero_point.empty() ? 0 : q->zero_point[0]) + ")";
}

}  // namespace

std::vector<std::string> check_int8_rules(const tfl::ModelT& model) {
  std::vector<std::string> v;
  for (std::size_t i = 0; i < model.operator_codes.size(); ++i) {
    const auto& oc = *model.operator_codes[i];
    const int32_t code = static_cast<int32_t>(oc.builtin_code);
    if (oc.deprecated_builtin_code != std::min<int32_t>(code, 127))
      v.push_back("R5: operator code " + std::to_string(i) + " (" + op_name(oc.builtin_code) +
                  ") has deprecated_builtin_code " + std::to_string(oc.deprecated_builtin_code));
  }
  for (const auto& sgp : model.subgraphs) {
    const auto& sg = *sgp;
    auto T = [&](int i) -> const tfl::TensorT& { return *sg.tensors.at(i); };
    for (const auto& tp : sg.tensors) {
      const auto& t = *tp;
      if (!is_quantized_type(t.type)) continue;
      const auto* q = quant(t);
      if (!q) {
        v.push_back("R6: " + std::string(type_name(t.type)) + " tensor '" + t.name +
                    "' has no quantization parameters");
        continue;
      }
      if (q->zero_point.size() != q->scale.size())
        v.push_back("R6: '" + t.name + "': scale and zero_point counts differ");
      for (float s : q->scale)
        if (!(s > 0) || !std::isfinite(s)) v.push_back("R6: '" + t.name + "': scale <= 0");
      const int64_t lo = t.type == TT::UINT8 ? 0 : (t.type == TT::INT8 ? -128 : 0);
      const int64_t hi = t.type == TT::UINT8 ? 255 : (t.type == TT::INT8 ? 127 : 0);
      for (int64_t z : q->zero_point)
        if (z < lo || z > hi) v.push_back("R6: '" + t.name + "': zero point out of range");
      if (t.buffer == 0 && q->scale.size() != 1)
        v.push_back("R6: activation '" + t.name + "' is not quantized per tensor");
    }
    for (std::size_t o = 0; o < sg.operators.size(); ++o) {
      const auto& op = *sg.operators[o];
      const Op code = model.operator_codes.at(op.opcode_index)->builtin_code;
      const std::string where = std::string(op_name(code)) + " #" + std::to_string(o);
      if (op.outputs.empty() || op.inputs.empty()) continue;
      const auto& out = T(op.outputs[0]);
      const auto& in = T(op.inputs[0]);
      switch (code) {
        case Op::SOFTMAX:
          if (out.type == TT::INT8) {
            const auto* q = quant(out);
            if (!q || q->scale[0] != 1.f / 256.f || q->zero_point[0] != -128)
              v.push_back("R1: " + where + " output " + describe(out) +
                          " must be scale 1/256, zero point -128");
          }
          break;
        case Op::FULLY_CONNECTED:
        case Op::CONV_2D:
        case Op::DEPTHWISE_CONV_2D: {
          if (in.type != TT::INT8) break;
          const auto& w = T(op.inputs.at(1));
          const auto* qi = quant(in);
          const auto* qw = quant(w);
          if (!qi || !qw) {
            v.push_back("R2: " + where + ": input or weight without quantization");
            break;
          }
          for (int64_t z : qw->zero_point)
            if (z != 0) v.push_back("R2: " + where + ": weight '" + w.name + "' zero point " +
                                    std::to_string(z) + " (must be 0)");
          if (op.inputs.size() > 2 && op.inputs[2] >= 0) {
            const auto& b = T(op.inputs[2]);
            const auto* qb = quant(b);
            if (b.type != TT::INT32 || !qb) {
              v.push_back("R2: " + where + ": bias '" + b.name + "' is not quantized int32");
              break;
            }
            for (std::size_t i = 0; i < qb->scale.size(); ++i) {
              const double want = static_cast<double>(qi->scale[0]) *
                                  qw->scale[qw->scale.size() == 1 ? 0 : std::min(i, qw->scale.size() - 1)];
              if (std::abs(qb->scale[i] - want) > 1e-6 * std::min<double>(qb->scale[i], want)) {
                v.push_back("R2: " + where + ": bias '" + b.name + "' scale[" + std::to_string(i) +
                            "] = " + std::to_string(qb->scale[i]) + ", input x weight = " +
                            std::to_string(want));
                break;
              }
            }
            if (qw->scale.size() != 1 && qb->scale.size() != qw->scale.size())
              v.push_back("R2: " + where + ": bias has " + std::to_string(qb->scale.size()) +
                          " scales, weight " + std::to_string(qw->scale.size()));
            for (int64_t z : qb->zero_point)
              if (z != 0) v.push_back("R2: " + where + ": bias zero point must be 0");
          }
          break;
        }
        case Op::CONCATENATION:
          if (!is_quantized_type(out.type)) break;
          for (int32_t i : op.inputs)
            if (!same_quant(T(i), out))
              v.push_back("R3: " + where + " input " + describe(T(i)) + " differs from output " +
                          describe(out));
          break;
        case Op::RESHAPE:
        case Op::TRANSPOSE:
        case Op::STRIDED_SLICE:
        case Op::GATHER:
        case Op::SQUEEZE:
        case Op::PAD:
        case Op::MAX_POOL_2D:
          if (is_quantized_type(out.type) && !same_quant(in, out))
            v.push_back("R4: " + where + " output " + describe(out) + " differs from input " +
                        describe(in));
          break;
        case Op::RSQRT:
          if (in.type == TT::INT8) {
            const auto* q = quant(in);
            if (!q || q->zero_point[0] != -128)
              v.push_back("R7: " + where + " input " + describe(in) + " must have zero point -128");
          }
          break;
        default:
          break;
      }
    }
  }
  return v;
}

std::map<std::string, int> float_ops(const tfl::ModelT& model) {
  std::map<std::string, int> out;
  for (const auto& sgp : model.subgraphs) {
    for (const auto& opp : sgp->operators) {
      const Op code = model.operator_codes.at(opp->opcode_index)->builtin_code;
      if (code == Op::QUANTIZE || code == Op::DEQUANTIZE) continue;
      bool f = false;
      for (int32_t i : opp->inputs)
        if (i >= 0 && sgp->tensors.at(i)->type == TT::FLOAT32) f = true;
      for (int32_t i : opp->outputs)
        if (sgp->tensors.at(i)->type == TT::FLOAT32) f = true;
      if (f) ++out[op_name(code)];
    }
  }
  return out;
}

}  // namespace tinyvit::exporter
