// Elementwise unary and binary kernels with strided / broadcast operands and a fused
// activation, plus their CPU references and the stride helpers of elementwise.h.
// Kernels are grid-stride loops (256 threads, at most 8 blocks per SM); the op is a runtime
// switch (uniform across the grid, so no divergence). kContiguous selects linear indexing;
// otherwise each element's offsets come from decomposing its linear index over the shape.
#include "kernels/emu/cuda_compat.h"

#include <cmath>
#include <string>

#include "kernels/block_reduce.cuh"
#include "kernels/elementwise.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels {

Shape::Shape(std::initializer_list<int64_t> s) : ndim(static_cast<int>(s.size())) {
  if (s.size() > static_cast<std::size_t>(kMaxDims)) {
    throw std::invalid_argument("Shape: " + std::to_string(s.size()) + " dimensions, at most " +
                                std::to_string(kMaxDims));
  }
  int d = 0;
  for (int64_t v : s) sizes[d++] = v;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= sizes[d];
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides s;
  int64_t stride = 1;
  for (int d = shape.ndim - 1; d >= 0; --d) {
    s.v[d] = stride;
    stride *= shape.sizes[d];
  }
  return s;
}

Strides broadcast_strides(const Shape& out, const Shape& in) {
  if (in.ndim > out.ndim) {
    throw std::invalid_argument("broadcast_strides: input has " + std::to_string(in.ndim) +
                                " dimensions, the output only " + std::to_string(out.ndim));
  }
  const Strides in_contig = contiguous_strides(in);
  Strides s;
  for (int k = 1; k <= out.ndim; ++k) {
    const int od = out.ndim - k, id = in.ndim - k;
    if (id < 0 || in.sizes[id] == 1) {
      s.v[od] = 0;
    } else if (in.sizes[id] == out.sizes[od]) {
      s.v[od] = in_contig.v[id];
    } else {
      throw std::invalid_argument("broadcast_strides: input dimension " + std::to_string(id) +
                                  " has size " + std::to_string(in.sizes[id]) +
                                  ", cannot broadcast to " + std::to_string(out.sizes[od]));
    }
  }
  return s;
}

namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;

// Shape and strides of up to three operands, passed to kernels by value.
struct Indexer {
  int ndim;
  int64_t sizes[kMaxDims];
  int64_t strides[3][kMaxDims];
};

template <int kOperands>
__device__ void offsets_of(const Indexer& ix, int64_t linear, int64_t (&off)[kOperands]) {
  for (int k = 0; k < kOperands; ++k) off[k] = 0;
  for (int d = ix.ndim - 1; d >= 0; --d) {
    const int64_t i = linear % ix.sizes[d];
    linear /= ix.sizes[d];
    for (int k = 0; k < kOperands; ++k) off[k] += i * ix.strides[k][d];
  }
}

__host__ __device__ inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

__device__ float activate(Activation act, float x) {
  switch (act) {
    case Activation::relu: return x > 0.0f ? x : (x == x ? 0.0f : x);
    case Activation::sigmoid: return sigmoidf(x);
    case Activation::tanh: return tanhf(x);
    case Activation::gelu: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case Activation::silu: return x * sigmoidf(x);
    default: return x;
  }
}

__device__ float apply_unary(UnaryOp op, float x) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::abs: return fabsf(x);
    case UnaryOp::exp: return expf(x);
    case UnaryOp::log: return logf(x);
    case UnaryOp::sqrt: return sqrtf(x);
    case UnaryOp::rsqrt: return rsqrtf(x);
    case UnaryOp::reciprocal: return 1.0f / x;
    case UnaryOp::square: return x * x;
    case UnaryOp::relu: return activate(Activation::relu, x);
    case UnaryOp::sigmoid: return activate(Activation::sigmoid, x);
    case UnaryOp::tanh: return activate(Activation::tanh, x);
    case UnaryOp::gelu: return activate(Activation::gelu, x);
    case UnaryOp::silu: return activate(Activation::silu, x);
    default: return x;
  }
}

