// Indexing kernels along one dimension of contiguous float32 tensors, each viewed as
// [outer, size, inner] (size = the indexed dimension), with int64 indices:
//   argmax        x [outer, size, inner]            -> y int64 [outer, inner]: first maximum
//   index_select  x [outer, x_size, inner], index [L] -> y [outer, L, inner]
//                 y[o, l, i] = x[o, index[l], i]
//   index_add     y [outer, y_size, inner] += src [outer, L, inner] at rows index[l]
//   gather        x [outer, x_size, inner], index [outer, L, inner] -> y [outer, L, inner]
//                 y[o, l, i] = x[o, index[o, l, i], i]
//   scatter_add   y [outer, y_size, inner] += src [outer, L, inner] at index[o, l, i]
//   check_range   values int64 [n]: reports `code` when some value lies outside [lo, hi]
//                 (the engine's check of targets and sequence lengths without a read-back)
// The adds are deterministic (no float atomics): one thread owns each output element and
// sums its sources in index order, which matches the CPU's sequential loop bit for bit.
// It costs O(outputs x L) index reads, fine for the engine's uses (the class dimension of a
// loss, L = 1 for gather's backward) and poor for huge embedding tables.
// An out-of-range index cannot throw from a kernel: the element is skipped (gathered values
// become NaN) and, when `error` is set, the launcher's IndexError code is stored there (the
// first one wins) for the host to report at its next synchronisation.
#pragma once

#include <cstdint>

#include "kernels/runtime.h"

namespace melgrad::kernels {

enum class IndexError : int {
  none = 0,
  index_select = 1,
  index_add = 2,
  gather = 3,
  scatter_add = 4,
  cross_entropy_target = 5,  // check_range: a class target outside [0, C)
  lstm_length = 6,           // check_range: a sequence length outside [1, T]
};
// "index_select", ..., "cross_entropy: a target class outside [0, C)", ..., "none"
const char* index_error_name(int code);

struct ArgmaxParams {
  const float* x = nullptr;
  int64_t* y = nullptr;
  int64_t outer = 0, size = 0, inner = 0;
};

struct IndexSelectParams {
  const float* x = nullptr;
  const int64_t* index = nullptr;  // [index_len]
  float* y = nullptr;
  int64_t outer = 0, x_size = 0, index_len = 0, inner = 0;
  int* error = nullptr;
};

struct IndexAddParams {
  float* y = nullptr;
  const int64_t* index = nullptr;  // [index_len]
  const float* src = nullptr;
  int64_t outer = 0, y_size = 0, index_len = 0, inner = 0;
  int* error = nullptr;
};

struct GatherParams {
  const float* x = nullptr;
  const int64_t* index = nullptr;  // [outer, index_size, inner]
  float* y = nullptr;
  int64_t outer = 0, x_size = 0, index_size = 0, inner = 0;
  int* error = nullptr;
};

struct ScatterAddParams {
  float* y = nullptr;
  const int64_t* index = nullptr;  // [outer, index_size, inner], src's shape
  const float* src = nullptr;
  int64_t outer = 0, y_size = 0, index_size = 0, inner = 0;
  int* error = nullptr;
};

struct CheckRangeParams {
  const int64_t* values = nullptr;  // [n]
  int64_t n = 0;
  int64_t lo = 0, hi = 0;  // the allowed range, inclusive
  int* error = nullptr;    // required: where the code is stored (the first error wins)
  IndexError code = IndexError::none;
};

void argmax(const ArgmaxParams& p, Stream stream = nullptr);
void check_range(const CheckRangeParams& p, Stream stream = nullptr);
void index_select(const IndexSelectParams& p, Stream stream = nullptr);
void index_add(const IndexAddParams& p, Stream stream = nullptr);
void gather(const GatherParams& p, Stream stream = nullptr);
void scatter_add(const ScatterAddParams& p, Stream stream = nullptr);

// References throw std::out_of_range on a bad index.
void argmax_reference(const ArgmaxParams& p);
void index_select_reference(const IndexSelectParams& p);
void index_add_reference(const IndexAddParams& p);
void gather_reference(const GatherParams& p);
void scatter_add_reference(const ScatterAddParams& p);

}  // namespace melgrad::kernels
