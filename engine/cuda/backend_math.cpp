// CudaBackend: unary and binary maps, where, reductions, argmax and the fused softmax.
// Maps run on any strides (broadcast operands have stride 0); their ops are the kernels' own
// (common/elementwise_ops.h), so every UnaryOp / BinaryOp reaches kernels/elementwise.h.
// A reduction of a contiguous input over one run of neighbouring dims runs on it in place as
// [outer, r, inner] (reduce_middle_dim); other reductions, and softmax, bring the reduced
// dims last and contiguous (one strided copy when they are not) and run the row kernels of
// kernels/reduce.h and kernels/softmax.h.
#include <stdexcept>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/elementwise.h"
#include "kernels/indexing.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"

namespace melgrad::cuda {

namespace {

const float* cf32(const Tensor& t) { return static_cast<const float*>(t.raw_data()); }
float* f32(const Tensor& t) { return static_cast<float*>(t.raw_data()); }

// Writes into `out` through a contiguous temporary when the kernel needs a contiguous output.
template <class F>
void with_contiguous_output(const Tensor& out, F&& kernel) {
  if (out.is_contiguous()) {
    kernel(out);
    return;
  }
  Tensor tmp = Tensor::empty(out.shape(), out.dtype(), out.device());
  kernel(tmp);
  backend_for(out.device()).copy(tmp, out);
}

}  // namespace

void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) {
  require_f32("unary", {&x, &out});
  const auto l = kernel_layout<2>("unary", out.shape(), {&x.strides(), &out.strides()});
  kernels::UnaryParams p;
  p.x = cf32(x);
  p.y = f32(out);
  p.shape = l.shape;
  p.x_strides = l.strides[0];
  p.y_strides = l.strides[1];
  p.op = op;
  p.a = static_cast<float>(a);
  p.b = static_cast<float>(b);
  kernels::elementwise_unary(p, stream());
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  require_f32("binary", {&a, &b, &out});
  const auto l =
      kernel_layout<3>("binary", out.shape(), {&a.strides(), &b.strides(), &out.strides()});
  kernels::BinaryParams p;
  p.a = cf32(a);
  p.b = cf32(b);
  p.y = f32(out);
  p.shape = l.shape;
  p.a_strides = l.strides[0];
  p.b_strides = l.strides[1];
  p.y_strides = l.strides[2];
  p.op = op;
  kernels::elementwise_binary(p, stream());
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  require_f32("where", {&a, &b, &out});
  const auto l = kernel_layout<4>("where", out.shape(),
                                  {&cond.strides(), &a.strides(), &b.strides(), &out.strides()});
  kernels::WhereParams p;
  p.cond = cond.raw_data();
  p.cond_type = elem_type(cond.dtype());
  p.a = cf32(a);
  p.b = cf32(b);
  p.y = f32(out);
  p.shape = l.shape;
  p.cond_strides = l.strides[0];
  p.a_strides = l.strides[1];
  p.b_strides = l.strides[2];
  p.y_strides = l.strides[3];
  kernels::where_select(p, stream());
}

namespace {

// x as [outer, r, inner] when it is contiguous and its reduced dims (those of size > 1 that
// `out` has as 1) are neighbours, with kept dims after them (inner > 1; inner == 1 is the
// row kernel's case). Size-1 dims are skipped: they sit anywhere without moving a byte.
struct MiddleView {
  bool ok = false;
  int64_t outer = 1, r = 1, inner = 1;
};

MiddleView middle_view(const Tensor& x, const Tensor& out) {
  MiddleView v;
  if (!x.is_contiguous()) return v;
  int phase = 0;  // 0: kept dims before the run, 1: in the run, 2: kept dims after it
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.size(d) == 1) continue;
    const bool reduced = out.size(d) == 1;
    if (reduced && phase == 2) return v;  // a second run
    if (reduced) phase = 1;
    if (!reduced && phase == 1) phase = 2;
    (phase == 0 ? v.outer : phase == 1 ? v.r : v.inner) *= x.size(d);
  }
  v.ok = phase == 2;
  return v;
}

}  // namespace

// Contiguous x with one run of reduced dims followed by kept ones: reduce_middle_dim on x
// itself. Otherwise x viewed as [kept dims..., reduced dims...] and packed into
// [rows, cols]; one row kernel.
void CudaBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  require_f32("reduce", {&x, &out});
  if (const MiddleView v = middle_view(x, out); v.ok) {
    with_contiguous_output(out, [&](const Tensor& y) {
      kernels::reduce_middle_dim({cf32(x), f32(y), v.outer, v.r, v.inner, op}, stream());
    });
    return;
  }
  Shape kept_shape, kept_strides, red_shape, red_strides;
  int64_t rows = 1, cols = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool reduced = out.size(d) == 1 && x.size(d) != 1;
    (reduced ? red_shape : kept_shape).push_back(x.size(d));
    (reduced ? red_strides : kept_strides).push_back(x.strides()[d]);
    (reduced ? cols : rows) *= x.size(d);
  }
  kept_shape.insert(kept_shape.end(), red_shape.begin(), red_shape.end());
  kept_strides.insert(kept_strides.end(), red_strides.begin(), red_strides.end());
  const Tensor packed = contiguous_on_device(x.as_strided(kept_shape, kept_strides, x.offset()));
  with_contiguous_output(out, [&](const Tensor& y) {
    kernels::ReduceParams p;
    p.x = cf32(packed);
    p.y = f32(y);
    p.rows = rows;
    p.cols = cols;
    p.op = op;
    kernels::reduce_last_dim(p, stream());
  });
}

void CudaBackend::argmax(const Tensor& x, int64_t dim, const Tensor& out) {
  require_f32("argmax", {&x});
  const Tensor xc = contiguous_on_device(x);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  with_contiguous_output(out, [&](const Tensor& y) {
    kernels::argmax({cf32(xc), static_cast<int64_t*>(y.raw_data()), outer, x.size(dim), inner},
                    stream());
  });
}

Tensor CudaBackend::fused_softmax(const Tensor& x, int64_t dim, bool log) {
  require_f32(log ? "log_softmax" : "softmax", {&x});
  const Tensor xl = contiguous_on_device(move_dim_last(x, dim));
  Tensor yl = Tensor::empty(xl.shape(), x.dtype(), x.device());
  const int64_t cols = x.size(dim), rows = cols ? x.numel() / cols : 0;
  kernels::softmax_forward({cf32(xl), f32(yl), rows, cols, log}, stream());
  if (dim == x.dim() - 1) return yl;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy(yl, move_dim_last(y, dim));
  return y;
}

Tensor CudaBackend::fused_softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim,
                                           bool log) {
  require_f32(log ? "log_softmax backward" : "softmax backward", {&y, &dy});
  const Tensor yl = contiguous_on_device(move_dim_last(y, dim));
  const Tensor dyl = contiguous_on_device(move_dim_last(dy, dim));
  Tensor dxl = Tensor::empty(yl.shape(), y.dtype(), y.device());
  const int64_t cols = y.size(dim), rows = cols ? y.numel() / cols : 0;
  kernels::softmax_backward({cf32(yl), cf32(dyl), f32(dxl), rows, cols, log}, stream());
  if (dim == y.dim() - 1) return dxl;
  Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
  copy(dxl, move_dim_last(dx, dim));
  return dx;
}

}  // namespace melgrad::cuda
