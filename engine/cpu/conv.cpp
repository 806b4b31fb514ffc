// CPU 2-D convolution kernels (see conv.h): im2col + Eigen GEMM over panels of output
// columns, a direct path for one input channel, and plain reference loops.
//   x [N, C, H, W], weight [O, C, kh, kw] viewed as [O, K] (K = C kh kw), y [N, O, Ho, Wo];
//   per panel (a block of output rows of one image, or several whole images):
//   col [K, columns], y_panel [O, columns] = W col.
#include "engine/cpu/conv.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/cpu/parallel.h"

namespace melgrad::cpu {

namespace {

// The shape with its output size computed once (the loops below read it often).
struct G : Conv2dShape {
  int64_t Ho, Wo;
  explicit G(const Conv2dShape& s) : Conv2dShape(s), Ho(s.out_h()), Wo(s.out_w()) {}
};
template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Mat = Eigen::Map<RowMat<T>, 0, Eigen::OuterStride<>>;
template <class T>
using ConstMat = Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>>;

// Panels of output columns: at least kMinPanelColumns wide (so that packing the weight
// matrix for a GEMM is amortised over many columns), and for small K wider, up to about
// kColumnBlockBytes of column buffer (it then stays in L2 between im2col and the GEMM).
// When one image has fewer output pixels than that, a panel spans several whole images,
// up to kMaxPanelBytes of column buffer.
constexpr int64_t kColumnBlockBytes = 512 * 1024;
constexpr int64_t kMinPanelColumns = 1024;
constexpr int64_t kMaxPanelBytes = 8 * 1024 * 1024;

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Output columns ow whose input column ow * sw - pw + j lies inside [0, W): [lo, hi).
struct Span {
  int64_t lo, hi;
};
Span valid_columns(const G& g, int64_t j) {
  const int64_t lo = std::max<int64_t>(0, floor_div(g.pad_w - j + g.stride_w - 1, g.stride_w));
  const int64_t hi = std::min<int64_t>(g.Wo, floor_div(g.W - 1 + g.pad_w - j, g.stride_w) + 1);
  return {lo, std::max(lo, hi)};
}

// A per-thread buffer that grows to the largest request and is then reused. Aligned to
// Eigen's largest packet: its vectorised sums over rows of this buffer (the bias gradient)
// start their packets where the address allows, so a malloc address that depends on the
// heap's history would change the summation order, and the bits, between two runs of the
// same computation (a resumed run against a straight one).
template <class T>
T* thread_scratch(size_t n) {
  thread_local std::vector<T, Eigen::aligned_allocator<T>> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// 1x1 kernel, stride 1, no padding: the image itself is the column matrix.
bool identity_columns(const G& g) {
  return g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 &&
         g.pad_w == 0;
}

bool split_batch(const G& g) {
  const int nt = omp_get_max_threads();
  return nt > 1 && g.N >= nt;
}

// One GEMM's worth of output columns: images [n0, n0 + images) and, when images == 1, the
// output rows [oh0, oh1) of image n0 (several images are always whole). Column buffers hold
// image j's pixels at columns [j * (oh1 - oh0) * Wo, ...), `columns` in all.
struct Panel {
  int64_t n0, images, oh0, oh1;
  int64_t columns(const G& g) const { return images * (oh1 - oh0) * g.Wo; }
};

// The panels covering images [n_begin, n_end), in order.
std::vector<Panel> plan_panels(const G& g, size_t elem, int64_t n_begin, int64_t n_end) {
  std::vector<Panel> panels;
  const int64_t K = g.C * g.kh * g.kw, P = g.Ho * g.Wo, E = static_cast<int64_t>(elem);
  const int64_t want = std::max(kMinPanelColumns, kColumnBlockBytes / std::max<int64_t>(K * E, 1));
  if (P >= want || identity_columns(g)) {  // blocks of rows inside each image
    const int64_t rows = std::clamp<int64_t>((want + g.Wo - 1) / g.Wo, 1, g.Ho);
    for (int64_t n = n_begin; n < n_end; ++n)
      for (int64_t oh0 = 0; oh0 < g.Ho; oh0 += rows)
        panels.push_back({n, 1, oh0, std::min(g.Ho, oh0 + rows)});
    return panels;
  }
  // Groups of whole images, balanced: ceil(count / per) groups of nearly equal size.
  const int64_t by_columns = (want + P - 1) / P;
  const int64_t by_bytes = std::max<int64_t>(1, kMaxPanelBytes / std::max<int64_t>(K * P * E, 1));
  const int64_t per = std::min(by_columns, by_bytes), count = n_end - n_begin;
  const int64_t groups = (count + per - 1) / std::max<int64_t>(per, 1);
  for (int64_t k = 0, n = n_begin; k < groups; ++k) {
    const int64_t size = count / groups + (k < count % groups ? 1 : 0);
    panels.push_back({n, size, 0, g.Ho});
    n += size;
  }
  return panels;
}

// Images [begin, end) of this thread's share when the batch is split over the threads
// (static, contiguous, as `omp for schedule(static)`), or the whole batch.
std::pair<int64_t, int64_t> thread_images(const G& g, bool split) {
  if (!split) return {0, g.N};
  const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
  const int64_t base = g.N / nt, extra = g.N % nt;
  const int64_t begin = t * base + std::min<int64_t>(t, extra);
  return {begin, begin + base + (t < extra ? 1 : 0)};
}

// col rows of leading dimension ld: col[(c kh + i) kw + j][0 : (oh1 - oh0) Wo] = the patches
// of image x [C, H, W] for output rows [oh0, oh1).
template <class T>
void im2col(const T* x, T* col, int64_t ld, const G& g, int64_t oh0, int64_t oh1) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* dst = col + ((c * g.kh + i) * g.kw + j) * ld;
        const Span s = valid_columns(g, j);
        for (int64_t oh = oh0; oh < oh1; ++oh, dst += g.Wo) {
          const int64_t ih = oh * g.stride_h - g.pad_h + i;
          if (ih < 0 || ih >= g.H) {
            std::fill(dst, dst + g.Wo, T(0));
            continue;
          }
          const T* src = x + (c * g.H + ih) * g.W + (j - g.pad_w);
          std::fill(dst, dst + s.lo, T(0));
          if (g.stride_w == 1) {
            std::memcpy(dst + s.lo, src + s.lo, (s.hi - s.lo) * sizeof(T));
          } else {
            for (int64_t ow = s.lo; ow < s.hi; ++ow) dst[ow] = src[ow * g.stride_w];
          }
          std::fill(dst + s.hi, dst + g.Wo, T(0));
        }
      }
}

// Image gx [C, H, W] += the patches in col (leading dimension ld; inverse of im2col).
template <class T>
void col2im_add(const T* col, int64_t ld, T* gx, const G& g, int64_t oh0, int64_t oh1) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* src = col + ((c * g.kh + i) * g.kw + j) * ld;
        const Span s = valid_columns(g, j);
        for (int64_t oh = oh0; oh < oh1; ++oh, src += g.Wo) {
          const int64_t ih = oh * g.stride_h - g.pad_h + i;
          if (ih < 0 || ih >= g.H) continue;
          T* dst = gx + (c * g.H + ih) * g.W + (j - g.pad_w);
          if (g.stride_w == 1) {
#pragma omp simd
            for (int64_t ow = s.lo; ow < s.hi; ++ow) dst[ow] += src[ow];
          } else {
            for (int64_t ow = s.lo; ow < s.hi; ++ow) dst[ow * g.stride_w] += src[ow];
          }
        }
      }
}

