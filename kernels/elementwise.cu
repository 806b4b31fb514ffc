// Elementwise unary and binary kernels with strided / broadcast operands and a fused
// activation, plus their CPU references and the stride helpers of elementwise.h.
// Kernels are grid-stride loops (256 threads, at most 8 blocks per SM) calling
// common/elementwise_ops.h's unary_apply / binary_apply<float>; the op is a runtime switch
// (uniform across the grid, so no divergence). kContiguous selects linear indexing;
// otherwise each element's offsets come from decomposing its linear index over the shape.
// The references evaluate the same functions in double: they check indexing and float
// rounding here, while the maths itself is checked against closed forms and PyTorch's
// values in the engine's tests (tests/core/test_ops.cpp).
#include <cmath>
#include <string>

#include "kernels/block_reduce.cuh"
#include "kernels/elementwise.h"
#include "kernels/emu/cuda_compat.h"
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

template <bool kContiguous>
__global__ void __launch_bounds__(kThreads)
    unary_kernel(const float* x, float* y, int64_t n, Indexer ix, UnaryOp op, float a, float b) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (kContiguous) {
      y[i] = unary_apply(op, x[i], a, b);
    } else {
      int64_t off[2];
      offsets_of<2>(ix, i, off);
      y[off[1]] = unary_apply(op, x[off[0]], a, b);
    }
  }
}

template <bool kContiguous>
__global__ void __launch_bounds__(kThreads)
    binary_kernel(const float* a, const float* b, float* y, int64_t n, Indexer ix, BinaryOp op,
                  UnaryOp act) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (kContiguous) {
      y[i] = unary_apply(act, binary_apply(op, a[i], b[i]), 0.0f, 0.0f);
    } else {
      int64_t off[3];
      offsets_of<3>(ix, i, off);
      y[off[2]] = unary_apply(act, binary_apply(op, a[off[0]], b[off[1]]), 0.0f, 0.0f);
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

bool valid_unary(UnaryOp op) {
  return static_cast<int>(op) >= 0 && static_cast<int>(op) < kUnaryOpCount;
}
bool valid_binary(BinaryOp op) {
  return static_cast<int>(op) >= 0 && static_cast<int>(op) < kBinaryOpCount;
}

}  // namespace

void elementwise_unary(const UnaryParams& p, Stream stream) {
  const char* fn = "elementwise_unary";
  Indexer ix;
  bool contiguous = false;
  const int64_t n = make_indexer(fn, p.shape, {&p.x_strides, &p.y_strides}, ix, contiguous);
  if (!valid_unary(p.op)) {
    invalid_params(fn, "unknown op " + std::to_string(static_cast<int>(p.op)));
  }
  if (n == 0) return;
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "y", p.y);
  const dim3 grid = grid_for(n);
  if (contiguous) {
    MG_LAUNCH(unary_kernel<true>, grid, kThreads, 0, stream)(p.x, p.y, n, ix, p.op, p.a, p.b);
  } else {
    MG_LAUNCH(unary_kernel<false>, grid, kThreads, 0, stream)(p.x, p.y, n, ix, p.op, p.a, p.b);
  }
  MG_CHECK_LAUNCH(fn);
}

void elementwise_binary(const BinaryParams& p, Stream stream) {
  const char* fn = "elementwise_binary";
  Indexer ix;
  bool contiguous = false;
  const int64_t n =
      make_indexer(fn, p.shape, {&p.a_strides, &p.b_strides, &p.y_strides}, ix, contiguous);
  if (!valid_binary(p.op)) {
    invalid_params(fn, "unknown op " + std::to_string(static_cast<int>(p.op)));
  }
  if (!valid_unary(p.act)) {
    invalid_params(fn, "unknown activation " + std::to_string(static_cast<int>(p.act)));
  }
  if (n == 0) return;
  require_pointer(fn, "a", p.a);
  require_pointer(fn, "b", p.b);
  require_pointer(fn, "y", p.y);
  const dim3 grid = grid_for(n);
  if (contiguous) {
    MG_LAUNCH(binary_kernel<true>, grid, kThreads, 0, stream)(p.a, p.b, p.y, n, ix, p.op, p.act);
  } else {
    MG_LAUNCH(binary_kernel<false>, grid, kThreads, 0, stream)(p.a, p.b, p.y, n, ix, p.op, p.act);
  }
  MG_CHECK_LAUNCH(fn);
}

// ---- CPU references: the same functions in double, row-major loops on the host ----
namespace {

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
    p.y[off[1]] = static_cast<float>(unary_apply<double>(p.op, p.x[off[0]], p.a, p.b));
  });
}

void elementwise_binary_reference(const BinaryParams& p) {
  const Strides* const st[3] = {&p.a_strides, &p.b_strides, &p.y_strides};
  for_each_index<3>(p.shape, st, [&](const int64_t* off) {
    const float v = static_cast<float>(binary_apply<double>(p.op, p.a[off[0]], p.b[off[1]]));
    p.y[off[2]] = static_cast<float>(unary_apply<double>(p.act, v, 0.0, 0.0));
  });
}

}  // namespace melgrad::kernels
