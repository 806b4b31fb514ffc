// The concurrent schedule: the blocks of one (non-cooperative) launch run on several host
// threads at the same time, each worker taking the next block from a shared counter as it
// finishes one and running it with its own Runner (fibers, shared memory, stacks are all per
// OS thread), so blocks overlap in real time as they do on a GPU's SMs: a non-atomic
// read-modify-write of global memory shared by blocks can lose updates, and a block that
// reads what another block writes sees it half done. The workers are a process-wide pool,
// started on first use and kept, so a launch costs a wake-up, not thread creation. The
// launching thread waits; the first error of any worker stops the others from taking more
// blocks and is rethrown from the launch, as the sequential schedules would throw it.
#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/emu/emu.h"
#include "kernels/emu/emu_internal.h"
#include "kernels/emu/emu_runner.h"

namespace melgrad::emu::detail {
namespace {

// Runs job(worker) on `workers` pool threads and waits until every one has returned.
class WorkerPool {
 public:
  ~WorkerPool() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  void run(unsigned workers, const std::function<void(unsigned)>& job) {
    std::unique_lock lock(mutex_);
    while (threads_.size() < workers) {
      const auto index = static_cast<unsigned>(threads_.size());
      threads_.emplace_back([this, index] { serve(index); });
    }
    job_ = &job;
    active_workers_ = workers;
    running_ = workers;
    ++generation_;
    wake_.notify_all();
    done_.wait(lock, [this] { return running_ == 0; });
    job_ = nullptr;
  }

 private:
  void serve(unsigned index) {
    use_alternate_signal_stack();
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(unsigned)>* job = nullptr;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return quit_ || (generation_ != seen && index < active_workers_); });
        if (quit_) return;
        seen = generation_;
        job = job_;
      }
      (*job)(index);
      std::lock_guard lock(mutex_);
      if (--running_ == 0) done_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(unsigned)>* job_ = nullptr;
  unsigned active_workers_ = 0;
  unsigned running_ = 0;
  uint64_t generation_ = 0;
  bool quit_ = false;
};

WorkerPool& pool() {
  static WorkerPool p;
  return p;
}

}  // namespace

struct Runner::BlockQueue {
  uint64_t blocks = 0;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  std::atomic<uint64_t> threads{0}, resumes{0};
};

// On a worker: runs blocks of the launcher's launch until none is left (or one failed).
void Runner::take_blocks(const Runner& launcher, BlockQueue& queue) {
  const Stats before = stats;
  cfg_ = launcher.cfg_;
  body_ = launcher.body_;
  closure_ = launcher.closure_;
  sched_ = Schedule::in_order();  // threads of a block in order; blocks as the OS runs them
  block_threads_ = launcher.block_threads_;
  smem_limit_ = launcher.smem_limit_;
  if (blocks_.empty()) blocks_.resize(1);
  try {
    for (uint64_t b = queue.next++; b < queue.blocks && !queue.stop; b = queue.next++) {
      blocks_[0].idx = block_of(cfg_.grid, b);
      run_resident(1);
    }
  } catch (...) {
    abandon_fibers();
    queue.stop = true;
    std::lock_guard lock(queue.error_mutex);
    if (!queue.error) queue.error = std::current_exception();
  }
  queue.threads += stats.threads - before.threads;
  queue.resumes += stats.resumes - before.resumes;
  stats = before;  // counted once, in the launching thread's Stats
}

void Runner::run_concurrent(uint64_t nblocks) {
  BlockQueue queue;
  queue.blocks = nblocks;
  const unsigned workers =
      static_cast<unsigned>(std::min<uint64_t>(std::max(1u, sched_.workers), nblocks));
  const std::function<void(unsigned)> job = [this, &queue](unsigned) {
    runner().take_blocks(*this, queue);
  };
  pool().run(workers, job);
  if (queue.error) std::rethrow_exception(queue.error);
  stats.blocks += nblocks;
  stats.threads += queue.threads;
  stats.resumes += queue.resumes;
}

}  // namespace melgrad::emu::detail