// The panel's columns of the whole batch's [N, C, H, W] input as a [K, columns] matrix:
// the image itself (identity columns) or im2col into `col`.
template <class T>
ConstMat<T> panel_columns(const T* x, T* col, const Panel& p, const G& g) {
  const int64_t K = g.C * g.kh * g.kw, P = g.Ho * g.Wo, cols = p.columns(g);
  const int64_t plane = g.C * g.H * g.W;
  if (identity_columns(g))
    return ConstMat<T>(x + p.n0 * plane + p.oh0 * g.Wo, K, cols, Eigen::OuterStride<>(P));
  const int64_t per_image = (p.oh1 - p.oh0) * g.Wo;
  for (int64_t j = 0; j < p.images; ++j)
    im2col(x + (p.n0 + j) * plane, col + j * per_image, cols, g, p.oh0, p.oh1);
  return ConstMat<T>(col, K, cols, Eigen::OuterStride<>(cols));
}

// Image j of a multi-image panel inside a [O, columns] matrix, and the same image's [O, P]
// slice of the batch's [N, O, P] tensor.
template <class M>
auto image_block(M& m, int64_t j, int64_t P) {
  return m.middleCols(j * P, P);
}

// The fused ReLU epilogue on n contiguous outputs, while they are still in cache. Eigen's
// max, as the relu op's CPU kernel (cpu/elementwise.cpp), so conv2d_relu's output equals
// relu(conv2d) bit for bit.
template <class T>
void relu_in_place(T* y, int64_t n) {
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> a(y, n);
  a = a.max(T(0));
}

