// Minimal Cortex-M33 startup for QEMU mps2-an505: vector table, FPU on, .data/.bss init,
// static constructors, main(), then semihosting exit. Faults print their name and exit 1.
#include <cstdint>
#include <cstring>

#include "semihost.h"

extern "C" {
extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];
extern void (*__preinit_array_start[])(), (*__preinit_array_end[])();
extern void (*__init_array_start[])(), (*__init_array_end[])();
int main();
void reset_handler();
}

namespace {

[[noreturn]] void fault(const char* what) {
  fw::write("FAULT ");
  fw::write(what);
  fw::write("\n");
  fw::exit(1);
}
void nmi() { fault("NMI"); }
void hardfault() { fault("HardFault"); }
void memmanage() { fault("MemManage"); }
void busfault() { fault("BusFault"); }
void usagefault() { fault("UsageFault"); }
void securefault() { fault("SecureFault"); }
void other() { fault("unexpected interrupt"); }

}  // namespace

using Handler = void (*)();
__attribute__((section(".vectors"), used)) const Handler g_vectors[16 + 16] = {
    reinterpret_cast<Handler>(__stack_top), reset_handler, nmi, hardfault, memmanage, busfault,
    usagefault, securefault, other, other, other, other, other, other, other, other,
    other, other, other, other, other, other, other, other,
    other, other, other, other, other, other, other, other};

extern "C" void reset_handler() {
  // CPACR: full access to CP10/CP11 (the FPU) before any float instruction.
  *reinterpret_cast<volatile uint32_t*>(0xE000ED88u) |= 0xFu << 20;
  __asm volatile("dsb\n isb" ::: "memory");
  for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
  for (uint32_t* d = __bss_start; d < __bss_end;) *d++ = 0;
  for (auto f = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (auto f = __init_array_start; f < __init_array_end; ++f) (*f)();
  fw::exit(main());
}
