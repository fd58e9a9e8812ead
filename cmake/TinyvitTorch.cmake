# One precompiled header for <torch/torch.h>, compiled once and reused by every target that
# includes LibTorch: a cold compile of the header costs ~15-30 s per file, with the PCH ~7-11 s.
#
#   tinyvit_use_torch(<target>)   links Torch, marks its headers SYSTEM, reuses the PCH.

add_library(tinyvit_torch_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/torch_pch.cpp)
target_link_libraries(tinyvit_torch_pch PUBLIC ${TORCH_LIBRARIES})
target_include_directories(tinyvit_torch_pch SYSTEM PUBLIC ${TORCH_INCLUDE_DIRS})
target_compile_options(tinyvit_torch_pch PRIVATE ${TINYVIT_WARNINGS})
target_precompile_headers(tinyvit_torch_pch PRIVATE <torch/torch.h>)

function(tinyvit_use_torch target)
  target_link_libraries(${target} PUBLIC tinyvit_torch_pch)
  target_precompile_headers(${target} REUSE_FROM tinyvit_torch_pch)
endfunction()