// ---- im2col + GEMM ---------------------------------------------------------------------

template <class T>
void forward_gemm(const T* x, const T* w, const T* b, T* y, const G& g, bool relu) {
  const int64_t K = g.C * g.kh * g.kw, P = g.Ho * g.Wo;
  const ConstMat<T> wm(w, g.O, K, Eigen::OuterStride<>(K));
  const bool split = split_batch(g);
#pragma omp parallel if (split)
  {
    const auto [nb, ne] = thread_images(g, split);
    const std::vector<Panel> panels = plan_panels(g, sizeof(T), nb, ne);
    int64_t most = 0;
    for (const Panel& p : panels) most = std::max(most, p.columns(g));
    const bool grouped = !panels.empty() && panels.front().images > 1;
    T* col = thread_scratch<T>((identity_columns(g) ? 0 : K * most) + (grouped ? g.O * most : 0));
    T* out = col + (identity_columns(g) ? 0 : K * most);  // [O, columns] of a grouped panel
    for (const Panel& p : panels) {
      const int64_t cols = p.columns(g);
      const ConstMat<T> cm = panel_columns(x, col, p, g);
      if (p.images == 1) {  // straight into y: rows [oh0, oh1) of image n0
        Mat<T> yb(y + p.n0 * g.O * P + p.oh0 * g.Wo, g.O, cols, Eigen::OuterStride<>(P));
        if (b) {
          for (int64_t o = 0; o < g.O; ++o) yb.row(o).setConstant(b[o]);
          yb.noalias() += wm * cm;
        } else {
          yb.noalias() = wm * cm;
        }
        if (relu)
          for (int64_t o = 0; o < g.O; ++o) relu_in_place(yb.row(o).data(), cols);
        continue;
      }
      Mat<T> om(out, g.O, cols, Eigen::OuterStride<>(cols));
      om.noalias() = wm * cm;
      for (int64_t j = 0; j < p.images; ++j) {
        Mat<T> yn(y + (p.n0 + j) * g.O * P, g.O, P, Eigen::OuterStride<>(P));
        if (b) {
          for (int64_t o = 0; o < g.O; ++o) yn.row(o) = image_block(om, j, P).row(o).array() + b[o];
        } else {
          yn = image_block(om, j, P);
        }
        if (relu) relu_in_place(yn.data(), g.O * P);
      }
    }
  }
}

// The panel's [O, columns] block of gy [N, O, P]: a view for one image, else gathered
// into `buf`.
template <class T>
ConstMat<T> panel_grad(const T* gy, T* buf, const Panel& p, const G& g) {
  const int64_t P = g.Ho * g.Wo, cols = p.columns(g);
  if (p.images == 1)
    return ConstMat<T>(gy + p.n0 * g.O * P + p.oh0 * g.Wo, g.O, cols, Eigen::OuterStride<>(P));
  Mat<T> m(buf, g.O, cols, Eigen::OuterStride<>(cols));
  for (int64_t j = 0; j < p.images; ++j)
    image_block(m, j, P) = ConstMat<T>(gy + (p.n0 + j) * g.O * P, g.O, P, Eigen::OuterStride<>(P));
  return ConstMat<T>(buf, g.O, cols, Eigen::OuterStride<>(cols));
}

template <class T>
void backward_input_gemm(const T* gy, const T* w, T* gx, const G& g) {
  const int64_t K = g.C * g.kh * g.kw, P = g.Ho * g.Wo, plane = g.C * g.H * g.W;
  const ConstMat<T> wm(w, g.O, K, Eigen::OuterStride<>(K));
  const bool split = split_batch(g);
#pragma omp parallel if (split)
  {
    const auto [nb, ne] = thread_images(g, split);
    if (identity_columns(g)) {  // gx_n [C, HW] = W^T gy_n
      for (int64_t n = nb; n < ne; ++n) {
        Mat<T> gxm(gx + n * plane, g.C, P, Eigen::OuterStride<>(P));
        gxm.noalias() =
            wm.transpose() * ConstMat<T>(gy + n * g.O * P, g.O, P, Eigen::OuterStride<>(P));
      }
    } else {
      std::fill(gx + nb * plane, gx + ne * plane, T(0));
      const std::vector<Panel> panels = plan_panels(g, sizeof(T), nb, ne);
      int64_t most = 0;
      for (const Panel& p : panels) most = std::max(most, p.columns(g));
      T* col = thread_scratch<T>((K + g.O) * most);
      T* gbuf = col + K * most;
      for (const Panel& p : panels) {
        const int64_t cols = p.columns(g), per_image = (p.oh1 - p.oh0) * g.Wo;
        Mat<T> cm(col, K, cols, Eigen::OuterStride<>(cols));
        cm.noalias() = wm.transpose() * panel_grad(gy, gbuf, p, g);
        for (int64_t j = 0; j < p.images; ++j)
          col2im_add(col + j * per_image, cols, gx + (p.n0 + j) * plane, g, p.oh0, p.oh1);
      }
    }
  }
}

