#include "tinyvit_rt/runtime.h"

namespace tinyvit::rt {

bool cpu_has_avx2_fma() {
#if defined(TINYVIT_RT_HAVE_X86) && (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

bool cpu_has_neon() {
#if defined(__aarch64__)
  return true;  // Advanced SIMD is mandatory on aarch64
#else
  return false;
#endif
}

}  // namespace tinyvit::rt
