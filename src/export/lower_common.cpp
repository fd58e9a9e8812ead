#include "export/lower_common.h"

#include <cmath>

#include "common/error.h"
#include "export/lower_util.h"

namespace tinyvit::exporter {
namespace {

using Op = tfl::BuiltinOperator;

using detail::dims_of;
using detail::fused;
using detail::options;
using detail::shape_str;

int normalize_axis(int axis, int rank) { return axis < 0 ? axis + rank : axis; }

}  // namespace

ParamMap collect_params(const torch::nn::Module& module) {
  ParamMap out;
  auto take = [&](const std::string& name, const torch::Tensor& t) {
    out[name] = t.detach().to(torch::kCPU).contiguous();
  };
  for (const auto& p : module.named_parameters(/*recurse=*/true)) take(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) take(b.key(), b.value());
  return out;
}

torch::Tensor param(const ParamMap& params, const std::string& name,
                    const std::vector<int64_t>& shape) {
  auto it = params.find(name);
  if (it == params.end() || !it->second.defined())
    throw Error("export: the model has no parameter '" + name + "'");
  if (!shape.empty() && it->second.sizes() != torch::IntArrayRef(shape)) {
    std::string want = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) want += (i ? ", " : "") + std::to_string(shape[i]);
    throw Error("export: parameter '" + name + "' has shape " + shape_str(dims_of(it->second)) +
                ", the model config implies " + want + ")");
  }
  return it->second.to(torch::kFloat32).contiguous();
}

std::pair<torch::Tensor, torch::Tensor> batch_norm_affine(const ParamMap& params,
                                                          const std::string& bn, int64_t channels) {
  constexpr double kEps = 1e-5;
  const torch::Tensor var = param(params, bn + ".running_var", {channels});
  const torch::Tensor k = param(params, bn + ".weight", {channels}) /
                          torch::sqrt(var.to(torch::kFloat64) + kEps).to(torch::kFloat32);
  return {k, param(params, bn + ".bias", {channels}) -
                 param(params, bn + ".running_mean", {channels}) * k};
}

std::vector<int32_t> broadcast_shape(const std::vector<int32_t>& a,
                                     const std::vector<int32_t>& b) {
  const std::size_t n = std::max(a.size(), b.size());
  std::vector<int32_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int32_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int32_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error("export: cannot broadcast " + shape_str(a) + " with " + shape_str(b));
    out[i] = std::max(da, db);
  }
  return out;
}

int Emitter::activation(const std::string& name, std::vector<int32_t> shape) {
  return g_.add_tensor(name, std::move(shape), tfl::TensorType::FLOAT32);
}

int Emitter::input(const std::string& name, std::vector<int32_t> shape) {
  return activation(name, std::move(shape));
}

int Emitter::constant(const std::string& name, const torch::Tensor& value) {
  if (value.scalar_type() == torch::kInt32) {
    auto v = value.contiguous();
    return g_.add_constant(name, dims_of(v), v.data_ptr<int32_t>());
  }
  auto v = value.to(torch::kFloat32).contiguous();
  return g_.add_constant(name, dims_of(v), v.data_ptr<float>());
}

int Emitter::scalar(const std::string& name, float value) {
  return g_.add_constant(name, {1}, &value);
}

int Emitter::fully_connected(int x, const torch::Tensor& w, const torch::Tensor& b,
                             const std::string& name, bool keep_num_dims, Activation act) {
  const auto& xs = shape(x);
  const int32_t in = static_cast<int32_t>(w.size(1));
  const int32_t out = static_cast<int32_t>(w.size(0));
  if (xs.empty() || xs.back() != in)
    throw Error("export: " + name + ": input " + shape_str(xs) + " does not end in " +
                std::to_string(in));
  std::vector<int32_t> os;
  if (keep_num_dims) {
    os = xs;
    os.back() = out;
  } else {
    os = {static_cast<int32_t>(num_elements(xs) / in), out};
  }
  const int wt = constant(name + ".weight", w);
  const int bt = b.defined() ? constant(name + ".bias", b) : -1;
  const int y = activation(name, os);
  tfl::FullyConnectedOptionsT o;
  o.fused_activation_function = fused(act);
  o.keep_num_dims = keep_num_dims;
  g_.add_op(Op::FULLY_CONNECTED, {x, wt, bt}, {y}, options(o));
  return y;
}

