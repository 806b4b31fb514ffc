// Convolution forward (kernels/conv.h): x [N, C, H, W], weight [O, C, kh, kw], bias [O]
// -> y [N, O, Ho, Wo], bias and ReLU fused into the epilogue, and the implementation choice
// (MELGRAD_CONV). The CPU references of all three passes: kernels/cnn_reference.h.
//   conv_forward igemm:  C[O, N*Ho*Wo] = weight[O, C kh kw] x im2col(x), the im2col
//                        elements gathered from x as tiles are staged (conv_igemm.cuh);
//                        Window3x3 or WindowRuntime geometry, TileSmall for O <= 16.
//   first_layer_forward: C == 1: one thread per output pixel computes OG channels from
//                        the kh kw input taps (weights in shared memory); grid.y covers O.
//                        Automatic takes it while its OG kh kw weights fit CUDA's default
//                        48 KiB (up to ~27x27 for O > 8); forced, it opts in to more.
// clang-format off: the CUDA / emulator shim comes first
#include "kernels/emu/cuda_compat.h"
// clang-format on
#include <vector>

#include "kernels/conv.h"
#include "kernels/conv_igemm.cuh"
#include "kernels/conv_internal.h"
#include "kernels/cudnn_layers.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels {
namespace conv_detail {
namespace {

// y[n, o, oh, ow] = sum_k weight[o, k] x_col[k, (n, oh, ow)] + bias[o], k = (c, i, j).
template <class Win>
struct ForwardProblem {
  const float* x;
  const float* w;
  const float* bias;
  float* y;
  int C, H, W, O, Ho, Wo;
  bool relu;
  Win win;
  int M, N, K;
  static constexpr bool kAKFastest = true;   // weight rows are contiguous in k
  static constexpr bool kBKFastest = false;  // image rows are contiguous in ow
  static constexpr bool kSharedK = false;

  struct Row {
    const float* w;  // nullptr: invalid row
  };
  __device__ Row row(int m) const { return {m < M ? w + static_cast<int64_t>(m) * K : nullptr}; }
  __device__ float a(const Row& r, int k) const { return r.w != nullptr ? r.w[k] : 0.0f; }

