// Fill, strided copy with dtype conversion and where of tensor_ops.h, with their CPU
// references. One grid-stride "map" kernel serves them all:
// it computes each element's offsets in its K operands (linear index when every operand is
// contiguous, else by decomposing the index over the shape) and calls a small functor.
#include <cmath>
#include <string>

#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"
#include "kernels/tensor_ops.h"

namespace melgrad::kernels {

std::size_t elem_size(ElemType t) { return t == ElemType::f32 ? 4 : 8; }

namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;

template <int K>
struct Offsets {
  int ndim;
  int64_t sizes[kMaxDims];
  int64_t strides[K][kMaxDims];
};

template <int K, bool kContiguous, class F>
__global__ void __launch_bounds__(kThreads) map_kernel(int64_t n, Offsets<K> ix, F f) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[K];
    if (kContiguous) {
      for (int k = 0; k < K; ++k) off[k] = i;
    } else {
      for (int k = 0; k < K; ++k) off[k] = 0;
      int64_t rest = i;
      for (int d = ix.ndim - 1; d >= 0; --d) {
        const int64_t idx = rest % ix.sizes[d];
        rest /= ix.sizes[d];
        for (int k = 0; k < K; ++k) off[k] += idx * ix.strides[k][d];
      }
    }
    f(off);
  }
}

// Validates the shape, then launches map_kernel over it with functor f.
template <int K, class F>
void launch_map(const char* fn, const Shape& shape, const Strides* const (&st)[K], F f,
                Stream stream) {
  if (shape.ndim < 0 || shape.ndim > kMaxDims) {
    invalid_params(fn, "shape.ndim must be in 0.." + std::to_string(kMaxDims) + " (got " +
                           std::to_string(shape.ndim) + ")");
  }
  Offsets<K> ix{};
  ix.ndim = shape.ndim;
  const Strides contig = contiguous_strides(shape);
  bool contiguous = true;
  for (int d = 0; d < shape.ndim; ++d) {
    require_non_negative(fn, ("shape.sizes[" + std::to_string(d) + "]").c_str(), shape.sizes[d]);
    ix.sizes[d] = shape.sizes[d];
    for (int k = 0; k < K; ++k) {
      ix.strides[k][d] = st[k]->v[d];
      contiguous = contiguous && (st[k]->v[d] == contig.v[d] || shape.sizes[d] == 1);
    }
  }
  const int64_t n = shape.numel();
  if (n == 0) return;
  const int64_t cap = static_cast<int64_t>(device_sm_count()) * kBlocksPerSm;
  const dim3 grid(static_cast<unsigned>(ceil_div(n, kThreads) < cap ? ceil_div(n, kThreads) : cap));
  if (contiguous) {
    MG_LAUNCH((map_kernel<K, true, F>), grid, kThreads, 0, stream)(n, ix, f);
  } else {
    MG_LAUNCH((map_kernel<K, false, F>), grid, kThreads, 0, stream)(n, ix, f);
  }
  MG_CHECK_LAUNCH(fn);
}

// Calls f.template operator()<T>() with T the C++ type of `t`.
template <class F>
void dispatch_type(const char* fn, const char* field, ElemType t, F&& f) {
  switch (t) {
    case ElemType::f32:
      f.template operator()<float>();
      return;
    case ElemType::f64:
      f.template operator()<double>();
      return;
    case ElemType::i64:
      f.template operator()<int64_t>();
      return;
  }
  invalid_params(
      fn, std::string(field) + ": unknown element type " + std::to_string(static_cast<int>(t)));
}

template <class T>
struct FillFn {
  T* y;
  T value;
  __device__ void operator()(const int64_t (&off)[1]) const { y[off[0]] = value; }
};

template <class S, class D>
struct CopyFn {
  const S* x;
  D* y;
  __device__ void operator()(const int64_t (&off)[2]) const {
    y[off[1]] = static_cast<D>(x[off[0]]);
  }
};

