// CudaBackend: step graphs (Backend::capture_step). The step's launches on the current
// stream (device_runtime.h) are recorded once and replayed, on the stream current then:
//   GPU variant       CUDA stream capture (relaxed mode) into a CUDA graph, instantiated
//                     once, launched with cudaGraphLaunch;
//   emulator variant  the emulator's recording (kernels/emu/emu.h): the launches are stored
//                     with their arguments and run again in order, and the calls a CUDA
//                     graph cannot hold (copies between host and device, frees) invalidate
//                     it, so the engine's side of graphs is tested without a GPU.
// Both share the rest:
//   - memory: every allocation made while recording comes from a private pool of the
//     caching allocator, reserved for the graph until it is destroyed (a replay writes to
//     the same addresses: the step's activations, gradients and loss);
//   - dropout seeds: recorded dropout call k reads its seed from slot k of a device array
//     [kMaxSeeds] (int64); the graph remembers the generator of call k, and before every
//     replay draws one seed per call, in order, and uploads the array (one copy);
//   - failure: anything that cannot be recorded (a read-back, a launcher that throws, a
//     library call that is not capturable) ends the recording, releases the pool, and
//     returns null with the reason; none of the step ran on the device.
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#if MELGRAD_KERNELS_CUDA
#include "engine/cuda/cuda_check.h"
#else
#include "kernels/emu/emu.h"
#endif

namespace melgrad::cuda {

namespace {
constexpr int64_t kMaxSeeds = 256;  // dropout calls one recorded step may make
}  // namespace

// The recording in progress (one at a time, on the stream current when it began).
struct CudaBackend::StepRecording {
  Tensor slots;  // int64 [kMaxSeeds] on the device
  std::vector<Generator*> sources;
  std::vector<uint64_t> seeds;  // the values drawn while recording (the first run's)
};

namespace {

using Recording = CudaBackend::StepRecording;

#if MELGRAD_KERNELS_CUDA

// The recorded work of one variant: a CUDA graph.
class Recorder {
 public:
  Recorder() = default;
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;
  ~Recorder() {
    if (exec_) cudaGraphExecDestroy(exec_);
    if (graph_) cudaGraphDestroy(graph_);
  }
  void begin() {
    capturing_ = stream();
    MELGRAD_CUDA_CHECK(cudaStreamBeginCapture(capturing_, cudaStreamCaptureModeRelaxed));
  }
  void abort() {
    cudaGraph_t graph = nullptr;
    cudaStreamEndCapture(capturing_, &graph);  // ends the (possibly invalidated) capture
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();  // clears the capture's status
  }
  void end() {
    MELGRAD_CUDA_CHECK(cudaStreamEndCapture(capturing_, &graph_));
    MELGRAD_CUDA_CHECK(cudaGraphInstantiateWithFlags(&exec_, graph_, 0));
  }
  void run() { MELGRAD_CUDA_CHECK(cudaGraphLaunch(exec_, stream())); }

 private:
  kernels::Stream capturing_ = nullptr;  // the stream captured (a guard may change stream())
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

#else

// The recorded work of one variant: the emulator's stored launches.
class Recorder {
 public:
  void begin() { emu::begin_recording(); }
  void abort() {
    try {
      emu::end_recording();
    } catch (const emu::KernelError&) {  // invalid as well: discarded either way
    }
  }
  void end() { recording_ = emu::end_recording(); }  // throws if it was invalidated
  void run() { recording_.replay(); }

 private:
  emu::Recording recording_;
};

#endif

// A step graph: its recorded work, the dropout seeds' sources and slots, and its pool.
class RecordedStep final : public StepGraph {
 public:
  explicit RecordedStep(uint64_t pool) : pool_(pool) {
    recording_.slots = Tensor::empty({kMaxSeeds}, DType::i64, Device::cuda());
  }
  RecordedStep(const RecordedStep&) = delete;
  RecordedStep& operator=(const RecordedStep&) = delete;
  ~RecordedStep() override {
    try {  // replays that use the pool's memory finish before it serves anyone else
      synchronize();
    } catch (...) {  // a destructor must not throw; the next call reports the device error
    }
    device_allocator().release_pool(pool_);
  }

  Recorder& recorder() { return recorder_; }
  Recording& recording() { return recording_; }
  uint64_t pool() const { return pool_; }

  // Uploads this step's seeds (the array the recorded dropout calls read), then runs it.
  void launch() {
    if (!recording_.seeds.empty())
      copy_host_to_device(recording_.slots.raw_data(), recording_.seeds.data(),
                          recording_.seeds.size() * sizeof(uint64_t));
    recorder_.run();
  }

  void replay() override {
    for (std::size_t k = 0; k < recording_.sources.size(); ++k)
      recording_.seeds[k] = recording_.sources[k]->next_u64();
    launch();
  }

 private:
  Recorder recorder_;
  Recording recording_;  // its slots live in the graph's pool
  uint64_t pool_;
};

}  // namespace

const uint64_t* CudaBackend::recording_dropout_seed(Generator& gen, uint64_t seed) {
  if (recording_ == nullptr) return nullptr;
  StepRecording& r = *recording_;
  const int64_t k = static_cast<int64_t>(r.sources.size());
  if (k >= kMaxSeeds)
    throw std::runtime_error("step graph: more than " + std::to_string(kMaxSeeds) +
                             " dropout calls in one step");
  r.sources.push_back(&gen);
  r.seeds.push_back(seed);
  return static_cast<const uint64_t*>(r.slots.raw_data()) + k;
}

std::unique_ptr<StepGraph> CudaBackend::capture_step(const std::function<void()>& step,
                                                     std::string& why_not) {
  if (recording_ != nullptr) {
    why_not = "a step graph is already being recorded";
    return nullptr;
  }
  synchronize();  // earlier work has run and its errors are reported
  std::unique_ptr<RecordedStep> graph;
  try {
    graph = std::make_unique<RecordedStep>(device_allocator().open_pool());
  } catch (const std::exception& e) {
    why_not = e.what();
    return nullptr;
  }
  recording_ = &graph->recording();
  bool begun = false;
  try {
    graph->recorder().begin();
    begun = true;
    step();
    begun = false;
    graph->recorder().end();
  } catch (const std::exception& e) {
    if (begun) graph->recorder().abort();
    recording_ = nullptr;
    why_not = e.what();
    return nullptr;  // ~RecordedStep releases the pool
  }
  recording_ = nullptr;
  device_allocator().close_pool(graph->pool());
  graph->launch();  // the step itself, with the seeds drawn while recording
  return graph;
}

}  // namespace melgrad::cuda
