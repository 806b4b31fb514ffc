// Google Benchmark for the LSTM (kernels/lstm.h, kernels/cudnn_rnn.h) on the study's BiLSTM:
// batch 32, input 128, hidden 100, 2 bidirectional layers, T = 40 and 1293 frames, lengths
// drawn (seeded) from 90-100 % of T. One iteration is the whole 2-layer stack:
//   melgrad (persistent | stepwise): per layer the input projection of all steps and both
//     directions as one GEMM (kernels/gemm.h; bias folded in by a k = 1 GEMM first), then
//     lstm_forward; the backward runs lstm_backward per layer (grad_gates in place over the
//     saved gates) and the two GEMMs dW_ih = dG^T x and dx = dG W_ih.
//   cudnn: two CudnnLstmLayer (cuDNN's projection and recurrence); parameters packed once
//     outside the timing, weight gradients left in cuDNN's space (as PyTorch's flat
//     weights would be).
// Arguments: T, algorithm (0 persistent, 1 stepwise, 2 cudnn), backward (0 forward only,
// 1 forward + backward). GPU only: the study's shapes would take minutes per iteration in
// the emulator, so bench_kernels_emu skips them with a message, as does a machine without
// a GPU. BM_bilstm_small (arguments: algorithm 0 | 1, backward) runs the same stack at
// batch 4, 8 steps, input 16, hidden 16 in both builds: what the stack costs emulated.
// Each iteration ends with a device synchronisation.
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cudnn_rnn.h"
#include "kernels/gemm.h"
#include "kernels/lstm.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;

namespace {

constexpr int64_t kLayers = 2, kDirs = 2;

// The stack's sizes: batch, padded steps, first layer's input width, hidden units.
struct StackShape {
  int64_t batch, T, input, hidden;
  int64_t gates() const { return 4 * hidden; }
  LstmDims dims() const { return {batch, T, hidden, static_cast<int>(kDirs)}; }
};

StackShape study_shape(int64_t T) { return {32, T, 128, 100}; }
StackShape small_shape() { return {4, 8, 16, 16}; }

std::vector<float> uniform(int64_t n, uint64_t seed, float bound) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-bound, bound);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Lengths in [T - T/10, T] (bench/peers/study_shapes.py draws the same ones).
std::vector<int64_t> study_lengths(const StackShape& s) {
  const int64_t T = s.T;
  std::mt19937_64 rng(7);
  std::vector<int64_t> len(static_cast<std::size_t>(s.batch));
  for (int64_t& l : len) l = T - static_cast<int64_t>(rng() % static_cast<uint64_t>(T / 10 + 1));
  len[0] = T;  // the batch is padded to its longest sequence
  return len;
}

std::size_t sz(int64_t n) { return static_cast<std::size_t>(n); }

// Weights, activations and gradients of one layer (both directions).
struct Layer {
  int64_t in;                                           // input width: 128, then 2H
  DeviceBuffer<float> w_ih, b_ih, b_hh, bias, w_hh[2];  // w_ih: [D*4H, in], both directions stacked
  DeviceBuffer<float> gates, output, cells, h_n, c_n;
  DeviceBuffer<float> grad_w_ih, grad_w_hh[2], grad_bias[2], grad_input;

  Layer(const StackShape& s, int64_t input, uint64_t seed) : in(input) {
    const int64_t NT = s.batch * s.T, G = s.gates(), H = s.hidden, N = s.batch;
    const float bound = 1.0f / std::sqrt(static_cast<float>(s.hidden));  // PyTorch's 1/sqrt(H)
    w_ih = DeviceBuffer<float>(uniform(kDirs * G * in, seed, bound));
    b_ih = DeviceBuffer<float>(uniform(kDirs * G, seed + 1, bound));
    b_hh = DeviceBuffer<float>(uniform(kDirs * G, seed + 2, bound));
    std::vector<float> b = uniform(kDirs * G, seed + 1, bound),
                       b2 = uniform(kDirs * G, seed + 2, bound);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] += b2[i];
    bias = DeviceBuffer<float>(b);
    for (int d = 0; d < 2; ++d) {
      w_hh[d] = DeviceBuffer<float>(uniform(G * H, seed + 3 + d, bound));
      grad_w_hh[d] = DeviceBuffer<float>(sz(G * H));
      grad_bias[d] = DeviceBuffer<float>(sz(G));
    }
    gates = DeviceBuffer<float>(sz(NT * kDirs * G));
    output = DeviceBuffer<float>(sz(NT * kDirs * H));
    cells = DeviceBuffer<float>(sz(NT * kDirs * H));
    h_n = DeviceBuffer<float>(sz(kDirs * N * H));
    c_n = DeviceBuffer<float>(sz(kDirs * N * H));
    grad_w_ih = DeviceBuffer<float>(sz(kDirs * G * in));
    grad_input = DeviceBuffer<float>(sz(NT * in));
  }
};

