// Transposes and strided copies (the CUDA backend's .contiguous() and .t()):
//   transpose:     x [batch, rows, cols] -> y [batch, cols, rows], contiguous float32;
//                  y[b][j][i] = x[b][i][j], tiled through shared memory.
//   strided_copy:  y = x elementwise over a shape of up to kMaxDims dimensions with any
//                  element strides on both sides (0 broadcasts x), for 4-byte (float32)
//                  or 8-byte (float64, int64) elements, copied bit for bit (no dtype
//                  conversion). Dimensions are coalesced first; a copy that is a (batched)
//                  2-D transpose into a contiguous y goes through the transpose kernel.
// y must not overlap x (except y == x with equal strides, a no-op copy). The launchers
// validate (std::invalid_argument) and launch on `stream`; the references are plain loops.
#pragma once

#include <cstdint>

#include "kernels/elementwise.h"
#include "kernels/runtime.h"

namespace melgrad::kernels {

struct TransposeParams {
  const float* x = nullptr;  // [batch, rows, cols]
  float* y = nullptr;        // [batch, cols, rows]
  int64_t batch = 1;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct StridedCopyParams {
  const void* x = nullptr;
  void* y = nullptr;
  int element_size = 4;  // bytes: 4 or 8
  Shape shape;           // the iteration shape (Shape and Strides from elementwise.h)
  Strides x_strides;     // in elements
  Strides y_strides;
};

void transpose(const TransposeParams& p, Stream stream = nullptr);
void strided_copy(const StridedCopyParams& p, Stream stream = nullptr);
void transpose_reference(const TransposeParams& p);
void strided_copy_reference(const StridedCopyParams& p);

constexpr int kTransposeTile = 32;  // tile side; blocks of 32 x 8 threads

}  // namespace melgrad::kernels
