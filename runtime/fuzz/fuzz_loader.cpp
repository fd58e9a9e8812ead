// libFuzzer target for the loader/verifier and, for files it accepts, the planner and one
// invoke() on zero inputs. Built by tests/runtime/run_sanitized.sh with clang
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
  tinyvit::rt::Interpreter it;
  if (it.load(model.data(), size) != tinyvit::rt::Status::kOk) return 0;
  const size_t need = it.arena_bytes_needed();
  if (need > (16u << 20)) return 0;  // keep each run fast
  std::vector<Block> arena(need / 16 + 1);
  if (it.allocate(arena.data(), arena.size() * 16) != tinyvit::rt::Status::kOk) return 0;
  it.invoke();
  return 0;
}
