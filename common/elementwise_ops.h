// The elementwise op vocabulary, one set of enums for the engine's Backend (engine/backend.h)
// and the CUDA kernels (kernels/elementwise.h, kernels/reduce.h), and the maths of every
// unary and binary op, written once for the host and the device:
//   unary_apply<T>(op, x, a, b)   y = f(x); a and b are the op's scalar parameters (pow_scalar,
//                                 clamp, affine, step), ignored by the others
//   binary_apply<T>(op, a, b)     y = a (op) b; comparisons give 1 or 0
// kernels/elementwise.cu instantiates them for float in its kernels and for double in its
// CPU references; the engine's CPU backend (engine/cpu/elementwise.cpp) runs them for every
// op it has no Eigen (vectorised) expression for. Adding a unary op = an enumerator and a
// case here, then its op in engine/ops/elementwise.cpp (docs/ARCHITECTURE.md, "Adding an op").
#pragma once

#include <math.h>

#include "common/host_device.h"

namespace melgrad {

// The op tables read best one op a line.
// clang-format off
enum class UnaryOp : int {
  identity, neg, abs, sign, exp, log, sqrt, rsqrt, reciprocal, square,
  relu,        // max(x, 0); NaN stays NaN
  sigmoid, tanh,
  pow_scalar,  // x ^ a
  clamp,       // min(max(x, a), b); NaN stays NaN
  affine,      // a * x + b
  step,        // x > a ? 1 : 0
  gelu,        // x * Phi(x), the erf form (PyTorch's default)
  gelu_grad,   // d gelu / dx = Phi(x) + x * phi(x)
  silu,        // x * sigmoid(x)
  silu_grad,   // d silu / dx = s * (1 + x * (1 - s)), s = sigmoid(x)
};
// clang-format on
// Unary ops are 0 .. kUnaryOpCount - 1 (the kernels validate against it).
inline constexpr int kUnaryOpCount = static_cast<int>(UnaryOp::silu_grad) + 1;

enum class BinaryOp : int { add, sub, mul, div, pow, max, min, eq, gt, ge, lt, le };
inline constexpr int kBinaryOpCount = static_cast<int>(BinaryOp::le) + 1;

enum class ReduceOp : int { sum, mean, max, min };

// The C maths functions by argument type: float calls the f-suffixed ones (as the device's
// fast paths and the CPU's float code expect), double the plain ones.
namespace elementwise_math {
MELGRAD_HOST_DEVICE inline float abs(float x) { return ::fabsf(x); }
MELGRAD_HOST_DEVICE inline double abs(double x) { return ::fabs(x); }
MELGRAD_HOST_DEVICE inline float exp(float x) { return ::expf(x); }
MELGRAD_HOST_DEVICE inline double exp(double x) { return ::exp(x); }
MELGRAD_HOST_DEVICE inline float log(float x) { return ::logf(x); }
MELGRAD_HOST_DEVICE inline double log(double x) { return ::log(x); }
MELGRAD_HOST_DEVICE inline float sqrt(float x) { return ::sqrtf(x); }
MELGRAD_HOST_DEVICE inline double sqrt(double x) { return ::sqrt(x); }
MELGRAD_HOST_DEVICE inline float tanh(float x) { return ::tanhf(x); }
MELGRAD_HOST_DEVICE inline double tanh(double x) { return ::tanh(x); }
MELGRAD_HOST_DEVICE inline float erf(float x) { return ::erff(x); }
MELGRAD_HOST_DEVICE inline double erf(double x) { return ::erf(x); }
MELGRAD_HOST_DEVICE inline float pow(float x, float y) { return ::powf(x, y); }
MELGRAD_HOST_DEVICE inline double pow(double x, double y) { return ::pow(x, y); }
MELGRAD_HOST_DEVICE inline float rsqrt(float x) {
#if defined(__CUDA_ARCH__)
  return ::rsqrtf(x);
#else
  return 1.0f / ::sqrtf(x);
#endif
}
MELGRAD_HOST_DEVICE inline double rsqrt(double x) { return 1.0 / ::sqrt(x); }

inline constexpr double kSqrtHalf = 0.70710678118654752440;    // 1 / sqrt(2)
inline constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)
}  // namespace elementwise_math

template <class T>
MELGRAD_HOST_DEVICE inline T unary_apply(UnaryOp op, T x, T a, T b) {
  namespace m = elementwise_math;
  // clang-format off
  switch (op) {
    case UnaryOp::identity: return x;
    case UnaryOp::neg: return -x;
    case UnaryOp::abs: return m::abs(x);
    case UnaryOp::sign: return static_cast<T>((x > T(0)) - (x < T(0)));  // 0 for NaN
    case UnaryOp::exp: return m::exp(x);
    case UnaryOp::log: return m::log(x);
    case UnaryOp::sqrt: return m::sqrt(x);
    case UnaryOp::rsqrt: return m::rsqrt(x);
    case UnaryOp::reciprocal: return T(1) / x;
    case UnaryOp::square: return x * x;
    case UnaryOp::relu: return x > T(0) ? x : (x == x ? T(0) : x);
    case UnaryOp::sigmoid: return T(1) / (T(1) + m::exp(-x));
    case UnaryOp::tanh: return m::tanh(x);
    case UnaryOp::pow_scalar: return a == T(2) ? x * x : m::pow(x, a);
    case UnaryOp::clamp: return x < a ? a : (x > b ? b : x);
    case UnaryOp::affine: return a * x + b;
    case UnaryOp::step: return x > a ? T(1) : T(0);
    case UnaryOp::gelu: return T(0.5) * x * (T(1) + m::erf(x * T(m::kSqrtHalf)));
    case UnaryOp::gelu_grad: {
      const T cdf = T(0.5) * (T(1) + m::erf(x * T(m::kSqrtHalf)));
      const T pdf = m::exp(T(-0.5) * x * x) * T(m::kInvSqrt2Pi);
      return cdf + x * pdf;
    }
    case UnaryOp::silu: return x / (T(1) + m::exp(-x));
    case UnaryOp::silu_grad: {
      const T s = T(1) / (T(1) + m::exp(-x));
      return s * (T(1) + x * (T(1) - s));
    }
  }
  // clang-format on
  return x;
}

template <class T>
MELGRAD_HOST_DEVICE inline T binary_apply(BinaryOp op, T a, T b) {
  // clang-format off
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::pow: return elementwise_math::pow(a, b);
    case BinaryOp::max: return a > b || a != a ? a : b;  // NaN in either operand wins
    case BinaryOp::min: return a < b || a != a ? a : b;
    case BinaryOp::eq: return a == b ? T(1) : T(0);
    case BinaryOp::gt: return a > b ? T(1) : T(0);
    case BinaryOp::ge: return a >= b ? T(1) : T(0);
    case BinaryOp::lt: return a < b ? T(1) : T(0);
    case BinaryOp::le: return a <= b ? T(1) : T(0);
  }
  // clang-format on
  return T(0);
}

}  // namespace melgrad
