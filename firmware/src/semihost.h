#pragma once
// Arm semihosting (BKPT 0xAB on M-profile): console output and exit, nothing else.
// QEMU: -semihosting-config enable=on,target=native.
#include <cstdint>

namespace fw {

inline uintptr_t semihost(uintptr_t op, const void* arg) {
  register uintptr_t r0 __asm("r0") = op;
  register const void* r1 __asm("r1") = arg;
  __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

inline void write(const char* s) { semihost(0x04, s); }  // SYS_WRITE0

[[noreturn]] inline void exit(int code) {
  // SYS_EXIT_EXTENDED (0x20): {ADP_Stopped_ApplicationExit, code} -> QEMU exits with `code`.
  static uint32_t block[2];
  block[0] = 0x20026;
  block[1] = static_cast<uint32_t>(code);
  semihost(0x20, block);
  for (;;) {
  }
}

}  // namespace fw
