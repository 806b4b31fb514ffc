// im2col / col2im for 2-D convolution as GEMM (the general fallback of the CUDA backend's
// conv; the column layout is the engine's CPU one, engine/cpu/conv.cpp):
//   x   [N, C, H, W]  contiguous float32
//   col [N, K, L]     K = C * kh * kw (row (c, i, j) = (c * kh + i) * kw + j),
//                     L = Ho * Wo     (column oh * Wo + ow)
//   col[n][(c,i,j)][(oh,ow)] = x[n][c][oh*sh - ph + i*dh][ow*sw - pw + j*dw]  (0 outside)
//   Ho = (H + 2 ph - dh (kh - 1) - 1) / sh + 1, likewise Wo.
// A convolution is then y[n] = weight [O, K] @ col[n] (gemm with stride_a = 0), and its
// input gradient col2im(weight^T @ dy[n]). col2im is im2col's adjoint: every x element
// sums the col entries that were copied from it (a gather in a fixed order: deterministic,
// no atomics); it overwrites x, or adds to it with `accumulate`.
// Launchers validate (std::invalid_argument) and launch on `stream`; the references are
// plain loops on host memory (col2im_reference scatters, the opposite formulation).
#pragma once

#include <cstdint>

#include "kernels/runtime.h"

namespace melgrad::kernels {

struct ConvGeometry {
  int64_t n = 0, channels = 0, height = 0, width = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;

  int64_t out_h() const { return (height + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (width + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
  int64_t col_rows() const { return channels * kernel_h * kernel_w; }  // K
  int64_t col_cols() const { return out_h() * out_w(); }               // L
};

struct Im2colParams {
  const float* x = nullptr;  // [N, C, H, W]
  float* col = nullptr;      // [N, K, L]
  ConvGeometry g;
};

struct Col2imParams {
  const float* col = nullptr;  // [N, K, L]
  float* x = nullptr;          // [N, C, H, W]
  ConvGeometry g;
  bool accumulate = false;  // x += instead of x =
};

void im2col(const Im2colParams& p, Stream stream = nullptr);
void col2im(const Col2imParams& p, Stream stream = nullptr);
void im2col_reference(const Im2colParams& p);
void col2im_reference(const Col2imParams& p);

}  // namespace melgrad::kernels
