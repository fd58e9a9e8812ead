#pragma once
// Runs a model in our runtime on N samples (back to back, raw input bytes) and returns the raw
// outputs; fails the test with the runtime's message on any error.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tinyvit_rt/runtime.h"

namespace tinyvit::rt::testing {

// 16-byte aligned copy of a byte vector (models and arenas must be aligned).
struct Aligned {
  explicit Aligned(std::size_t n) : blocks((n + 15) / 16 + 1) {}
  Aligned(const std::vector<uint8_t>& bytes) : Aligned(bytes.size()) {
    if (!bytes.empty()) std::memcpy(data(), bytes.data(), bytes.size());
    size = bytes.size();
  }
  uint8_t* data() { return reinterpret_cast<uint8_t*>(blocks.data()); }
  struct alignas(16) B { uint8_t b[16]; };
  std::vector<B> blocks;
  std::size_t size = 0;
};

inline std::vector<uint8_t> run_runtime(const std::vector<uint8_t>& model, const void* inputs,
                                        std::size_t input_bytes,
                                        KernelSet kernels = KernelSet::kReference,
                                        Int8Arithmetic arithmetic = Int8Arithmetic::kReference) {
  Aligned mb(model);
  Interpreter it;
  LoadOptions lo;
  lo.kernels = kernels;
  lo.arithmetic = arithmetic;
  const Status s = it.load(mb.data(), mb.size, lo);
  EXPECT_EQ(s, Status::kOk) << it.error();
  if (s != Status::kOk) return {};
  Aligned arena(it.arena_bytes_needed());
  EXPECT_EQ(it.allocate(arena.data(), it.arena_bytes_needed()), Status::kOk) << it.error();
  std::size_t per_in = 0, per_out = 0;
  for (int i = 0; i < it.num_inputs(); ++i) per_in += it.input(i).bytes;
  for (int i = 0; i < it.num_outputs(); ++i) per_out += it.output(i).bytes;
  if (per_in == 0 || input_bytes % per_in != 0) {
    ADD_FAILURE() << "input bytes " << input_bytes << " not a multiple of " << per_in;
    return {};
  }
  const std::size_t n = input_bytes / per_in;
  std::vector<uint8_t> out(n * per_out);
  const uint8_t* src = static_cast<const uint8_t*>(inputs);
  uint8_t* dst = out.data();
  for (std::size_t s_ = 0; s_ < n; ++s_) {
    for (int i = 0; i < it.num_inputs(); ++i) {
      std::memcpy(it.input(i).data, src, it.input(i).bytes);
      src += it.input(i).bytes;
    }
    it.invoke();
    for (int i = 0; i < it.num_outputs(); ++i) {
      std::memcpy(dst, it.output(i).data, it.output(i).bytes);
      dst += it.output(i).bytes;
    }
  }
  return out;
}

}  // namespace tinyvit::rt::testing
