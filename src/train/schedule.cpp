#include "train/schedule.h"

#include <algorithm>
#include <cmath>

namespace tinyvit::train {

double LrSchedule::at(int64_t step) const {
  if (shape == "triangular") {
    constexpr double kStart = 0.2;  // fraction of base_lr at step 0
    if (step < warmup_steps)
      return base_lr * (kStart + (1.0 - kStart) * static_cast<double>(step) / warmup_steps);
    const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
    const double t = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
    return base_lr + (min_lr - base_lr) * t;
  }
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / warmup_steps;
  const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double t = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * t));
}

}  // namespace tinyvit::train