template <class C>
struct WhereFn {
  const C* cond;
  const float* a;
  const float* b;
  float* y;
  __device__ void operator()(const int64_t (&off)[4]) const {
    y[off[3]] = cond[off[0]] != C(0) ? a[off[1]] : b[off[2]];
  }
};

}  // namespace

void fill(const FillParams& p, Stream stream) {
  const char* fn = "fill";
  if (p.shape.numel() > 0) require_pointer(fn, "y", p.y);
  const Strides* const st[1] = {&p.y_strides};
  dispatch_type(fn, "type", p.type, [&]<class T>() {
    launch_map<1>(fn, p.shape, st, FillFn<T>{static_cast<T*>(p.y), static_cast<T>(p.value)},
                  stream);
  });
}

void strided_copy(const CopyParams& p, Stream stream) {
  const char* fn = "strided_copy";
  if (p.shape.numel() > 0) {
    require_pointer(fn, "x", p.x);
    require_pointer(fn, "y", p.y);
  }
  const Strides* const st[2] = {&p.x_strides, &p.y_strides};
  dispatch_type(fn, "x_type", p.x_type, [&]<class S>() {
    dispatch_type(fn, "y_type", p.y_type, [&]<class D>() {
      launch_map<2>(fn, p.shape, st, CopyFn<S, D>{static_cast<const S*>(p.x), static_cast<D*>(p.y)},
                    stream);
    });
  });
}

void where_select(const WhereParams& p, Stream stream) {
  const char* fn = "where_select";
  if (p.shape.numel() > 0) {
    require_pointer(fn, "cond", p.cond);
    require_pointer(fn, "a", p.a);
    require_pointer(fn, "b", p.b);
    require_pointer(fn, "y", p.y);
  }
  const Strides* const st[4] = {&p.cond_strides, &p.a_strides, &p.b_strides, &p.y_strides};
  dispatch_type(fn, "cond_type", p.cond_type, [&]<class C>() {
    launch_map<4>(fn, p.shape, st, WhereFn<C>{static_cast<const C*>(p.cond), p.a, p.b, p.y},
                  stream);
  });
}

// ---- CPU references: row-major loops over the shape ----
namespace {

template <int K, class F>
void for_each_offset(const Shape& shape, const Strides* const (&st)[K], F f) {
  const int64_t n = shape.numel();
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i, off[K] = {};
    for (int d = shape.ndim - 1; d >= 0; --d) {
      const int64_t idx = rest % shape.sizes[d];
      rest /= shape.sizes[d];
      for (int k = 0; k < K; ++k) off[k] += idx * st[k]->v[d];
    }
    f(off);
  }
}

}  // namespace

void fill_reference(const FillParams& p) {
  const Strides* const st[1] = {&p.y_strides};
  dispatch_type("fill_reference", "type", p.type, [&]<class T>() {
    T* y = static_cast<T*>(p.y);
    for_each_offset<1>(p.shape, st,
                       [&](const int64_t* off) { y[off[0]] = static_cast<T>(p.value); });
  });
}

void strided_copy_reference(const CopyParams& p) {
  const Strides* const st[2] = {&p.x_strides, &p.y_strides};
  dispatch_type("strided_copy_reference", "x_type", p.x_type, [&]<class S>() {
    dispatch_type("strided_copy_reference", "y_type", p.y_type, [&]<class D>() {
      const S* x = static_cast<const S*>(p.x);
      D* y = static_cast<D*>(p.y);
      for_each_offset<2>(p.shape, st,
                         [&](const int64_t* off) { y[off[1]] = static_cast<D>(x[off[0]]); });
    });
  });
}

void where_select_reference(const WhereParams& p) {
  const Strides* const st[4] = {&p.cond_strides, &p.a_strides, &p.b_strides, &p.y_strides};
  dispatch_type("where_select_reference", "cond_type", p.cond_type, [&]<class C>() {
    const C* cond = static_cast<const C*>(p.cond);
    for_each_offset<4>(p.shape, st, [&](const int64_t* off) {
      p.y[off[3]] = cond[off[0]] != C(0) ? p.a[off[1]] : p.b[off[2]];
    });
  });
}

}  // namespace melgrad::kernels
