// BATCH_MATMUL: a (..., M, K), b (..., K, N) -> y (..., M, N), batch dims broadcast (numpy).
// adj_x: a is stored (..., K, M); adj_y: b is stored (..., N, K).
//   float: y[m, n] = sum_k a[m, k] b[k, n]
//   int8:  acc = sum_k (a[m, k] - a_zp) (b[k, n] - b_zp); y = clamp(MBQM(acc, q, s) + y_zp)
//          with q, s from double(a_scale) * double(b_scale) / double(y_scale).
//   int8, Int8Arithmetic::kLiteRt with b_zp = 0 (what LiteRT's XNNPACK delegate takes):
//          y = clamp(rne(float(acc) * (a_scale * b_scale / y_scale)) + y_zp)   (float scale)
#include "kernels/reference/batch_matmul.h"

#include "kernels/x86/x86_kernels.h"
#include "quant.h"
#include "rt_schema_generated.h"

namespace tinyvit::rt {
namespace {

void batch_dims(const Tensor& t, int32_t out[4]) {
  const int nb = t.rank - 2;
  for (int i = 0; i < 4; ++i) out[i] = i < 4 - nb ? 1 : t.dims[i - (4 - nb)];
}

template <typename T>
inline T at(const T* base, int r, int c, int rows, int cols, bool transposed) {
  return transposed ? base[static_cast<int64_t>(c) * rows + r] : base[static_cast<int64_t>(r) * cols + c];
}

void eval_float(const OpContext& ctx) {
  const BmmGeometry g = bmm_geometry(ctx);
  const float* ap = ctx.in(0).as<const float>();
  const float* bp = ctx.in(1).as<const float>();
  float* yp = ctx.out().as<float>();
  const int64_t msa = static_cast<int64_t>(g.M) * g.K, msb = static_cast<int64_t>(g.K) * g.N;
  for (int64_t i = 0; i < g.batches; ++i) {
    int64_t oa, ob;
    g.offsets(i, &oa, &ob);
    const float* a = ap + oa * msa;
    const float* b = bp + ob * msb;
    float* y = yp + i * static_cast<int64_t>(g.M) * g.N;
    for (int m = 0; m < g.M; ++m)
      for (int n = 0; n < g.N; ++n) {
        float acc = 0.f;
        for (int k = 0; k < g.K; ++k)
          acc += at(a, m, k, g.M, g.K, g.adj_x) * at(b, k, n, g.K, g.N, g.adj_y);
        y[static_cast<int64_t>(m) * g.N + n] = acc;
      }
  }
}

void eval_int8(const OpContext& ctx) {
  const BmmGeometry g = bmm_geometry(ctx);
  const Tensor& A = ctx.in(0);
  const Tensor& B = ctx.in(1);
  const Tensor& Y = ctx.out();
  const OpParams& p = ctx.op.p;
  const int8_t* ap = A.as<const int8_t>();
  const int8_t* bp = B.as<const int8_t>();
  int8_t* yp = Y.as<int8_t>();
  const int32_t a_off = -A.zero_point, b_off = -B.zero_point;
  const int64_t msa = static_cast<int64_t>(g.M) * g.K, msb = static_cast<int64_t>(g.K) * g.N;
  for (int64_t i = 0; i < g.batches; ++i) {
    int64_t oa, ob;
    g.offsets(i, &oa, &ob);
    const int8_t* a = ap + oa * msa;
    const int8_t* b = bp + ob * msb;
    int8_t* y = yp + i * static_cast<int64_t>(g.M) * g.N;
    for (int m = 0; m < g.M; ++m)
      for (int n = 0; n < g.N; ++n) {
        int32_t acc = 0;
        for (int k = 0; k < g.K; ++k)
          acc += (at(a, m, k, g.M, g.K, g.adj_x) + a_off) * (at(b, k, n, g.K, g.N, g.adj_y) + b_off);
        if (p.f[0] != 0.f) {  // Int8Arithmetic::kLiteRt, XNNPACK-delegated: fp32 requantization
          y[static_cast<int64_t>(m) * g.N + n] =
              static_cast<int8_t>(q::requantize_fp32(acc, p.f[0], Y.zero_point, -128, 127));
          continue;
        }
        acc = q::add_zp(q::multiply_by_quantized_multiplier(acc, p.multiplier, p.shift), Y.zero_point);
        y[static_cast<int64_t>(m) * g.N + n] = static_cast<int8_t>(q::clamp(acc, -128, 127));
      }
  }
}

}  // namespace

BmmGeometry bmm_geometry(const OpContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  const Tensor& y = ctx.out();
  BmmGeometry g{};
  g.adj_x = ctx.op.p.i[0] != 0;
  g.adj_y = ctx.op.p.i[1] != 0;
  g.M = g.adj_x ? a.dims[a.rank - 1] : a.dims[a.rank - 2];
  g.K = g.adj_x ? a.dims[a.rank - 2] : a.dims[a.rank - 1];
  g.N = g.adj_y ? b.dims[b.rank - 2] : b.dims[b.rank - 1];
  int32_t ab[4], bb[4];
  batch_dims(a, ab);
  batch_dims(b, bb);
  batch_dims(y, g.yb);
  int64_t stride_a = 1, stride_b = 1;
  g.batches = 1;
  for (int d = 3; d >= 0; --d) {
    g.sa[d] = ab[d] == 1 ? 0 : stride_a;
    g.sb[d] = bb[d] == 1 ? 0 : stride_b;
    stride_a *= ab[d];
    stride_b *= bb[d];
    g.batches *= g.yb[d];
  }
  return g;
}

Status prepare_batch_matmul(OpContext& ctx) {
  Status s = expect_io(ctx, 2, 2);
  if (s != Status::kOk) return s;
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  const Tensor& y = ctx.out();
  const auto* o =
      static_cast<const tfl::Operator*>(ctx.op.options)->builtin_options_as_BatchMatMulOptions();
  ctx.op.p.i[0] = o && o->adj_x();
  ctx.op.p.i[1] = o && o->adj_y();
  if (a.rank < 2 || b.rank < 2 || a.rank > 6 || b.rank > 6 || a.rank - 2 > 4 || b.rank - 2 > 4)
    return fail(ctx.m, Status::kMalformedModel, "operands must be 2-D to 6-D");
  const int rank = a.rank > b.rank ? a.rank : b.rank;
  if (y.rank != rank) return fail(ctx.m, Status::kMalformedModel, "output rank must be %d", rank);
  const bool ax = ctx.op.p.i[0], ay = ctx.op.p.i[1];
  const int M = ax ? a.dims[a.rank - 1] : a.dims[a.rank - 2];
  const int K = ax ? a.dims[a.rank - 2] : a.dims[a.rank - 1];
  const int Kb = ay ? b.dims[b.rank - 1] : b.dims[b.rank - 2];
  const int N = ay ? b.dims[b.rank - 2] : b.dims[b.rank - 1];
  if (K != Kb) return fail(ctx.m, Status::kMalformedModel, "inner dimensions %d and %d differ", K, Kb);
  if (y.dims[rank - 2] != M || y.dims[rank - 1] != N)
    return fail(ctx.m, Status::kMalformedModel, "output must end in (%d, %d)", M, N);
  int32_t ab[4], bb[4], yb[4];
  batch_dims(a, ab);
  batch_dims(b, bb);
  batch_dims(y, yb);
  for (int d = 0; d < 4; ++d) {
    if (ab[d] != bb[d] && ab[d] != 1 && bb[d] != 1)
      return fail(ctx.m, Status::kMalformedModel, "batch dimensions do not broadcast");
    if (yb[d] != (ab[d] > bb[d] ? ab[d] : bb[d]))
      return fail(ctx.m, Status::kMalformedModel, "output batch dimensions are wrong");
  }
  const bool fast = ctx.m.kernels == KernelSet::kAuto && x86::available();
  if (a.type == DType::kFloat32 && b.type == DType::kFloat32 && y.type == DType::kFloat32) {
    ctx.op.eval = fast && !ax && !ay ? x86::batch_matmul_float_avx2 : eval_float;
    if (ctx.op.eval != eval_float) ctx.op.kernel = "avx2";
    return Status::kOk;
  }
  if (a.type == DType::kInt8 && b.type == DType::kInt8 && y.type == DType::kInt8) {
    if (K > q::kMaxInt8Reduction)
      return fail(ctx.m, Status::kUnsupported, "int8 reduction length %d overflows int32", K);
    s = expect_per_tensor(ctx, a, "lhs");
    if (s == Status::kOk) s = expect_per_tensor(ctx, b, "rhs");
    if (s == Status::kOk) s = expect_per_tensor(ctx, y, "output");
    if (s != Status::kOk) return s;
    if (ctx.m.arithmetic == Int8Arithmetic::kLiteRt && b.zero_point == 0) {
      // LiteRT's XNNPACK delegate takes it (rhs zero point 0): fp32 requantization.
      ctx.op.p.f[0] = a.scale * b.scale / y.scale;
      ctx.op.eval = eval_int8;
      return Status::kOk;
    }
    // As TFLite and TFLite Micro (GetQuantizedConvolutionMultipler without bias): the scale
    // product s_a * s_b is formed in float32, then widened; a double product moves the
    // multiplier by up to 2^-24 relative, enough to flip a rounding near .5 (seen on LiteRT).
    const double m = static_cast<double>(a.scale * b.scale) / static_cast<double>(y.scale);
    q::quantize_multiplier(m, &ctx.op.p.multiplier, &ctx.op.p.shift);
    ctx.op.p.f[0] = 0.f;
    ctx.op.eval = fast && !ax && !ay ? x86::batch_matmul_int8_avx2 : eval_int8;
    if (ctx.op.eval != eval_int8) ctx.op.kernel = "avx2";
    return Status::kOk;
  }
  return fail(ctx.m, Status::kUnsupported, "types %s x %s -> %s", dtype_name(a.type),
              dtype_name(b.type), dtype_name(y.type));
}

}  // namespace tinyvit::rt
