// The LSTM kernels (kernels/lstm.h) against the engine's CPU LSTM layer (engine/cpu/lstm.h,
// the kernel behind lstm_bidirectional_layer, itself checked against PyTorch fixtures and
// finite differences): a whole bidirectional layer from x, with the input projection
// gates_x = x W_ih^T + b_ih + b_hh and, after the backward, dx = sum_d dG_d W_ih(d) and
// dW_ih(d) = dG_d^T x done here on the host (the caller's GEMMs). Outputs, final states and
// every parameter and input gradient must agree. The same comparison runs cuDNN's RNN
// (kernels/cudnn_rnn.h) where the build has it (on a GPU); elsewhere it must refuse.
// Tolerances: both sides float32 with different summation orders (Eigen GEMM blocks vs the
// kernels' per-thread sums), O(1) values, I = 10 and H = 12: 2e-5 absolute + 1e-4 relative
// for the forward, 5e-5 + 2e-4 for gradients that sum over N*T = 18 rows.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "engine/cpu/lstm.h"
#include "kernels/cudnn_rnn.h"
#include "kernels/lstm.h"
#include "tests/kernels/kernel_test_util.h"

using namespace melgrad::kernels;
using melgrad::kernels::testing::check_close;
using melgrad::kernels::testing::for_each_schedule;
using melgrad::kernels::testing::random_floats;
namespace cpu = melgrad::cpu;

namespace {

constexpr double kForwardAtol = 2e-5, kForwardRtol = 1e-4;
constexpr double kGradAtol = 5e-5, kGradRtol = 2e-4;

std::size_t n_(int64_t n) { return static_cast<std::size_t>(n); }

// One bidirectional layer's inputs (seeded) and the engine's CPU results for them.
struct CpuLayer {
  static constexpr int64_t N = 3, T = 6, I = 10, H = 12, D = 2, G = 4 * H;
  std::vector<int64_t> lengths{3, 6, 1};
  std::vector<float> x = random_floats(n_(N * T * I), 1, -1.0f, 1.0f);
  std::vector<float> w_ih[2], w_hh[2], b_ih[2], b_hh[2];
  std::vector<float> grad_output = random_floats(n_(N * T * D * H), 2, -1.0f, 1.0f);
  std::vector<float> grad_h_n = random_floats(n_(D * N * H), 3, -1.0f, 1.0f);
  std::vector<float> grad_c_n = random_floats(n_(D * N * H), 4, -1.0f, 1.0f);
  // Results.
  std::vector<float> out = std::vector<float>(n_(N * T * D * H), 0.0f);
  std::vector<float> h_n = std::vector<float>(n_(D * N * H)), c_n = h_n;
  std::vector<float> grad_x = std::vector<float>(n_(N * T * I));
  std::vector<float> grad_w_ih[2], grad_w_hh[2], grad_b[2];

  CpuLayer() {
    for (int d = 0; d < 2; ++d) {
      w_ih[d] = random_floats(n_(G * I), 10 + d, -0.4f, 0.4f);
      w_hh[d] = random_floats(n_(G * H), 20 + d, -0.4f, 0.4f);
      b_ih[d] = random_floats(n_(G), 30 + d, -0.3f, 0.3f);
      b_hh[d] = random_floats(n_(G), 40 + d, -0.3f, 0.3f);
      grad_w_ih[d].resize(n_(G * I));
      grad_w_hh[d].resize(n_(G * H));
      grad_b[d].resize(n_(G));
    }
    std::vector<float> gates(n_(N * T * D * G)), cells(n_(N * T * D * H));
    cpu::LstmForwardParams<float> f;
    f.dims = {N, T, I, H, D};
    f.x = x.data();
    f.lengths = lengths.data();
    for (int d = 0; d < 2; ++d) {
      f.dir[d] = {w_ih[d].data(), w_hh[d].data(), b_ih[d].data(), b_hh[d].data(), d == 1};
    }
    f.output = out.data();
    f.h_n = h_n.data();
    f.c_n = c_n.data();
    f.gates = gates.data();
    f.cells = cells.data();
    cpu::lstm_forward(f);
    cpu::LstmBackwardParams<float> b;
    b.dims = f.dims;
    b.x = x.data();
    b.lengths = lengths.data();
    for (int d = 0; d < 2; ++d) {
      b.dir[d] = f.dir[d];
      b.grad_w_ih[d] = grad_w_ih[d].data();
      b.grad_w_hh[d] = grad_w_hh[d].data();
      b.grad_b_ih[d] = grad_b[d].data();
    }
    b.output = out.data();
    b.gates = gates.data();
    b.cells = cells.data();
    b.grad_output = grad_output.data();
    b.grad_h_n = grad_h_n.data();
    b.grad_c_n = grad_c_n.data();
    b.grad_x = grad_x.data();
    cpu::lstm_backward(b);
  }