__device__ float apply_binary(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::max: return (a > b || a != a) ? a : b;
    case BinaryOp::min: return (a < b || a != a) ? a : b;
    case BinaryOp::pow: return powf(a, b);
    default: return a + b;
  }
}

template <bool kContiguous>
__global__ void __launch_bounds__(kThreads)
    unary_kernel(const float* x, float* y, int64_t n, Indexer ix, UnaryOp op, float alpha,
                 float beta) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (kContiguous) {
      y[i] = apply_unary(op, alpha * x[i] + beta);
    } else {
      int64_t off[2];
      offsets_of<2>(ix, i, off);
      y[off[1]] = apply_unary(op, alpha * x[off[0]] + beta);
    }
  }
}

template <bool kContiguous>
__global__ void __launch_bounds__(kThreads)
    binary_kernel(const float* a, const float* b, float* y, int64_t n, Indexer ix, BinaryOp op,
                  Activation act) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (kContiguous) {
      y[i] = activate(act, apply_binary(op, a[i], b[i]));
    } else {
      int64_t off[3];
      offsets_of<3>(ix, i, off);
      y[off[2]] = activate(act, apply_binary(op, a[off[0]], b[off[1]]));
    }
  }
}

// Validates the shape and builds the indexer; returns the element count.
int64_t make_indexer(const char* fn, const Shape& shape, std::initializer_list<const Strides*> st,
                     Indexer& ix, bool& contiguous) {
  if (shape.ndim < 0 || shape.ndim > kMaxDims) {
    invalid_params(fn, "ndim must be in 0.." + std::to_string(kMaxDims) + " (got " +
                           std::to_string(shape.ndim) + ")");
  }
  ix = Indexer{};
  ix.ndim = shape.ndim;
  for (int d = 0; d < shape.ndim; ++d) {
    require_non_negative(fn, ("shape.sizes[" + std::to_string(d) + "]").c_str(), shape.sizes[d]);
    ix.sizes[d] = shape.sizes[d];
  }
  const Strides contig = contiguous_strides(shape);
  contiguous = true;
  int k = 0;
  for (const Strides* s : st) {
    for (int d = 0; d < shape.ndim; ++d) {
      ix.strides[k][d] = s->v[d];
      contiguous = contiguous && (s->v[d] == contig.v[d] || shape.sizes[d] == 1);
    }
    ++k;
  }
  return shape.numel();
}

dim3 grid_for(int64_t n) {
  const int64_t cap = static_cast<int64_t>(device_sm_count()) * kBlocksPerSm;
  const int64_t blocks = ceil_div(n, kThreads);
  return dim3(static_cast<unsigned>(blocks < cap ? blocks : cap));
}

bool valid_unary(UnaryOp op) { return op >= UnaryOp::identity && op <= UnaryOp::silu; }
bool valid_binary(BinaryOp op) { return op >= BinaryOp::add && op <= BinaryOp::pow; }
bool valid_activation(Activation a) { return a >= Activation::none && a <= Activation::silu; }

}  // namespace

void elementwise_unary(const UnaryParams& p, Stream stream) {
  const char* fn = "elementwise_unary";
  Indexer ix;
  bool contiguous = false;
  const int64_t n = make_indexer(fn, p.shape, {&p.x_strides, &p.y_strides}, ix, contiguous);
  if (!valid_unary(p.op)) invalid_params(fn, "unknown op " + std::to_string(static_cast<int>(p.op)));
  if (n == 0) return;
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "y", p.y);
  if (contiguous) {
    MG_LAUNCH(unary_kernel<true>, grid_for(n), kThreads, 0, stream)(p.x, p.y, n, ix, p.op, p.alpha, p.beta);
  } else {
    MG_LAUNCH(unary_kernel<false>, grid_for(n), kThreads, 0, stream)(p.x, p.y, n, ix, p.op, p.alpha, p.beta);
  }
  MG_CHECK_LAUNCH(fn);
}

