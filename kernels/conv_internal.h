// Host helpers shared by the convolution launchers (conv.cu, conv_backward.cu, the cuDNN
// path): shape validation with messages naming the launcher and field, and the choice of
// the melgrad kernel. Internal to kernels/.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "kernels/conv.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels::conv_detail {

inline std::string dims(int64_t a, int64_t b) {
  return std::to_string(a) + "x" + std::to_string(b);
}

// Throws std::invalid_argument unless s is a valid convolution whose tensors each hold
// fewer than 2^31 elements (the kernels index with 32-bit integers). Returns false when
// there is nothing to compute (N == 0).
inline bool validate_shape(const char* fn, const Conv2dShape& s) {
  require_non_negative(fn, "shape.N", s.N);
  for (auto [name, v] : {std::pair{"shape.C", s.C},
                         {"shape.H", s.H},
                         {"shape.W", s.W},
                         {"shape.O", s.O},
                         {"shape.kh", s.kh},
                         {"shape.kw", s.kw},
                         {"shape.stride_h", s.stride_h},
                         {"shape.stride_w", s.stride_w}}) {
    if (v < 1)
      invalid_params(fn, std::string(name) + " must be >= 1 (got " + std::to_string(v) + ")");
  }
  require_non_negative(fn, "shape.pad_h", s.pad_h);
  require_non_negative(fn, "shape.pad_w", s.pad_w);
  if (s.kh > s.H + 2 * s.pad_h || s.kw > s.W + 2 * s.pad_w) {
    invalid_params(fn, "kernel " + dims(s.kh, s.kw) + " is larger than the padded input " +
                           dims(s.H + 2 * s.pad_h, s.W + 2 * s.pad_w));
  }
  const int64_t limit = int64_t{1} << 31;
  const int64_t x = s.N * s.C * s.H * s.W, y = s.N * s.O * s.out_h() * s.out_w(),
                w = s.O * s.C * s.kh * s.kw;
  if (s.C * s.H * s.W >= limit || s.O * s.out_h() * s.out_w() >= limit || x >= limit ||
      y >= limit || w >= limit) {
    invalid_params(fn, "tensors of 2^31 elements or more are not supported (x " +
                           std::to_string(x) + ", y " + std::to_string(y) + ", weight " +
                           std::to_string(w) + " elements)");
  }
  return s.N > 0;
}

inline bool first_layer_fits(const Conv2dShape& s) {
  return s.C == 1 && s.O <= kConvFirstLayerMaxO;
}

// The melgrad kernel for `requested`; throws when a forced kernel does not fit the shape.
inline ConvAlgo choose_algo(const char* fn, ConvAlgo requested, const Conv2dShape& s,
                            bool has_first_layer_kernel) {
  switch (requested) {
    case ConvAlgo::automatic:
      if (has_first_layer_kernel && first_layer_fits(s)) return ConvAlgo::first_layer;
      return s.is_3x3_s1_p1() ? ConvAlgo::implicit_gemm_3x3 : ConvAlgo::implicit_gemm;
    case ConvAlgo::implicit_gemm:
      return requested;
    case ConvAlgo::implicit_gemm_3x3:
      if (!s.is_3x3_s1_p1()) {
        invalid_params(fn, "algo implicit_gemm_3x3 needs a 3x3 kernel, stride 1, padding 1 (got " +
                               dims(s.kh, s.kw) + ", stride " + dims(s.stride_h, s.stride_w) +
                               ", padding " + dims(s.pad_h, s.pad_w) + ")");
      }
      return requested;
    case ConvAlgo::first_layer:
      if (!has_first_layer_kernel) invalid_params(fn, "has no first_layer kernel");
      if (!first_layer_fits(s)) {
        invalid_params(
            fn, "algo first_layer needs C == 1 and O <= " + std::to_string(kConvFirstLayerMaxO) +
                    " (got C " + std::to_string(s.C) + ", O " + std::to_string(s.O) + ")");
      }
      return requested;
  }
  invalid_params(fn, "unknown algo " + std::to_string(static_cast<int>(requested)));
}

}  // namespace melgrad::kernels::conv_detail
