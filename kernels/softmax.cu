// Softmax / log-softmax over the last dimension (x, y: [rows, cols], contiguous float32),
// forward and backward, with their CPU references. Two kernels per direction:
//   *_warp_rows:  cols <= 1024, one warp per row (8 rows per 256-thread block), reductions
//                 by warp shuffles only;
//   *_block_rows: longer rows, one block per row, reductions through block_reduce.
// Both run the same row routine over a "group" of threads (a warp or a block), three
// passes over the row: max, sum of exp(x - max), write.
#include <cmath>
#include <vector>

#include "kernels/block_reduce.cuh"
#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"
#include "kernels/softmax.h"

namespace melgrad::kernels {
namespace {

using device::BlockGroup;
using device::warp_row;

constexpr int kThreads = 256;  // warp-rows kernel: 8 rows per block
constexpr int kWarpRowsPerBlock = kThreads / device::kWarpSize;

template <bool kLog, class Group>
__device__ void softmax_row(const float* x, float* y, int64_t cols, Group g) {
  float m = -INFINITY;
  for (int64_t c = g.rank; c < cols; c += g.size()) m = device::nan_max(m, x[c]);
  m = g.reduce(m, device::MaxOp{}, -INFINITY);
  float s = 0.0f;
  for (int64_t c = g.rank; c < cols; c += g.size()) s += expf(x[c] - m);
  s = g.reduce(s, device::SumOp{}, 0.0f);
  if (kLog) {
    const float log_s = logf(s);
    for (int64_t c = g.rank; c < cols; c += g.size()) y[c] = (x[c] - m) - log_s;
  } else {
    const float inv_s = 1.0f / s;
    for (int64_t c = g.rank; c < cols; c += g.size()) y[c] = expf(x[c] - m) * inv_s;
  }
}

template <bool kLog, class Group>
__device__ void softmax_backward_row(const float* y, const float* dy, float* dx, int64_t cols,
                                     Group g) {
  float acc = 0.0f;
  for (int64_t c = g.rank; c < cols; c += g.size()) acc += kLog ? dy[c] : dy[c] * y[c];
  acc = g.reduce(acc, device::SumOp{}, 0.0f);
  for (int64_t c = g.rank; c < cols; c += g.size()) {
    dx[c] = kLog ? dy[c] - expf(y[c]) * acc : y[c] * (dy[c] - acc);
  }
}

template <bool kLog>
__global__ void __launch_bounds__(kThreads)
    softmax_forward_warp_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  const int64_t row = warp_row();
  if (row >= rows) return;  // whole warps leave together; there is no block barrier
  softmax_row<kLog>(x + row * cols, y + row * cols, cols, device::this_warp());
}

template <bool kLog>
__global__ void __launch_bounds__(1024)
    softmax_forward_block_rows(const float* x, float* y, int64_t cols) {
  const int64_t row = blockIdx.x;
  softmax_row<kLog>(x + row * cols, y + row * cols, cols,
                    BlockGroup{static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x)});
}

template <bool kLog>
__global__ void __launch_bounds__(kThreads)
    softmax_backward_warp_rows(const float* y, const float* dy, float* dx, int64_t rows,
                               int64_t cols) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int64_t o = row * cols;
  softmax_backward_row<kLog>(y + o, dy + o, dx + o, cols, device::this_warp());
}

template <bool kLog>
__global__ void __launch_bounds__(1024)
    softmax_backward_block_rows(const float* y, const float* dy, float* dx, int64_t cols) {
  const int64_t o = static_cast<int64_t>(blockIdx.x) * cols;
  softmax_backward_row<kLog>(
      y + o, dy + o, dx + o, cols,
      BlockGroup{static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x)});
}

// Threads per block for the block-rows kernels: more for long rows.
int block_rows_threads(int64_t cols) { return cols >= 8192 ? 1024 : 256; }

bool validate(const char* fn, int64_t rows, int64_t cols) {
  require_non_negative(fn, "rows", rows);
  require_non_negative(fn, "cols", cols);
  require_grid_x(fn, cols <= kSoftmaxWarpRowMaxCols ? ceil_div(rows, kWarpRowsPerBlock) : rows);
  return rows > 0 && cols > 0;
}

}  // namespace