// The 2-layer stack through the melgrad kernels.
struct MelgradStack {
  StackShape s;
  LstmAlgo algo;
  DeviceBuffer<int64_t> lengths;
  DeviceBuffer<float> x, ones, grad_output, workspace;
  std::vector<std::unique_ptr<Layer>> layers;

  MelgradStack(const StackShape& shape, LstmAlgo a)
      : s(shape),
        algo(a),
        lengths(study_lengths(shape)),
        x(uniform(s.batch * s.T * s.input, 1, 1.0f)),
        ones(std::vector<float>(sz(s.batch * s.T), 1.0f)),
        grad_output(uniform(s.batch * s.T * kDirs * s.hidden, 2, 1.0f)),
        workspace(lstm_backward_workspace_bytes(s.dims()) / sizeof(float)) {
    for (int64_t l = 0; l < kLayers; ++l) {
      layers.push_back(
          std::make_unique<Layer>(s, l == 0 ? s.input : kDirs * s.hidden, 10 * (l + 1)));
    }
  }

  const float* input_of(int64_t l) const {
    return l == 0 ? x.data() : layers[sz(l - 1)]->output.data();
  }

  void forward() {
    const int64_t NT = s.batch * s.T, W = kDirs * s.gates();
    for (int64_t l = 0; l < kLayers; ++l) {
      Layer& L = *layers[sz(l)];
      GemmParams bias;  // gates = ones [NT, 1] . bias [1, W]
      bias.m = NT, bias.n = W, bias.k = 1;
      bias.a = ones.data(), bias.lda = 1, bias.b = L.bias.data(), bias.ldb = W;
      bias.c = L.gates.data(), bias.ldc = W;
      gemm(bias);
      GemmParams proj;  // gates += input [NT, in] . w_ih^T
      proj.trans_b = true;
      proj.m = NT, proj.n = W, proj.k = L.in, proj.beta = 1.0f;
      proj.a = input_of(l), proj.lda = L.in, proj.b = L.w_ih.data(), proj.ldb = L.in;
      proj.c = L.gates.data(), proj.ldc = W;
      gemm(proj);
      LstmForwardParams p;
      p.dims = s.dims();
      p.lengths = lengths.data();
      p.gates_x = p.gates = L.gates.data();
      p.w_hh[0] = L.w_hh[0].data();
      p.w_hh[1] = L.w_hh[1].data();
      p.output = L.output.data();
      p.h_n = L.h_n.data();
      p.c_n = L.c_n.data();
      p.cells = L.cells.data();
      p.algo = algo;
      lstm_forward(p);
    }
  }

  void backward() {
    const int64_t NT = s.batch * s.T, W = kDirs * s.gates();
    for (int64_t l = kLayers - 1; l >= 0; --l) {
      Layer& L = *layers[sz(l)];
      LstmBackwardParams p;
      p.dims = s.dims();
      p.lengths = lengths.data();
      p.w_hh[0] = L.w_hh[0].data();
      p.w_hh[1] = L.w_hh[1].data();
      p.output = L.output.data();
      p.gates = p.grad_gates = L.gates.data();
      p.cells = L.cells.data();
      p.grad_output = l == kLayers - 1 ? grad_output.data() : layers[sz(l + 1)]->grad_input.data();
      for (int d = 0; d < 2; ++d) {
        p.grad_w_hh[d] = L.grad_w_hh[d].data();
        p.grad_bias[d] = L.grad_bias[d].data();
      }
      p.workspace = workspace.data();
      p.algo = algo;
      lstm_backward(p);
      GemmParams dw;  // grad_w_ih [W, in] = dG^T [W, NT] . input [NT, in]
      dw.trans_a = true;
      dw.m = W, dw.n = L.in, dw.k = NT;
      dw.a = L.gates.data(), dw.lda = W, dw.b = input_of(l), dw.ldb = L.in;
      dw.c = L.grad_w_ih.data(), dw.ldc = L.in;
      gemm(dw);
      GemmParams dx;  // grad_input [NT, in] = dG [NT, W] . w_ih [W, in]
      dx.m = NT, dx.n = L.in, dx.k = W;
      dx.a = L.gates.data(), dx.lda = W, dx.b = L.w_ih.data(), dx.ldb = L.in;
      dx.c = L.grad_input.data(), dx.ldc = L.in;
      gemm(dx);
    }
  }
};

// The same stack through cuDNN.
struct CudnnStack {
  StackShape s;
  std::vector<int64_t> lengths;
  DeviceBuffer<float> x, grad_output, grad_x;
  std::vector<std::unique_ptr<Layer>> layers;
  std::vector<std::unique_ptr<CudnnLstmLayer>> rnn;

