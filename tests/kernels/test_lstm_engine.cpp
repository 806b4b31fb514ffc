// The LSTM kernels (kernels/lstm.h) against the engine's CPU LSTM layer (engine/cpu/lstm.h,
// the kernel behind lstm_bidirectional_layer, itself checked against PyTorch fixtures and
// finite differences): a whole bidirectional layer from x, with the input projection
// gates_x = x W_ih^T + b_ih + b_hh and, after the backward, dx = sum_d dG_d W_ih(d) and
// dW_ih(d) = dG_d^T x done here on the host (the caller's GEMMs). Outputs, final states and
// every parameter and input gradient must agree.
// Tolerances: both sides float32 with different summation orders (Eigen GEMM blocks vs the
// kernels' per-thread sums), O(1) values, I = 10 and H = 12: 2e-5 absolute + 1e-4 relative
// for the forward, 5e-5 + 2e-4 for gradients that sum over N*T = 18 rows.
#include <doctest/doctest.h>

#include <vector>

#include "engine/cpu/lstm.h"
#include "kernels/lstm.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;
namespace cpu = melgrad::cpu;

TEST_CASE("lstm kernels reproduce the engine's CPU bidirectional layer, forward and backward") {
  const int64_t N = 3, T = 6, I = 10, H = 12, D = 2, G = 4 * H;
  const std::vector<int64_t> lengths{3, 6, 1};
  auto n_ = [](int64_t n) { return static_cast<std::size_t>(n); };
  const auto x = random_floats(n_(N * T * I), 1, -1.0f, 1.0f);
  std::vector<float> w_ih[2], w_hh[2], b_ih[2], b_hh[2];
  for (int d = 0; d < 2; ++d) {
    w_ih[d] = random_floats(n_(G * I), 10 + d, -0.4f, 0.4f);
    w_hh[d] = random_floats(n_(G * H), 20 + d, -0.4f, 0.4f);
    b_ih[d] = random_floats(n_(G), 30 + d, -0.3f, 0.3f);
    b_hh[d] = random_floats(n_(G), 40 + d, -0.3f, 0.3f);
  }
  const auto grad_output = random_floats(n_(N * T * D * H), 2, -1.0f, 1.0f);
  const auto grad_h_n = random_floats(n_(D * N * H), 3, -1.0f, 1.0f);
  const auto grad_c_n = random_floats(n_(D * N * H), 4, -1.0f, 1.0f);

  // The engine's CPU layer.
  std::vector<float> out(n_(N * T * D * H), 0.0f), h_n(n_(D * N * H)), c_n(n_(D * N * H));
  std::vector<float> gates(n_(N * T * D * G)), cells(n_(N * T * D * H));
  cpu::LstmForwardParams<float> f;
  f.dims = {N, T, I, H, D};
  f.x = x.data();
  f.lengths = lengths.data();
  for (int d = 0; d < 2; ++d) f.dir[d] = {w_ih[d].data(), w_hh[d].data(), b_ih[d].data(), b_hh[d].data(), d == 1};
  f.output = out.data();
  f.h_n = h_n.data();
  f.c_n = c_n.data();
  f.gates = gates.data();
  f.cells = cells.data();
  cpu::lstm_forward(f);
  std::vector<float> gx(n_(N * T * I)), gw_ih[2], gw_hh[2], gb[2];
  cpu::LstmBackwardParams<float> b;
  b.dims = f.dims;
  b.x = x.data();
  b.lengths = lengths.data();
  for (int d = 0; d < 2; ++d) {
    b.dir[d] = f.dir[d];
    gw_ih[d].resize(n_(G * I));
    gw_hh[d].resize(n_(G * H));
    gb[d].resize(n_(G));
    b.grad_w_ih[d] = gw_ih[d].data();
    b.grad_w_hh[d] = gw_hh[d].data();
    b.grad_b_ih[d] = gb[d].data();
  }
  b.output = out.data();
  b.gates = gates.data();
  b.cells = cells.data();
  b.grad_output = grad_output.data();
  b.grad_h_n = grad_h_n.data();
  b.grad_c_n = grad_c_n.data();
  b.grad_x = gx.data();
  cpu::lstm_backward(b);

  // The input projection, as the caller's GEMM would compute it.
  std::vector<float> gates_x(n_(N * T * D * G));
  for (int64_t m = 0; m < N * T; ++m)
    for (int64_t d = 0; d < D; ++d)
      for (int64_t r = 0; r < G; ++r) {
        double acc = double{b_ih[d][n_(r)]} + b_hh[d][n_(r)];
        for (int64_t i = 0; i < I; ++i) acc += double{x[n_(m * I + i)]} * w_ih[d][n_(r * I + i)];
        gates_x[n_(m * D * G + d * G + r)] = static_cast<float>(acc);
      }

  for (LstmAlgo algo : {LstmAlgo::persistent, LstmAlgo::stepwise}) {
    INFO(lstm_algo_name(algo));
    for_each_schedule([&] {
      DeviceBuffer<int64_t> dlen(lengths);
      DeviceBuffer<float> dgx(gates_x), dw0(w_hh[0]), dw1(w_hh[1]);
      DeviceBuffer<float> dout(out.size()), dh(h_n.size()), dc(c_n.size()), dcells(cells.size());
      LstmForwardParams p;
      p.dims = {N, T, H, static_cast<int>(D)};
      p.lengths = dlen.data();
      p.gates_x = dgx.data();
      p.w_hh[0] = dw0.data();
      p.w_hh[1] = dw1.data();
      p.output = dout.data();
      p.h_n = dh.data();
      p.c_n = dc.data();
      p.cells = dcells.data();
      p.gates = dgx.data();  // in place, as the engine would
      p.algo = algo;
      lstm_forward(p);
      check_close(dout.to_host(), out, 2e-5, 1e-4);
      check_close(dh.to_host(), h_n, 2e-5, 1e-4);
      check_close(dc.to_host(), c_n, 2e-5, 1e-4);

      DeviceBuffer<float> dgo(grad_output), dghn(grad_h_n), dgcn(grad_c_n);
      DeviceBuffer<float> dgw0(n_(G * H)), dgw1(n_(G * H)), dgb0(n_(G)), dgb1(n_(G));
      DeviceBuffer<unsigned char> ws(lstm_backward_workspace_bytes(p.dims));
      LstmBackwardParams q;
      q.dims = p.dims;
      q.lengths = dlen.data();
      q.w_hh[0] = dw0.data();
      q.w_hh[1] = dw1.data();
      q.output = dout.data();
      q.gates = dgx.data();
      q.cells = dcells.data();
      q.grad_output = dgo.data();
      q.grad_h_n = dghn.data();
      q.grad_c_n = dgcn.data();
      q.grad_gates = dgx.data();  // in place over the saved gates
      q.grad_w_hh[0] = dgw0.data();
      q.grad_w_hh[1] = dgw1.data();
      q.grad_bias[0] = dgb0.data();
      q.grad_bias[1] = dgb1.data();
      q.workspace = ws.data();
      q.algo = algo;
      lstm_backward(q);
      const std::vector<float> dG = dgx.to_host();
      check_close(dgw0.to_host(), gw_hh[0], 5e-5, 2e-4);
      check_close(dgw1.to_host(), gw_hh[1], 5e-5, 2e-4);
      check_close(dgb0.to_host(), gb[0], 5e-5, 2e-4);
      check_close(dgb1.to_host(), gb[1], 5e-5, 2e-4);
      // The caller's GEMMs: dx = sum_d dG_d W_ih(d), dW_ih(d) = dG_d^T x.
      std::vector<float> dx(n_(N * T * I)), dw_ih[2] = {std::vector<float>(n_(G * I)), std::vector<float>(n_(G * I))};
      for (int64_t m = 0; m < N * T; ++m)
        for (int64_t i = 0; i < I; ++i) {
          double acc = 0.0;
          for (int64_t d = 0; d < D; ++d)
            for (int64_t r = 0; r < G; ++r)
              acc += double{dG[n_(m * D * G + d * G + r)]} * w_ih[d][n_(r * I + i)];
          dx[n_(m * I + i)] = static_cast<float>(acc);
        }
      for (int64_t d = 0; d < D; ++d)
        for (int64_t r = 0; r < G; ++r)
          for (int64_t i = 0; i < I; ++i) {
            double acc = 0.0;
            for (int64_t m = 0; m < N * T; ++m) acc += double{dG[n_(m * D * G + d * G + r)]} * x[n_(m * I + i)];
            dw_ih[d][n_(r * I + i)] = static_cast<float>(acc);
          }
      check_close(dx, gx, 5e-5, 2e-4);
      check_close(dw_ih[0], gw_ih[0], 5e-5, 2e-4);
      check_close(dw_ih[1], gw_ih[1], 5e-5, 2e-4);
    });
  }
}
