#include "export/lower_int8.h"

#include <algorithm>

#include "common/error.h"
#include "export/lower_util.h"

namespace tinyvit::exporter {
namespace {

using Op = tfl::BuiltinOperator;
using TT = tfl::TensorType;

using detail::dims_of;
using detail::fused;
using detail::options;
using detail::shape_str;

std::string param_str(QuantParam p) {
  return "scale " + std::to_string(p.scale) + ", zero point " + std::to_string(p.zero_point);
}

}  // namespace

QuantParam QEmitter::param(int t) const {
  auto it = params_.find(t);
  if (it == params_.end())
    throw Error("export int8: tensor '" + g_.name(t) + "' is not an int8 activation");
  return it->second;
}

QuantParam QEmitter::table(const std::string& name) const {
  auto it = table_.find(name);
  if (it == table_.end())
    throw Error("export int8: no calibrated parameters for tensor '" + name +
                "' (the quantization table does not match this model)");
  return it->second;
}

int QEmitter::find(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) throw Error("export int8: no int8 tensor named '" + name + "'");
  return it->second;
}

int QEmitter::act(const std::string& name, std::vector<int32_t> shape, QuantParam p,
                  tfl::TensorType type) {
  if (!(p.scale > 0)) throw Error("export int8: '" + name + "' has a non-positive scale");
  const int t = g_.add_tensor(name, std::move(shape), type);
  const int64_t zp = p.zero_point + (type == TT::UINT8 ? 128 : 0);
  g_.set_quantization(t, {p.scale}, {zp});
  params_[t] = p;  // stored as the int8 view (uint8 zero point - 128)
  by_name_[name] = t;
  return t;
}

int QEmitter::input(const std::string& name, std::vector<int32_t> shape, tfl::TensorType type,
                    QuantParam p) {
  if (type == TT::FLOAT32) return g_.add_tensor(name, std::move(shape), type);
  if (type != TT::INT8 && type != TT::UINT8)
    throw Error("export int8: inputs are int8, uint8 or float32");
  return act(name, std::move(shape), p, type);
}

int QEmitter::quantize(int x, const std::string& name, tfl::TensorType type, QuantParam p) {
  const int y = act(name, shape(x), p, type);
  g_.add_op(Op::QUANTIZE, {x}, {y}, options(tfl::QuantizeOptionsT{}));
  return y;
}

int QEmitter::dequantize(int x, const std::string& name) {
  const int y = g_.add_tensor(name, shape(x), TT::FLOAT32);
  g_.add_op(Op::DEQUANTIZE, {x}, {y}, options(tfl::DequantizeOptionsT{}));
  return y;
}

int QEmitter::constant(const std::string& name, const torch::Tensor& value, QuantParam p) {
  auto q = quantize_int8(value, p).contiguous();
  const int b = g_.add_buffer(q.data_ptr<int8_t>(), static_cast<std::size_t>(q.numel()));
  const int t = g_.add_tensor(name, dims_of(q), TT::INT8, b);
  g_.set_quantization(t, {p.scale}, {p.zero_point});
  params_[t] = p;
  return t;
}

int QEmitter::constant(const std::string& name, const torch::Tensor& value) {
  return constant(name, value, const_params(value));
}

int QEmitter::int8_weight(const std::string& name, const torch::Tensor& w,
                          torch::Tensor* scales) {
  ChannelQuant c = quantize_weight(w);
  auto q = c.q.contiguous();
  const int b = g_.add_buffer(q.data_ptr<int8_t>(), static_cast<std::size_t>(q.numel()));
  const int t = g_.add_tensor(name, dims_of(q), TT::INT8, b);
  std::vector<float> s(c.scale.data_ptr<float>(), c.scale.data_ptr<float>() + c.scale.numel());
  g_.set_quantization(t, s, std::vector<int64_t>(s.size(), 0), 0);
  *scales = c.scale;
  return t;
}