int Emitter::pad(int x, const std::vector<std::pair<int, int>>& paddings,
                 const std::string& name) {
  const auto& xs = shape(x);
  if (paddings.size() != xs.size()) throw Error("export: " + name + ": padding rank mismatch");
  std::vector<int32_t> flat, os = xs;
  for (std::size_t i = 0; i < paddings.size(); ++i) {
    flat.push_back(paddings[i].first);
    flat.push_back(paddings[i].second);
    os[i] += paddings[i].first + paddings[i].second;
  }
  const int pt = g_.add_constant(name + ".paddings", {static_cast<int32_t>(xs.size()), 2},
                                 flat.data());
  const int y = activation(name, os);
  g_.add_op(Op::PAD, {x, pt}, {y}, options(tfl::PadOptionsT{}));
  return y;
}

int Emitter::conv2d(int x, const torch::Tensor& w, const torch::Tensor& b, int stride, Pad2d p,
                    const std::string& name, Activation act) {
  const auto& xs = shape(x);
  if (xs.size() != 4 || xs[3] != w.size(1))
    throw Error("export: " + name + ": input " + shape_str(xs) + " is not NHWC with " +
                std::to_string(w.size(1)) + " channels");
  const int kh = static_cast<int>(w.size(2)), kw = static_cast<int>(w.size(3));
  const int co = static_cast<int>(w.size(0));
  // PyTorch output size; TFLite SAME pads total = max((out-1)*s + k - in, 0), before = total/2.
  auto torch_out = [&](int in, int k, int pad) { return (in + 2 * pad - k) / stride + 1; };
  auto same_matches = [&](int in, int k, int pad) {
    const int out = torch_out(in, k, pad);
    if (out != (in + stride - 1) / stride) return false;
    const int total = std::max((out - 1) * stride + k - in, 0);
    return total / 2 == pad && total - total / 2 == pad;
  };
  tfl::Padding padding = tfl::Padding::VALID;
  int src = x;
  if (p.h != 0 || p.w != 0) {
    if (same_matches(xs[1], kh, p.h) && same_matches(xs[2], kw, p.w)) {
      padding = tfl::Padding::SAME;
    } else {
      src = pad(x, {{0, 0}, {p.h, p.h}, {p.w, p.w}, {0, 0}}, name + ".pad");
    }
  }
  const auto& ss = shape(src);
  const int oh = padding == tfl::Padding::SAME ? (xs[1] + stride - 1) / stride
                                               : (ss[1] - kh) / stride + 1;
  const int ow = padding == tfl::Padding::SAME ? (xs[2] + stride - 1) / stride
                                               : (ss[2] - kw) / stride + 1;
  const int wt = constant(name + ".weight", w.permute({0, 2, 3, 1}).contiguous());  // OHWI
  const int bt = constant(name + ".bias", b.defined() ? b : torch::zeros({co}));
  const int y = activation(name, {xs[0], oh, ow, co});
  tfl::Conv2DOptionsT o;
  o.padding = padding;
  o.stride_w = stride;
  o.stride_h = stride;
  o.fused_activation_function = fused(act);
  g_.add_op(Op::CONV_2D, {src, wt, bt}, {y}, options(o));
  return y;
}

int Emitter::max_pool_nonneg(int x, int k, int stride, int p, const std::string& name) {
  const int src = p ? pad(x, {{0, 0}, {p, p}, {p, p}, {0, 0}}, name + ".pad") : x;
  const auto& ss = shape(src);
  const int y = activation(name, {ss[0], (ss[1] - k) / stride + 1, (ss[2] - k) / stride + 1,
                                  ss[3]});
  tfl::Pool2DOptionsT o;
  o.padding = tfl::Padding::VALID;
  o.stride_w = o.stride_h = stride;
  o.filter_width = o.filter_height = k;
  g_.add_op(Op::MAX_POOL_2D, {src}, {y}, options(o));
  return y;
}

int Emitter::binary(tfl::BuiltinOperator op, int a, int b, const std::string& name,
                    tfl::BuiltinOptionsUnion opts) {
  const int y = activation(name, broadcast_shape(shape(a), shape(b)));
  g_.add_op(op, {a, b}, {y}, std::move(opts));
  return y;
}

int Emitter::add(int a, int b, const std::string& name, Activation act) {
  tfl::AddOptionsT o;
  o.fused_activation_function = fused(act);
  return binary(Op::ADD, a, b, name, options(o));
}

