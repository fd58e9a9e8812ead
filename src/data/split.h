#pragma once
// Seeded, class-stratified train/validation split.
#include <cstdint>
#include <vector>

namespace tinyvit::data {

struct Split {
  std::vector<int64_t> train;  // indices into the dataset, sorted
  std::vector<int64_t> val;    // indices into the dataset, sorted
};

// val_size images go to validation, spread over classes in proportion to their counts
// (largest-remainder rounding); within a class the choice is a seeded shuffle. Same labels +
// same seed -> same split, on every platform (uses std::mt19937_64 + our own shuffle).
Split stratified_split(const std::vector<int32_t>& labels, int64_t val_size, uint64_t seed);

// Keeps at most `limit` indices (0 = all), stratified by class, seeded.
std::vector<int64_t> stratified_subset(const std::vector<int64_t>& indices,
                                       const std::vector<int32_t>& labels, int64_t limit,
                                       uint64_t seed);

}  // namespace tinyvit::data
