// Emulator internals shared by the scheduler (emu.cpp) and the warp collectives
// (emu_warp.cpp): a launch's threads and resident blocks, and the Runner that schedules them.
// Not for kernel code.
#pragma once

#include <boost/context/fiber.hpp>
#include <cstdint>
#include <cstring>
#include <exception>
#include <random>
#include <source_location>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/emu/emu.h"
#include "kernels/emu/emu_internal.h"

namespace melgrad::emu::detail {

namespace bctx = boost::context;

constexpr std::size_t kStaticSmemLimit = 48 * 1024;  // CUDA's static __shared__ limit
constexpr std::size_t kSmemCanary = 16;              // poisoned bytes after each region

enum class Status : uint8_t { runnable, barrier, grid, warp, done };

struct Thread {
  ThreadCtx ctx{};
  unsigned linear = 0;  // index within its block
  unsigned block = 0;   // index into Runner::blocks_
  Status status = Status::runnable;
  bctx::fiber fiber;  // the thread, while suspended
  bctx::fiber sink;   // the scheduler, while the thread runs
  std::source_location where;
  BarrierKind barrier_kind = BarrierKind::sync;
  int pred = 0;
  int barrier_result = 0;
  WarpOp op = WarpOp::sync;
  unsigned mask = 0;
  uint64_t value = 0;
  int param = 0;
  int width = 32;
  uint64_t result = 0;
  std::exception_ptr error;
};

struct SharedSlot {
  const void* site;
  std::size_t offset;
  std::size_t bytes;
  const char* name;
};

// A resident block: its threads are Runner::threads_[first, first + threads per block), and
// it owns its shared memory.
struct Block {
  uint3 idx{};
  unsigned first = 0;
  std::vector<unsigned char> static_smem =
      std::vector<unsigned char>(kStaticSmemLimit + 64 * kSmemCanary, kPoison);
  std::size_t static_used = 0;
  std::vector<SharedSlot> slots;
  std::vector<unsigned char> dynamic_smem;
  unsigned at_barrier = 0;  // threads waiting at a __syncthreads
};

inline std::string basename_of(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}
inline std::string site_str(const std::source_location& w) {
  return basename_of(w.file_name()) + ":" + std::to_string(w.line()) + ":" +
         std::to_string(w.column());
}
inline bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         std::strcmp(a.file_name(), b.file_name()) == 0;
}
inline std::string dim_str(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}
inline const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::shfl_idx:
      return "__shfl_sync";
    case WarpOp::shfl_up:
      return "__shfl_up_sync";
    case WarpOp::shfl_down:
      return "__shfl_down_sync";
    case WarpOp::shfl_xor:
      return "__shfl_xor_sync";
    case WarpOp::ballot:
      return "__ballot_sync/__any_sync/__all_sync";
    case WarpOp::sync:
      return "__syncwarp";
    default:
      return "__reduce_*_sync";
  }
}
// The index of the b-th block of a grid (x fastest).
inline uint3 block_of(dim3 grid, uint64_t b) {
  return uint3{static_cast<unsigned>(b % grid.x), static_cast<unsigned>(b / grid.x % grid.y),
               static_cast<unsigned>(b / (uint64_t{grid.x} * grid.y))};
}
inline std::string hex(unsigned v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

class Runner {
 public:
  void launch(const LaunchConfig& cfg, void (*body)(void*), void* closure);
  int barrier(BarrierKind kind, int pred, const std::source_location& w);
  void grid_barrier(const std::source_location& w);
  uint64_t warp_op(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                   const std::source_location& w);
  unsigned active_mask() const;
  void* shared_static(const void* site, std::size_t bytes, std::size_t align, const char* name);
  void* shared_dynamic() { return blocks_[running_->block].dynamic_smem.data(); }
  Stats stats;

 private:
  void run_resident(unsigned nblocks);
  // The concurrent schedule (emu_concurrent.cpp): the caller's launch spreads its blocks over
  // worker threads, each of which runs them with its own Runner (take_blocks).
  void run_concurrent(uint64_t nblocks);
  struct BlockQueue;
  void take_blocks(const Runner& launcher, BlockQueue& queue);
  void resume(Thread& t);
  void suspend(Thread& t) { t.sink = std::move(t.sink).resume(); }
  void fail_thread(const Thread& t);
  void make_runnable(unsigned i);
  unsigned pick_runnable();
  unsigned warp_end(unsigned base) const;  // one past the last thread of base's warp
  bool complete_warp(unsigned base);
  bool complete_barrier(Block& b);
  bool complete_grid_barrier();
  [[noreturn]] void report_stall();
  void check_shared_canaries(const Block& b);
  void abandon_fibers();
  [[noreturn]] void fail(const Block& b, const std::string& what) const;
  std::string who(const Thread& t) const;  // "thread (x,y,z)" or "block (..) thread (..)"
  Thread& running() { return *running_; }

  LaunchConfig cfg_{};
  void (*body_)(void*) = nullptr;
  void* closure_ = nullptr;
  Schedule sched_;
  std::mt19937_64 rng_;
  unsigned block_threads_ = 0;
  std::size_t smem_limit_ = 0;      // static + dynamic, per block: the kernel's opt-in or 48 KiB
  std::vector<Block> blocks_;       // the resident blocks: one, or the whole cooperative grid
  std::vector<Thread> threads_;     // their threads, block after block
  std::vector<uint64_t> runnable_;  // bit set over threads_
  unsigned runnable_count_ = 0;
  Thread* running_ = nullptr;
  uint64_t launch_count_ = 0;
};

// The Runner of the calling OS thread.
Runner& runner();

}  // namespace melgrad::emu::detail