int QEmitter::int32_bias(const std::string& name, const torch::Tensor& b, float input_scale,
                         const torch::Tensor& weight_scales) {
  auto q = quantize_bias(b, input_scale, weight_scales).contiguous();
  const int t = g_.add_constant(name, dims_of(q), q.data_ptr<int32_t>());
  auto s = bias_scale(input_scale, weight_scales).contiguous();
  std::vector<float> sv(s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
  g_.set_quantization(t, sv, std::vector<int64_t>(sv.size(), 0), 0);
  return t;
}

int QEmitter::fully_connected(int x, const torch::Tensor& w, const torch::Tensor& b,
                              const std::string& name, bool keep_num_dims, Activation a) {
  const auto xs = shape(x);
  const int32_t in = static_cast<int32_t>(w.size(1));
  const int32_t out = static_cast<int32_t>(w.size(0));
  if (xs.empty() || xs.back() != in)
    throw Error("export int8: " + name + ": input " + shape_str(xs) + " does not end in " +
                std::to_string(in));
  std::vector<int32_t> os;
  if (keep_num_dims) {
    os = xs;
    os.back() = out;
  } else {
    os = {static_cast<int32_t>(num_elements(xs) / in), out};
  }
  torch::Tensor scales;
  const int wt = int8_weight(name + ".weight", w, &scales);
  const int bt = int32_bias(name + ".bias", b.defined() ? b : torch::zeros({out}),
                            param(x).scale, scales);
  const int y = act(name, os, table(name));
  tfl::FullyConnectedOptionsT o;
  o.fused_activation_function = fused(a);
  o.keep_num_dims = keep_num_dims;
  g_.add_op(Op::FULLY_CONNECTED, {x, wt, bt}, {y}, options(o));
  return y;
}

int QEmitter::pad(int x, const std::vector<std::pair<int, int>>& paddings,
                  const std::string& name) {
  const auto xs = shape(x);
  if (paddings.size() != xs.size()) throw Error("export int8: " + name + ": padding rank");
  std::vector<int32_t> flat, os = xs;
  for (std::size_t i = 0; i < paddings.size(); ++i) {
    flat.push_back(paddings[i].first);
    flat.push_back(paddings[i].second);
    os[i] += paddings[i].first + paddings[i].second;
  }
  const int pt = g_.add_constant(name + ".paddings", {static_cast<int32_t>(xs.size()), 2},
                                 flat.data());
  // int8 PAD fills with the zero point, i.e. with an exact 0.0.
  const int y = act(name, os, param(x));
  g_.add_op(Op::PAD, {x, pt}, {y}, options(tfl::PadOptionsT{}));
  return y;
}

int QEmitter::conv2d(int x, const torch::Tensor& w, const torch::Tensor& b, int stride, Pad2d p,
                     const std::string& name, Activation a) {
  const auto xs = shape(x);
  if (xs.size() != 4 || xs[3] != w.size(1))
    throw Error("export int8: " + name + ": input " + shape_str(xs) + " is not NHWC with " +
                std::to_string(w.size(1)) + " channels");
  const int kh = static_cast<int>(w.size(2)), kw = static_cast<int>(w.size(3));
  const int co = static_cast<int>(w.size(0));
  auto torch_out = [&](int in, int k, int pd) { return (in + 2 * pd - k) / stride + 1; };
  auto same_matches = [&](int in, int k, int pd) {
    const int out = torch_out(in, k, pd);
    if (out != (in + stride - 1) / stride) return false;
    const int total = std::max((out - 1) * stride + k - in, 0);
    return total / 2 == pd && total - total / 2 == pd;
  };
  tfl::Padding padding = tfl::Padding::VALID;
  int src = x;
  if (p.h != 0 || p.w != 0) {
    if (same_matches(xs[1], kh, p.h) && same_matches(xs[2], kw, p.w)) {
      padding = tfl::Padding::SAME;  // int8 SAME pads with the input zero point: exact 0.0
    } else {
      src = pad(x, {{0, 0}, {p.h, p.h}, {p.w, p.w}, {0, 0}}, name + ".pad");
    }
  }
  const auto ss = shape(src);
  const int oh = padding == tfl::Padding::SAME ? (xs[1] + stride - 1) / stride
                                               : (ss[1] - kh) / stride + 1;
  const int ow = padding == tfl::Padding::SAME ? (xs[2] + stride - 1) / stride
                                               : (ss[2] - kw) / stride + 1;
  torch::Tensor scales;
  const int wt = int8_weight(name + ".weight", w.permute({0, 2, 3, 1}).contiguous(), &scales);
  const int bt = int32_bias(name + ".bias", b.defined() ? b : torch::zeros({co}),
                            param(x).scale, scales);
  const int y = act(name, {xs[0], oh, ow, co}, table(name));
  tfl::Conv2DOptionsT o;
  o.padding = padding;
  o.stride_w = stride;
  o.stride_h = stride;
  o.fused_activation_function = fused(a);
  g_.add_op(Op::CONV_2D, {src, wt, bt}, {y}, options(o));
  return y;
}

int QEmitter::max_pool(int x, int k, int stride, int p, const std::string& name) {
  const int src = p ? pad(x, {{0, 0}, {p, p}, {p, p}, {0, 0}}, name + ".pad") : x;
  const auto ss = shape(src);
  const int y = act(name, {ss[0], (ss[1] - k) / stride + 1, (ss[2] - k) / stride + 1, ss[3]},
                    param(src));
  tfl::Pool2DOptionsT o;
  o.padding = tfl::Padding::VALID;
  o.stride_w = o.stride_h = stride;
  o.filter_width = o.filter_height = k;
  g_.add_op(Op::MAX_POOL_2D, {src}, {y}, options(o));
  return y;
}

int QEmitter::binary(tfl::BuiltinOperator op, int a, int b, const std::string& name,
                     tfl::BuiltinOptionsUnion opts) {
  param(a);  // both inputs must be int8 activations/constants of this graph
  param(b);
  const int y = act(name, broadcast_shape(shape(a), shape(b)), table(name));
  g_.add_op(op, {a, b}, {y}, std::move(opts));
  return y;
}

int QEmitter::add(int a, int b, const std::string& name, Activation act_) {
  tfl::AddOptionsT o;
  o.fused_activation_function = fused(act_);
  return binary(Op::ADD, a, b, name, options(o));
}
int QEmitter::sub(int a, int b, const std::string& name) {
  return binary(Op::SUB, a, b, name, options(tfl::SubOptionsT{}));
}
int QEmitter::normalize(int x, const torch::Tensor& scale, const torch::Tensor& shift) {
  x = mul(x, constant("normalize.scale", scale), "normalize.scaled");
  return add(x, constant("normalize.shift", shift), "normalize");
}

int QEmitter::mul(int a, int b, const std::string& name) {
  return binary(Op::MUL, a, b, name, options(tfl::MulOptionsT{}));
}

int QEmitter::mean(int x, const std::vector<int>& axes, bool keep_dims, const std::string& name) {
  const auto xs = shape(x);
  const int rank = static_cast<int>(xs.size());
  std::vector<int32_t> ax;
  std::vector<bool> reduced(rank, false);
  for (int a : axes) {
    const int n = a < 0 ? a + rank : a;
    if (n < 0 || n >= rank) throw Error("export int8: " + name + ": axis out of range");
    ax.push_back(n);
    reduced[n] = true;
  }
  std::vector<int32_t> os;
  for (int i = 0; i < rank; ++i) {
    if (!reduced[i]) os.push_back(xs[i]);
    else if (keep_dims) os.push_back(1);
  }
  const int at = g_.add_constant(name + ".axes", {static_cast<int32_t>(ax.size())}, ax.data());
  const int y = act(name, os, table(name));
  tfl::ReducerOptionsT o;
  o.keep_dims = keep_dims;
  g_.add_op(Op::MEAN, {x, at}, {y}, options(o));
  return y;
}

int QEmitter::gelu(int x, const std::string& name) {
  param(x);
  const int y = act(name, shape(x), table(name));
  tfl::GeluOptionsT o;
  o.approximate = false;
  g_.add_op(Op::GELU, {x}, {y}, options(o));
  return y;
}

int QEmitter::softmax(int x, const std::string& name) {
  param(x);
  const QuantParam fixed = softmax_output_param();
  auto it = table_.find(name);
  if (it != table_.end() && it->second != fixed)
    throw Error("export int8: " + name + ": SOFTMAX output must be 1/256, -128, the table says " +
                param_str(it->second));
  const int y = act(name, shape(x), fixed);
  tfl::SoftmaxOptionsT o;
  o.beta = 1.f;
  g_.add_op(Op::SOFTMAX, {x}, {y}, options(o));
  return y;
}

int QEmitter::l2_normalization(int x, const std::string& name) {
  param(x);
  const QuantParam fixed = l2norm_output_param();
  auto it = table_.find(name);
  if (it != table_.end() && it->second != fixed)
    throw Error("export int8: " + name + ": L2_NORMALIZATION output must be 1/128, 0, the table "
                "says " + param_str(it->second));
  const int y = act(name, shape(x), fixed);
  g_.add_op(Op::L2_NORMALIZATION, {x}, {y}, options(tfl::L2NormOptionsT{}));
  return y;
}

int QEmitter::reshape(int x, std::vector<int32_t> os, const std::string& name) {
  if (num_elements(os) != num_elements(shape(x)))
    throw Error("export int8: " + name + ": cannot reshape " + shape_str(shape(x)) + " to " +
                shape_str(os));
  const int st = g_.add_constant(name + ".shape", {static_cast<int32_t>(os.size())}, os.data());
  const int y = act(name, os, param(x));
  tfl::ReshapeOptionsT o;
  o.new_shape = os;
  g_.add_op(Op::RESHAPE, {x, st}, {y}, options(o));
  return y;
}

int QEmitter::transpose(int x, const std::vector<int32_t>& perm, const std::string& name) {
  const auto xs = shape(x);
  if (perm.size() != xs.size()) throw Error("export int8: " + name + ": permutation rank");
  std::vector<int32_t> os;
  for (int32_t p : perm) os.push_back(xs.at(p));
  const int pt = g_.add_constant(name + ".perm", {static_cast<int32_t>(perm.size())}, perm.data());
  const int y = act(name, os, param(x));
  g_.add_op(Op::TRANSPOSE, {x, pt}, {y}, options(tfl::TransposeOptionsT{}));
  return y;
}

int QEmitter::batch_matmul(int a, int b, const std::string& name) {
  const auto as = shape(a);
  const auto bs = shape(b);
  if (as.size() != bs.size() || as.size() < 2 || as.back() != bs[bs.size() - 2])
    throw Error("export int8: " + name + ": cannot multiply " + shape_str(as) + " by " +
                shape_str(bs));
  param(a);
  param(b);
  std::vector<int32_t> os = as;
  os.back() = bs.back();
  const int y = act(name, os, table(name));
  g_.add_op(Op::BATCH_MATMUL, {a, b}, {y}, options(tfl::BatchMatMulOptionsT{}));
  return y;
}

int QEmitter::concat(const std::vector<int>& inputs, int axis, const std::string& name) {
  const QuantParam out = table(name);
  std::vector<int32_t> os = shape(inputs.at(0));
  const int ax = axis < 0 ? axis + static_cast<int>(os.size()) : axis;
  os[ax] = 0;
  for (int t : inputs) {
    if (param(t) != out)
      throw Error("export int8: " + name + ": input '" + g_.name(t) + "' has " +
                  param_str(param(t)) + ", CONCATENATION needs the output's " + param_str(out));
    const auto s = shape(t);
    if (s.size() != os.size()) throw Error("export int8: " + name + ": concat rank mismatch");
    os[ax] += s[ax];
  }
  const int y = act(name, os, out);
  tfl::ConcatenationOptionsT o;
  o.axis = ax;
  g_.add_op(Op::CONCATENATION, std::vector<int32_t>(inputs.begin(), inputs.end()), {y},
            options(o));
  return y;
}

int QEmitter::strided_slice(int x, const std::vector<int32_t>& begin,
                            const std::vector<int32_t>& end, const std::string& name) {
  const auto xs = shape(x);
  if (begin.size() != xs.size() || end.size() != xs.size())
    throw Error("export int8: " + name + ": slice rank mismatch");
  std::vector<int32_t> os, strides(xs.size(), 1);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (begin[i] < 0 || end[i] > xs[i] || begin[i] >= end[i])
      throw Error("export int8: " + name + ": slice out of range");
    os.push_back(end[i] - begin[i]);
  }
  const int32_t r = static_cast<int32_t>(xs.size());
  const int bt = g_.add_constant(name + ".begin", {r}, begin.data());
  const int et = g_.add_constant(name + ".end", {r}, end.data());
  const int st = g_.add_constant(name + ".strides", {r}, strides.data());
  const int y = act(name, os, param(x));
  g_.add_op(Op::STRIDED_SLICE, {x, bt, et, st}, {y}, options(tfl::StridedSliceOptionsT{}));
  return y;
}

}  // namespace tinyvit::exporter
