// Convolution backward passes (kernels/conv.h), dy [N, O, Ho, Wo]:
//   backward-data    dx [N, C, H, W] = implicit GEMM C[C, N*H*W] = W^T[C, O kh kw] x G,
//                    G[(o, i, j), (n, h, w)] = dy[n, o, (h + ph - i) / sh, (w + pw - j) / sw]
//                    where the division is exact and in range (else 0): gathered, never stored.
//   backward-filter  [dweight | dbias] = implicit GEMM C[O, C kh kw + 1] =
//                    dy[O, N*Ho*Wo] x [im2col(x)^T | 1]: K = N*Ho*Wo is long, so K is split
//                    over grid.z, each split writes its partial tile to the workspace
//                    [splits, O, cols] and reduce_splits adds them in split order (the
//                    result does not depend on the schedule).
//   first_layer_backward_filter: C == 1, kh kw <= 9: each block sums dy x taps for OG
//                    channels over a slice of pixels in registers, reduces them over the
//                    block (a shared-memory tree), and writes one partial row per slice (then
//                    reduce_splits).
// With relu_y set, dy is read as dy * (relu_y > 0) everywhere (the fused ReLU's backward).
// clang-format off: the CUDA / emulator shim comes first
#include "kernels/emu/cuda_compat.h"
// clang-format on
#include <algorithm>

#include "kernels/block_reduce.cuh"
#include "kernels/conv.h"
#include "kernels/conv_igemm.cuh"
#include "kernels/conv_internal.h"
#include "kernels/cudnn_layers.h"
#include "kernels/launch_checks.h"

namespace melgrad::kernels {
namespace conv_detail {
namespace {

__device__ inline float masked(const float* dy, const float* relu_y, int64_t i) {
  return relu_y == nullptr || relu_y[i] > 0.0f ? dy[i] : 0.0f;
}

// dx[n, c, h, w] = sum over (o, i, j) of weight[o, c, i, j] dy[n, o, oh, ow].
template <class Win>
struct BackwardDataProblem {
  const float* dy;
  const float* relu_y;
  const float* w;
  float* dx;
  int C, H, W, O, Ho, Wo;
  Win win;
  int M, N, K;
  static constexpr bool kAKFastest = true;  // weight[o, c, i, j]: contiguous in (i, j)
  static constexpr bool kBKFastest = false;
  static constexpr bool kSharedK = false;

  struct Row {
    int c;  // -1: invalid
  };
  __device__ Row row(int m) const { return {m < M ? m : -1}; }
  __device__ float a(const Row& r, int k) const {
    if (r.c < 0) return 0.0f;
    const int taps = win.kh * win.kw, o = k / taps;
    return w[(o * C + r.c) * taps + (k - o * taps)];
  }

  struct Col {
    int64_t img;  // offset of image n in dy; -1: invalid
    int th0, tw0;
  };
  __device__ Col col(int n) const {
    if (n >= N) return {-1, 0, 0};
    const int hw = H * W, img = n / hw, rem = n - img * hw, h = rem / W, x = rem - h * W;
    return {static_cast<int64_t>(img) * O * Ho * Wo, h + win.ph, x + win.pw};
  }
  __device__ float b(int k, const Col& c) const {
    const int taps = win.kh * win.kw, o = k / taps, r = k - o * taps, i = r / win.kw,
              j = r - i * win.kw;
    const int th = c.th0 - i, tw = c.tw0 - j;
    if (c.img < 0 || th < 0 || tw < 0) return 0.0f;
    const int oh = th / win.sh, ow = tw / win.sw;
    if (oh * win.sh != th || ow * win.sw != tw || oh >= Ho || ow >= Wo) return 0.0f;
    return masked(dy, relu_y, c.img + (o * Ho + oh) * Wo + ow);
  }
  __device__ void store(int m, int n, float v, int /*split*/) const {
    const int hw = H * W, img = n / hw;
    dx[(static_cast<int64_t>(img) * C + m) * hw + (n - img * hw)] = v;
  }
};

// [dweight | dbias][o, col] = sum over pixels p = (n, oh, ow) of dy[n, o, oh, ow] B[p, col],
// B[p, (c, i, j)] = x[n, c, oh sh - ph + i, ow sw - pw + j] (0 outside), B[p, bias] = 1.
// Columns are numbered from first_col: 0 when dweight is wanted, kf (the bias column) when
// only dbias is.
template <class Win>
struct BackwardFilterProblem {
  const float* x;
  const float* dy;
  const float* relu_y;
  float* dweight;  // splits == 1: the results go straight to dweight / dbias ...
  float* dbias;
  float* partial;  // ... else to partial[split, O, N]
  int C, H, W, O, Ho, Wo, kf, first_col;
  Win win;
  int M, N, K;
  static constexpr bool kAKFastest = true;  // both operands are contiguous along pixels
  static constexpr bool kBKFastest = true;
  static constexpr bool kSharedK = true;  // pixel k = (img, oh, ow) decomposed once per tile

