#include "data/split.h"

#include <algorithm>
#include <map>
#include <string>

#include "common/error.h"
#include "data/rng.h"

namespace tinyvit::data {
namespace {

// Groups `indices` by label (class order ascending, indices in given order within a class).
std::map<int32_t, std::vector<int64_t>> by_class(const std::vector<int64_t>& indices,
                                                 const std::vector<int32_t>& labels) {
  std::map<int32_t, std::vector<int64_t>> groups;
  for (int64_t i : indices) {
    if (i < 0 || i >= static_cast<int64_t>(labels.size()))
      throw Error("index " + std::to_string(i) + " out of range for " +
                  std::to_string(labels.size()) + " labels");
    groups[labels[static_cast<std::size_t>(i)]].push_back(i);
  }
  return groups;
}

// Largest-remainder apportionment of `total` over groups proportional to their sizes.
// Ties in the remainder go to the smaller label.
std::vector<int64_t> apportion(const std::vector<int64_t>& sizes, int64_t total) {
  int64_t n = 0;
  for (int64_t s : sizes) n += s;
  std::vector<int64_t> quota(sizes.size());
  std::vector<std::pair<int64_t, std::size_t>> rem;  // (remainder numerator, group)
  int64_t assigned = 0;
  for (std::size_t g = 0; g < sizes.size(); ++g) {
    const __int128 num = static_cast<__int128>(total) * sizes[g];
    quota[g] = static_cast<int64_t>(num / n);
    rem.emplace_back(static_cast<int64_t>(num % n), g);
    assigned += quota[g];
  }
  std::stable_sort(rem.begin(), rem.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; assigned < total && k < rem.size(); ++k, ++assigned) ++quota[rem[k].second];
  return quota;
}

// Picks quota[g] indices from each class with a seeded shuffle; returns (picked, rest), sorted.
std::pair<std::vector<int64_t>, std::vector<int64_t>> pick(
    std::map<int32_t, std::vector<int64_t>>& groups, int64_t count, uint64_t seed) {
  std::vector<int64_t> sizes;
  for (auto& [label, list] : groups) sizes.push_back(static_cast<int64_t>(list.size()));
  const std::vector<int64_t> quota = apportion(sizes, count);
  std::vector<int64_t> picked, rest;
  std::size_t g = 0;
  for (auto& [label, list] : groups) {
    Rng rng(derive_seed(seed, static_cast<uint64_t>(static_cast<int64_t>(label))));
    rng.shuffle(list.data(), static_cast<int64_t>(list.size()));
    picked.insert(picked.end(), list.begin(), list.begin() + quota[g]);
    rest.insert(rest.end(), list.begin() + quota[g], list.end());
    ++g;
  }
  std::sort(picked.begin(), picked.end());
  std::sort(rest.begin(), rest.end());
  return {std::move(picked), std::move(rest)};
}

}  // namespace

Split stratified_split(const std::vector<int32_t>& labels, int64_t val_size, uint64_t seed) {
  const auto n = static_cast<int64_t>(labels.size());
  if (val_size < 0 || val_size > n)
    throw Error("validation size " + std::to_string(val_size) + " must be in 0.." +
                std::to_string(n) + " (the dataset has " + std::to_string(n) + " images)");
  std::vector<int64_t> all(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) all[static_cast<std::size_t>(i)] = i;
  Split s;
  if (n == 0) return s;
  auto groups = by_class(all, labels);
  auto [val, train] = pick(groups, val_size, seed);
  s.val = std::move(val);
  s.train = std::move(train);
  return s;
}

std::vector<int64_t> stratified_subset(const std::vector<int64_t>& indices,
                                       const std::vector<int32_t>& labels, int64_t limit,
                                       uint64_t seed) {
  if (limit < 0) throw Error("subset limit must be >= 0, got " + std::to_string(limit));
  if (limit == 0 || limit >= static_cast<int64_t>(indices.size())) {
    std::vector<int64_t> out = indices;
    std::sort(out.begin(), out.end());
    return out;
  }
  auto groups = by_class(indices, labels);
  return pick(groups, limit, derive_seed(seed, 0x5ab5e7ULL)).first;
}

}  // namespace tinyvit::data
