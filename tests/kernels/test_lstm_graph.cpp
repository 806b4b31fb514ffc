// The persistent LSTM kernels (one cooperative launch each, with grid barriers) recorded
// into a graph: the forward and the backward, captured on a stream and replayed, write what
// the same launches write eagerly, bit for bit, and a replay after new inputs were copied
// into the recorded buffers computes the eager result for those inputs. This is how a
// training step graph (engine/cuda/step_graph.cpp) holds the BiLSTM.
// Expected per build:
//   emulator (test_kernels)       the emulator's recording (emu::begin_recording), which
//                                 stores the cooperative launches and runs them on replay;
//   nvcc on a GPU (test_kernels_cuda)  CUDA stream capture (relaxed mode, as the step
//                                 graphs) of cudaLaunchCooperativeKernel into a CUDA graph
//                                 (a cooperative kernel node), instantiated and launched.
// Exact comparison: the same kernels run on the same values in the same order.
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/lstm.h"
#include "tests/kernels/kernel_test_util.h"
#if MELGRAD_KERNELS_EMU
#include "kernels/emu/emu.h"
#else
#include <cuda_runtime.h>
#endif

using namespace melgrad::kernels;
using melgrad::kernels::testing::random_floats;

namespace {

std::size_t sz(int64_t n) { return static_cast<std::size_t>(n); }

// Records `work` (launches on `stream`) once; run() replays it.
class Graph {
 public:
#if MELGRAD_KERNELS_EMU
  Graph(const std::function<void()>& work, Stream) {
    melgrad::emu::begin_recording();
    work();
    recording_ = melgrad::emu::end_recording();
  }
  void run(Stream) { recording_.replay(); }

 private:
  melgrad::emu::Recording recording_;
#else
  Graph(const std::function<void()>& work, Stream stream) {
    REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed) == cudaSuccess);
    work();
    REQUIRE(cudaStreamEndCapture(stream, &graph_) == cudaSuccess);
    REQUIRE(cudaGraphInstantiateWithFlags(&exec_, graph_, 0) == cudaSuccess);
  }
  ~Graph() {
    if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
    if (graph_ != nullptr) cudaGraphDestroy(graph_);
  }
  void run(Stream stream) {
    REQUIRE(cudaGraphLaunch(exec_, stream) == cudaSuccess);
    stream_synchronize(stream);
  }

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
#endif
};

}  // namespace

TEST_CASE("the persistent LSTM's cooperative launches record into a graph and replay exactly") {
  const LstmDims dims{3, 6, 8, 2};
  const int64_t N = dims.batch, T = dims.steps, H = dims.hidden, D = dims.directions;
  REQUIRE(lstm_choose_algo(dims, false) == LstmAlgo::persistent);
  REQUIRE(lstm_choose_algo(dims, true) == LstmAlgo::persistent);
  const std::vector<int64_t> lens = {6, 2, 5};
  DeviceBuffer<int64_t> lengths(lens);
  DeviceBuffer<float> w0(random_floats(sz(4 * H * H), 2, -0.6f, 0.6f));
  DeviceBuffer<float> w1(random_floats(sz(4 * H * H), 3, -0.6f, 0.6f));
  DeviceBuffer<float> gates_x(random_floats(sz(N * T * D * 4 * H), 1, -1.5f, 1.5f));
  DeviceBuffer<float> grad_output(random_floats(sz(N * T * D * H), 4, -1.0f, 1.0f));
  DeviceBuffer<float> output(sz(N * T * D * H)), h_n(sz(D * N * H)), c_n(sz(D * N * H));
  DeviceBuffer<float> cells(sz(N * T * D * H)), gates(sz(N * T * D * 4 * H));
  DeviceBuffer<float> grad_gates(sz(N * T * D * 4 * H)), gw0(sz(4 * H * H)), gw1(sz(4 * H * H));
  DeviceBuffer<float> gb0(sz(4 * H)), gb1(sz(4 * H));
  DeviceBuffer<unsigned char> workspace(lstm_backward_workspace_bytes(dims));
  LstmForwardParams f;
  f.dims = dims;
  f.lengths = lengths.data();
  f.gates_x = gates_x.data();
  f.w_hh[0] = w0.data(), f.w_hh[1] = w1.data();
  f.output = output.data(), f.h_n = h_n.data(), f.c_n = c_n.data();
  f.cells = cells.data(), f.gates = gates.data();
  f.algo = LstmAlgo::persistent;
  LstmBackwardParams b;
  b.dims = dims;
  b.lengths = lengths.data();
  b.w_hh[0] = w0.data(), b.w_hh[1] = w1.data();
  b.output = output.data(), b.gates = gates.data(), b.cells = cells.data();
  b.grad_output = grad_output.data();
  b.grad_gates = grad_gates.data();
  b.grad_w_hh[0] = gw0.data(), b.grad_w_hh[1] = gw1.data();
  b.grad_bias[0] = gb0.data(), b.grad_bias[1] = gb1.data();
  b.workspace = workspace.data();
  b.algo = LstmAlgo::persistent;

  const Stream stream = stream_create();
  auto step = [&] {
    lstm_forward(f, stream);
    lstm_backward(b, stream);
  };
  auto results = [&] {
    stream_synchronize(stream);
    return std::vector<std::vector<float>>{output.to_host(),     h_n.to_host(), c_n.to_host(),
                                           grad_gates.to_host(), gw0.to_host(), gw1.to_host(),
                                           gb0.to_host(),        gb1.to_host()};
  };
  step();
  const auto eager = results();
  Graph graph(step, stream);
  graph.run(stream);
  CHECK(results() == eager);

  // New inputs copied into the recorded buffers: the replay computes the eager result.
  const std::vector<float> other = random_floats(sz(N * T * D * 4 * H), 7, -1.5f, 1.5f);
  copy_to_device(gates_x.data(), other.data(), other.size() * sizeof(float));
  step();
  const auto eager_other = results();
  CHECK(eager_other != eager);
  copy_to_device(gates_x.data(), other.data(), other.size() * sizeof(float));
  graph.run(stream);
  CHECK(results() == eager_other);
  stream_destroy(stream);
}
