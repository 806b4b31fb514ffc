// The world of a process (see transport.h): MPI_COMM_WORLD under mpirun, a single-process
// world otherwise. Collectives are MPI's non-blocking ones, polled against a deadline so a
// missing rank is reported instead of waited for forever.
//
// Progress: OpenMPI (without an asynchronous progress thread of its own, as Debian builds it)
// advances a non-blocking collective only while some thread of the rank is inside an MPI call.
// So that a gradient bucket started during the backward moves while the backward computes,
// a progress thread (MpiProgressThread) calls MPI_Iprobe on a private communicator every
// kProgressInterval while any collective of this transport is outstanding, and sleeps on a
// condition variable otherwise (no cost between steps). It never touches the requests
// themselves (only their owner tests and waits), and the reduction's order is the
// algorithm's whatever the timing, so results stay bit-identical. It needs
// MPI_THREAD_MULTIPLE; MELGRAD_MPI_PROGRESS=calls turns it off (progress only inside the
// owner's MPI calls, as before).
#include <mpi.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "engine/dist/transport.h"

namespace melgrad::dist {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kRollCallTag = 7301;
constexpr auto kProgressInterval = std::chrono::microseconds(50);

void check_mpi(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw std::runtime_error(std::string("MPI: ") + call + " failed: " + std::string(text, length));
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i64:
      return MPI_INT64_T;
  }
  throw std::invalid_argument("MPI: no MPI type for this dtype");
}

int mpi_count(int64_t n, const char* what) {
  if (n > INT_MAX)
    throw std::invalid_argument(std::string("MPI: ") + what + " of " + std::to_string(n) +
                                " elements exceeds MPI's int count; split it into buckets");
  return static_cast<int>(n);
}

void check_cpu_contiguous(const Tensor& x, const char* what) {
  if (!x.device().is_cpu() || !x.is_contiguous())
    throw std::invalid_argument(std::string("MPI ") + what +
                                ": needs a contiguous CPU tensor, got " + x.str() +
                                " (CUDA tensors go through NCCL: transport_for(device))");
}

// Drives MPI's progress engine while collectives are outstanding (see the file comment).
class MpiProgressThread {
 public:
  explicit MpiProgressThread(MPI_Comm world) {
    check_mpi(MPI_Comm_dup(world, &comm_), "MPI_Comm_dup");
    thread_ = std::thread([this] { run(); });
  }
  ~MpiProgressThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
    MPI_Comm_free(&comm_);
  }
  void collective_started() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++outstanding_;
    }
    wake_.notify_one();
  }
  void collective_done() {
    std::lock_guard<std::mutex> lock(mutex_);
    --outstanding_;
  }
  uint64_t polls() const { return polls_.load(); }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stop_ || outstanding_ > 0; });
      if (stop_) return;
      lock.unlock();
      int flag = 0;  // nothing is ever sent on comm_: the call only runs the progress engine
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, MPI_STATUS_IGNORE);
      polls_.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(kProgressInterval);
      lock.lock();
    }
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::mutex mutex_;
  std::condition_variable wake_;
  int64_t outstanding_ = 0;
  bool stop_ = false;
  std::atomic<uint64_t> polls_{0};
  std::thread thread_;
};

class MpiTransport;

class MpiPending : public Pending {
 public:
  MpiPending(MpiTransport& t, MPI_Request r, std::string what);
  // A collective abandoned after its deadline stays posted (MPI cannot cancel one): the
  // job is about to be aborted, or (tests) the late rank joins it afterwards.
  ~MpiPending() override { settle(); }
  bool test() override {
    if (settled_) return true;
    int done = 0;
    check_mpi(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) settle();
    return done != 0;
  }
  void wait() override;

 private:
  void settle();  // done or abandoned: the progress thread may sleep again

  MpiTransport& t_;
  MPI_Request request_;
  std::string what_;
  bool settled_ = false;
};