int Emitter::sub(int a, int b, const std::string& name) {
  return binary(Op::SUB, a, b, name, options(tfl::SubOptionsT{}));
}

int Emitter::mul(int a, int b, const std::string& name) {
  return binary(Op::MUL, a, b, name, options(tfl::MulOptionsT{}));
}

int Emitter::squared_difference(int a, int b, const std::string& name) {
  return binary(Op::SQUARED_DIFFERENCE, a, b, name, options(tfl::SquaredDifferenceOptionsT{}));
}

int Emitter::unary(tfl::BuiltinOperator op, int x, const std::string& name) {
  const int y = activation(name, shape(x));
  g_.add_op(op, {x}, {y});
  return y;
}

int Emitter::rsqrt(int x, const std::string& name) { return unary(Op::RSQRT, x, name); }
int Emitter::tanh(int x, const std::string& name) { return unary(Op::TANH, x, name); }
int Emitter::l2_normalization(int x, const std::string& name) {
  const int y = activation(name, shape(x));
  g_.add_op(Op::L2_NORMALIZATION, {x}, {y}, options(tfl::L2NormOptionsT{}));
  return y;
}

int Emitter::mean(int x, const std::vector<int>& axes, bool keep_dims, const std::string& name) {
  const auto& xs = shape(x);
  const int rank = static_cast<int>(xs.size());
  std::vector<int32_t> ax;
  std::vector<bool> reduced(rank, false);
  for (int a : axes) {
    const int n = normalize_axis(a, rank);
    if (n < 0 || n >= rank) throw Error("export: " + name + ": axis out of range");
    ax.push_back(n);
    reduced[n] = true;
  }
  std::vector<int32_t> os;
  for (int i = 0; i < rank; ++i) {
    if (!reduced[i]) os.push_back(xs[i]);
    else if (keep_dims) os.push_back(1);
  }
  const int at = g_.add_constant(name + ".axes", {static_cast<int32_t>(ax.size())}, ax.data());
  const int y = activation(name, os);
  tfl::ReducerOptionsT o;
  o.keep_dims = keep_dims;
  g_.add_op(Op::MEAN, {x, at}, {y}, options(o));
  return y;
}

int Emitter::softmax(int x, const std::string& name) {
  const int y = activation(name, shape(x));
  tfl::SoftmaxOptionsT o;
  o.beta = 1.f;
  g_.add_op(Op::SOFTMAX, {x}, {y}, options(o));
  return y;
}

int Emitter::gelu(int x, const std::string& name, bool tanh_approximation) {
  if (!tanh_approximation) {
    const int y = activation(name, shape(x));
    tfl::GeluOptionsT o;
    o.approximate = false;
    g_.add_op(Op::GELU, {x}, {y}, options(o));
    return y;
  }
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written as
  //   u = x * (1 + 0.044715 x^2);  y = (0.5 x) * (1 + tanh(sqrt(2/pi) u))
  const float kC = 0.044715f;
  const float kS = static_cast<float>(std::sqrt(2.0 / M_PI));
  const int x2 = mul(x, x, name + ".x2");
  const int cx2 = mul(x2, scalar(name + ".c", kC), name + ".cx2");
  const int one = scalar(name + ".one", 1.f);
  const int p = add(cx2, one, name + ".poly");
  const int u = mul(x, p, name + ".u");
  const int su = mul(u, scalar(name + ".s", kS), name + ".su");
  const int t = tanh(su, name + ".tanh");
  const int t1 = add(t, one, name + ".tanh1");
  const int hx = mul(x, scalar(name + ".half", 0.5f), name + ".hx");
  return mul(hx, t1, name);
}

int Emitter::layer_norm(int x, const torch::Tensor& gamma, const torch::Tensor& beta, double eps,
                        const std::string& name) {
  const int mu = mean(x, {-1}, true, name + ".mean");
  const int sq = squared_difference(x, mu, name + ".sqdiff");
  const int var = mean(sq, {-1}, true, name + ".var");
  const int ve = add(var, scalar(name + ".eps", static_cast<float>(eps)), name + ".var_eps");
  const int r = rsqrt(ve, name + ".rstd");
  const int d = sub(x, mu, name + ".centered");
  const int n = mul(d, r, name + ".normalized");
  const int s = mul(n, constant(name + ".weight", gamma), name + ".scaled");
  return add(s, constant(name + ".bias", beta), name);
}

