// CPU elementwise kernels: fill, copy (with dtype conversion), unary and binary maps,
// where, and random fills. The maths of each unary and binary op is common/elementwise_ops.h's
// (the CUDA kernels run the same functions); contiguous unary maps of the ops with an Eigen
// array expression (vectorised exp/log/tanh) take it instead. Strided or broadcast operands
// go through for_each_run.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/strided.h"

namespace melgrad::cpu {

template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

Tensor contiguous_copy(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).copy(x, out);
  return out;
}

void CpuBackend::fill(const Tensor& out, double value) {
  dispatch_all(out.dtype(), [&]<class T>() {
    T* o = out.data<T>();
    T v = static_cast<T>(value);
    for_each_run<1>(out.shape(), {out.strides()},
                    [&](const int64_t* off, int64_t n, const int64_t* step) {
                      for (int64_t i = 0; i < n; ++i) o[off[0] + i * step[0]] = v;
                    });
  });
}

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  if (src.shape() != dst.shape())
    throw std::invalid_argument("copy: shape " + shape_str(src.shape()) + " into " +
                                shape_str(dst.shape()));
  dispatch_all(src.dtype(), [&]<class S>() {
    dispatch_all(dst.dtype(), [&]<class D>() {
      const S* s = src.data<S>();
      D* d = dst.data<D>();
      for_each_run<2>(dst.shape(), {dst.strides(), src.strides()},
                      [&](const int64_t* off, int64_t n, const int64_t* step) {
                        for (int64_t i = 0; i < n; ++i)
                          d[off[0] + i * step[0]] = static_cast<D>(s[off[1] + i * step[1]]);
                      });
    });
  });
}

// o = op(x) over n contiguous elements: Eigen's vectorised expression where the op has one,
// else common/elementwise_ops.h's scalar function, one element at a time.
template <class T>
static void unary_contiguous(UnaryOp op, const T* x, T* o, int64_t n, double a, double b) {
  ConstArrayMap<T> X(x, n);
  ArrayMap<T> O(o, n);
  const T ta = static_cast<T>(a), tb = static_cast<T>(b);
  switch (op) {
    case UnaryOp::neg:
      O = -X;
      break;
    case UnaryOp::exp:
      O = X.exp();
      break;
    case UnaryOp::log:
      O = X.log();
      break;
    case UnaryOp::sqrt:
      O = X.sqrt();
      break;
    case UnaryOp::abs:
      O = X.abs();
      break;
    case UnaryOp::relu:
      O = X.max(T(0));
      break;
    case UnaryOp::sigmoid:
      O = T(1) / (T(1) + (-X).exp());
      break;
    case UnaryOp::tanh:
      O = X.tanh();
      break;
    case UnaryOp::sign:
      O = X.sign();
      break;
    case UnaryOp::pow_scalar:
      if (a == 2.0)
        O = X.square();
      else
        O = X.pow(ta);
      break;
    case UnaryOp::clamp:
      O = X.max(ta).min(tb);
      break;
    case UnaryOp::affine:
      O = X * ta + tb;
      break;
    case UnaryOp::step:
      O = (X > ta).template cast<T>();
      break;
    default:
      for (int64_t i = 0; i < n; ++i) o[i] = unary_apply<T>(op, x[i], ta, tb);
      break;
  }
}

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) {
  dispatch_floating(x.dtype(), "unary", [&]<class T>() {
    Tensor xc = contiguous_copy(x);
    if (out.is_contiguous()) {
      const T* px = xc.data<T>();
      T* po = out.data<T>();
      parallel_range(out.numel(), [&](int64_t lo, int64_t hi) {
        unary_contiguous<T>(op, px + lo, po + lo, hi - lo, a, b);
      });
    } else {
      Tensor tmp = Tensor::empty(out.shape(), out.dtype());
      unary_contiguous<T>(op, xc.data<T>(), tmp.data<T>(), out.numel(), a, b);
      copy(tmp, out);
    }
  });
}