  struct Col {
    const float* img;  // nullptr: invalid column
    int ih0, iw0;
  };
  __device__ Col col(int n) const {
    if (n >= N) return {nullptr, 0, 0};
    const int hw = Ho * Wo, img = n / hw, rem = n - img * hw, oh = rem / Wo, ow = rem - oh * Wo;
    return {x + static_cast<int64_t>(img) * C * H * W, oh * win.sh - win.ph, ow * win.sw - win.pw};
  }
  __device__ float b(int k, const Col& c) const {
    const int taps = win.kh * win.kw, ch = k / taps, r = k - ch * taps, i = r / win.kw,
              j = r - i * win.kw;
    const int ih = c.ih0 + i, iw = c.iw0 + j;
    if (c.img == nullptr || ih < 0 || ih >= H || iw < 0 || iw >= W) return 0.0f;
    return c.img[(ch * H + ih) * W + iw];
  }
  __device__ void store(int m, int n, float v, int /*split*/) const {
    const int hw = Ho * Wo, img = n / hw, rem = n - img * hw;
    if (bias != nullptr) v += bias[m];
    if (relu && v < 0.0f) v = 0.0f;  // NaN stays NaN
    y[(static_cast<int64_t>(img) * O + m) * hw + rem] = v;
  }
};

template <class Tl, class Win>
void launch_forward(const Conv2dForwardParams& p, Win win, Stream stream) {
  const Conv2dShape& s = p.shape;
  ForwardProblem<Win> pb{p.x,
                         p.weight,
                         p.bias,
                         p.y,
                         static_cast<int>(s.C),
                         static_cast<int>(s.H),
                         static_cast<int>(s.W),
                         static_cast<int>(s.O),
                         static_cast<int>(s.out_h()),
                         static_cast<int>(s.out_w()),
                         p.relu,
                         win,
                         0,
                         0,
                         0};
  pb.M = pb.O;
  pb.N = static_cast<int>(s.N) * pb.Ho * pb.Wo;
  pb.K = pb.C * static_cast<int>(s.kh * s.kw);
  const dim3 grid(static_cast<unsigned>(ceil_div(pb.N, Tl::BN)),
                  static_cast<unsigned>(ceil_div(pb.M, Tl::BM)), 1);
  MG_LAUNCH((igemm_kernel<Tl, ForwardProblem<Win>>), grid, Tl::kThreads, 0, stream)(pb, pb.K);
}

template <class Win>
void launch_forward_tiled(const Conv2dForwardParams& p, Win win, Stream stream) {
  if (p.shape.O <= 16) {
    launch_forward<TileSmall>(p, win, stream);
  } else {
    launch_forward<TileLarge>(p, win, stream);
  }
}

// ---- C == 1: direct kernel ----------------------------------------------------------------

constexpr int kFirstLayerThreads = 256;

struct FirstLayerArgs {
  int N, H, W, O, Ho, Wo, kh, kw, sh, sw, ph, pw;
  bool relu;
};

// grid (ceil(N Ho Wo / 256), ceil(O / OG)); dynamic shared memory: OG kh kw floats.
template <int OG>
__global__ void __launch_bounds__(kFirstLayerThreads)
    first_layer_forward(const float* x, const float* w, const float* bias, float* y,
                        FirstLayerArgs a) {
  MG_SHARED_DYN(float, ws);
  const int taps = a.kh * a.kw, o0 = static_cast<int>(blockIdx.y) * OG;
  for (int t = static_cast<int>(threadIdx.x); t < OG * taps; t += static_cast<int>(blockDim.x)) {
    const int o = o0 + t / taps;
    ws[t] = o < a.O ? w[o * taps + t % taps] : 0.0f;
  }
  __syncthreads();
  const int hw = a.Ho * a.Wo;
  const int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= static_cast<int64_t>(a.N) * hw) return;
  const int img = static_cast<int>(p / hw),
            rem = static_cast<int>(p - static_cast<int64_t>(img) * hw);
  const int oh = rem / a.Wo, ow = rem - oh * a.Wo;
  const float* xi = x + static_cast<int64_t>(img) * a.H * a.W;
  float acc[OG];
  MG_UNROLL
  for (int o = 0; o < OG; ++o) acc[o] = 0.0f;
  for (int i = 0; i < a.kh; ++i) {
    const int ih = oh * a.sh - a.ph + i;
    if (ih < 0 || ih >= a.H) continue;
    for (int j = 0; j < a.kw; ++j) {
      const int iw = ow * a.sw - a.pw + j;
      if (iw < 0 || iw >= a.W) continue;
      const float v = __ldg(xi + ih * a.W + iw);
      MG_UNROLL
      for (int o = 0; o < OG; ++o) acc[o] = fmaf(ws[o * taps + i * a.kw + j], v, acc[o]);
    }
  }
  MG_UNROLL
  for (int o = 0; o < OG; ++o) {
    if (o0 + o >= a.O) break;
    float v = acc[o] + (bias != nullptr ? bias[o0 + o] : 0.0f);
    if (a.relu && v < 0.0f) v = 0.0f;
    y[(static_cast<int64_t>(img) * a.O + o0 + o) * hw + rem] = v;
  }
}

// Output channels per block: one pass over the input for up to 16 channels; 32 in two
// passes (register pressure).
int first_layer_group(int64_t O) { return O <= 4 ? 4 : O <= 8 ? 8 : 16; }

// The kernel's dynamic shared memory: the OG kh kw weights of one block.
std::size_t first_layer_smem(const Conv2dShape& s) {
  return sizeof(float) * static_cast<std::size_t>(first_layer_group(s.O) * s.kh * s.kw);
}

template <int OG>
void launch_first_layer_forward(const Conv2dForwardParams& p, const FirstLayerArgs& a,
                                Stream stream) {
  const int64_t pixels = static_cast<int64_t>(a.N) * a.Ho * a.Wo;
  require_grid_x("conv2d_forward", ceil_div(pixels, kFirstLayerThreads));
  const dim3 grid(static_cast<unsigned>(ceil_div(pixels, kFirstLayerThreads)),
                  static_cast<unsigned>(ceil_div(a.O, OG)), 1);
  const std::size_t smem = first_layer_smem(p.shape);
  if (smem > kDefaultDynamicSmem) MG_RAISE_MAX_DYNAMIC_SMEM(first_layer_forward<OG>, smem);
  MG_LAUNCH(first_layer_forward<OG>, grid, kFirstLayerThreads, smem, stream)
  (p.x, p.weight, p.bias, p.y, a);
}

void first_layer(const Conv2dForwardParams& p, Stream stream) {
  const Conv2dShape& s = p.shape;
  const FirstLayerArgs a{static_cast<int>(s.N),
                         static_cast<int>(s.H),
                         static_cast<int>(s.W),
                         static_cast<int>(s.O),
                         static_cast<int>(s.out_h()),
                         static_cast<int>(s.out_w()),
                         static_cast<int>(s.kh),
                         static_cast<int>(s.kw),
                         static_cast<int>(s.stride_h),
                         static_cast<int>(s.stride_w),
                         static_cast<int>(s.pad_h),
                         static_cast<int>(s.pad_w),
                         p.relu};
  switch (first_layer_group(s.O)) {
    case 4:
      launch_first_layer_forward<4>(p, a, stream);
      break;
    case 8:
      launch_first_layer_forward<8>(p, a, stream);
      break;
    default:
      launch_first_layer_forward<16>(p, a, stream);
  }
}

// choose_algo, and for the first-layer kernel its shared memory: automatic takes the general
// implicit GEMM (fixed-size tiles) where the weights need more than the default 48 KiB, a
// forced first_layer opts in up to the device's limit.
ConvAlgo forward_algo(const char* fn, const Conv2dForwardParams& p) {
  const ConvAlgo algo = choose_algo(fn, p.algo, p.shape, true);
  if (algo != ConvAlgo::first_layer) return algo;
  const std::size_t smem = first_layer_smem(p.shape);
  if (p.algo == ConvAlgo::automatic && smem > kDefaultDynamicSmem) return ConvAlgo::implicit_gemm;
  if (smem > device_max_dynamic_smem()) {
    invalid_params(fn, "algo first_layer needs " + std::to_string(smem) +
                           " bytes of shared memory for " +
                           std::to_string(first_layer_group(p.shape.O)) + " channels of a " +
                           dims(p.shape.kh, p.shape.kw) + " filter; the device allows " +
                           std::to_string(device_max_dynamic_smem()));
  }
  return algo;
}

}  // namespace
}  // namespace conv_detail

