// The CUDA tensors' transport (transport.h) on NCCL, one rank per GPU: rank 0 draws the
// NCCL unique id and the world (MPI) broadcasts it; collectives are queued on the engine's
// current stream (cuda::stream()), so they follow the backward (eager or a replayed CUDA
// graph) and precede the optimiser step without a host synchronisation. wait() records an
// event after the collective and polls it against the world's deadline, so a missing peer
// becomes a DistTimeout (and the communicator is aborted) instead of a hung stream.
// Registered from a static initialiser (linked whole-archive in the GPU build).
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "engine/cuda/device_runtime.h"
#include "engine/dist/transport.h"

namespace melgrad::dist {
namespace {

using Clock = std::chrono::steady_clock;

void check_nccl(ncclResult_t status, const char* call) {
  if (status != ncclSuccess)
    throw std::runtime_error(std::string("NCCL: ") + call +
                             " failed: " + ncclGetErrorString(status));
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return ncclFloat32;
    case DType::f64:
      return ncclFloat64;
    case DType::i64:
      return ncclInt64;
  }
  throw std::invalid_argument("NCCL: no NCCL type for this dtype");
}

void check_cuda_contiguous(const Tensor& x, const char* what) {
  if (x.device().is_cpu() || !x.is_contiguous())
    throw std::invalid_argument(std::string("NCCL ") + what +
                                ": needs a contiguous CUDA tensor, got " + x.str());
}

cudaStream_t current_stream() { return reinterpret_cast<cudaStream_t>(cuda::stream()); }

class NcclTransport;

class NcclPending : public Pending {
 public:
  NcclPending(NcclTransport& t, std::string what);
  ~NcclPending() override { cudaEventDestroy(event_); }
  bool test() override { return cudaEventQuery(event_) == cudaSuccess; }
  void wait() override;

 private:
  NcclTransport& t_;
  cudaEvent_t event_ = nullptr;
  std::string what_;
};

class NcclTransport : public Transport {
 public:
  explicit NcclTransport(Transport& world) : world_(world) {
    timeout_seconds_ = world.timeout();
    ncclUniqueId id;
    if (world.rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    std::string bytes(reinterpret_cast<const char*>(&id), sizeof id);
    world.broadcast_bytes(bytes, 0);
    std::memcpy(&id, bytes.data(), sizeof id);
    check_nccl(ncclCommInitRank(&comm_, world.size(), id, world.rank()), "ncclCommInitRank");
  }
  ~NcclTransport() override {
    if (comm_) ncclCommDestroy(comm_);
  }
  int rank() const override { return world_.rank(); }
  int size() const override { return world_.size(); }
  std::string name() const override { return "nccl"; }

  std::unique_ptr<Pending> all_reduce_start(Tensor& x) override {
    check_cuda_contiguous(x, "all-reduce");
    check_nccl(ncclAllReduce(x.raw_data(), x.raw_data(), size_t(x.numel()), nccl_type(x.dtype()),
                             ncclSum, comm_, current_stream()),
               "ncclAllReduce");
    return std::make_unique<NcclPending>(*this, "NCCL all-reduce of " + x.str());
  }
  void broadcast(Tensor& x, int root) override {
    check_cuda_contiguous(x, "broadcast");
    check_nccl(ncclBroadcast(x.raw_data(), x.raw_data(), size_t(x.numel()), nccl_type(x.dtype()),
                             root, comm_, current_stream()),
               "ncclBroadcast");
    NcclPending(*this, "NCCL broadcast of " + x.str()).wait();
  }
  Tensor all_gather(const Tensor& x) override {
    const Tensor in = x.contiguous();
    check_cuda_contiguous(in, "all-gather");
    Shape shape = in.shape();
    shape.insert(shape.begin(), size());
    Tensor out = Tensor::empty(shape, in.dtype(), in.device());
    check_nccl(ncclAllGather(in.raw_data(), out.raw_data(), size_t(in.numel()),
                             nccl_type(in.dtype()), comm_, current_stream()),
               "ncclAllGather");
    NcclPending(*this, "NCCL all-gather of " + in.str()).wait();
    return out;
  }
  void barrier() override { world_.barrier(); }
  void broadcast_bytes(std::string& bytes, int root) override {
    world_.broadcast_bytes(bytes, root);
  }
  std::vector<std::string> all_gather_bytes(const std::string& bytes) override {
    return world_.all_gather_bytes(bytes);
  }

  [[noreturn]] void give_up(const std::string& what) {
    ncclCommAbort(comm_);
    comm_ = nullptr;
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", timeout_seconds_);
    throw DistTimeout("rank " + std::to_string(rank()) + ": the " + what +
                      " did not complete within " + secs +
                      " s (--dist-timeout); a peer died or hangs; stopping all ranks");
  }

 private:
  Transport& world_;
  ncclComm_t comm_ = nullptr;
};

NcclPending::NcclPending(NcclTransport& t, std::string what) : t_(t), what_(std::move(what)) {
  if (cudaEventCreateWithFlags(&event_, cudaEventDisableTiming) != cudaSuccess)
    throw std::runtime_error("NCCL: cudaEventCreate failed");
  cudaEventRecord(event_, current_stream());
}

void NcclPending::wait() {
  const auto deadline = Clock::now() + std::chrono::duration<double>(t_.timeout());
  while (!test()) {
    if (Clock::now() > deadline) t_.give_up(what_);
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

std::unique_ptr<Transport> make_nccl_transport(Transport& world) {
  return std::make_unique<NcclTransport>(world);
}

const bool registered = [] {
  register_device_transport(&make_nccl_transport);
  return true;
}();

}  // namespace
}  // namespace melgrad::dist
