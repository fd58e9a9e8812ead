# One precompiled header for <torch/torch.h>, compiled once and reused by every target that
# includes LibTorch: a cold compile of the header costs ~15-30 s per file, with the PCH ~7-11 s.
#
# GCC still instantiates the header's pending templates in every translation unit that uses
# the PCH: ~9 s per file even for an empty one (-ftime-report: "phase lang. deferred"), ~15 s
# when two compile side by side. A unity build (CMake's UNITY_BUILD) compiles up to
# TINYVIT_UNITY_BATCH sources of a target as one unit and pays that once per batch: the clean
# build on 2 cores drops from 1,415 s to 551 s (docs/benchmarks.md, "Build and test time").
# -DTINYVIT_UNITY_BUILD=OFF gives one object per source (faster rebuilds of a single file).
#
#   tinyvit_use_torch(<target>)   links Torch, marks its headers SYSTEM, reuses the PCH,
#                                 compiles the target's sources in unity batches.
#   tinyvit_torch_free_sources(<source>...)
#                                 sources of such a target that do not include LibTorch: no
#                                 PCH, no unity batch (they stay compilable without LibTorch).
option(TINYVIT_UNITY_BUILD "Compile the LibTorch targets as unity batches" ON)
set(TINYVIT_UNITY_BATCH 8 CACHE STRING "Sources per unity translation unit")

add_library(tinyvit_torch_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/torch_pch.cpp)
target_link_libraries(tinyvit_torch_pch PUBLIC ${TORCH_LIBRARIES})
target_include_directories(tinyvit_torch_pch SYSTEM PUBLIC ${TORCH_INCLUDE_DIRS})
target_compile_options(tinyvit_torch_pch PRIVATE ${TINYVIT_WARNINGS})
target_precompile_headers(tinyvit_torch_pch PRIVATE <torch/torch.h>)

function(tinyvit_use_torch target)
  target_link_libraries(${target} PUBLIC tinyvit_torch_pch)
  target_precompile_headers(${target} REUSE_FROM tinyvit_torch_pch)
  if(TINYVIT_UNITY_BUILD)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON
                                               UNITY_BUILD_BATCH_SIZE ${TINYVIT_UNITY_BATCH})
  endif()
endfunction()

function(tinyvit_torch_free_sources)
  set_source_files_properties(${ARGN} PROPERTIES SKIP_PRECOMPILE_HEADERS ON
                                                 SKIP_UNITY_BUILD_INCLUSION ON)
endfunction()
