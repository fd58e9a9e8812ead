#pragma once
// Learning-rate schedule, evaluated per optimizer step:
//   step < warmup:  lr = base * (step + 1) / warmup
//   otherwise:      lr = min + (base - min) * (1 + cos(pi * (step - warmup) / (total - warmup))) / 2
#include <cstdint>

namespace tinyvit::train {

struct WarmupCosine {
  double base_lr = 1e-3;
  double min_lr = 1e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double at(int64_t step) const;
};

}  // namespace tinyvit::train