DnnImpl default_conv_impl() {
  static const DnnImpl impl = detail::dnn_impl_from_env("MELGRAD_CONV");
  return impl;
}

void conv2d_forward(const Conv2dForwardParams& p, Stream stream) {
  using namespace conv_detail;
  const char* fn = "conv2d_forward";
  if (!validate_shape(fn, p.shape)) return;
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "weight", p.weight);
  require_pointer(fn, "y", p.y);
  require_optional_pointer(fn, "bias", p.bias);
  if (detail::resolve_dnn_impl(fn, p.impl, default_conv_impl(), true, "") == DnnImpl::cudnn) {
    detail::cudnn_conv2d_forward(p, stream);
    return;
  }
  const Conv2dShape& s = p.shape;
  switch (forward_algo(fn, p)) {
    case ConvAlgo::first_layer:
      first_layer(p, stream);
      break;
    case ConvAlgo::implicit_gemm_3x3:
      launch_forward_tiled(p, Window3x3{}, stream);
      break;
    default:
      launch_forward_tiled(p,
                           WindowRuntime{static_cast<int>(s.kh), static_cast<int>(s.kw),
                                         static_cast<int>(s.stride_h), static_cast<int>(s.stride_w),
                                         static_cast<int>(s.pad_h), static_cast<int>(s.pad_w)},
                           stream);
  }
  MG_CHECK_LAUNCH(fn);
}

}  // namespace melgrad::kernels
