// LSTM and BiLSTM on a padded batch of variable lengths, forward and backpropagation
// through time by hand beside autograd (docs/layers/lstm.md).
//   x [N=2, T=3, I=2], lengths {3, 2} (sequence 1 has one padded step), H = 2
//   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh  -> gates i, f, g, o (PyTorch's order)
//   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)     for t < len; padded steps change nothing
// Backward, t from len-1 down to 0, with dh, dc carried from step t+1 (zero at the end):
//   dh = G_t + dh_next;  dc = dc_next + dh o (1 - tanh^2 c_t)
//   da_o = dh tanh(c_t) o(1-o);  da_i = dc g i(1-i);  da_f = dc c_{t-1} f(1-f);  da_g = dc i
//   (1-g^2) dW_ih += da x_t^T;  dW_hh += da h_{t-1}^T;  db += da;  dx_t = W_ih^T da dh_next =
//   W_hh^T da;  dc_next = dc f
// Exit code 1 on a disagreement.
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/ops/lstm.h"
#include "engine/ops/ops.h"
#include "examples/example_print.h"

using namespace melgrad;
using examples::print_tensor;
using examples::report_agreement;

namespace {
constexpr int64_t N = 2, T = 3, I = 2, H = 2, G4 = 4 * H;
const std::vector<int64_t> kLengths{3, 2};

std::vector<double> pattern(int64_t n, double scale, int64_t phase) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = scale * static_cast<double>((i * 5 + phase) % 9 - 4);
  return v;
}
double sigmoid(double a) { return 1.0 / (1.0 + std::exp(-a)); }

struct Grads {
  std::vector<double> dx = std::vector<double>(N * T * I, 0.0);
  std::vector<double> dw_ih = std::vector<double>(G4 * I, 0.0);
  std::vector<double> dw_hh = std::vector<double>(G4 * H, 0.0);
  std::vector<double> db = std::vector<double>(G4, 0.0);
};

// One direction (forward in time), the formulas of the header as plain loops.
Grads lstm_bptt(const std::vector<double>& x, const std::vector<double>& w_ih,
                const std::vector<double>& w_hh, const std::vector<double>& b,
                const std::vector<double>& gout) {
  Grads gr;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t len = kLengths[n];
    // Forward, keeping what the backward needs: gates, c_t and h_t of every step.
    std::vector<std::array<double, G4>> gate(len);
    std::vector<std::array<double, H>> c(len + 1), h(len + 1);  // index t+1 = after step t
    c[0].fill(0.0);
    h[0].fill(0.0);
    for (int64_t t = 0; t < len; ++t) {
      for (int64_t r = 0; r < G4; ++r) {
        double a = b[r];
        for (int64_t k = 0; k < I; ++k) a += w_ih[r * I + k] * x[(n * T + t) * I + k];
        for (int64_t k = 0; k < H; ++k) a += w_hh[r * H + k] * h[t][k];
        gate[t][r] = (r / H == 2) ? std::tanh(a) : sigmoid(a);
      }
      for (int64_t j = 0; j < H; ++j) {
        c[t + 1][j] = gate[t][H + j] * c[t][j] + gate[t][j] * gate[t][2 * H + j];
        h[t + 1][j] = gate[t][3 * H + j] * std::tanh(c[t + 1][j]);
      }
    }
    std::array<double, H> dh_next{}, dc_next{};
    for (int64_t t = len - 1; t >= 0; --t) {
      std::array<double, G4> da{};
      for (int64_t j = 0; j < H; ++j) {
        const double i = gate[t][j], f = gate[t][H + j], g = gate[t][2 * H + j];
        const double o = gate[t][3 * H + j], tc = std::tanh(c[t + 1][j]);
        const double dh = gout[(n * T + t) * H + j] + dh_next[j];
        const double dc = dc_next[j] + dh * o * (1 - tc * tc);
        da[j] = dc * g * i * (1 - i);
        da[H + j] = dc * c[t][j] * f * (1 - f);
        da[2 * H + j] = dc * i * (1 - g * g);
        da[3 * H + j] = dh * tc * o * (1 - o);
        dc_next[j] = dc * f;
      }
      dh_next.fill(0.0);
      for (int64_t r = 0; r < G4; ++r) {
        gr.db[r] += da[r];
        for (int64_t k = 0; k < I; ++k) {
          gr.dw_ih[r * I + k] += da[r] * x[(n * T + t) * I + k];
          gr.dx[(n * T + t) * I + k] += w_ih[r * I + k] * da[r];
        }
        for (int64_t k = 0; k < H; ++k) {
          gr.dw_hh[r * H + k] += da[r] * h[t][k];
          dh_next[k] += w_hh[r * H + k] * da[r];
        }
      }
    }
  }
  return gr;
}
}  // namespace

