// The persistent LSTM kernels: one cooperative launch runs every step of both directions.
// Block b serves direction d = b / B and the U hidden units [j0, j0 + U) (B = ceil(H / U)
// blocks per direction) for all N sequences; it keeps its slice of W_hh in shared memory
// for the whole launch, and after each step a grid barrier makes every block's output of
// that step visible to all blocks, which read the full state back for the next step.
//
// Forward, per step s: h_s [N][H] <- output at each running sequence's previous step; for
// each (sequence n, unit u): rec_g = h_s[n] . W_hh[g*H + j0+u] for the four gates g, then
// the fused cell update (lstm_device.cuh); c stays in shared memory.
// Backward, per step s = S-1 .. -1: dg_s [N][4H] <- grad_gates at each sequence's step s+1;
// rec = dg_s[n] . W_hh[:, j0+u] (so the block keeps the W_hh columns of its units), then the
// fused BPTT step; dc stays in shared memory. Step -1 only yields grad_h0 / grad_c0.
//
// A (sequence, unit) dot product is shared by `split` adjacent lanes (strided over k) and
// reduced with warp shuffles, so a block has enough threads when N*U is small.
// Shared memory rows use an odd stride (H | 1): lanes reading different rows at the same k
// hit different banks.
#include <algorithm>
#include <string>

#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"
#include "kernels/lstm_device.cuh"