int Emitter::reshape(int x, std::vector<int32_t> os, const std::string& name) {
  if (num_elements(os) != num_elements(shape(x)))
    throw Error("export: " + name + ": cannot reshape " + shape_str(shape(x)) + " to " +
                shape_str(os));
  const int st = g_.add_constant(name + ".shape", {static_cast<int32_t>(os.size())}, os.data());
  const int y = activation(name, os);
  tfl::ReshapeOptionsT o;
  o.new_shape = os;
  g_.add_op(Op::RESHAPE, {x, st}, {y}, options(o));
  return y;
}

int Emitter::transpose(int x, const std::vector<int32_t>& perm, const std::string& name) {
  const auto& xs = shape(x);
  if (perm.size() != xs.size()) throw Error("export: " + name + ": permutation rank mismatch");
  std::vector<int32_t> os;
  for (int32_t p : perm) os.push_back(xs.at(p));
  const int pt = g_.add_constant(name + ".perm", {static_cast<int32_t>(perm.size())}, perm.data());
  const int y = activation(name, os);
  g_.add_op(Op::TRANSPOSE, {x, pt}, {y}, options(tfl::TransposeOptionsT{}));
  return y;
}

int Emitter::batch_matmul(int a, int b, const std::string& name) {
  const auto& as = shape(a);
  const auto& bs = shape(b);
  if (as.size() != bs.size() || as.size() < 2 || as.back() != bs[bs.size() - 2])
    throw Error("export: " + name + ": cannot multiply " + shape_str(as) + " by " + shape_str(bs));
  std::vector<int32_t> os = as;
  os.back() = bs.back();
  const int y = activation(name, os);
  g_.add_op(Op::BATCH_MATMUL, {a, b}, {y}, options(tfl::BatchMatMulOptionsT{}));
  return y;
}

int Emitter::concat(const std::vector<int>& inputs, int axis, const std::string& name) {
  std::vector<int32_t> os = shape(inputs.at(0));
  const int ax = normalize_axis(axis, static_cast<int>(os.size()));
  os[ax] = 0;
  for (int t : inputs) {
    const auto& s = shape(t);
    if (s.size() != os.size()) throw Error("export: " + name + ": concat rank mismatch");
    os[ax] += s[ax];
  }
  const int y = activation(name, os);
  tfl::ConcatenationOptionsT o;
  o.axis = ax;
  g_.add_op(Op::CONCATENATION, std::vector<int32_t>(inputs.begin(), inputs.end()), {y},
            options(o));
  return y;
}

int Emitter::strided_slice(int x, const std::vector<int32_t>& begin,
                           const std::vector<int32_t>& end, const std::string& name) {
  const auto& xs = shape(x);
  if (begin.size() != xs.size() || end.size() != xs.size())
    throw Error("export: " + name + ": slice rank mismatch");
  std::vector<int32_t> os, strides(xs.size(), 1);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (begin[i] < 0 || end[i] > xs[i] || begin[i] >= end[i])
      throw Error("export: " + name + ": slice out of range");
    os.push_back(end[i] - begin[i]);
  }
  const int32_t r = static_cast<int32_t>(xs.size());
  const int bt = g_.add_constant(name + ".begin", {r}, begin.data());
  const int et = g_.add_constant(name + ".end", {r}, end.data());
  const int st = g_.add_constant(name + ".strides", {r}, strides.data());
  const int y = activation(name, os);
  g_.add_op(Op::STRIDED_SLICE, {x, bt, et, st}, {y}, options(tfl::StridedSliceOptionsT{}));
  return y;
}

int Emitter::gather(int x, const std::vector<int32_t>& indices, int axis,
                    const std::string& name) {
  std::vector<int32_t> os = shape(x);
  const int ax = normalize_axis(axis, static_cast<int>(os.size()));
  os[ax] = static_cast<int32_t>(indices.size());
  const int it = g_.add_constant(name + ".indices", {static_cast<int32_t>(indices.size())},
                                 indices.data());
  const int y = activation(name, os);
  tfl::GatherOptionsT o;
  o.axis = ax;
  g_.add_op(Op::GATHER, {x, it}, {y}, options(o));
  return y;
}

}  // namespace tinyvit::exporter
