// libFuzzer target for the loader/verifier and, for files it accepts, the planner and one
// invoke() on zero inputs, once per int8 arithmetic (reference and LiteRT's). Built by tests/runtime/run_sanitized.sh with clang
// (-fsanitize=fuzzer,address,undefined); any crash, out-of-bounds access or UB is a finding.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tinyvit_rt/runtime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  struct alignas(16) Block { uint8_t b[16]; };
  std::vector<Block> model((size + 15) / 16 + 1);
  std::memcpy(model.data(), data, size);
  for (const auto arithmetic : {tinyvit::rt::Int8Arithmetic::kReference, tinyvit::rt::Int8Arithmetic::kLiteRt}) {
    tinyvit::rt::Interpreter it;
    tinyvit::rt::LoadOptions lo;
    lo.arithmetic = arithmetic;
    if (it.load(model.data(), size, lo) != tinyvit::rt::Status::kOk) return 0;
    const size_t need = it.arena_bytes_needed();
    if (need > (16u << 20)) return 0;  // keep each run fast
    std::vector<Block> arena(need / 16 + 1);
    if (it.allocate(arena.data(), arena.size() * 16) != tinyvit::rt::Status::kOk) return 0;
    it.invoke();
  }
  return 0;
}