  // The input projection, as the caller's GEMM would compute it: [N*T, D*4H].
  std::vector<float> gates_x() const {
    std::vector<float> g(n_(N * T * D * G));
    for (int64_t m = 0; m < N * T; ++m)
      for (int64_t d = 0; d < D; ++d)
        for (int64_t r = 0; r < G; ++r) {
          double acc = double{b_ih[d][n_(r)]} + b_hh[d][n_(r)];
          for (int64_t i = 0; i < I; ++i) acc += double{x[n_(m * I + i)]} * w_ih[d][n_(r * I + i)];
          g[n_(m * D * G + d * G + r)] = static_cast<float>(acc);
        }
    return g;
  }

  // The caller's GEMMs after the backward: dx = sum_d dG_d W_ih(d), dW_ih(d) = dG_d^T x.
  void check_input_gradients(const std::vector<float>& dG) const {
    std::vector<float> dx(n_(N * T * I));
    for (int64_t m = 0; m < N * T; ++m)
      for (int64_t i = 0; i < I; ++i) {
        double acc = 0.0;
        for (int64_t d = 0; d < D; ++d)
          for (int64_t r = 0; r < G; ++r)
            acc += double{dG[n_(m * D * G + d * G + r)]} * w_ih[d][n_(r * I + i)];
        dx[n_(m * I + i)] = static_cast<float>(acc);
      }
    check_close(dx, grad_x, kGradAtol, kGradRtol);
    for (int64_t d = 0; d < D; ++d) {
      std::vector<float> dw(n_(G * I));
      for (int64_t r = 0; r < G; ++r)
        for (int64_t i = 0; i < I; ++i) {
          double acc = 0.0;
          for (int64_t m = 0; m < N * T; ++m)
            acc += double{dG[n_(m * D * G + d * G + r)]} * x[n_(m * I + i)];
          dw[n_(r * I + i)] = static_cast<float>(acc);
        }
      check_close(dw, grad_w_ih[d], kGradAtol, kGradRtol);
    }
  }
};

// Sets MELGRAD_LSTM for a scope and restores what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

}  // namespace

TEST_CASE("lstm kernels reproduce the engine's CPU bidirectional layer, forward and backward") {
  const CpuLayer ref;
  const int64_t N = CpuLayer::N, T = CpuLayer::T, H = CpuLayer::H, G = CpuLayer::G;
  for (LstmAlgo algo : {LstmAlgo::persistent, LstmAlgo::stepwise}) {
    INFO(lstm_algo_name(algo));
    for_each_schedule([&] {
      DeviceBuffer<int64_t> dlen(ref.lengths);
      DeviceBuffer<float> dgx(ref.gates_x()), dw0(ref.w_hh[0]), dw1(ref.w_hh[1]);
      DeviceBuffer<float> dout(ref.out.size()), dh(ref.h_n.size()), dc(ref.c_n.size());
      DeviceBuffer<float> dcells(ref.out.size());
      LstmForwardParams p;
      p.dims = {N, T, H, 2};
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
      check_close(dout.to_host(), ref.out, kForwardAtol, kForwardRtol);
      check_close(dh.to_host(), ref.h_n, kForwardAtol, kForwardRtol);
      check_close(dc.to_host(), ref.c_n, kForwardAtol, kForwardRtol);

      DeviceBuffer<float> dgo(ref.grad_output), dghn(ref.grad_h_n), dgcn(ref.grad_c_n);
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
      check_close(dgw0.to_host(), ref.grad_w_hh[0], kGradAtol, kGradRtol);
      check_close(dgw1.to_host(), ref.grad_w_hh[1], kGradAtol, kGradRtol);
      check_close(dgb0.to_host(), ref.grad_b[0], kGradAtol, kGradRtol);
      check_close(dgb1.to_host(), ref.grad_b[1], kGradAtol, kGradRtol);
      ref.check_input_gradients(dgx.to_host());
    });
  }
}