int main() {
  const std::vector<double> xv = pattern(N * T * I, 0.25, 0);
  const std::vector<double> w_ih = pattern(G4 * I, 0.2, 1), w_hh = pattern(G4 * H, 0.15, 2);
  const std::vector<double> b_ih = pattern(G4, 0.05, 3), b_hh = pattern(G4, 0.05, 4);
  const std::vector<double> gv = pattern(N * T * H, 0.1, 5);  // dL/doutput
  Tensor lengths = Tensor::from_vector(kLengths, {N});
  auto param = [](const std::vector<double>& v, const Shape& s) {
    return Tensor::from_vector(v, s).requires_grad_();
  };

  // ---- one direction: autograd vs the hand-written BPTT ----------------------------
  Tensor x = param(xv, {N, T, I});
  Tensor wi = param(w_ih, {G4, I}), wh = param(w_hh, {G4, H});
  Tensor bi = param(b_ih, {G4}), bh = param(b_hh, {G4});
  auto [out, h_n, c_n] = lstm_layer(x, lengths, wi, wh, bi, bh, /*reverse=*/false);
  out.backward(Tensor::from_vector(gv, {N, T, H}));
  std::printf("== LSTM, forward direction, lengths {3, 2} ==\n");
  print_tensor("output (rows: n, t; zero at the padded step n = 1, t = 2)",
               out.reshape({N * T, H}));
  print_tensor("h_n (state after each sequence's last real step)", h_n);
  std::vector<double> b(G4);
  for (int64_t r = 0; r < G4; ++r) b[r] = b_ih[r] + b_hh[r];
  const Grads gr = lstm_bptt(xv, w_ih, w_hh, b, gv);
  print_tensor("dL/dx (the padded step gets no gradient)", x.grad().reshape({N * T, I}));
  bool ok = report_agreement("BPTT dL/dx", gr.dx, x.grad());
  ok &= report_agreement("BPTT dL/dW_ih", gr.dw_ih, wi.grad());
  ok &= report_agreement("BPTT dL/dW_hh", gr.dw_hh, wh.grad());
  ok &= report_agreement("BPTT dL/db_ih", gr.db, bi.grad());
  ok &= report_agreement("BPTT dL/db_hh (the same sum)", gr.db, bh.grad());

  // ---- both directions: the reverse one starts at each sequence's own last step -----
  LstmWeights fw{wi.detach(), wh.detach(), bi.detach(), bh.detach()};
  LstmWeights rv{param(pattern(G4 * I, 0.2, 6), {G4, I}), param(pattern(G4 * H, 0.15, 7), {G4, H}),
                 param(pattern(G4, 0.05, 8), {G4}), param(pattern(G4, 0.05, 0), {G4})};
  Tensor xb = param(xv, {N, T, I});
  auto [bi_out, bi_h, bi_c] = lstm_bidirectional_layer(xb, lengths, fw, rv);
  std::printf("== BiLSTM, lengths {3, 2} ==\n");
  print_tensor("output [N*T, 2H] (forward half | reverse half)", bi_out.reshape({N * T, 2 * H}));
  // Sequence 1 alone, cut to its 2 real steps: its reverse half must be the same numbers.
  Tensor x1 = Tensor::from_vector(
      std::vector<double>(xv.begin() + T * I, xv.begin() + T * I + 2 * I), {1, 2, I});
  auto alone = lstm_layer(x1, Tensor::from_vector(std::vector<int64_t>{2}, {1}), rv.w_ih, rv.w_hh,
                          rv.b_ih, rv.b_hh, /*reverse=*/true);
  print_tensor("reverse LSTM on sequence 1 alone (2 steps, no padding)", alone[0].reshape({2, H}));
  const std::vector<double> bv = bi_out.to_vector();
  std::vector<double> padded_rev;
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t j = 0; j < H; ++j) padded_rev.push_back(bv[((1 * T + t) * 2 * H) + H + j]);
  ok &= report_agreement("padding does not leak into the reverse direction", padded_rev,
                         alone[0].reshape({2 * H}));
  sum(bi_out * bi_out).backward();
  print_tensor("dL/dx for L = sum(output^2), sequence 1",
               xb.grad().narrow(0, 1, 1).reshape({T, I}));
  return ok ? 0 : 1;
}
