// Step graphs (Backend::capture_step, experiments/graph_step.h): a recorded training step,
// replayed with new batches copied into its input buffers and fresh dropout seeds, computes
// exactly what the eager step computes (bit for bit: the same kernels run on the same
// values in the same order), including BatchNorm's running statistics, Adam's updates from
// the graph's gradients, and batches of another shape run eagerly in between; a step that
// reads device memory back cannot be recorded, the reason is given, and training goes on
// eagerly with the eager numbers. Since any copy between host and device invalidates a
// recording, the recorded steps also show that forward, loss and backward of both study
// networks make no read-back (and no upload).
// Expected per build (test_cuda: the emulator; test_cuda_native: nvcc on a GPU):
//   recording   the emulator's recordings / CUDA stream capture into a graph;
//   bit for bit both: the GPU with deterministic algorithms (the default, engine/
//               determinism.h: cuDNN's convolutions take reproducible algorithms) and the
//               BiLSTM's persistent kernel, a cooperative launch, inside the graph;
//   read-back   both refuse it with "a copy from device to host memory (a read-back)" and
//               "(a CUDA graph cannot hold it)"; the emulator ends its recording with "the
//               recording is invalid: ... while recording", the GPU build refuses the copy
//               itself "... while the stream is being captured" (engine/cuda/
//               device_runtime.cpp), before CUDA would fail the capture with its own code.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/cuda/cuda.h"
#include "engine/ops/ops.h"
#include "engine/optim/optim.h"
#include "experiments/graph_step.h"
#include "models/cnn.h"
#include "models/lstm.h"

using namespace melgrad;
using experiments::BatchTensors;

namespace {

struct Run {
  std::vector<double> losses;
  nn::NamedTensors state;
  std::string note;
  std::vector<std::string> notes;  // each change of the note: what the trainer logs
  bool replaying = false;
};

Run train(models::Network& net, const std::vector<BatchTensors>& batches,
          const experiments::Task& task, bool graphs) {
  net.to(Device::cuda());
  net.train();
  std::vector<Tensor> params = net.parameters();
  optim::Adam adam(params, {.lr = 1e-3, .weight_decay = 1e-5});
  experiments::GraphedStep step(net, task, params, graphs);
  Run run;
  for (size_t b = 0; b < batches.size(); ++b) {
    run.losses.push_back(step.run(batches[b], 1000 + b).item());
    adam.step();
    if (run.notes.empty() ? !step.note().empty() : step.note() != run.notes.back())
      run.notes.push_back(step.note());
  }
  for (const auto& [name, t] : net.state()) run.state.emplace_back(name, t.to(Device::cpu()));
  run.note = step.note();
  run.replaying = step.replaying();
  return run;
}

void check_identical(const Run& graphed, const Run& eager) {
  REQUIRE(graphed.losses.size() == eager.losses.size());
  for (size_t i = 0; i < eager.losses.size(); ++i) {
    CAPTURE(i);
    CHECK(graphed.losses[i] == eager.losses[i]);
  }
  REQUIRE(graphed.state.size() == eager.state.size());
  for (size_t i = 0; i < eager.state.size(); ++i) {
    CAPTURE(eager.state[i].first);
    CHECK(max_abs_diff(graphed.state[i].second, eager.state[i].second) == 0.0);
  }
}

// The study's BiLSTM with a forward that also reads a value back, as a step that cannot be
// recorded (a cooperative launch that a CUDA version could not capture takes the same path).
class ReadingBackLstm : public models::LstmNet {
 public:
  using models::LstmNet::LstmNet;
  Tensor forward(const Tensor& x, const Tensor& lengths) override {
    Tensor y = models::LstmNet::forward(x, lengths);
    (void)sum(y).item();
    return y;
  }
};

std::vector<BatchTensors> lstm_batches(const models::LstmConfig& c, uint64_t seed) {
  Generator gen(seed);
  std::vector<BatchTensors> batches;
  const std::vector<std::vector<int64_t>> lens = {{6, 2, 5}, {3, 6, 1}, {6, 6, 4}, {2, 5, 6}};
  for (const auto& len : lens)  // the same T = 6 each time: one recorded shape
    batches.push_back({Tensor::normal({3, 6, c.input_size}, 0, 1, gen),
                       Tensor::from_vector(len, {3}), Tensor(), Tensor::uniform({3, 1}, -1, 1, gen),
                       3});
  return batches;
}

models::LstmConfig small_lstm() {
  models::LstmConfig c;
  c.input_size = 5;
  c.hidden = 4;
  c.layers = 2;
  c.dropout = 0.25;
  c.outputs = 1;
  return c;
}

BatchTensors image_batch(Generator& gen, int64_t n, const models::CnnConfig& c) {
  std::vector<int64_t> labels(n);
  for (int64_t& l : labels) l = static_cast<int64_t>(gen.below(static_cast<uint64_t>(c.outputs)));
  return {Tensor::normal({n, c.frames, c.bands}, 0, 1, gen),
          Tensor::from_vector(std::vector<int64_t>(n, c.frames), {n}),
          Tensor::from_vector(labels, {n}), Tensor(), n};
}

}  // namespace

