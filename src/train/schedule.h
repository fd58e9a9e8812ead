#pragma once
// Learning-rate schedules, evaluated per optimizer step (base = peak lr, W = warmup steps,
// T = total steps).
//   cosine:      step < W:  lr = base * (step + 1) / W
//                otherwise: lr = min + (base - min) * (1 + cos(pi * (step - W) / (T - W))) / 2
//   triangular:  linear from 0.2 * base at step 0 up to base at step W, then linear down to
//                min at step T (airbench's one-cycle shape: [0.2, 1, end] at [0, W, T])
#include <cstdint>
#include <string>

namespace tinyvit::train {

struct LrSchedule {
  double base_lr = 1e-3;
  double min_lr = 1e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  std::string shape = "cosine";  // "cosine" | "triangular"
  double at(int64_t step) const;
};

}  // namespace tinyvit::train