// Expected per build: the emulator build (and nvcc without cuDNN) refuses to construct the
// layer with "cuDNN is not available in this build" (that is the whole check there); the
// nvcc build with cuDNN (test_kernels_cuda) runs the layer against the CPU.
TEST_CASE("cuDNN's RNN reproduces the engine's CPU bidirectional layer where the build has it") {
  const CpuLayer ref;
  const int64_t N = CpuLayer::N, T = CpuLayer::T, I = CpuLayer::I, H = CpuLayer::H, G = CpuLayer::G;
  const CudnnLstmDims dims{N, T, I, H, 2, false};
  if (!cudnn_rnn_available()) {
    CHECK_THROWS_WITH_AS(CudnnLstmLayer{dims},
                         doctest::Contains("cuDNN is not available in this build"),
                         std::runtime_error);
    return;
  }
  CudnnLstmLayer layer(dims);
  DeviceBuffer<float> w_ih[2] = {DeviceBuffer<float>(ref.w_ih[0]),
                                 DeviceBuffer<float>(ref.w_ih[1])};
  DeviceBuffer<float> w_hh[2] = {DeviceBuffer<float>(ref.w_hh[0]),
                                 DeviceBuffer<float>(ref.w_hh[1])};
  DeviceBuffer<float> b_ih[2] = {DeviceBuffer<float>(ref.b_ih[0]),
                                 DeviceBuffer<float>(ref.b_ih[1])};
  DeviceBuffer<float> b_hh[2] = {DeviceBuffer<float>(ref.b_hh[0]),
                                 DeviceBuffer<float>(ref.b_hh[1])};
  const float* wi[2] = {w_ih[0].data(), w_ih[1].data()};
  const float* wh[2] = {w_hh[0].data(), w_hh[1].data()};
  const float* bi[2] = {b_ih[0].data(), b_ih[1].data()};
  const float* bh[2] = {b_hh[0].data(), b_hh[1].data()};
  layer.set_weights(wi, wh, bi, bh);
  DeviceBuffer<float> x(ref.x), out(ref.out.size()), h_n(ref.h_n.size()), c_n(ref.c_n.size());
  layer.forward({x.data(), ref.lengths.data(), out.data(), h_n.data(), c_n.data(), true});
  check_close(out.to_host(), ref.out, kForwardAtol, kForwardRtol);
  check_close(h_n.to_host(), ref.h_n, kForwardAtol, kForwardRtol);
  check_close(c_n.to_host(), ref.c_n, kForwardAtol, kForwardRtol);

  DeviceBuffer<float> go(ref.grad_output), ghn(ref.grad_h_n), gcn(ref.grad_c_n), gx(ref.x.size());
  DeviceBuffer<float> gwi0(n_(G * I)), gwi1(n_(G * I)), gwh0(n_(G * H)), gwh1(n_(G * H));
  DeviceBuffer<float> gbi0(n_(G)), gbi1(n_(G)), gbh0(n_(G)), gbh1(n_(G));
  CudnnLstmBackwardParams b;
  b.x = x.data();
  b.output = out.data();
  b.grad_output = go.data();
  b.grad_h_n = ghn.data();
  b.grad_c_n = gcn.data();
  b.grad_x = gx.data();
  b.grad_w_ih[0] = gwi0.data();
  b.grad_w_ih[1] = gwi1.data();
  b.grad_w_hh[0] = gwh0.data();
  b.grad_w_hh[1] = gwh1.data();
  b.grad_b_ih[0] = gbi0.data();
  b.grad_b_ih[1] = gbi1.data();
  b.grad_b_hh[0] = gbh0.data();
  b.grad_b_hh[1] = gbh1.data();
  layer.backward(b);
  check_close(gx.to_host(), ref.grad_x, kGradAtol, kGradRtol);
  check_close(gwi0.to_host(), ref.grad_w_ih[0], kGradAtol, kGradRtol);
  check_close(gwi1.to_host(), ref.grad_w_ih[1], kGradAtol, kGradRtol);
  check_close(gwh0.to_host(), ref.grad_w_hh[0], kGradAtol, kGradRtol);
  check_close(gwh1.to_host(), ref.grad_w_hh[1], kGradAtol, kGradRtol);
  for (auto* g : {&gbi0, &gbh0}) check_close(g->to_host(), ref.grad_b[0], kGradAtol, kGradRtol);
  for (auto* g : {&gbi1, &gbh1}) check_close(g->to_host(), ref.grad_b[1], kGradAtol, kGradRtol);
}

TEST_CASE("MELGRAD_LSTM selects melgrad or cuDNN, and melgrad where cuDNN is missing") {
  {
    ScopedEnv env("MELGRAD_LSTM", "melgrad");
    CHECK(lstm_impl() == LstmImpl::melgrad);
  }
  {
    ScopedEnv env("MELGRAD_LSTM", "cudnn");
    CHECK(lstm_impl() == (cudnn_rnn_available() ? LstmImpl::cudnn : LstmImpl::melgrad));
  }
  {
    ScopedEnv env("MELGRAD_LSTM", "cuda");
    CHECK_THROWS_WITH_AS(lstm_impl(), "MELGRAD_LSTM='cuda': expected melgrad or cudnn",
                         std::invalid_argument);
  }
#if MELGRAD_KERNELS_EMU
  CHECK_FALSE(cudnn_rnn_available());
#endif
}