TEST_CASE("a recorded CNN step replays the eager step bit for bit, odd-shaped batches between") {
  models::CnnConfig c;
  c.channels = {1, 4, 8};
  c.frames = 16;
  c.bands = 12;
  c.hidden = {16, 8};
  c.dropout = 0.3;  // two dropout calls per step: their seeds come from the graph's slots
  c.outputs = 3;
  c.track_running_stats = true;
  Generator gen(51);
  std::vector<BatchTensors> batches;
  for (int64_t n : {6, 6, 6, 4, 6, 6, 3, 6}) batches.push_back(image_batch(gen, n, c));
  const experiments::Task task = experiments::classification_task({"a", "b", "c"});
  models::CnnNet net_graph(c, 9), net_eager(c, 9);
  const Run graphed = train(net_graph, batches, task, true);
  const Run eager = train(net_eager, batches, task, false);
  CHECK(graphed.replaying);
  CHECK(graphed.note ==
        "CUDA graphs: on, the step is recorded for batches [6, 16, 12] (other shapes run eagerly)");
  CHECK_FALSE(eager.replaying);
  CHECK(eager.note.empty());
  check_identical(graphed, eager);
}

TEST_CASE("a recorded BiLSTM step (variable lengths, dropout between layers) replays exactly") {
  const models::LstmConfig c = small_lstm();
  const std::vector<BatchTensors> batches = lstm_batches(c, 52);
  const experiments::Task task = experiments::regression_task({"valence"});
  models::LstmNet net_graph(c, 3), net_eager(c, 3);
  const Run graphed = train(net_graph, batches, task, true);
  const Run eager = train(net_eager, batches, task, false);
  CHECK(graphed.replaying);
  check_identical(graphed, eager);
}

TEST_CASE(
    "a step that cannot be recorded runs eagerly from then on, with one note and the "
    "eager numbers") {
  const models::LstmConfig c = small_lstm();
  const std::vector<BatchTensors> batches = lstm_batches(c, 53);
  const experiments::Task task = experiments::regression_task({"valence"});
  ReadingBackLstm net_failing(c, 3);
  models::LstmNet net_eager(c, 3);
  const Run fallback = train(net_failing, batches, task, true);
  const Run eager = train(net_eager, batches, task, false);
  CHECK_FALSE(fallback.replaying);
  REQUIRE(fallback.notes.size() == 1);  // the trainer logs it once
  CAPTURE(fallback.note);
  CHECK(fallback.note.rfind("CUDA graphs: off (", 0) == 0);
  CHECK(fallback.note.find("a copy from device to host memory (a read-back)") != std::string::npos);
  check_identical(fallback, eager);
}

TEST_CASE("a step that reads device memory back cannot be recorded, and says why") {
  Backend& backend = backend_for(Device::cuda());
  const Tensor x = Tensor::ones({4}, DType::f32, Device::cuda());
  const auto before = cuda::memory_stats();
  std::string why;
  auto graph = backend.capture_step(
      [&] {
        (void)sum(x * 2.0).item();  // a read-back: a graph cannot hold it
      },
      why);
  CHECK(graph == nullptr);
  CAPTURE(why);
  CHECK(why.find("a copy from device to host memory (a read-back)") != std::string::npos);
  CHECK(why.find("(a CUDA graph cannot hold it)") != std::string::npos);
#if MELGRAD_KERNELS_CUDA
  CHECK(why.find("while the stream is being captured") != std::string::npos);
#else
  CHECK(why.find("the recording is invalid: ") != std::string::npos);
#endif
  // Nothing stays reserved, and the device works as before.
  CHECK(cuda::memory_stats().pool_free_bytes == before.pool_free_bytes);
  CHECK((x * 3.0).to(Device::cpu()).to_vector() == std::vector<double>(4, 3.0));
  CHECK(backend.recording_dropout_seed(*std::make_unique<Generator>(1), 5) == nullptr);
}
