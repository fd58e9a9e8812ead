// Arena planner: greedy by size (TFLite Micro's GreedyMemoryPlanner idea).
//   1. every activation tensor with a lifetime [first_use, last_use] (op indices; graph inputs
//      from -1, graph outputs to num_ops) needs `bytes` rounded up to 16;
//   2. tensors are placed largest first; each goes to the lowest 16-aligned offset where it does
//      not overlap any already placed tensor whose lifetime intersects its own;
//   3. arena_bytes_needed = max(offset + size) over all tensors: exact, since allocate() places
//      tensors at exactly these offsets from the (16-aligned) arena start.
// O(n^2) in the number of activations (a few hundred for a ViT): microseconds.
#include <new>

#include "model.h"

namespace tinyvit::rt {
namespace {

std::size_t align16(std::size_t n) { return (n + 15) & ~std::size_t{15}; }

bool lifetimes_overlap(const Tensor& a, const Tensor& b) {
  return a.first_use <= b.last_use && b.first_use <= a.last_use;
}

}  // namespace

Status plan_arena(Model& m) {
  int n = 0;
  for (int i = 0; i < m.num_tensors; ++i)
    if (!m.tensors[i].const_data && m.tensors[i].written) ++n;
  int* order = new (std::nothrow) int[n > 0 ? n : 1];
  int* placed = new (std::nothrow) int[n > 0 ? n : 1];
  if (!order || !placed) {
    delete[] order;
    delete[] placed;
    return fail(m, Status::kOutOfMemory, "planner: cannot allocate its work lists");
  }
  int k = 0;
  m.activation_total = 0;
  for (int i = 0; i < m.num_tensors; ++i) {
    Tensor& t = m.tensors[i];
    if (t.const_data || !t.written) continue;
    order[k++] = i;
    m.activation_total += align16(t.bytes);
  }
  // Insertion sort by size descending, ties by first use (stable and deterministic).
  for (int i = 1; i < n; ++i) {
    const int v = order[i];
    int j = i - 1;
    while (j >= 0) {
      const Tensor& a = m.tensors[order[j]];
      const Tensor& b = m.tensors[v];
      const bool after = a.bytes < b.bytes || (a.bytes == b.bytes && a.first_use > b.first_use);
      if (!after) break;
      order[j + 1] = order[j];
      --j;
    }
    order[j + 1] = v;
  }
  std::size_t peak = 0;
  int num_placed = 0;
  for (int i = 0; i < n; ++i) {
    Tensor& t = m.tensors[order[i]];
    const std::size_t size = align16(t.bytes);
    std::size_t offset = 0;
    // Retry until a gap is found: each conflict pushes the candidate past that tensor.
    bool moved = true;
    while (moved) {
      moved = false;
      for (int j = 0; j < num_placed; ++j) {
        const Tensor& o = m.tensors[placed[j]];
        if (!lifetimes_overlap(t, o)) continue;
        const std::size_t o_begin = static_cast<std::size_t>(o.arena_offset);
        const std::size_t o_end = o_begin + align16(o.bytes);
        if (offset < o_end && o_begin < offset + size) {
          offset = o_end;
          moved = true;
        }
      }
    }
    t.arena_offset = static_cast<int64_t>(offset);
    placed[num_placed++] = order[i];
    if (offset + size > peak) peak = offset + size;
  }
  delete[] order;
  delete[] placed;
  m.arena_needed = peak;
  return Status::kOk;
}

}  // namespace tinyvit::rt
