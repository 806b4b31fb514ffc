// CPU references of the LSTM launchers (kernels/lstm.h), on host memory with the launchers'
// parameters: the textbook per-sequence loops, in double, one sequence and one direction
// at a time (no batching, no fusion), so a test compares the kernels with an independent
// formulation. Shapes: gates [N, T, D*4H], output and cells [N, T, D*H], states [D, N, H].
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/emu/cuda_compat.h"
#include "kernels/launch_checks.h"
#include "kernels/lstm.h"

namespace melgrad::kernels {
namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

int64_t length_of(const int64_t* lengths, int64_t n, int64_t T) {
  return std::min<int64_t>(std::max<int64_t>(lengths[n], 0), T);
}

// The time index of step s of a sequence of length len in direction `reverse`.
int64_t time_of(int64_t s, int64_t len, bool reverse) { return reverse ? len - 1 - s : s; }

}  // namespace

void lstm_forward_reference(const LstmForwardParams& p) {
  const int64_t N = p.dims.batch, T = p.dims.steps, H = p.dims.hidden, D = p.dims.directions;
  const int64_t G = 4 * H;
  for (int64_t i = 0; i < N * T * D * H; ++i) p.output[i] = 0.0f;
  std::vector<double> h(H), c(H), a(G);
  for (int64_t d = 0; d < D; ++d) {
    const float* w = p.w_hh[d];
    for (int64_t n = 0; n < N; ++n) {
      const int64_t len = length_of(p.lengths, n, T);
      std::fill(h.begin(), h.end(), 0.0);
      std::fill(c.begin(), c.end(), 0.0);
      for (int64_t s = 0; s < len; ++s) {
        const int64_t row = n * T + time_of(s, len, p.reverse[d]);
        const float* gx = p.gates_x + row * D * G + d * G;
        for (int64_t r = 0; r < G; ++r) {
          double acc = gx[r];
          for (int64_t k = 0; k < H; ++k) acc += double{w[r * H + k]} * h[k];
          a[r] = acc;
        }
        for (int64_t j = 0; j < H; ++j) {
          const double i = sigmoid(a[j]), f = sigmoid(a[H + j]), g = std::tanh(a[2 * H + j]),
                       o = sigmoid(a[3 * H + j]);
          c[j] = f * c[j] + i * g;
          h[j] = o * std::tanh(c[j]);
          p.output[row * D * H + d * H + j] = static_cast<float>(h[j]);
          p.cells[row * D * H + d * H + j] = static_cast<float>(c[j]);
          if (p.gates != nullptr) {
            float* ga = p.gates + row * D * G + d * G;
            ga[j] = static_cast<float>(i);
            ga[H + j] = static_cast<float>(f);
            ga[2 * H + j] = static_cast<float>(g);
            ga[3 * H + j] = static_cast<float>(o);
          }
        }
      }
      for (int64_t j = 0; j < H; ++j) {
        p.h_n[(d * N + n) * H + j] = static_cast<float>(h[j]);
        p.c_n[(d * N + n) * H + j] = static_cast<float>(c[j]);
      }
    }
  }
}

void lstm_backward_reference(const LstmBackwardParams& p) {
  const int64_t N = p.dims.batch, T = p.dims.steps, H = p.dims.hidden, D = p.dims.directions;
  const int64_t G = 4 * H;
  std::vector<double> dG_all(static_cast<std::size_t>(N * T * D * G), 0.0);
  std::vector<double> dh(H), dc(H), dg(G);
  for (int64_t d = 0; d < D; ++d) {
    const float* w = p.w_hh[d];
    std::vector<double> dw(static_cast<std::size_t>(G * H), 0.0), db(G, 0.0);
    for (int64_t n = 0; n < N; ++n) {
      const int64_t len = length_of(p.lengths, n, T);
      for (int64_t j = 0; j < H; ++j) {
        dh[j] = p.grad_h_n != nullptr ? p.grad_h_n[(d * N + n) * H + j] : 0.0;
        dc[j] = p.grad_c_n != nullptr ? p.grad_c_n[(d * N + n) * H + j] : 0.0;
      }
      for (int64_t s = len - 1; s >= 0; --s) {
        const int64_t row = n * T + time_of(s, len, p.reverse[d]);
        const int64_t prev = s > 0 ? n * T + time_of(s - 1, len, p.reverse[d]) : -1;
        const float* ga = p.gates + row * D * G + d * G;
        for (int64_t j = 0; j < H; ++j) {
          const double i = ga[j], f = ga[H + j], g = ga[2 * H + j], o = ga[3 * H + j];
          const double cj = p.cells[row * D * H + d * H + j];
          const double c_prev = prev >= 0 ? double{p.cells[prev * D * H + d * H + j]} : 0.0;
          const double tc = std::tanh(cj);
          const double dhj = dh[j] + p.grad_output[row * D * H + d * H + j];
          const double dcj = dc[j] + dhj * o * (1 - tc * tc);
          dg[j] = dcj * g * i * (1 - i);
          dg[H + j] = dcj * c_prev * f * (1 - f);
          dg[2 * H + j] = dcj * i * (1 - g * g);
          dg[3 * H + j] = dhj * tc * o * (1 - o);
          dc[j] = dcj * f;
        }
        for (int64_t r = 0; r < G; ++r) {
          dG_all[static_cast<std::size_t>(row * D * G + d * G + r)] = dg[r];
          db[r] += dg[r];
          if (prev >= 0) {
            for (int64_t k = 0; k < H; ++k)
              dw[r * H + k] += dg[r] * p.output[prev * D * H + d * H + k];
          }
        }
        for (int64_t k = 0; k < H; ++k) {  // dh_{s-1} = dG_s W_hh
          double acc = 0.0;
          for (int64_t r = 0; r < G; ++r) acc += dg[r] * w[r * H + k];
          dh[k] = acc;
        }
      }
      for (int64_t j = 0; j < H; ++j) {
        if (p.grad_h0 != nullptr) p.grad_h0[(d * N + n) * H + j] = static_cast<float>(dh[j]);
        if (p.grad_c0 != nullptr) p.grad_c0[(d * N + n) * H + j] = static_cast<float>(dc[j]);
      }
    }
    if (p.grad_w_hh[d] != nullptr) {
      for (int64_t i = 0; i < G * H; ++i) p.grad_w_hh[d][i] = static_cast<float>(dw[i]);
    }
    if (p.grad_bias[d] != nullptr) {
      for (int64_t r = 0; r < G; ++r) p.grad_bias[d][r] = static_cast<float>(db[r]);
    }
  }
  // Written last: grad_gates may alias gates, which the loops above read.
  for (std::size_t i = 0; i < dG_all.size(); ++i) p.grad_gates[i] = static_cast<float>(dG_all[i]);
}

}  // namespace melgrad::kernels
