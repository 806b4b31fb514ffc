// Elementwise kernels over float32 tensors of up to kMaxDims dimensions with arbitrary
// strides (in elements), so one launch covers contiguous tensors, transposed views and
// NumPy-style broadcasting (a broadcast dimension has stride 0):
//   unary:   y = op(x; a, b)                   x, y: iteration shape `shape`
//   binary:  y = act(a op b)                   a, b broadcast to `shape`; act fused
// The ops and their maths are common/elementwise_ops.h's UnaryOp / BinaryOp, shared with the
// engine; `act` is any unary op without parameters (identity: none; relu, sigmoid, tanh,
// gelu, silu). Contiguous operands take a fast path with linear indexing. y may alias an
// input with the same strides (in place). max/min and relu propagate NaN.
// Launchers validate (std::invalid_argument) and launch on `stream`; the references are
// plain C++ loops evaluating the same functions in double on host memory.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "common/elementwise_ops.h"
#include "kernels/runtime.h"

namespace melgrad::kernels {

constexpr int kMaxDims = 6;

using melgrad::BinaryOp;
using melgrad::UnaryOp;

// The iteration shape (the output's). ndim == 0 is a scalar (one element).
struct Shape {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  Shape() = default;
  Shape(std::initializer_list<int64_t> s);
  int64_t numel() const;
};

// Strides in elements, one per dimension of the iteration shape.
struct Strides {
  int64_t v[kMaxDims] = {};
};

// Row-major strides of a contiguous tensor of `shape`.
Strides contiguous_strides(const Shape& shape);
// Strides that read a contiguous tensor of shape `in` broadcast to `out` (dimensions aligned
// from the right; size-1 and missing dimensions get stride 0). Throws if not broadcastable.
Strides broadcast_strides(const Shape& out, const Shape& in);

struct UnaryParams {
  const float* x = nullptr;
  float* y = nullptr;
  Shape shape;
  Strides x_strides;
  Strides y_strides;
  UnaryOp op = UnaryOp::identity;
  float a = 0.0f;  // the op's scalar parameters (pow_scalar, clamp, affine, step)
  float b = 0.0f;
};

struct BinaryParams {
  const float* a = nullptr;
  const float* b = nullptr;
  float* y = nullptr;
  Shape shape;
  Strides a_strides;
  Strides b_strides;
  Strides y_strides;
  BinaryOp op = BinaryOp::add;
  UnaryOp act = UnaryOp::identity;  // applied to the result with a = b = 0
};

void elementwise_unary(const UnaryParams& p, Stream stream = nullptr);
void elementwise_binary(const BinaryParams& p, Stream stream = nullptr);
void elementwise_unary_reference(const UnaryParams& p);
void elementwise_binary_reference(const BinaryParams& p);

}  // namespace melgrad::kernels
