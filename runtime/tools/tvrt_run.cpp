// tvrt_run: the runtime alone (no LibTorch), for devices and emulators.
//   tvrt_run MODEL.tflite [--runs N] [--reference] [--litert-arithmetic] [--input FILE.bin]
//            [--output FILE.bin]
// Loads and verifies the model, plans the arena, runs it N times (seeded pseudo-random input
// unless --input gives raw input bytes), prints op count, arena bytes, latency percentiles,
// and the output (first 10 values). --output writes the raw output bytes of the last run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tinyvit_rt/runtime.h"

namespace {

bool read_file(const char* path, std::vector<uint8_t>& out) {
  FILE* f = std::fopen(path, "rb");
  if (!f) return false;
  std::fseek(f, 0, SEEK_END);
  const long n = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  const bool ok = n >= 0 && std::fread(out.data(), 1, out.size(), f) == out.size();
  std::fclose(f);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tinyvit::rt;
  if (argc < 2) {
    std::fprintf(stderr, "usage: tvrt_run MODEL.tflite [--runs N] [--reference] [--litert-arithmetic] "
                         "[--input F] [--output F]\n");
    return 2;
  }
  int runs = 10;
  LoadOptions lo;
  const char* input_path = nullptr;
  const char* output_path = nullptr;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--reference")) lo.kernels = KernelSet::kReference;
    else if (!std::strcmp(argv[i], "--litert-arithmetic")) lo.arithmetic = Int8Arithmetic::kLiteRt;
    else if (!std::strcmp(argv[i], "--input") && i + 1 < argc) input_path = argv[++i];
    else if (!std::strcmp(argv[i], "--output") && i + 1 < argc) output_path = argv[++i];
    else {
      std::fprintf(stderr, "tvrt_run: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  std::vector<uint8_t> file;
  if (!read_file(argv[1], file)) {
    std::fprintf(stderr, "tvrt_run: cannot read %s\n", argv[1]);
    return 1;
  }
  // Copy into a 16-byte aligned buffer (std::vector<uint8_t> data is malloc-aligned already).
  Interpreter it;
  Status s = it.load(file.data(), file.size(), lo);
  if (s != Status::kOk) {
    std::fprintf(stderr, "tvrt_run: %s: %s: %s\n", argv[1], status_name(s), it.error());
    return 1;
  }
  struct alignas(16) Block { uint8_t b[16]; };
  std::vector<Block> arena((it.arena_bytes_needed() + 15) / 16 + 1);
  s = it.allocate(arena.data(), arena.size() * sizeof(Block));
  if (s != Status::kOk) {
    std::fprintf(stderr, "tvrt_run: %s\n", it.error());
    return 1;
  }
  const TensorView in = it.input(0);
  std::vector<uint8_t> in_bytes;
  if (input_path) {
    if (!read_file(input_path, in_bytes) || in_bytes.size() != in.bytes) {
      std::fprintf(stderr, "tvrt_run: %s must hold exactly %zu bytes\n", input_path, in.bytes);
      return 1;
    }
    std::memcpy(in.data, in_bytes.data(), in.bytes);
  } else {
    uint32_t state = 12345;
    for (std::size_t i = 0; i < in.bytes / dtype_size(in.type); ++i) {
      state = state * 1664525u + 1013904223u;
      const float u = static_cast<float>(state >> 8) / 16777216.f;
      if (in.type == DType::kFloat32) static_cast<float*>(in.data)[i] = u;
      else if (in.type == DType::kInt8) static_cast<int8_t*>(in.data)[i] = static_cast<int8_t>(static_cast<int>(u * 255.f) - 128);
    }
  }
  std::vector<double> ms;
  for (int r = 0; r < (runs > 0 ? runs : 1); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    it.invoke();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[static_cast<std::size_t>(p * static_cast<double>(ms.size() - 1) + 0.5)]; };
  int avx2 = 0, neon = 0;
  for (int i = 0; i < it.num_ops(); ++i) {
    avx2 += std::strcmp(it.op_kernel(i), "avx2") == 0;
    neon += std::strcmp(it.op_kernel(i), "neon") == 0;
  }
  std::printf("model %s: %zu bytes, %d ops (%d avx2, %d neon), %d tensors\n", argv[1], file.size(),
              it.num_ops(), avx2, neon, it.num_tensors());
  std::printf("arena %zu bytes (sum of activations %zu)\n", it.arena_bytes_needed(),
              it.activation_bytes_total());
  std::printf("latency ms over %zu runs: p50 %.3f p90 %.3f p99 %.3f min %.3f\n", ms.size(), pct(0.5),
              pct(0.9), pct(0.99), ms.front());
  std::printf("input %s (%s): %zu bytes\n", in.name, dtype_name(in.type), in.bytes);
  const TensorView out = it.output(0);
  std::printf("output %s (%s):", out.name, dtype_name(out.type));
  const std::size_t n = out.bytes / dtype_size(out.type);
  for (std::size_t i = 0; i < n && i < 10; ++i) {
    if (out.type == DType::kFloat32) std::printf(" %.6g", static_cast<double>(static_cast<float*>(out.data)[i]));
    else if (out.type == DType::kInt8) std::printf(" %d", static_cast<int8_t*>(out.data)[i]);
  }
  std::printf("\n");
  if (output_path) {
    FILE* f = std::fopen(output_path, "wb");
    if (!f || std::fwrite(out.data, 1, out.bytes, f) != out.bytes) return 1;
    std::fclose(f);
  }
  return 0;
}