namespace melgrad::kernels {
namespace lstm_detail {
namespace {

#if MG_EMULATED
constexpr int kTargetThreads = 64;  // fewer fibers: the emulator's cost is per thread
#else
constexpr int kTargetThreads = 256;
#endif

int odd(int n) { return n | 1; }

// Reduces the four gate sums over the `split` lanes that share a dot product (every lane of
// the warp must call this: the pass loops are uniform over the block).
__device__ __forceinline__ void reduce_split(float rec[4], int split) {
  for (int m = split / 2; m > 0; m /= 2) {
    for (int g = 0; g < 4; ++g) rec[g] += __shfl_xor_sync(0xffffffffu, rec[g], m);
  }
}

// This block's share of the recurrence: direction d and hidden units [j0, j0 + nu), where
// nu < units only in a direction's last block (B = ceil(H / units) blocks a direction).
struct UnitSlice {
  int d, j0, nu;
};
__device__ __forceinline__ UnitSlice unit_slice_of_block(int H, int units) {
  const int per_dir = (H + units - 1) / units, block = static_cast<int>(blockIdx.x);
  const int j0 = (block % per_dir) * units;
  return {block / per_dir, j0, min(units, H - j0)};
}

__global__ void __launch_bounds__(1024)
    lstm_persistent_forward(ForwardArgs a, int units, int split) {
  MG_SHARED_DYN(float, smem);
  const int N = a.N, T = a.T, H = a.H, ldh = H | 1;
  const auto [d, j0, nu] = unit_slice_of_block(H, units);
  const bool rev = a.reverse[d] != 0;
  const int tid = static_cast<int>(threadIdx.x), nthreads = static_cast<int>(blockDim.x);
  float* w_s = smem;                   // [4*units][ldh]: row g*units+u = W_hh row g*H + j0+u
  float* h_s = w_s + 4 * units * ldh;  // [N][ldh]: h at each sequence's previous step
  float* c_s = h_s + N * ldh;          // [units][N]: cell state
  int* len_s = reinterpret_cast<int*>(c_s + units * N);  // [N]

  const float* w = a.w_hh[d];
  for (int i = tid; i < 4 * units * H; i += nthreads) {
    const int r = i / H, k = i % H, g = r / units, u = r % units;
    w_s[r * ldh + k] = u < nu ? w[static_cast<int64_t>(g * H + j0 + u) * H + k] : 0.0f;
  }
  for (int n = tid; n < N; n += nthreads) len_s[n] = clamped_length(a.lengths, n, T);
  for (int i = tid; i < units * N; i += nthreads) c_s[i] = 0.0f;
  __syncthreads();
  int steps = 0;
  for (int n = 0; n < N; ++n) steps = max(steps, len_s[n]);

  const int per_pass = nthreads / split, q = tid % split;
  for (int s = 0; s < steps; ++s) {
    if (s > 0) {  // h_0 = 0: step 0 has no recurrent product
      for (int i = tid; i < N * H; i += nthreads) {
        const int n = i / H, k = i % H, len = len_s[n];
        if (s < len) {
          const int64_t row = static_cast<int64_t>(n) * T + time_of(s - 1, len, rev);
          h_s[n * ldh + k] = __ldcg(a.output + row * a.D * H + static_cast<int64_t>(d) * H + k);
        }
      }
      __syncthreads();
    }
    for (int p0 = 0; p0 < N * units; p0 += per_pass) {
      const int p = p0 + tid / split, n = p % N, u = p / N;
      const bool active = p < N * units && u < nu && s < len_s[n];
      float rec[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (active && s > 0) {
        const float* hr = h_s + n * ldh;
        const float* wr = w_s + u * ldh;  // gate g's row is wr + g * units * ldh
        const int gs = units * ldh;
        for (int k = q; k < H; k += split) {
          const float hv = hr[k];
          rec[0] += hv * wr[k];
          rec[1] += hv * wr[gs + k];
          rec[2] += hv * wr[2 * gs + k];
          rec[3] += hv * wr[3 * gs + k];
        }
      }
      reduce_split(rec, split);
      if (active && q == 0) cell_forward(a, d, n, j0 + u, s, len_s[n], rec, c_s[u * N + n]);
    }
    if (s + 1 < steps) mg_grid_sync();  // this step's output, read by every block next step
  }
}

__global__ void __launch_bounds__(1024)
    lstm_persistent_backward(BackwardArgs a, int units, int split) {
  MG_SHARED_DYN(float, smem);
  const int N = a.N, T = a.T, H = a.H, G = 4 * H, ldh = H | 1, ldg = G | 1;
  const auto [d, j0, nu] = unit_slice_of_block(H, units);
  const bool rev = a.reverse[d] != 0;
  const int tid = static_cast<int>(threadIdx.x), nthreads = static_cast<int>(blockDim.x);
  float* wc_s = smem;                    // [4*units][ldh]: row g*units+u, col k = W_hh[g*H+k][j0+u]
  float* dg_s = wc_s + 4 * units * ldh;  // [N][ldg]: grad_gates at each sequence's next step
  float* dc_s = dg_s + N * ldg;          // [units][N]: dc flowing back
  int* len_s = reinterpret_cast<int*>(dc_s + units * N);  // [N]

  const float* w = a.w_hh[d];
  for (int i = tid; i < G * units; i += nthreads) {  // u fastest: coalesced reads of W_hh rows
    const int u = i % units, gk = i / units, g = gk / H, k = gk % H;
    wc_s[(g * units + u) * ldh + k] = u < nu ? w[static_cast<int64_t>(gk) * H + j0 + u] : 0.0f;
  }
  for (int n = tid; n < N; n += nthreads) len_s[n] = clamped_length(a.lengths, n, T);
  __syncthreads();
  int steps = 0;
  for (int n = 0; n < N; ++n) steps = max(steps, len_s[n]);

  const int per_pass = nthreads / split, q = tid % split;
  for (int s = steps - 1; s >= -1; --s) {
    if (s + 1 < steps) {
      for (int i = tid; i < N * G; i += nthreads) {
        const int n = i / G, r = i % G, len = len_s[n];
        if (s + 1 < len) {
          const int64_t row = static_cast<int64_t>(n) * T + time_of(s + 1, len, rev);
          dg_s[n * ldg + r] =
              __ldcg(a.grad_gates + row * a.D * G + static_cast<int64_t>(d) * G + r);
        }
      }
      __syncthreads();
    }
    for (int p0 = 0; p0 < N * units; p0 += per_pass) {
      const int p = p0 + tid / split, n = p % N, u = p / N;
      const bool active = p < N * units && u < nu && s < len_s[n];
      const bool has_next = s + 1 < len_s[n];
      float rec = 0.0f;  // (dG_{s+1} W_hh)[n, j0+u], over the four gates' rows
      if (active && has_next) {
        const float* gr = dg_s + n * ldg;
        const float* wr = wc_s + u * ldh;
        const int gs = units * ldh;
        for (int k = q; k < H; k += split) {
          rec += (gr[k] * wr[k] + gr[H + k] * wr[gs + k]) +
                 (gr[2 * H + k] * wr[2 * gs + k] + gr[3 * H + k] * wr[3 * gs + k]);
        }
      }
      for (int m = split / 2; m > 0; m /= 2) rec += __shfl_xor_sync(0xffffffffu, rec, m);
      if (active && q == 0)
        cell_backward(a, d, n, j0 + u, s, len_s[n], has_next, rec, dc_s[u * N + n]);
    }
    if (s >= 0) mg_grid_sync();  // this step's grad_gates, read by every block next step
  }
}

std::size_t forward_smem(int N, int H, int U) {
  return sizeof(float) * (static_cast<std::size_t>(4 * U + N) * odd(H) + std::size_t(U) * N) +
         sizeof(int) * N;
}
std::size_t backward_smem(int N, int H, int U) {
  return sizeof(float) *
             (std::size_t(4 * U) * odd(H) + std::size_t(N) * odd(4 * H) + std::size_t(U) * N) +
         sizeof(int) * N;
}

}  // namespace

void persistent_forward(const LstmForwardParams& p, const LstmPersistentPlan& plan, Stream s) {
  MG_LAUNCH_COOPERATIVE(lstm_persistent_forward, static_cast<unsigned>(plan.blocks),
                        static_cast<unsigned>(plan.threads), plan.smem_bytes, s)
  (forward_args(p), plan.units_per_block, plan.split);
  MG_CHECK_LAUNCH("lstm_forward (persistent)");
}

void persistent_backward(const LstmBackwardParams& p, const LstmPersistentPlan& plan, Stream s) {
  MG_LAUNCH_COOPERATIVE(lstm_persistent_backward, static_cast<unsigned>(plan.blocks),
                        static_cast<unsigned>(plan.threads), plan.smem_bytes, s)
  (backward_args(p), plan.units_per_block, plan.split);
  MG_CHECK_LAUNCH("lstm_backward (persistent)");
}

}  // namespace lstm_detail

LstmPersistentPlan lstm_persistent_plan(const LstmDims& dims, bool backward, int units_per_block) {
  using namespace lstm_detail;
  LstmPersistentPlan plan;
  const int64_t N = dims.batch, H = dims.hidden, D = dims.directions;
  if (N < 1 || H < 1 || (D != 1 && D != 2) || N > 65536 || H > 65536) {
    plan.why_not = "needs N, H in 1..65536 and D in {1, 2}";
    return plan;
  }
  const std::size_t smem_limit = device_max_dynamic_smem();
  const int sms = device_sm_count();
  const int first = units_per_block > 0
                        ? static_cast<int>(std::min<int64_t>(units_per_block, H))
                        : static_cast<int>(std::max<int64_t>(1, ceil_div(D * H, sms)));
  const int last = units_per_block > 0 ? first : static_cast<int>(H);
  for (int U = first; U <= last; ++U) {
    const int n = static_cast<int>(N), h = static_cast<int>(H);
    const std::size_t smem = backward ? backward_smem(n, h, U) : forward_smem(n, h, U);
    if (smem > smem_limit) {  // more units per block only needs more
      plan.why_not = "a block of " + std::to_string(U) + " hidden units needs " +
                     std::to_string(smem) + " bytes of shared memory (W_hh slice + one step of " +
                     std::to_string(N) + " sequences); the device allows " +
                     std::to_string(smem_limit);
      break;
    }
    const int64_t pairs = N * U;
    int split = 1;
    while (split < 32 && pairs * split * 2 <= kTargetThreads) split *= 2;
    const int64_t threads =
        std::min<int64_t>(1024, ceil_div(std::min<int64_t>(pairs, 1024 / split) * split, 32) * 32);
    const int64_t blocks = D * ceil_div(H, U);
    const int fit = backward ? MG_COOPERATIVE_MAX_BLOCKS(lstm_persistent_backward, threads, smem)
                             : MG_COOPERATIVE_MAX_BLOCKS(lstm_persistent_forward, threads, smem);
    if (blocks <= fit) {
      plan.fits = true;
      plan.why_not.clear();
      plan.units_per_block = U;
      plan.blocks = static_cast<int>(blocks);
      plan.threads = static_cast<int>(threads);
      plan.split = split;
      plan.smem_bytes = smem;
      return plan;
    }
    plan.why_not = fit == 0 ? "the device cannot run a cooperative launch of this kernel"
                            : std::to_string(blocks) + " blocks of " + std::to_string(threads) +
                                  " threads (" + std::to_string(U) +
                                  " hidden units each) do not fit co-resident (at most " +
                                  std::to_string(fit) + ")";
  }
  return plan;
}

}  // namespace melgrad::kernels