class MpiTransport : public Transport {
 public:
  MpiTransport() {
    const char* mode = std::getenv("MELGRAD_MPI_PROGRESS");
    const std::string progress = mode ? mode : "thread";
    if (progress != "thread" && progress != "calls")
      throw std::invalid_argument("MELGRAD_MPI_PROGRESS is '" + progress +
                                  "'; expected thread (default) or calls");
    const int wanted = progress == "thread" ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED;
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, wanted, &provided), "MPI_Init_thread");
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    if (progress == "thread" && provided == MPI_THREAD_MULTIPLE && size_ > 1)
      progress_ = std::make_unique<MpiProgressThread>(comm_);
  }
  ~MpiTransport() override { stop_progress(); }
  void stop_progress() { progress_.reset(); }  // before MPI_Finalize (finalize())
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  MpiProgressThread* progress() { return progress_.get(); }

  std::unique_ptr<Pending> all_reduce_start(Tensor& x) override {
    check_cpu_contiguous(x, "all-reduce");
    if (x.dtype() != DType::f32)
      throw std::invalid_argument("MPI all-reduce: needs float32, got " + x.str());
    MPI_Request r;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, x.raw_data(), mpi_count(x.numel(), "all-reduce"),
                             MPI_FLOAT, MPI_SUM, comm_, &r),
              "MPI_Iallreduce");
    return std::make_unique<MpiPending>(*this, r,
                                        "all-reduce of " + std::to_string(x.numel()) + " floats");
  }

  void broadcast(Tensor& x, int root) override {
    check_cpu_contiguous(x, "broadcast");
    MPI_Request r;
    check_mpi(MPI_Ibcast(x.raw_data(), mpi_count(x.numel(), "broadcast"), mpi_type(x.dtype()), root,
                         comm_, &r),
              "MPI_Ibcast");
    MpiPending(*this, r, "broadcast of " + x.str()).wait();
  }

  Tensor all_gather(const Tensor& x) override {
    const Tensor in = x.contiguous();
    check_cpu_contiguous(in, "all-gather");
    Shape shape = in.shape();
    shape.insert(shape.begin(), size_);
    Tensor out = Tensor::empty(shape, in.dtype());
    const int count = mpi_count(in.numel(), "all-gather");
    MPI_Request r;
    check_mpi(MPI_Iallgather(in.raw_data(), count, mpi_type(in.dtype()), out.raw_data(), count,
                             mpi_type(in.dtype()), comm_, &r),
              "MPI_Iallgather");
    MpiPending(*this, r, "all-gather of " + in.str()).wait();
    return out;
  }

  void barrier() override {
    MPI_Request r;
    check_mpi(MPI_Ibarrier(comm_, &r), "MPI_Ibarrier");
    MpiPending(*this, r, "barrier").wait();
  }

  void broadcast_bytes(std::string& bytes, int root) override {
    int64_t n = static_cast<int64_t>(bytes.size());
    MPI_Request r;
    check_mpi(MPI_Ibcast(&n, 1, MPI_INT64_T, root, comm_, &r), "MPI_Ibcast");
    MpiPending(*this, r, "broadcast of a message size").wait();
    bytes.resize(static_cast<size_t>(n));
    check_mpi(MPI_Ibcast(bytes.data(), mpi_count(n, "broadcast"), MPI_BYTE, root, comm_, &r),
              "MPI_Ibcast");
    MpiPending(*this, r, "broadcast of " + std::to_string(n) + " bytes").wait();
  }

  std::vector<std::string> all_gather_bytes(const std::string& bytes) override {
    const int mine = mpi_count(static_cast<int64_t>(bytes.size()), "all-gather");
    std::vector<int> counts(size_), offsets(size_);
    MPI_Request r;
    check_mpi(MPI_Iallgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_, &r),
              "MPI_Iallgather");
    MpiPending(*this, r, "all-gather of message sizes").wait();
    int64_t total = 0;
    for (int i = 0; i < size_; ++i) {
      offsets[i] = mpi_count(total, "all-gather");
      total += counts[i];
    }
    std::string all(static_cast<size_t>(total), '\0');
    check_mpi(MPI_Iallgatherv(bytes.data(), mine, MPI_BYTE, all.data(), counts.data(),
                              offsets.data(), MPI_BYTE, comm_, &r),
              "MPI_Iallgatherv");
    MpiPending(*this, r, "all-gather of " + std::to_string(total) + " bytes").wait();
    std::vector<std::string> out;
    for (int i = 0; i < size_; ++i)
      out.push_back(all.substr(size_t(offsets[i]), size_t(counts[i])));
    return out;
  }

  // After a deadline passed: tell every other rank this one is alive, listen for a few
  // seconds for theirs, and name the ranks that stayed silent.
  std::string roll_call(const std::string& what) {
    std::vector<MPI_Request> sends(size_t(size_), MPI_REQUEST_NULL);
    for (int r = 0; r < size_; ++r)
      if (r != rank_)
        MPI_Isend(&rank_, 1, MPI_INT, r, kRollCallTag, MPI_COMM_WORLD, &sends[size_t(r)]);
    std::vector<bool> heard(size_t(size_), false);
    heard[size_t(rank_)] = true;
    const auto until =
        Clock::now() + std::chrono::duration<double>(std::min(5.0, timeout_seconds_));
    while (Clock::now() < until) {
      int flag = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, kRollCallTag, MPI_COMM_WORLD, &flag, &status);
      if (!flag) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      int from = 0;
      MPI_Recv(&from, 1, MPI_INT, status.MPI_SOURCE, kRollCallTag, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
      heard[size_t(status.MPI_SOURCE)] = true;
    }
    std::string missing;
    for (int r = 0; r < size_; ++r)
      if (!heard[size_t(r)]) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", timeout_seconds_);
    return "rank " + std::to_string(rank_) + ": the " + what + " did not complete within " + secs +
           " s (--dist-timeout); " +
           (missing.empty()
                ? std::string("every rank answered a roll call, so one is stuck elsewhere")
                : "no answer from rank " + missing + " (it died or hangs)") +
           "; stopping all ranks";
  }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::unique_ptr<MpiProgressThread> progress_;
};