  explicit CudnnStack(const StackShape& shape)
      : s(shape),
        lengths(study_lengths(shape)),
        x(uniform(s.batch * s.T * s.input, 1, 1.0f)),
        grad_output(uniform(s.batch * s.T * kDirs * s.hidden, 2, 1.0f)),
        grad_x(sz(s.batch * s.T * s.input)) {
    for (int64_t l = 0; l < kLayers; ++l) {
      const int64_t in = l == 0 ? s.input : kDirs * s.hidden;
      layers.push_back(std::make_unique<Layer>(s, in, 10 * (l + 1)));
      rnn.push_back(
          std::make_unique<CudnnLstmLayer>(CudnnLstmDims{s.batch, s.T, in, s.hidden, 2, false}));
      const Layer& L = *layers.back();
      const float* w_ih[2] = {L.w_ih.data(), L.w_ih.data() + s.gates() * in};
      const float* w_hh[2] = {L.w_hh[0].data(), L.w_hh[1].data()};
      const float* b_ih[2] = {L.b_ih.data(), L.b_ih.data() + s.gates()};
      const float* b_hh[2] = {L.b_hh.data(), L.b_hh.data() + s.gates()};
      rnn.back()->set_weights(w_ih, w_hh, b_ih, b_hh);
    }
  }

  void forward() {
    for (int64_t l = 0; l < kLayers; ++l) {
      Layer& L = *layers[sz(l)];
      rnn[sz(l)]->forward({l == 0 ? x.data() : layers[sz(l - 1)]->output.data(), lengths.data(),
                           L.output.data(), L.h_n.data(), L.c_n.data(), true});
    }
  }

  void backward() {
    for (int64_t l = kLayers - 1; l >= 0; --l) {
      Layer& L = *layers[sz(l)];
      CudnnLstmBackwardParams p;
      p.x = l == 0 ? x.data() : layers[sz(l - 1)]->output.data();
      p.output = L.output.data();
      p.grad_output = l == kLayers - 1 ? grad_output.data() : layers[sz(l + 1)]->grad_input.data();
      p.grad_x = l == 0 ? grad_x.data() : L.grad_input.data();
      rnn[sz(l)]->backward(p);
    }
  }
};

// Times the stack of `shape` with algorithm 0 (persistent), 1 (stepwise) or 2 (cuDNN).
void run_stack(benchmark::State& state, const StackShape& shape, int algo, bool with_backward) {
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const char* names[] = {"persistent", "stepwise", "cudnn"};
  std::string label = std::string(names[algo]) + (with_backward ? " fwd+bwd" : " fwd");
  if (algo == 2) {
    if (!cudnn_rnn_available()) {
      state.SkipWithError("cuDNN is not in this build");
      return;
    }
    CudnnStack stack(shape);
    stack.forward();  // warm-up: workspace allocation, kernel loading
    if (with_backward) stack.backward();
    device_synchronize();
    for (auto _ : state) {
      stack.forward();
      if (with_backward) stack.backward();
      device_synchronize();
    }
  } else {
    const LstmAlgo a = algo == 0 ? LstmAlgo::persistent : LstmAlgo::stepwise;
    if (a == LstmAlgo::persistent) {
      for (bool bwd : {false, true}) {
        if (bwd && !with_backward) continue;
        const LstmPersistentPlan plan = lstm_persistent_plan(shape.dims(), bwd);
        if (!plan.fits) {
          state.SkipWithError(("persistent kernel does not fit: " + plan.why_not).c_str());
          return;
        }
        label += std::string(bwd ? ", bwd: " : ", fwd: ") + std::to_string(plan.blocks) +
                 " blocks x " + std::to_string(plan.threads) +
                 " threads, U=" + std::to_string(plan.units_per_block);
      }
    }
    MelgradStack stack(shape, a);
    stack.forward();
    if (with_backward) stack.backward();
    device_synchronize();
    for (auto _ : state) {
      stack.forward();
      if (with_backward) stack.backward();
      device_synchronize();
    }
    label += std::string(" gemm=") + gemm_impl_name(default_gemm_impl());
  }
  state.counters["sequences/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * shape.batch), benchmark::Counter::kIsRate);
  state.SetLabel(label);
}

void BM_bilstm_study(benchmark::State& state) {
  if (std::string(backend_name()) == "emulator") {
    state.SkipWithError("GPU only: the study's BiLSTM shapes take minutes in the emulator");
    return;
  }
  run_stack(state, study_shape(state.range(0)), static_cast<int>(state.range(1)),
            state.range(2) != 0);
}

void BM_bilstm_small(benchmark::State& state) {
  run_stack(state, small_shape(), static_cast<int>(state.range(0)), state.range(1) != 0);
}

void study_shapes(benchmark::internal::Benchmark* b) {
  for (int64_t T : {40, 1293})
    for (int64_t bwd : {0, 1})
      for (int64_t algo : {0, 1, 2}) b->Args({T, algo, bwd});
  b->ArgNames({"T", "algo", "bwd"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

void small_shapes(benchmark::internal::Benchmark* b) {
  for (int64_t bwd : {0, 1})
    for (int64_t algo : {0, 1}) b->Args({algo, bwd});
  b->ArgNames({"algo", "bwd"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_bilstm_study)->Apply(study_shapes);
BENCHMARK(BM_bilstm_small)->Apply(small_shapes);