void elementwise_binary(const BinaryParams& p, Stream stream) {
  const char* fn = "elementwise_binary";
  Indexer ix;
  bool contiguous = false;
  const int64_t n =
      make_indexer(fn, p.shape, {&p.a_strides, &p.b_strides, &p.y_strides}, ix, contiguous);
  if (!valid_binary(p.op)) invalid_params(fn, "unknown op " + std::to_string(static_cast<int>(p.op)));
  if (!valid_activation(p.act)) {
    invalid_params(fn, "unknown activation " + std::to_string(static_cast<int>(p.act)));
  }
  if (n == 0) return;
  require_pointer(fn, "a", p.a);
  require_pointer(fn, "b", p.b);
  require_pointer(fn, "y", p.y);
  if (contiguous) {
    MG_LAUNCH(binary_kernel<true>, grid_for(n), kThreads, 0, stream)(p.a, p.b, p.y, n, ix, p.op, p.act);
  } else {
    MG_LAUNCH(binary_kernel<false>, grid_for(n), kThreads, 0, stream)(p.a, p.b, p.y, n, ix, p.op, p.act);
  }
  MG_CHECK_LAUNCH(fn);
}

// ---- CPU references: double math, written independently of the device functions ----
namespace {

double ref_activate(Activation act, double x) {
  switch (act) {
    case Activation::relu: return std::isnan(x) ? x : std::max(x, 0.0);
    case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Activation::tanh: return std::tanh(x);
    case Activation::gelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::silu: return x / (1.0 + std::exp(-x));
    default: return x;
  }
}

double ref_unary(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::abs: return std::abs(x);
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return std::log(x);
    case UnaryOp::sqrt: return std::sqrt(x);
    case UnaryOp::rsqrt: return 1.0 / std::sqrt(x);
    case UnaryOp::reciprocal: return 1.0 / x;
    case UnaryOp::square: return x * x;
    case UnaryOp::relu: return ref_activate(Activation::relu, x);
    case UnaryOp::sigmoid: return ref_activate(Activation::sigmoid, x);
    case UnaryOp::tanh: return ref_activate(Activation::tanh, x);
    case UnaryOp::gelu: return ref_activate(Activation::gelu, x);
    case UnaryOp::silu: return ref_activate(Activation::silu, x);
    default: return x;
  }
}

double ref_binary(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::max: return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
    case BinaryOp::min: return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
    case BinaryOp::pow: return std::pow(a, b);
    default: return a + b;
  }
}

// Calls f(offsets...) for every index of `shape`, in row-major order.
template <int kOperands, class F>
void for_each_index(const Shape& shape, const Strides* const (&st)[kOperands], F f) {
  const int64_t n = shape.numel();
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, off[kOperands] = {};
    for (int d = shape.ndim - 1; d >= 0; --d) {
      const int64_t idx = rem % shape.sizes[d];
      rem /= shape.sizes[d];
      for (int k = 0; k < kOperands; ++k) off[k] += idx * st[k]->v[d];
    }
    f(off);
  }
}

}  // namespace

void elementwise_unary_reference(const UnaryParams& p) {
  const Strides* const st[2] = {&p.x_strides, &p.y_strides};
  for_each_index<2>(p.shape, st, [&](const int64_t* off) {
    const float t = p.alpha * p.x[off[0]] + p.beta;  // the argument rounds to float, as on the GPU
    p.y[off[1]] = static_cast<float>(ref_unary(p.op, t));
  });
}

void elementwise_binary_reference(const BinaryParams& p) {
  const Strides* const st[3] = {&p.a_strides, &p.b_strides, &p.y_strides};
  for_each_index<3>(p.shape, st, [&](const int64_t* off) {
    const float v = static_cast<float>(ref_binary(p.op, p.a[off[0]], p.b[off[1]]));
    p.y[off[2]] = static_cast<float>(ref_activate(p.act, v));
  });
}

}  // namespace melgrad::kernels