// Adds the per-thread partial sums (thread order, so the result is deterministic).
template <class T, class A>
void reduce_partials(const std::vector<const A*>& parts, int64_t count, T* out) {
  if (!out) return;
  for (int64_t i = 0; i < count; ++i) {
    A s = 0;
    for (const A* p : parts)
      if (p) s += p[i];
    out[i] = static_cast<T>(s);
  }
}

template <class T>
void backward_weight_gemm(const T* gy, const T* x, T* gw, T* gb, const G& g) {
  const int64_t K = g.C * g.kh * g.kw;
  const bool split = split_batch(g);
  std::vector<const T*> gw_parts(omp_get_max_threads(), nullptr), gb_parts = gw_parts;
#pragma omp parallel if (split)
  {
    const int tid = omp_get_thread_num();
    const auto [nb, ne] = thread_images(g, split);
    const std::vector<Panel> panels = plan_panels(g, sizeof(T), nb, ne);
    int64_t most = 0;
    for (const Panel& p : panels) most = std::max(most, p.columns(g));
    const int64_t col_size = identity_columns(g) ? 0 : K * most;
    T* buf = thread_scratch<T>(col_size + g.O * most + g.O * K + g.O);
    T *col = buf, *gbuf = col + col_size, *pgw = gbuf + g.O * most, *pgb = pgw + g.O * K;
    std::fill(pgw, pgw + g.O * K + g.O, T(0));
    gw_parts[tid] = pgw;
    gb_parts[tid] = pgb;
    Mat<T> pgwm(pgw, g.O, K, Eigen::OuterStride<>(K));
    for (const Panel& p : panels) {
      const ConstMat<T> gyb = panel_grad(gy, gbuf, p, g);
      if (gw) pgwm.noalias() += gyb * panel_columns(x, col, p, g).transpose();
      if (gb)
        for (int64_t o = 0; o < g.O; ++o) pgb[o] += gyb.row(o).sum();
    }
  }
  reduce_partials<T, T>(gw_parts, g.O * K, gw);
  reduce_partials<T, T>(gb_parts, g.O, gb);
}

// ---- one input channel: direct loops ---------------------------------------------------

template <class T>
void forward_direct_c1(const T* x, const T* w, const T* b, T* y, const G& g, bool relu) {
  std::vector<Span> spans(g.kw);
  for (int64_t j = 0; j < g.kw; ++j) spans[j] = valid_columns(g, j);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      const T* xn = x + n * g.H * g.W;
      for (int64_t o = 0; o < g.O; ++o) {
        T* yr = y + ((n * g.O + o) * g.Ho + oh) * g.Wo;
        std::fill(yr, yr + g.Wo, b ? b[o] : T(0));
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = oh * g.stride_h - g.pad_h + i;
          if (ih < 0 || ih >= g.H) continue;
          const T* xr = xn + ih * g.W;
          for (int64_t j = 0; j < g.kw; ++j) {
            const T wv = w[(o * g.kh + i) * g.kw + j];
            const T* xs = xr + (j - g.pad_w);
            const Span s = spans[j];
            if (g.stride_w == 1) {
#pragma omp simd
              for (int64_t ow = s.lo; ow < s.hi; ++ow) yr[ow] += wv * xs[ow];
            } else {
              for (int64_t ow = s.lo; ow < s.hi; ++ow) yr[ow] += wv * xs[ow * g.stride_w];
            }
          }
        }
        if (relu) relu_in_place(yr, g.Wo);
      }
    }
}

