// Elementwise kernels over float32 tensors of up to kMaxDims dimensions with arbitrary
// strides (in elements), so one launch covers contiguous tensors, transposed views and
// NumPy-style broadcasting (a broadcast dimension has stride 0):
//   unary:   y = op(alpha * x + beta)          x, y: iteration shape `shape`
//   binary:  y = act(op(a, b))                 a, b broadcast to `shape`; act fused
// Contiguous operands take a fast path with linear indexing. y may alias an input with the
// same strides (in place). max/min and relu propagate NaN; gelu is the erf form.
// Launchers validate (std::invalid_argument) and launch on `stream`; the references are
// plain C++ loops computing in double on host memory.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "kernels/runtime.h"

namespace melgrad::kernels {

constexpr int kMaxDims = 6;

enum class UnaryOp : int {
  identity, neg, abs, exp, log, sqrt, rsqrt, reciprocal, square,
  relu, sigmoid, tanh, gelu, silu,
};
enum class BinaryOp : int { add, sub, mul, div, max, min, pow };
enum class Activation : int { none, relu, sigmoid, tanh, gelu, silu };

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
  float alpha = 1.0f;
  float beta = 0.0f;
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
  Activation act = Activation::none;
};

void elementwise_unary(const UnaryParams& p, Stream stream = nullptr);
void elementwise_binary(const BinaryParams& p, Stream stream = nullptr);
void elementwise_unary_reference(const UnaryParams& p);
void elementwise_binary_reference(const BinaryParams& p);

}  // namespace melgrad::kernels
