// Row reductions along the last dimension (x: [rows, cols] → y: [rows], float32): sum, mean,
// max, min, with the CPU reference. Two kernels, as in softmax.cu:
//   reduce_warp_rows:  cols <= 1024, one warp per row, shuffle reduction only;
//   reduce_block_rows: longer rows, one block per row, warp shuffles + shared partials.
#include <cmath>
#include <string>

#include "kernels/block_reduce.cuh"
#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"
#include "kernels/reduce.h"

namespace melgrad::kernels {
namespace {

using device::BlockGroup;
constexpr int kThreads = 256;  // warp-rows kernel: 8 rows per block
constexpr int kWarpRowsPerBlock = kThreads / device::kWarpSize;

template <ReduceOp kOp, class Group>
__device__ void reduce_row(const float* x, float* y, int64_t cols, Group g) {
  float acc;
  if constexpr (kOp == ReduceOp::max) {
    acc = -INFINITY;
    for (int64_t c = g.rank; c < cols; c += g.size()) acc = device::nan_max(acc, x[c]);
    acc = g.reduce(acc, device::MaxOp{}, -INFINITY);
  } else if constexpr (kOp == ReduceOp::min) {
    acc = INFINITY;
    for (int64_t c = g.rank; c < cols; c += g.size()) acc = device::nan_min(acc, x[c]);
    acc = g.reduce(acc, device::MinOp{}, INFINITY);
  } else {
    acc = 0.0f;
    for (int64_t c = g.rank; c < cols; c += g.size()) acc += x[c];
    acc = g.reduce(acc, device::SumOp{}, 0.0f);
    if (kOp == ReduceOp::mean) acc /= static_cast<float>(cols);
  }
  if (g.rank == 0) *y = acc;
}

template <ReduceOp kOp>
__global__ void __launch_bounds__(kThreads)
    reduce_warp_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  const int64_t row = device::warp_row();
  if (row >= rows) return;  // whole warps leave together; there is no block barrier
  reduce_row<kOp>(x + row * cols, y + row, cols, device::this_warp());
}

template <ReduceOp kOp>
__global__ void __launch_bounds__(1024) reduce_block_rows(const float* x, float* y, int64_t cols) {
  const int64_t row = blockIdx.x;
  reduce_row<kOp>(x + row * cols, y + row, cols,
                  BlockGroup{static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x)});
}

template <ReduceOp kOp>
void launch(const ReduceParams& p, Stream stream) {
  if (p.cols <= kReduceWarpRowMaxCols) {
    const dim3 grid(static_cast<unsigned>(ceil_div(p.rows, kWarpRowsPerBlock)));
    MG_LAUNCH(reduce_warp_rows<kOp>, grid, kThreads, 0, stream)(p.x, p.y, p.rows, p.cols);
  } else {
    const int threads = p.cols >= 8192 ? 1024 : kThreads;
    MG_LAUNCH(reduce_block_rows<kOp>, dim3(static_cast<unsigned>(p.rows)), threads, 0, stream)
    (p.x, p.y, p.cols);
  }
}

}  // namespace

void reduce_last_dim(const ReduceParams& p, Stream stream) {
  const char* fn = "reduce_last_dim";
  require_non_negative(fn, "rows", p.rows);
  require_non_negative(fn, "cols", p.cols);
  require_grid_x(fn,
                 p.cols <= kReduceWarpRowMaxCols ? ceil_div(p.rows, kWarpRowsPerBlock) : p.rows);
  if (p.rows == 0) return;
  if (p.cols == 0 && (p.op == ReduceOp::max || p.op == ReduceOp::min)) {
    invalid_params(fn, "max/min over an empty last dimension (cols == 0)");
  }
  if (p.cols > 0) require_pointer(fn, "x", p.x);
  require_pointer(fn, "y", p.y);
  switch (p.op) {
    case ReduceOp::sum:
      launch<ReduceOp::sum>(p, stream);
      break;
    case ReduceOp::mean:
      launch<ReduceOp::mean>(p, stream);
      break;
    case ReduceOp::max:
      launch<ReduceOp::max>(p, stream);
      break;
    case ReduceOp::min:
      launch<ReduceOp::min>(p, stream);
      break;
    default:
      invalid_params(fn, "unknown op " + std::to_string(static_cast<int>(p.op)));
  }
  MG_CHECK_LAUNCH(fn);
}

float reduce_reference(const float* x, int64_t n, int64_t stride, ReduceOp op) {
  double acc = op == ReduceOp::max ? -INFINITY : op == ReduceOp::min ? INFINITY : 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i * stride];
    switch (op) {
      case ReduceOp::max:
        acc = (v > acc || std::isnan(v)) ? v : acc;
        break;
      case ReduceOp::min:
        acc = (v < acc || std::isnan(v)) ? v : acc;
        break;
      default:
        acc += v;
        break;
    }
    if (std::isnan(acc)) break;
  }
  if (op == ReduceOp::mean) acc /= static_cast<double>(n);
  return static_cast<float>(acc);
}

void reduce_last_dim_reference(const ReduceParams& p) {
  for (int64_t r = 0; r < p.rows; ++r) p.y[r] = reduce_reference(p.x + r * p.cols, p.cols, 1, p.op);
}

}  // namespace melgrad::kernels
