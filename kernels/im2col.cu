// im2col and col2im (see im2col.h) with their CPU references.
// im2col_kernel: one thread per col element, grid-stride; consecutive threads take
//   consecutive output columns ow, so col writes are coalesced and x reads stride by sw.
// col2im_kernel: one thread per x element; it gathers the col entries of every kernel
//   tap (i, j) whose output position (oh, ow) maps onto it, in the fixed order i, j.
#include "kernels/emu/cuda_compat.h"

#include <string>

#include "kernels/im2col.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;

// The geometry with the output sizes, passed to the kernels by value.
struct Geo {
  int64_t n, c, h, w, kh, kw, ph, pw, sh, sw, dh, dw, ho, wo;
};

Geo make_geo(const ConvGeometry& g) {
  return {g.n,     g.channels, g.height,     g.width,      g.kernel_h,   g.kernel_w, g.pad_h,
          g.pad_w, g.stride_h, g.stride_w, g.dilation_h, g.dilation_w, g.out_h(),  g.out_w()};
}

__global__ void __launch_bounds__(kThreads) im2col_kernel(const float* x, float* col, Geo g) {
  const int64_t total = g.n * g.c * g.kh * g.kw * g.ho * g.wo;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total;
       k += step) {
    int64_t r = k;
    const int64_t ow = r % g.wo;
    r /= g.wo;
    const int64_t oh = r % g.ho;
    r /= g.ho;
    const int64_t j = r % g.kw;
    r /= g.kw;
    const int64_t i = r % g.kh;
    r /= g.kh;
    const int64_t c = r % g.c, n = r / g.c;
    const int64_t ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
    const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
    col[k] = inside ? x[((n * g.c + c) * g.h + ih) * g.w + iw] : 0.0f;
  }
}

__global__ void __launch_bounds__(kThreads)
    col2im_kernel(const float* col, float* x, Geo g, int accumulate) {
  const int64_t total = g.n * g.c * g.h * g.w;
  const int64_t cols = g.ho * g.wo;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total;
       k += step) {
    const int64_t iw = k % g.w, ih = k / g.w % g.h, c = k / (g.w * g.h) % g.c;
    const int64_t n = k / (g.w * g.h * g.c);
    const float* col_n = col + n * g.c * g.kh * g.kw * cols;
    float sum = 0.0f;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t th = ih + g.ph - i * g.dh;  // oh * sh for the tap (i, j) that reads ih
      if (th < 0 || th % g.sh != 0 || th / g.sh >= g.ho) continue;
      const int64_t oh = th / g.sh;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t tw = iw + g.pw - j * g.dw;
        if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.wo) continue;
        sum += col_n[((c * g.kh + i) * g.kw + j) * cols + oh * g.wo + tw / g.sw];
      }
    }
    x[k] = accumulate ? x[k] + sum : sum;
  }
}

// Validates the geometry; returns false when there is nothing to do.
bool validate(const char* fn, const ConvGeometry& g) {
  require_non_negative(fn, "n", g.n);
  require_non_negative(fn, "channels", g.channels);
  require_non_negative(fn, "height", g.height);
  require_non_negative(fn, "width", g.width);
  require_non_negative(fn, "pad_h", g.pad_h);
  require_non_negative(fn, "pad_w", g.pad_w);
  auto positive = [&](const char* field, int64_t v) {
    if (v < 1) invalid_params(fn, std::string(field) + " must be >= 1 (got " + std::to_string(v) + ")");
  };
  positive("kernel_h", g.kernel_h);
  positive("kernel_w", g.kernel_w);
  positive("stride_h", g.stride_h);
  positive("stride_w", g.stride_w);
  positive("dilation_h", g.dilation_h);
  positive("dilation_w", g.dilation_w);
  const int64_t span_h = g.dilation_h * (g.kernel_h - 1) + 1, span_w = g.dilation_w * (g.kernel_w - 1) + 1;
  if (span_h > g.height + 2 * g.pad_h || span_w > g.width + 2 * g.pad_w) {
    invalid_params(fn, "the kernel (" + std::to_string(span_h) + " x " + std::to_string(span_w) +
                           " with dilation) is larger than the padded input (" +
                           std::to_string(g.height + 2 * g.pad_h) + " x " +
                           std::to_string(g.width + 2 * g.pad_w) + ")");
  }
  return g.n > 0 && g.channels > 0;
}

dim3 grid_for(int64_t work) {
  const int64_t cap = static_cast<int64_t>(device_sm_count()) * kBlocksPerSm;
  const int64_t blocks = ceil_div(work, kThreads);
  return dim3(static_cast<unsigned>(blocks < cap ? blocks : cap));
}

}  // namespace

void im2col(const Im2colParams& p, Stream stream) {
  const char* fn = "im2col";
  if (!validate(fn, p.g)) return;
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "col", p.col);
  MG_LAUNCH(im2col_kernel, grid_for(p.g.n * p.g.col_rows() * p.g.col_cols()), kThreads, 0, stream)(
      p.x, p.col, make_geo(p.g));
  MG_CHECK_LAUNCH(fn);
}

void col2im(const Col2imParams& p, Stream stream) {
  const char* fn = "col2im";
  if (!validate(fn, p.g)) return;
  require_pointer(fn, "col", p.col);
  require_pointer(fn, "x", p.x);
  const ConvGeometry& g = p.g;
  MG_LAUNCH(col2im_kernel, grid_for(g.n * g.channels * g.height * g.width), kThreads, 0, stream)(
      p.col, p.x, make_geo(g), p.accumulate ? 1 : 0);
  MG_CHECK_LAUNCH(fn);
}

// ---- CPU references: loops over (n, c, i, j, oh, ow); col2im scatters ----
namespace {
template <class F>
void for_each_tap(const ConvGeometry& g, F f) {
  const int64_t ho = g.out_h(), wo = g.out_w(), k_rows = g.col_rows(), cols = ho * wo;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t i = 0; i < g.kernel_h; ++i)
        for (int64_t j = 0; j < g.kernel_w; ++j)
          for (int64_t oh = 0; oh < ho; ++oh)
            for (int64_t ow = 0; ow < wo; ++ow) {
              const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
              const int64_t iw = ow * g.stride_w - g.pad_w + j * g.dilation_w;
              const int64_t col_index = (n * k_rows + (c * g.kernel_h + i) * g.kernel_w + j) * cols +
                                        oh * wo + ow;
              const bool inside = ih >= 0 && ih < g.height && iw >= 0 && iw < g.width;
              f(col_index, inside ? ((n * g.channels + c) * g.height + ih) * g.width + iw : -1);
            }
}
}  // namespace

void im2col_reference(const Im2colParams& p) {
  for_each_tap(p.g, [&](int64_t ci, int64_t xi) { p.col[ci] = xi >= 0 ? p.x[xi] : 0.0f; });
}

void col2im_reference(const Col2imParams& p) {
  const ConvGeometry& g = p.g;
  if (!p.accumulate) {
    for (int64_t k = 0; k < g.n * g.channels * g.height * g.width; ++k) p.x[k] = 0.0f;
  }
  for_each_tap(g, [&](int64_t ci, int64_t xi) {
    if (xi >= 0) p.x[xi] += p.col[ci];
  });
}

}  // namespace melgrad::kernels