template <class T>
void backward_weight_direct_c1(const T* gy, const T* x, T* gw, T* gb, const G& g) {
  const int64_t K = g.kh * g.kw;
  std::vector<Span> spans(g.kw);
  for (int64_t j = 0; j < g.kw; ++j) spans[j] = valid_columns(g, j);
  // Row dot products in T, accumulated across rows in double.
  const int nt_max = omp_get_max_threads();
  std::vector<double> partial(static_cast<size_t>(nt_max) * (g.O * K + g.O), 0.0);
  std::vector<const double*> gw_parts(nt_max, nullptr), gb_parts(nt_max, nullptr);
#pragma omp parallel
  {
    const int tid = omp_get_thread_num();
    double* pgw = partial.data() + tid * (g.O * K + g.O);
    double* pgb = pgw + g.O * K;
    gw_parts[tid] = pgw;
    gb_parts[tid] = pgb;
#pragma omp for collapse(2) schedule(static)
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        const T* xn = gw ? x + n * g.H * g.W : nullptr;
        for (int64_t o = 0; o < g.O; ++o) {
          const T* gr = gy + ((n * g.O + o) * g.Ho + oh) * g.Wo;
          if (gb) {
            T s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t ow = 0; ow < g.Wo; ++ow) s += gr[ow];
            pgb[o] += s;
          }
          if (!gw) continue;
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t ih = oh * g.stride_h - g.pad_h + i;
            if (ih < 0 || ih >= g.H) continue;
            const T* xr = xn + ih * g.W;
            for (int64_t j = 0; j < g.kw; ++j) {
              const T* xs = xr + (j - g.pad_w);
              const Span sp = spans[j];
              T s = 0;
              if (g.stride_w == 1) {
#pragma omp simd reduction(+ : s)
                for (int64_t ow = sp.lo; ow < sp.hi; ++ow) s += gr[ow] * xs[ow];
              } else {
                for (int64_t ow = sp.lo; ow < sp.hi; ++ow) s += gr[ow] * xs[ow * g.stride_w];
              }
              pgw[(o * g.kh + i) * g.kw + j] += s;
            }
          }
        }
      }
  }
  reduce_partials<T, double>(gw_parts, g.O * K, gw);
  reduce_partials<T, double>(gb_parts, g.O, gb);
}

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
T* mut_ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// gy * (relu_y > 0) when relu_y is defined (conv2d_relu's backward), else gy itself: the
// product with the 0/1 step mask, as relu's backward computes it (ops/elementwise.cpp), in
// a tensor of the CPU allocator's alignment (Eigen's sums over its rows then run as they
// would over any other gradient tensor).
Tensor relu_masked(const Tensor& gy, const Tensor& relu_y) {
  if (!relu_y.defined()) return gy;
  Tensor out = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
  dispatch_floating(gy.dtype(), "conv2d_relu backward", [&]<class T>() {
    const T *g = gy.data<T>(), *y = relu_y.data<T>();
    T* o = out.data<T>();
    parallel_range(gy.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) o[i] = g[i] * (y[i] > T(0) ? T(1) : T(0));
    });
  });
  return out;
}

}  // namespace

// ---- public kernels ----------------------------------------------------------------------

void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                    const Conv2dShape& shape, bool relu) {
  const G g(shape);
  dispatch_floating(x.dtype(), "conv2d_forward", [&]<class T>() {
    if (g.C == 1)
      forward_direct_c1(x.data<T>(), weight.data<T>(), ptr_or_null<T>(bias), y.data<T>(), g, relu);
    else
      forward_gemm(x.data<T>(), weight.data<T>(), ptr_or_null<T>(bias), y.data<T>(), g, relu);
  });
}

void conv2d_backward_input(const Tensor& gy, const Tensor& relu_y, const Tensor& weight,
                           const Tensor& gx, const Conv2dShape& shape) {
  const G g(shape);
  const Tensor dy = relu_masked(gy, relu_y);
  dispatch_floating(dy.dtype(), "conv2d_backward_input", [&]<class T>() {
    backward_input_gemm(dy.data<T>(), weight.data<T>(), gx.data<T>(), g);
  });
}

void conv2d_backward_weight(const Tensor& gy, const Tensor& relu_y, const Tensor& x,
                            const Tensor& gw, const Tensor& gb, const Conv2dShape& shape) {
  if (!gw.defined() && !gb.defined()) return;
  const G g(shape);
  const Tensor dy = relu_masked(gy, relu_y);
  dispatch_floating(dy.dtype(), "conv2d_backward_weight", [&]<class T>() {
    if (g.C == 1)
      backward_weight_direct_c1(dy.data<T>(), ptr_or_null<T>(x), mut_ptr_or_null<T>(gw),
                                mut_ptr_or_null<T>(gb), g);
    else
      backward_weight_gemm(dy.data<T>(), ptr_or_null<T>(x), mut_ptr_or_null<T>(gw),
                           mut_ptr_or_null<T>(gb), g);
  });
}

}  // namespace melgrad::cpu