MpiPending::MpiPending(MpiTransport& t, MPI_Request r, std::string what)
    : t_(t), request_(r), what_(std::move(what)) {
  if (t_.progress()) t_.progress()->collective_started();
}

void MpiPending::settle() {
  if (settled_) return;
  settled_ = true;
  if (t_.progress()) t_.progress()->collective_done();
}

void MpiPending::wait() {
  // OpenMPI progresses a non-blocking collective only inside MPI calls, so test it back to
  // back (yielding the core between tests, which may be shared with the other ranks) as a
  // blocking MPI_Allreduce would spin; after a second of waiting, test every millisecond.
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(t_.timeout());
  while (!test()) {
    const auto now = Clock::now();
    if (now > deadline) throw DistTimeout(t_.roll_call(what_));
    if (now - start > std::chrono::seconds(1))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    else
      sched_yield();
  }
}

class DonePending : public Pending {
 public:
  bool test() override { return true; }
  void wait() override {}
};

class SingleProcessTransport : public Transport {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single process"; }
  std::unique_ptr<Pending> all_reduce_start(Tensor& x) override {  // the same checks as MPI's
    if (x.dtype() != DType::f32 || !x.is_contiguous())
      throw std::invalid_argument("all-reduce: needs a contiguous float32 tensor, got " + x.str());
    return std::make_unique<DonePending>();
  }
  void broadcast(Tensor&, int) override {}
  Tensor all_gather(const Tensor& x) override { return x.contiguous().unsqueeze(0).clone(); }
  void barrier() override {}
  void broadcast_bytes(std::string&, int) override {}
  std::vector<std::string> all_gather_bytes(const std::string& bytes) override { return {bytes}; }
};

std::unique_ptr<Transport>& world_slot() {
  static std::unique_ptr<Transport> world;
  return world;
}

DeviceTransportFactory& device_factory() {
  static DeviceTransportFactory factory = nullptr;
  return factory;
}

bool mpi_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

}  // namespace

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

std::unique_ptr<Transport> make_single_process_transport() {
  return std::make_unique<SingleProcessTransport>();
}

Transport& world() {
  auto& w = world_slot();
  if (!w) {
    if (launched_by_mpi())
      w = std::make_unique<MpiTransport>();
    else
      w = make_single_process_transport();
  }
  return *w;
}

void register_device_transport(DeviceTransportFactory factory) { device_factory() = factory; }

std::unique_ptr<Transport> make_device_transport(Transport& world) {
  if (!device_factory())
    throw std::runtime_error(
        "data-parallel training on CUDA tensors needs NCCL, which this build does not have "
        "(the GPU build links it when nccl.h and libnccl are found); train on the CPU or "
        "rebuild");
  return device_factory()(world);
}

Transport& transport_for(Device device) {
  if (device.is_cpu()) return world();
  static std::unique_ptr<Transport> device_transport;
  if (!device_transport)
    device_transport =
        world().size() == 1 ? make_single_process_transport() : make_device_transport(world());
  return *device_transport;
}

void finalize() {
  // The progress thread ends before MPI does.
  if (auto* mpi = dynamic_cast<MpiTransport*>(world_slot().get())) mpi->stop_progress();
  if (mpi_running()) MPI_Finalize();
}

void abort_job(int exit_code) {
  if (mpi_running() && world().size() > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

}  // namespace melgrad::dist
