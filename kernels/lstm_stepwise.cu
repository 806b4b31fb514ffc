// The step-wise LSTM fallback: one launch per step, for sizes the persistent kernel cannot
// hold on chip (e.g. hidden 600). Each launch is a tiled product of the running sequences'
// previous state with W_hh, read from global memory (it stays in L2 across steps), with the
// gate and cell update fused into the epilogue, so a step is one launch, not GEMM + gate
// kernel.
//   forward step s:   rec[n, g, j] = sum_k h_prev[n, k] W_hh[g*H + j, k]      (h_prev = output
//                     at the sequence's previous step), then cell_forward; c_{t-1} is read
//                     back from `cells`.
//   backward step s:  rec[n, j] = sum_r grad_gates[n, next step, r] W_hh[r, j], then
//                     cell_backward; dc is carried between launches in the workspace
//                     [D, N, H]. Steps run T-1 .. -1 (-1: gradients of the initial state).
// A block computes a tile of kTileN sequences x kTileU units (x 4 gates in the forward),
// one (sequence, unit) per thread, over k in chunks of kTileK through shared memory. Blocks
// whose sequences have all finished leave at once. The host launches every step 0..T-1:
// the lengths live on the device.
#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"
#include "kernels/lstm_device.cuh"

namespace melgrad::kernels::lstm_detail {
namespace {

constexpr int kTileN = 32;  // sequences per block (threadIdx % kTileN: conflict-free reads)
constexpr int kTileU = 8;   // hidden units per block
constexpr int kTileK = 32;  // reduction chunk
constexpr int kThreads = kTileN * kTileU;

// This thread's place in the step grid: the block's tile starts at sequence n0 and unit j0
// (blockIdx.y, blockIdx.x); thread tid holds sequence n = n0 + nl and unit j = j0 + u.
struct TileCell {
  int n0, j0, tid, nl, u, n, j;
};
__device__ __forceinline__ TileCell tile_cell_of_thread() {
  const int n0 = static_cast<int>(blockIdx.y) * kTileN, j0 = static_cast<int>(blockIdx.x) * kTileU;
  const int tid = static_cast<int>(threadIdx.x), nl = tid % kTileN, u = tid / kTileN;
  return {n0, j0, tid, nl, u, n0 + nl, j0 + u};
}

// What stage_sequence_tile reads: direction d's `width` columns of src [N, T, D, width] at the
// sequences' steps (lengths, and whether direction d runs backwards in time).
struct SequenceRows {
  const float* src;
  const int64_t* lengths;
  int N, T, D, width, d;
  bool rev;
};

// Stages the block's kTileN sequences (n0 + r) into tile[r][kk]: column c0 + kk of rows.src at
// the sequence's step `read_step`, or 0 where the sequence is not running at step `live_step`
// or the index is past N or width. Every thread (tid) calls it. It takes the values it needs,
// not the kernel's argument struct by reference (that would copy the arguments to local memory).
__device__ __forceinline__ void stage_sequence_tile(float (&tile)[kTileN][kTileK + 1],
                                                    SequenceRows rows, int tid, int n0, int c0,
                                                    int live_step, int read_step) {
  const int width = rows.width, d = rows.d;
  for (int i = tid; i < kTileN * kTileK; i += kThreads) {
    const int r = i / kTileK, kk = i % kTileK, nn = n0 + r, col = c0 + kk;
    float v = 0.0f;
    if (nn < rows.N && col < width) {
      const int ln = clamped_length(rows.lengths, nn, rows.T);
      if (live_step < ln) {
        const int64_t row = static_cast<int64_t>(nn) * rows.T + time_of(read_step, ln, rows.rev);
        v = rows.src[row * rows.D * width + static_cast<int64_t>(d) * width + col];
      }
    }
    tile[r][kk] = v;
  }
}

__global__ void __launch_bounds__(kThreads) lstm_step_forward(ForwardArgs a, int s) {
  MG_SHARED_2D(float, h_t, kTileN, kTileK + 1);      // [sequence][k]
  MG_SHARED_2D(float, w_t, 4 * kTileU, kTileK + 1);  // [gate*kTileU + unit][k]
  const int N = a.N, T = a.T, H = a.H, d = static_cast<int>(blockIdx.z);
  const auto [n0, j0, tid, nl, u, n, j] = tile_cell_of_thread();
  const bool rev = a.reverse[d] != 0;
  const int len = n < N ? clamped_length(a.lengths, n, T) : 0;
  const bool active = n < N && j < H && s < len;
  if (!__syncthreads_or(active)) return;  // the whole block leaves together

  float rec[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  if (s > 0) {
    const float* w = a.w_hh[d];
    for (int k0 = 0; k0 < H; k0 += kTileK) {
      stage_sequence_tile(h_t, {a.output, a.lengths, N, T, a.D, H, d, rev}, tid, n0, k0, s, s - 1);
      for (int i = tid; i < 4 * kTileU * kTileK; i += kThreads) {
        const int r = i / kTileK, kk = i % kTileK, g = r / kTileU, jj = j0 + r % kTileU;
        const int k = k0 + kk;
        w_t[r][kk] = jj < H && k < H ? w[static_cast<int64_t>(g * H + jj) * H + k] : 0.0f;
      }
      __syncthreads();
      for (int kk = 0; kk < kTileK; ++kk) {
        const float hv = h_t[nl][kk];
        for (int g = 0; g < 4; ++g) rec[g] += hv * w_t[g * kTileU + u][kk];
      }
      __syncthreads();
    }
  }
  if (active) {
    float c = 0.0f;
    if (s > 0) {
      const int64_t prev = static_cast<int64_t>(n) * T + time_of(s - 1, len, rev);
      c = a.cells[prev * a.D * H + static_cast<int64_t>(d) * H + j];
    }
    cell_forward(a, d, n, j, s, len, rec, c);
  }
}

__global__ void __launch_bounds__(kThreads)
    lstm_step_backward(BackwardArgs a, float* dc_carry, int s) {
  MG_SHARED_2D(float, g_t, kTileN, kTileK + 1);  // [sequence][gate row r]
  MG_SHARED_2D(float, w_t, kTileK, kTileU + 1);  // [gate row r][unit]
  const int N = a.N, T = a.T, H = a.H, G = 4 * H, d = static_cast<int>(blockIdx.z);
  const auto [n0, j0, tid, nl, u, n, j] = tile_cell_of_thread();
  const bool rev = a.reverse[d] != 0;
  const int len = n < N ? clamped_length(a.lengths, n, T) : 0;
  const bool active = n < N && j < H && s < len;
  const bool has_next = s + 1 < len;
  if (!__syncthreads_or(active)) return;

  float rec = 0.0f;
  if (__syncthreads_or(active && has_next)) {
    const float* w = a.w_hh[d];
    for (int r0 = 0; r0 < G; r0 += kTileK) {
      stage_sequence_tile(g_t, {a.grad_gates, a.lengths, N, T, a.D, G, d, rev}, tid, n0, r0, s + 1,
                          s + 1);
      for (int i = tid; i < kTileK * kTileU; i += kThreads) {
        const int kk = i / kTileU, uu = i % kTileU, gr = r0 + kk, jj = j0 + uu;
        w_t[kk][uu] = gr < G && jj < H ? w[static_cast<int64_t>(gr) * H + jj] : 0.0f;
      }
      __syncthreads();
      for (int kk = 0; kk < kTileK; ++kk) rec += g_t[nl][kk] * w_t[kk][u];
      __syncthreads();
    }
  }
  if (active) {
    float* dc = dc_carry + (static_cast<int64_t>(d) * N + n) * H + j;
    float carried = has_next ? *dc : 0.0f;
    cell_backward(a, d, n, j, s, len, has_next, rec, carried);
    *dc = carried;
  }
}

dim3 step_grid(int64_t N, int64_t H, int D) {
  return dim3(static_cast<unsigned>(ceil_div(H, kTileU)),
              static_cast<unsigned>(ceil_div(N, kTileN)), static_cast<unsigned>(D));
}

}  // namespace

void stepwise_forward(const LstmForwardParams& p, Stream stream) {
  const ForwardArgs a = forward_args(p);
  const dim3 grid = step_grid(p.dims.batch, p.dims.hidden, p.dims.directions);
  for (int s = 0; s < a.T; ++s) {
    MG_LAUNCH(lstm_step_forward, grid, kThreads, 0, stream)(a, s);
    MG_CHECK_LAUNCH("lstm_forward (step-wise)");
  }
}

void stepwise_backward(const LstmBackwardParams& p, Stream stream) {
  const BackwardArgs a = backward_args(p);
  const dim3 grid = step_grid(p.dims.batch, p.dims.hidden, p.dims.directions);
  float* dc = static_cast<float*>(p.workspace);
  for (int s = a.T - 1; s >= -1; --s) {
    MG_LAUNCH(lstm_step_backward, grid, kThreads, 0, stream)(a, dc, s);
    MG_CHECK_LAUNCH("lstm_backward (step-wise)");
  }
}

}  // namespace melgrad::kernels::lstm_detail