void softmax_forward(const SoftmaxParams& p, Stream stream) {
  const char* fn = "softmax_forward";
  if (!validate(fn, p.rows, p.cols)) return;
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "y", p.y);
  if (p.cols <= kSoftmaxWarpRowMaxCols) {
    const dim3 grid(static_cast<unsigned>(ceil_div(p.rows, kWarpRowsPerBlock)));
    if (p.log) {
      MG_LAUNCH(softmax_forward_warp_rows<true>, grid, kThreads, 0, stream)
      (p.x, p.y, p.rows, p.cols);
    } else {
      MG_LAUNCH(softmax_forward_warp_rows<false>, grid, kThreads, 0, stream)
      (p.x, p.y, p.rows, p.cols);
    }
  } else {
    const dim3 grid(static_cast<unsigned>(p.rows));
    const int threads = block_rows_threads(p.cols);
    if (p.log) {
      MG_LAUNCH(softmax_forward_block_rows<true>, grid, threads, 0, stream)(p.x, p.y, p.cols);
    } else {
      MG_LAUNCH(softmax_forward_block_rows<false>, grid, threads, 0, stream)(p.x, p.y, p.cols);
    }
  }
  MG_CHECK_LAUNCH(fn);
}

void softmax_backward(const SoftmaxBackwardParams& p, Stream stream) {
  const char* fn = "softmax_backward";
  if (!validate(fn, p.rows, p.cols)) return;
  require_pointer(fn, "y", p.y);
  require_pointer(fn, "dy", p.dy);
  require_pointer(fn, "dx", p.dx);
  if (p.cols <= kSoftmaxWarpRowMaxCols) {
    const dim3 grid(static_cast<unsigned>(ceil_div(p.rows, kWarpRowsPerBlock)));
    if (p.log) {
      MG_LAUNCH(softmax_backward_warp_rows<true>, grid, kThreads, 0, stream)
      (p.y, p.dy, p.dx, p.rows, p.cols);
    } else {
      MG_LAUNCH(softmax_backward_warp_rows<false>, grid, kThreads, 0, stream)
      (p.y, p.dy, p.dx, p.rows, p.cols);
    }
  } else {
    const dim3 grid(static_cast<unsigned>(p.rows));
    const int threads = block_rows_threads(p.cols);
    if (p.log) {
      MG_LAUNCH(softmax_backward_block_rows<true>, grid, threads, 0, stream)
      (p.y, p.dy, p.dx, p.cols);
    } else {
      MG_LAUNCH(softmax_backward_block_rows<false>, grid, threads, 0, stream)
      (p.y, p.dy, p.dx, p.cols);
    }
  }
  MG_CHECK_LAUNCH(fn);
}

// ---- CPU references: double accumulation, the textbook formulas ----
void softmax_forward_reference(const SoftmaxParams& p) {
  for (int64_t r = 0; r < p.rows; ++r) {
    const float* x = p.x + r * p.cols;
    float* y = p.y + r * p.cols;
    double m = -INFINITY;
    for (int64_t c = 0; c < p.cols; ++c) m = (x[c] > m || std::isnan(x[c])) ? x[c] : m;
    double s = 0.0;
    for (int64_t c = 0; c < p.cols; ++c) s += std::exp(x[c] - m);
    for (int64_t c = 0; c < p.cols; ++c) {
      y[c] = static_cast<float>(p.log ? (x[c] - m) - std::log(s) : std::exp(x[c] - m) / s);
    }
  }
}

void softmax_backward_reference(const SoftmaxBackwardParams& p) {
  for (int64_t r = 0; r < p.rows; ++r) {
    const int64_t o = r * p.cols;
    double acc = 0.0;
    for (int64_t c = 0; c < p.cols; ++c) {
      acc += p.log ? double{p.dy[o + c]} : double{p.dy[o + c]} * p.y[o + c];
    }
    for (int64_t c = 0; c < p.cols; ++c) {
      const double y = p.y[o + c], dy = p.dy[o + c];
      p.dx[o + c] = static_cast<float>(p.log ? dy - std::exp(y) * acc : y * (dy - acc));
    }
  }
}

}  // namespace melgrad::kernels
