# Bare-metal Cortex-M33 (Armv8-M mainline, single-precision FPU) with Debian's
# gcc-arm-none-eabi + libnewlib-arm-none-eabi + libstdc++-arm-none-eabi-newlib (newlib-nano).
# Target: QEMU's mps2-an505 (qemu-system-arm -M mps2-an505).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
# -ffp-contract=off: no fused multiply-add, so float results equal the host's reference
# kernels bit for bit (same operation order, IEEE single precision).
set(_fw_cpu "-mcpu=cortex-m33 -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16")
set(CMAKE_C_FLAGS_INIT "${_fw_cpu} -ffunction-sections -fdata-sections -ffp-contract=off")
set(CMAKE_CXX_FLAGS_INIT "${_fw_cpu} -ffunction-sections -fdata-sections -ffp-contract=off")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_fw_cpu} --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