template <class T, BinaryOp OP>
static void binary_loop(const T* a, const T* b, T* o, const Shape& shape,
                        const std::array<Shape, 3>& strides) {
  for_each_run<3>(shape, strides, [&](const int64_t* off, int64_t n, const int64_t* step) {
    const T* pa = a + off[1];
    const T* pb = b + off[2];
    T* po = o + off[0];
    if (step[0] == 1 && step[1] == 1 && step[2] == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] = binary_apply<T>(OP, pa[i], pb[i]);
    } else if (step[0] == 1 && step[1] == 1 && step[2] == 0) {
      const T vb = *pb;
      for (int64_t i = 0; i < n; ++i) po[i] = binary_apply<T>(OP, pa[i], vb);
    } else if (step[0] == 1 && step[1] == 0 && step[2] == 1) {
      const T va = *pa;
      for (int64_t i = 0; i < n; ++i) po[i] = binary_apply<T>(OP, va, pb[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        po[i * step[0]] = binary_apply<T>(OP, pa[i * step[1]], pb[i * step[2]]);
    }
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_floating(out.dtype(), "binary", [&]<class T>() {
    std::array<Shape, 3> strides = {out.strides(), a.strides(), b.strides()};
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    Shape shape = out.shape();
    // Contiguous operands (b also as one broadcast scalar) are one flat run, split over the
    // threads; any other layout walks its runs on the calling thread.
    const bool flat =
        out.is_contiguous() && a.is_contiguous() &&
        (b.is_contiguous() || b.numel() == 1 ||
         std::all_of(b.strides().begin(), b.strides().end(), [](int64_t s) { return s == 0; }));
    if (flat) {
      shape = {out.numel()};
      strides = {Shape{1}, Shape{1}, Shape{b.is_contiguous() && b.numel() == out.numel() ? 1 : 0}};
    }
    // One instantiation per op keeps the inner loops branch-free and vectorisable.
    auto run = [&]<BinaryOp OP>() {
      if (!flat) return binary_loop<T, OP>(pa, pb, po, shape, strides);
      parallel_range(out.numel(), [&](int64_t lo, int64_t hi) {
        binary_loop<T, OP>(pa + lo, strides[2][0] ? pb + lo : pb, po + lo, Shape{hi - lo}, strides);
      });
    };
    switch (op) {
#define MELGRAD_BINARY_CASE(name)              \
  case BinaryOp::name:                         \
    run.template operator()<BinaryOp::name>(); \
    break;
      MELGRAD_BINARY_CASE(add)
      MELGRAD_BINARY_CASE(sub)
      MELGRAD_BINARY_CASE(mul)
      MELGRAD_BINARY_CASE(div)
      MELGRAD_BINARY_CASE(pow)
      MELGRAD_BINARY_CASE(max)
      MELGRAD_BINARY_CASE(min)
      MELGRAD_BINARY_CASE(eq)
      MELGRAD_BINARY_CASE(gt)
      MELGRAD_BINARY_CASE(ge)
      MELGRAD_BINARY_CASE(lt)
      MELGRAD_BINARY_CASE(le)
#undef MELGRAD_BINARY_CASE
    }
  });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_floating(out.dtype(), "where", [&]<class T>() {
    dispatch_all(cond.dtype(), [&]<class C>() {
      const C* pc = cond.data<C>();
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* po = out.data<T>();
      for_each_run<4>(out.shape(), {out.strides(), cond.strides(), a.strides(), b.strides()},
                      [&](const int64_t* off, int64_t n, const int64_t* s) {
                        for (int64_t i = 0; i < n; ++i)
                          po[off[0] + i * s[0]] = pc[off[1] + i * s[1]] != C(0)
                                                      ? pa[off[2] + i * s[2]]
                                                      : pb[off[3] + i * s[3]];
                      });
    });
  });
}

void CpuBackend::random(const Tensor& out, Generator& gen, bool normal, double a, double b) {
  dispatch_floating(out.dtype(), "random", [&]<class T>() {
    Tensor tmp = out.is_contiguous() ? out : Tensor::empty(out.shape(), out.dtype());
    T* p = tmp.data<T>();
    const int64_t n = tmp.numel();
    for (int64_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(normal ? gen.normal(a, b) : gen.uniform(a, b));
    if (!tmp.same(out)) copy(tmp, out);
  });
}

}  // namespace melgrad::cpu
