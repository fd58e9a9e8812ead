// Runtime kernel benchmark: FULLY_CONNECTED / BATCH_MATMUL / CONV_2D, float32 and int8, the
// portable reference kernels vs the AVX2 variants (chosen at run time), on the shapes of the
// ViT students (tokens x dim x hidden). Prints ms per op and GMAC/s, and for int8 the fraction
// of this CPU's AVX2 int8 peak (2 x vpmaddwd per cycle = 32 MAC/cycle, at the nominal clock
// from /proc/cpuinfo; no VNNI path yet).
//   bench_runtime [--quick]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tiny_model.h"
#include "tinyvit_rt/runtime.h"

using namespace tinyvit::rt;
using namespace tinyvit::rt::testing;
using BO = tfl::BuiltinOperator;

namespace {

struct alignas(16) Block { uint8_t b[16]; };

double cpu_ghz() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("cpu MHz", 0) == 0) return std::stod(line.substr(line.find(':') + 1)) / 1000.0;
  return 0;
}

std::vector<uint8_t> fc(int R, int K, int U, bool int8) {
  std::mt19937 rng(1);
  TinyModel m;
  tfl::FullyConnectedOptionsT fo;
  fo.keep_num_dims = true;
  if (!int8) {
    const int x = m.f32("x", {1, R, K});
    const int w = m.const_f32("w", {U, K}, randn(rng, size_t(U) * K, 0.1f));
    const int y = m.f32("y", {1, R, U});
    m.op(BO::FULLY_CONNECTED, {x, w, -1}, {y}, opts(fo));
    m.io({x}, {y});
    return m.finish();
  }
  const int x = m.i8("x", {1, R, K}, 0.05f, 3);
  Quant wq;
  for (int u = 0; u < U; ++u) { wq.scale.push_back(0.01f); wq.zero_point.push_back(0); }
  const int w = m.const_i8("w", {U, K}, rand_i8(rng, size_t(U) * K, -127, 127), wq);
  const int y = m.i8("y", {1, R, U}, 1.f, 0);
  m.op(BO::FULLY_CONNECTED, {x, w, -1}, {y}, opts(fo), 5);
  m.io({x}, {y});
  return m.finish();
}

std::vector<uint8_t> bmm(int B, int M, int K, int N, bool int8) {
  std::mt19937 rng(2);
  TinyModel m;
  int x, c, y;
  if (int8) {
    x = m.i8("x", {B, M, K}, 0.05f, 1);
    c = m.const_i8("c", {B, K, N}, rand_i8(rng, size_t(B) * K * N), per_tensor(0.05f, 0));
    y = m.i8("y", {B, M, N}, 1.f, 0);
  } else {
    x = m.f32("x", {B, M, K});
    c = m.const_f32("c", {B, K, N}, randn(rng, size_t(B) * K * N));
    y = m.f32("y", {B, M, N});
  }
  m.op(BO::BATCH_MATMUL, {x, c}, {y}, opts(tfl::BatchMatMulOptionsT{}));
  m.io({x}, {y});
  return m.finish();
}

std::vector<uint8_t> conv(int H, int Ci, int Co, int k, int s, bool int8) {
  std::mt19937 rng(3);
  TinyModel m;
  tfl::Conv2DOptionsT o;
  o.padding = tfl::Padding::VALID;
  o.stride_h = o.stride_w = s;
  const int oh = (H - k) / s + 1;
  const size_t nw = size_t(Co) * k * k * Ci;
  if (!int8) {
    const int x = m.f32("x", {1, H, H, Ci});
    const int w = m.const_f32("w", {Co, k, k, Ci}, randn(rng, nw, 0.1f));
    const int y = m.f32("y", {1, oh, oh, Co});
    m.op(BO::CONV_2D, {x, w, -1}, {y}, opts(o));
    m.io({x}, {y});
    return m.finish();
  }
  const int x = m.i8("x", {1, H, H, Ci}, 0.05f, 3);
  Quant wq;
  for (int c = 0; c < Co; ++c) { wq.scale.push_back(0.01f); wq.zero_point.push_back(0); }
  const int w = m.const_i8("w", {Co, k, k, Ci}, rand_i8(rng, nw, -127, 127), wq);
  const int y = m.i8("y", {1, oh, oh, Co}, 1.f, 0);
  m.op(BO::CONV_2D, {x, w, -1}, {y}, opts(o), 3);
  m.io({x}, {y});
  return m.finish();
}

double time_ms(const std::vector<uint8_t>& bytes, KernelSet ks, int reps) {
  std::vector<Block> model(bytes.size() / 16 + 1);
  std::memcpy(model.data(), bytes.data(), bytes.size());
  Interpreter it;
  LoadOptions lo;
  lo.kernels = ks;
  if (it.load(model.data(), bytes.size(), lo) != Status::kOk) {
    std::fprintf(stderr, "load: %s\n", it.error());
    return -1;
  }
  std::vector<Block> arena(it.arena_bytes_needed() / 16 + 1);
  it.allocate(arena.data(), arena.size() * 16);
  std::memset(it.input(0).data, 1, it.input(0).bytes);
  it.invoke();
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) it.invoke();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && !std::strcmp(argv[1], "--quick");
  const double ghz = cpu_ghz();
  std::printf("AVX2+FMA: %s, nominal clock %.2f GHz, int8 AVX2 peak %.1f GMAC/s (32 MAC/cycle)\n",
              cpu_has_avx2_fma() ? "yes" : "no", ghz, 32 * ghz);
  struct Case { const char* name; std::vector<uint8_t> (*make)(bool); double macs; };
  // ViT-Tiny-ish at 32x32/patch 4: 65 tokens, dim 192, MLP 768, 3 heads of 64.
  const Case cases[] = {
      {"fc 65x192->768 (mlp.fc1)", [](bool q) { return fc(65, 192, 768, q); }, 65.0 * 192 * 768},
      {"fc 65x768->192 (mlp.fc2)", [](bool q) { return fc(65, 768, 192, q); }, 65.0 * 768 * 192},
      {"bmm 3x65x64x65 (q k^T)", [](bool q) { return bmm(3, 65, 64, 65, q); }, 3.0 * 65 * 64 * 65},
      {"conv 32x32x3 k4 s4 ->192", [](bool q) { return conv(32, 3, 192, 4, 4, q); }, 64.0 * 48 * 192},
      {"conv 16x16x64 k3 ->64", [](bool q) { return conv(16, 64, 64, 3, 1, q); }, 196.0 * 576 * 64},
  };
  std::printf("%-28s %-6s %12s %12s %8s %10s %8s\n", "op", "type", "reference ms", "avx2 ms", "speedup",
              "GMAC/s", "% peak");
  for (const auto& c : cases)
    for (bool q : {false, true}) {
      const auto bytes = c.make(q);
      const int reps = quick ? 3 : 20;
      const double r = time_ms(bytes, KernelSet::kReference, reps);
      const double f = time_ms(bytes, KernelSet::kAuto, reps);
      const double gmacs = c.macs / (f * 1e6);
      std::printf("%-28s %-6s %12.3f %12.3f %7.1fx %10.2f %8s\n", c.name, q ? "int8" : "f32", r, f,
                  r / f, gmacs, q && ghz > 0 ? std::to_string(int(100 * gmacs / (32 * ghz))).c_str() : "-");
    }
  return 0;
}
