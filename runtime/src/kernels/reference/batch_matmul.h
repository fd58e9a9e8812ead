#pragma once
// Batch geometry of BATCH_MATMUL shared by the reference and x86 kernels.
#include "kernels/kernel.h"

namespace tinyvit::rt {

struct BmmGeometry {
  int M, K, N;
  int64_t batches;            // output matrices
  int32_t yb[4];              // output batch dims (right-aligned, leading 1s)
  int64_t sa[4], sb[4];       // matrix strides of a and b per batch dim (0 = broadcast)
  bool adj_x, adj_y;
  // offset (in matrices) of a's and b's matrix for output batch index `i`.
  void offsets(int64_t i, int64_t* oa, int64_t* ob) const {
    int64_t ra = 0, rb = 0;
    for (int d = 3; d >= 0; --d) {
      const int64_t idx = i % yb[d];
      i /= yb[d];
      ra += idx * sa[d];
      rb += idx * sb[d];
    }
    *oa = ra;
    *ob = rb;
  }
};

// From prepared tensors (prepare_batch_matmul validated them).
BmmGeometry bmm_geometry(const OpContext& ctx);

}  // namespace tinyvit::rt
