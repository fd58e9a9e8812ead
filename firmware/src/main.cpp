// tinyvit firmware: the runtime's portable reference kernels on a Cortex-M33 (QEMU
// mps2-an505). The model (g_model_0) and a few test inputs (g_input_*) are compiled in as
// C arrays (generated at build time by cmake/bin2c.cmake). For each input: invoke, then print
// the output tensor's raw bytes as hex over semihosting:
//   out <i> <hex>
// tests/runtime/run_firmware.sh compares these lines with tvrt_run's host outputs.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

#include "semihost.h"
#include "tinyvit_rt/runtime.h"

#ifndef FW_ARENA_BYTES
#define FW_ARENA_BYTES (64 * 1024)
#endif
#ifndef FW_HEAP_BYTES
#define FW_HEAP_BYTES (64 * 1024)
#endif

extern const uint8_t* const g_model_data[];
extern const size_t g_model_size[];
extern const uint8_t* const g_input_data[];
extern const size_t g_input_size[];
extern const int g_input_count;
extern "C" uint32_t __stack_limit[], __stack_top[];

// ---- heap: load() allocates a few KB once (tensor/op tables, int8 parameters). A bump
// allocator over a static pool makes that explicit RAM; delete is a no-op. -----------------
namespace {
alignas(16) uint8_t g_heap[FW_HEAP_BYTES];
size_t g_heap_used = 0;
void* bump(size_t n) {
  n = (n + 15) & ~static_cast<size_t>(15);
  if (n > sizeof g_heap - g_heap_used) return nullptr;
  void* p = g_heap + g_heap_used;
  g_heap_used += n;
  return p;
}
}  // namespace

void* operator new(size_t n) { return bump(n); }
void* operator new[](size_t n) { return bump(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return bump(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return bump(n); }
void operator delete(void*) noexcept {}
void operator delete[](void*) noexcept {}
void operator delete(void*, size_t) noexcept {}
void operator delete[](void*, size_t) noexcept {}
// No malloc heap at all: newlib's malloc (never used by the runtime) gets no memory.
extern "C" void* _sbrk(ptrdiff_t) { return reinterpret_cast<void*>(-1); }

namespace {

alignas(16) uint8_t g_arena[FW_ARENA_BYTES];
constexpr uint32_t kPaint = 0xC0FFEE11u;

void print_hex(const uint8_t* p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char buf[129];
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    buf[k++] = digits[p[i] >> 4];
    buf[k++] = digits[p[i] & 15];
    if (k == 128) {
      buf[k] = '\0';
      fw::write(buf);
      k = 0;
    }
  }
  buf[k] = '\0';
  fw::write(buf);
}

}  // namespace

int main() {
  using namespace tinyvit::rt;
  // Paint the unused stack to measure its high-water mark afterwards.
  uintptr_t sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t* w = __stack_limit; reinterpret_cast<uintptr_t>(w) < sp - 256; ++w) *w = kPaint;

  char line[192];
  Interpreter it;
  if (it.load(g_model_data[0], g_model_size[0]) != Status::kOk) {
    std::snprintf(line, sizeof line, "load failed: %s\n", it.error());
    fw::write(line);
    return 2;
  }
  if (it.allocate(g_arena, sizeof g_arena) != Status::kOk) {
    std::snprintf(line, sizeof line, "allocate failed (arena %u, needed %u): %s\n",
                  static_cast<unsigned>(sizeof g_arena), static_cast<unsigned>(it.arena_bytes_needed()),
                  it.error());
    fw::write(line);
    return 3;
  }
  std::snprintf(line, sizeof line, "model %u bytes, %d ops; arena %u of %u bytes; heap %u of %u bytes\n",
                static_cast<unsigned>(g_model_size[0]), it.num_ops(),
                static_cast<unsigned>(it.arena_bytes_needed()), static_cast<unsigned>(sizeof g_arena),
                static_cast<unsigned>(g_heap_used), static_cast<unsigned>(sizeof g_heap));
  fw::write(line);
  const TensorView in = it.input(0);
  for (int i = 0; i < g_input_count; ++i) {
    if (g_input_size[i] != in.bytes) {
      std::snprintf(line, sizeof line, "input %d has %u bytes, the model needs %u\n", i,
                    static_cast<unsigned>(g_input_size[i]), static_cast<unsigned>(in.bytes));
      fw::write(line);
      return 4;
    }
    std::memcpy(in.data, g_input_data[i], in.bytes);
    it.invoke();
    const TensorView out = it.output(0);
    std::snprintf(line, sizeof line, "out %d ", i);
    fw::write(line);
    print_hex(static_cast<const uint8_t*>(out.data), out.bytes);
    fw::write("\n");
  }
  const uint32_t* w = __stack_limit;
  while (w < __stack_top && *w == kPaint) ++w;
  std::snprintf(line, sizeof line, "stack %u of %u bytes\ndone\n",
                static_cast<unsigned>(reinterpret_cast<uintptr_t>(__stack_top) - reinterpret_cast<uintptr_t>(w)),
                static_cast<unsigned>(reinterpret_cast<uintptr_t>(__stack_top) -
                                      reinterpret_cast<uintptr_t>(__stack_limit)));
  fw::write(line);
  return 0;
}