  struct KCtx {
    int img, rem, oh, ow;
  };
  __device__ KCtx kctx(int k) const {
    const int hw = Ho * Wo, img = k / hw, rem = k - img * hw, oh = rem / Wo;
    return {img, rem, oh, rem - oh * Wo};
  }

  struct Row {
    int o;  // -1: invalid
  };
  __device__ Row row(int m) const { return {m < M ? m : -1}; }
  __device__ float a(const Row& r, const KCtx& k) const {
    if (r.o < 0) return 0.0f;
    const int hw = Ho * Wo;
    return masked(dy, relu_y, (static_cast<int64_t>(k.img) * O + r.o) * hw + k.rem);
  }

  struct Col {
    int kind;  // 0: weight column, 1: bias column, -1: invalid
    int c_off, di, dj;
  };
  __device__ Col col(int n) const {
    const int j = n + first_col;
    if (n >= N) return {-1, 0, 0, 0};
    if (j == kf) return {1, 0, 0, 0};
    const int taps = win.kh * win.kw, c = j / taps, r = j - c * taps, i = r / win.kw;
    return {0, c * H * W, i - win.ph, r - i * win.kw - win.pw};
  }
  __device__ float b(const KCtx& k, const Col& c) const {
    if (c.kind != 0) return c.kind == 1 ? 1.0f : 0.0f;
    const int ih = k.oh * win.sh + c.di, iw = k.ow * win.sw + c.dj;
    if (ih < 0 || ih >= H || iw < 0 || iw >= W) return 0.0f;
    return x[static_cast<int64_t>(k.img) * C * H * W + c.c_off + ih * W + iw];
  }
  __device__ void store(int m, int n, float v, int split) const {
    if (partial != nullptr) {
      partial[(static_cast<int64_t>(split) * M + m) * N + n] = v;
    } else if (n + first_col < kf) {
      dweight[m * kf + n + first_col] = v;
    } else {
      dbias[m] = v;
    }
  }
};

// dweight / dbias from partial[splits, O, cols] (columns from first_col, the last is dbias
// when it is wanted), summed in split order.
__global__ void reduce_splits(const float* partial, int splits, int O, int cols, int first_col,
                              int kf, float* dweight, float* dbias) {
  const int idx = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (idx >= O * cols) return;
  float s = 0.0f;
  for (int z = 0; z < splits; ++z) s += partial[static_cast<int64_t>(z) * O * cols + idx];
  const int m = idx / cols, j = idx - m * cols + first_col;
  if (j < kf) {
    if (dweight != nullptr) dweight[m * kf + j] = s;
  } else if (dbias != nullptr) {
    dbias[m] = s;
  }
}

void launch_reduce_splits(const float* partial, int splits, int O, int cols, int first_col, int kf,
                          float* dweight, float* dbias, Stream stream) {
  const int threads = 256;
  MG_LAUNCH(reduce_splits, static_cast<unsigned>(ceil_div(int64_t{O} * cols, threads)), threads, 0,
            stream)
  (partial, splits, O, cols, first_col, kf, dweight, dbias);
}

// ---- first layer (C == 1): direct backward-filter -------------------------------------

constexpr int kFirstLayerTaps = 9;  // kh kw <= 9
constexpr int kFirstLayerOG = 4;    // channels per block: 4 x 10 accumulators per thread
constexpr int kFirstLayerThreads = 256;

struct FirstLayerFilterArgs {
  int N, H, W, O, Ho, Wo, kh, kw, sh, sw, ph, pw;
  int pixels_per_split;
};

// grid (splits, ceil(O / OG)); partial[split, O, taps + 1] (last column: dbias).
__global__ void __launch_bounds__(kFirstLayerThreads)
    first_layer_backward_filter(const float* x, const float* dy, const float* relu_y,
                                float* partial, FirstLayerFilterArgs a) {
  constexpr int kVals = kFirstLayerOG * (kFirstLayerTaps + 1);
  MG_SHARED_2D(float, sums, kVals, kFirstLayerThreads);  // 40 KB
  const int taps = a.kh * a.kw, o0 = static_cast<int>(blockIdx.y) * kFirstLayerOG;
  const int hw = a.Ho * a.Wo;
  const int64_t total = static_cast<int64_t>(a.N) * hw;
  const int64_t begin = static_cast<int64_t>(blockIdx.x) * a.pixels_per_split;
  const int64_t end = begin + a.pixels_per_split < total ? begin + a.pixels_per_split : total;
  float acc[kFirstLayerOG][kFirstLayerTaps + 1];
  MG_UNROLL
  for (int o = 0; o < kFirstLayerOG; ++o) {
    MG_UNROLL
    for (int t = 0; t <= kFirstLayerTaps; ++t) acc[o][t] = 0.0f;
  }

  for (int64_t p = begin + threadIdx.x; p < end; p += blockDim.x) {
    const int img = static_cast<int>(p / hw),
              rem = static_cast<int>(p - static_cast<int64_t>(img) * hw);
    const int oh = rem / a.Wo, ow = rem - oh * a.Wo;
    const float* xi = x + static_cast<int64_t>(img) * a.H * a.W;
    float xv[kFirstLayerTaps];
    MG_UNROLL
    for (int t = 0; t < kFirstLayerTaps; ++t) {
      const int i = t / a.kw, j = t - i * a.kw;
      const int ih = oh * a.sh - a.ph + i, iw = ow * a.sw - a.pw + j;
      xv[t] =
          t < taps && ih >= 0 && ih < a.H && iw >= 0 && iw < a.W ? __ldg(xi + ih * a.W + iw) : 0.0f;
    }
    MG_UNROLL
    for (int o = 0; o < kFirstLayerOG; ++o) {
      if (o0 + o >= a.O) break;
      const float g = masked(dy, relu_y, (static_cast<int64_t>(img) * a.O + o0 + o) * hw + rem);
      MG_UNROLL
      for (int t = 0; t < kFirstLayerTaps; ++t) acc[o][t] = fmaf(g, xv[t], acc[o][t]);
      acc[o][kFirstLayerTaps] += g;
    }
  }

  // Tree reduction of the 40 sums over the block in shared memory: 8 barriers for all of
  // them (40 warp reductions would be 200 shuffles per thread).
  const int tid = static_cast<int>(threadIdx.x);
  MG_UNROLL
  for (int o = 0; o < kFirstLayerOG; ++o) {
    MG_UNROLL
    for (int t = 0; t <= kFirstLayerTaps; ++t) sums[o * (kFirstLayerTaps + 1) + t][tid] = acc[o][t];
  }
  __syncthreads();
  for (int width = kFirstLayerThreads / 2; width > 0; width /= 2) {
    for (int i = tid; i < kVals * width; i += kFirstLayerThreads) {
      const int v = i / width, j = i - v * width;
      sums[v][j] += sums[v][j + width];
    }
    __syncthreads();
  }
  if (tid >= kVals) return;
  const int o = tid / (kFirstLayerTaps + 1), t = tid - o * (kFirstLayerTaps + 1);
  if (o0 + o >= a.O || (t >= taps && t < kFirstLayerTaps)) return;
  const int col = t == kFirstLayerTaps ? taps : t;  // the bias column follows the taps
  partial[(static_cast<int64_t>(blockIdx.x) * a.O + o0 + o) * (taps + 1) + col] = sums[tid][0];
}

bool first_layer_filter_fits(const Conv2dShape& s) {
  return first_layer_fits(s) && s.kh * s.kw <= kFirstLayerTaps;
}

// ---- split and tile choices (the workspace size depends on them) ---------------------

struct FilterPlan {
  ConvAlgo algo;
  bool small_tile;
  int splits;
  int cols;       // output columns of the GEMM / partial rows
  int first_col;  // 0, or kf when only dbias is wanted
  int64_t k;      // N Ho Wo
};

FilterPlan plan_filter(const Conv2dBackwardFilterParams& p) {
  const char* fn = "conv2d_backward_filter";
  const Conv2dShape& s = p.shape;
  FilterPlan plan{};
  plan.algo = p.algo;
  if (plan.algo == ConvAlgo::automatic) {
    plan.algo = first_layer_filter_fits(s) ? ConvAlgo::first_layer
                : s.is_3x3_s1_p1()         ? ConvAlgo::implicit_gemm_3x3
                                           : ConvAlgo::implicit_gemm;
  } else {
    plan.algo = choose_algo(fn, p.algo, s, true);
    if (plan.algo == ConvAlgo::first_layer && !first_layer_filter_fits(s)) {
      invalid_params(fn, "algo first_layer needs kh * kw <= 9 (got " + dims(s.kh, s.kw) + ")");
    }
  }
  plan.k = s.N * s.out_h() * s.out_w();
  const int64_t kf = s.C * s.kh * s.kw;
  const int64_t target_blocks = 4 * int64_t{device_sm_count()};
  if (plan.algo == ConvAlgo::first_layer) {
    plan.cols = static_cast<int>(s.kh * s.kw + 1);
    plan.first_col = 0;
    const int64_t row_blocks = ceil_div(s.O, kFirstLayerOG);
    int64_t splits = p.split_k > 0 ? p.split_k
                                   : std::min(ceil_div(target_blocks, row_blocks),
                                              ceil_div(plan.k, 8 * kFirstLayerThreads));
    plan.splits = static_cast<int>(std::clamp<int64_t>(splits, 1, std::max<int64_t>(plan.k, 1)));
    return plan;
  }
  plan.small_tile = s.O <= 16;
  plan.first_col = p.dweight != nullptr ? 0 : static_cast<int>(kf);
  plan.cols = static_cast<int>((p.dweight != nullptr ? kf : 0) + (p.dbias != nullptr ? 1 : 0));
  const int bm = plan.small_tile ? TileSmall::BM : TileLarge::BM;
  const int bn = plan.small_tile ? TileSmall::BN : TileLarge::BN;
  const int bk = TileLarge::BK;
  const int64_t tiles = ceil_div(s.O, bm) * ceil_div(plan.cols, bn);
  const int64_t max_splits = std::max<int64_t>(1, ceil_div(plan.k, 16 * bk));  // >= 16 K tiles each
  const int64_t splits =
      p.split_k > 0 ? p.split_k : std::min(ceil_div(target_blocks, tiles), max_splits);
  plan.splits = static_cast<int>(
      std::clamp<int64_t>(splits, 1, std::min<int64_t>(65535, ceil_div(plan.k, bk))));
  return plan;
}

std::size_t plan_workspace_bytes(const FilterPlan& plan, const Conv2dShape& s) {
  if (plan.algo != ConvAlgo::first_layer && plan.splits == 1) return 0;
  return sizeof(float) * static_cast<std::size_t>(plan.splits) * s.O * plan.cols;
}

template <class Tl, class Win>
void launch_filter_gemm(const Conv2dBackwardFilterParams& p, const FilterPlan& plan, Win win,
                        float* partial, Stream stream) {
  const Conv2dShape& s = p.shape;
  BackwardFilterProblem<Win> pb{p.x,
                                p.dy,
                                p.relu_y,
                                p.dweight,
                                p.dbias,
                                partial,
                                static_cast<int>(s.C),
                                static_cast<int>(s.H),
                                static_cast<int>(s.W),
                                static_cast<int>(s.O),
                                static_cast<int>(s.out_h()),
                                static_cast<int>(s.out_w()),
                                static_cast<int>(s.C * s.kh * s.kw),
                                plan.first_col,
                                win,
                                0,
                                0,
                                0};
  pb.M = pb.O;
  pb.N = plan.cols;
  pb.K = static_cast<int>(plan.k);
  const int chunk = static_cast<int>(ceil_div(ceil_div(plan.k, plan.splits), Tl::BK) * Tl::BK);
  const int splits = static_cast<int>(ceil_div(plan.k, chunk));  // rounding may leave fewer
  const dim3 grid(static_cast<unsigned>(ceil_div(pb.N, Tl::BN)),
                  static_cast<unsigned>(ceil_div(pb.M, Tl::BM)), static_cast<unsigned>(splits));
  MG_LAUNCH((igemm_kernel<Tl, BackwardFilterProblem<Win>>), grid, Tl::kThreads, 0, stream)
  (pb, chunk);
  if (partial != nullptr) {
    launch_reduce_splits(partial, splits, pb.O, pb.N, pb.first_col, pb.kf, p.dweight, p.dbias,
                         stream);
  }
}

template <class Win>
void filter_gemm(const Conv2dBackwardFilterParams& p, const FilterPlan& plan, Win win,
                 float* partial, Stream stream) {
  if (plan.small_tile) {
    launch_filter_gemm<TileSmall>(p, plan, win, partial, stream);
  } else {
    launch_filter_gemm<TileLarge>(p, plan, win, partial, stream);
  }
}

void first_layer_filter(const Conv2dBackwardFilterParams& p, const FilterPlan& plan, float* partial,
                        Stream stream) {
  const Conv2dShape& s = p.shape;
  const int per_split = static_cast<int>(ceil_div(plan.k, plan.splits));
  const int splits = static_cast<int>(ceil_div(plan.k, per_split));
  const FirstLayerFilterArgs a{static_cast<int>(s.N),
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
                               per_split};
  const dim3 grid(static_cast<unsigned>(splits),
                  static_cast<unsigned>(ceil_div(s.O, kFirstLayerOG)), 1);
  MG_LAUNCH(first_layer_backward_filter, grid, kFirstLayerThreads, 0, stream)
  (p.x, p.dy, p.relu_y, partial, a);
  launch_reduce_splits(partial, splits, a.O, plan.cols, 0, static_cast<int>(s.kh * s.kw), p.dweight,
                       p.dbias, stream);
}

template <class Tl, class Win>
void launch_data_gemm(const Conv2dBackwardDataParams& p, Win win, Stream stream) {
  const Conv2dShape& s = p.shape;
  BackwardDataProblem<Win> pb{p.dy,
                              p.relu_y,
                              p.weight,
                              p.dx,
                              static_cast<int>(s.C),
                              static_cast<int>(s.H),
                              static_cast<int>(s.W),
                              static_cast<int>(s.O),
                              static_cast<int>(s.out_h()),
                              static_cast<int>(s.out_w()),
                              win,
                              0,
                              0,
                              0};
  pb.M = pb.C;
  pb.N = static_cast<int>(s.N) * pb.H * pb.W;
  pb.K = pb.O * static_cast<int>(s.kh * s.kw);
  const dim3 grid(static_cast<unsigned>(ceil_div(pb.N, Tl::BN)),
                  static_cast<unsigned>(ceil_div(pb.M, Tl::BM)), 1);
  MG_LAUNCH((igemm_kernel<Tl, BackwardDataProblem<Win>>), grid, Tl::kThreads, 0, stream)(pb, pb.K);
}

template <class Win>
void data_gemm(const Conv2dBackwardDataParams& p, Win win, Stream stream) {
  if (p.shape.C <= 16) {
    launch_data_gemm<TileSmall>(p, win, stream);
  } else {
    launch_data_gemm<TileLarge>(p, win, stream);
  }
}

WindowRuntime runtime_window(const Conv2dShape& s) {
  return {static_cast<int>(s.kh),       static_cast<int>(s.kw),    static_cast<int>(s.stride_h),
          static_cast<int>(s.stride_w), static_cast<int>(s.pad_h), static_cast<int>(s.pad_w)};
}

}  // namespace
}  // namespace conv_detail

void conv2d_backward_data(const Conv2dBackwardDataParams& p, Stream stream) {
  using namespace conv_detail;
  const char* fn = "conv2d_backward_data";
  if (!validate_shape(fn, p.shape)) return;
  require_pointer(fn, "dy", p.dy);
  require_pointer(fn, "weight", p.weight);
  require_pointer(fn, "dx", p.dx);
  require_optional_pointer(fn, "relu_y", p.relu_y);
  if (detail::resolve_dnn_impl(fn, p.impl, default_conv_impl(), true, "") == DnnImpl::cudnn) {
    detail::cudnn_conv2d_backward_data(p, stream);
    return;
  }
  if (choose_algo(fn, p.algo, p.shape, false) == ConvAlgo::implicit_gemm_3x3) {
    data_gemm(p, Window3x3{}, stream);
  } else {
    data_gemm(p, runtime_window(p.shape), stream);
  }
  MG_CHECK_LAUNCH(fn);
}

std::size_t conv2d_backward_filter_workspace_bytes(const Conv2dBackwardFilterParams& p) {
  using namespace conv_detail;
  if (!validate_shape("conv2d_backward_filter", p.shape)) return 0;
  if (p.dweight == nullptr && p.dbias == nullptr) return 0;
  const DnnImpl impl =
      detail::resolve_dnn_impl("conv2d_backward_filter", p.impl, default_conv_impl(), true, "");
  if (impl == DnnImpl::cudnn) return 0;  // the cuDNN path keeps its own workspace
  return plan_workspace_bytes(plan_filter(p), p.shape);
}

void conv2d_backward_filter(const Conv2dBackwardFilterParams& p, Stream stream) {
  using namespace conv_detail;
  const char* fn = "conv2d_backward_filter";
  const bool nonempty = validate_shape(fn, p.shape);
  if (p.dweight == nullptr && p.dbias == nullptr) return;
  if (!nonempty) {  // an empty batch: zero gradients (reduce_splits over no splits)
    const Conv2dShape& s = p.shape;
    const int kf = static_cast<int>(s.C * s.kh * s.kw);
    launch_reduce_splits(nullptr, 0, static_cast<int>(s.O), kf + 1, 0, kf, p.dweight, p.dbias,
                         stream);
    MG_CHECK_LAUNCH(fn);
    return;
  }
  require_pointer(fn, "dy", p.dy);
  if (p.dweight != nullptr) require_pointer(fn, "x", p.x);
  require_optional_pointer(fn, "relu_y", p.relu_y);
  require_optional_pointer(fn, "dweight", p.dweight);
  require_optional_pointer(fn, "dbias", p.dbias);
  require_optional_pointer(fn, "workspace", p.workspace);
  if (detail::resolve_dnn_impl(fn, p.impl, default_conv_impl(), true, "") == DnnImpl::cudnn) {
    detail::cudnn_conv2d_backward_filter(p, stream);
    return;
  }
  const FilterPlan plan = plan_filter(p);
  const std::size_t need = plan_workspace_bytes(plan, p.shape);
  float* partial = nullptr;
  DeviceBuffer<float> owned;
  if (need > 0) {
    if (p.workspace != nullptr) {
      if (p.workspace_bytes < need) {
        invalid_params(fn, "workspace_bytes = " + std::to_string(p.workspace_bytes) +
                               " is less than the " + std::to_string(need) +
                               " bytes needed (conv2d_backward_filter_workspace_bytes)");
      }
      partial = p.workspace;
    } else {
      owned = DeviceBuffer<float>(need / sizeof(float));
      partial = owned.data();
    }
  }
  switch (plan.algo) {
    case ConvAlgo::first_layer:
      first_layer_filter(p, plan, partial, stream);
      break;
    case ConvAlgo::implicit_gemm_3x3:
      filter_gemm(p, plan, Window3x3{}, partial, stream);
      break;
    default:
      filter_gemm(p, plan, runtime_window(p.shape), partial, stream);
  }
  MG_CHECK_LAUNCH(fn);
}

}  // namespace melgrad::kernels
