// The emulator's scheduler: runs a launch's blocks one after another on the calling thread,
// each block's threads as fibers; a cooperative launch (MG_LAUNCH_COOPERATIVE) instead makes
// every block of the grid resident at once, all threads fibers of one scheduler, so that a
// grid-wide barrier (mg_grid_sync) can be reached by all of them. A thread runs until it
// reaches a synchronisation point (block barrier, grid barrier, warp collective) or returns.
// The Schedule picks which runnable thread resumes next: in order = always the
// lowest-numbered one (so warp 0 races ahead of warp 1 up to the next block barrier, and in
// a cooperative grid block 0 races ahead of block 1 up to the next grid barrier), reversed =
// the highest, random = any, seeded. A warp collective completes as soon as its last
// participant arrives, a block barrier as soon as every thread of its block waits at it
// (with exited threads: when nothing else can run, to report them), the grid barrier when
// every thread of the grid waits at it. Otherwise the launch is stuck, and the scheduler
// reports why (barrier divergence, exited threads, mismatched warp collectives). Varying
// the order is what makes a missing __syncthreads or mg_grid_sync change a kernel's result
// in tests. The concurrent schedule hands the blocks of an ordinary launch to worker threads
// instead (emu_concurrent.cpp). A launch is refused first, as a GPU refuses it, when its
// block exceeds the kernel's __launch_bounds__ or a cooperative grid exceeds the device
// profile's co-residency (emu_device.cpp). The Runner and its types are in emu_runner.h;
// warp collectives in emu_warp.cpp.
#include "kernels/emu/emu.h"

#include <algorithm>
#include <bit>
#include <boost/context/fiber.hpp>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <vector>

#include "kernels/emu/emu_internal.h"
#include "kernels/emu/emu_runner.h"

namespace melgrad::emu {

// ---------------------------------------------------------------- schedule ----
Schedule Schedule::parse(std::string_view text) {
  if (text == "inorder" || text == "in_order" || text.empty()) return in_order();
  if (text == "reversed") return reversed();
  if (text.substr(0, 6) == "random") {
    if (text.size() == 6) return random(0);
    if (text[6] == ':' && text.size() > 7) {
      const std::string digits(text.substr(7));
      char* end = nullptr;
      const uint64_t seed = std::strtoull(digits.c_str(), &end, 10);
      if (end != nullptr && *end == '\0') return random(seed);
    }
  }
  if (text.substr(0, 10) == "concurrent") {
    if (text.size() == 10) return concurrent();
    if (text[10] == ':' && text.size() > 11) {
      const std::string digits(text.substr(11));
      char* end = nullptr;
      const unsigned long workers = std::strtoul(digits.c_str(), &end, 10);
      if (end != nullptr && *end == '\0' && workers >= 1 && workers <= Schedule::kMaxWorkers) {
        return concurrent(static_cast<unsigned>(workers));
      }
    }
  }
  throw std::invalid_argument("emulator schedule '" + std::string(text) +
                              "': expected inorder, reversed, random, random:SEED, concurrent "
                              "or concurrent:WORKERS (1.." +
                              std::to_string(Schedule::kMaxWorkers) + ")");
}

std::string Schedule::str() const {
  switch (kind) {
    case ScheduleKind::in_order:
      return "inorder";
    case ScheduleKind::reversed:
      return "reversed";
    case ScheduleKind::random:
      return "random:" + std::to_string(seed);
    case ScheduleKind::concurrent:
      return "concurrent:" + std::to_string(workers);
  }
  return "?";
}

namespace {
std::mutex g_schedule_mutex;
Schedule& schedule_slot() {
  static Schedule s = [] {
    const char* env = std::getenv("MELGRAD_EMU_SCHEDULE");
    return env != nullptr ? Schedule::parse(env) : Schedule{};
  }();
  return s;
}
}  // namespace

Schedule schedule() {
  std::lock_guard lock(g_schedule_mutex);
  return schedule_slot();
}

void set_schedule(const Schedule& s) {
  std::lock_guard lock(g_schedule_mutex);
  schedule_slot() = s;
}

namespace detail {

thread_local const ThreadCtx* t_ctx = nullptr;

Runner& runner() {
  thread_local Runner r;
  return r;
}

void Runner::fail(const Block& b, const std::string& what) const {
  throw KernelError("kernel '" + std::string(cfg_.kernel) + "' block " + dim_str(b.idx) + ": " +
                    what);
}

std::string Runner::who(const Thread& t) const {
  const std::string th = "thread " + dim_str(t.ctx.thread_idx);
  return cfg_.cooperative ? "block " + dim_str(t.ctx.block_idx) + " " + th : th;
}

void Runner::launch(const LaunchConfig& cfg, void (*body)(void*), void* closure) {
  const std::string k = "kernel '" + std::string(cfg.kernel) + "': invalid launch configuration: ";
  const uint64_t nthreads = uint64_t{cfg.block.x} * cfg.block.y * cfg.block.z;
  if (nthreads == 0 || nthreads > 1024 || cfg.block.z > 64) {
    throw KernelError(k + "block " + dim_str(cfg.block) + " has " + std::to_string(nthreads) +
                      " threads (1 to 1024 allowed, z at most 64)");
  }
  if (cfg.grid.x == 0 || cfg.grid.y == 0 || cfg.grid.z == 0 || cfg.grid.x > 0x7fffffffu ||
      cfg.grid.y > 65535 || cfg.grid.z > 65535) {
    throw KernelError(k + "grid " + dim_str(cfg.grid) +
                      " (x in 1..2^31-1, y and z in 1..65535 allowed)");
  }
  const KernelResources resources = kernel_resources(cfg.fn);
  if (resources.max_threads > 0 && nthreads > static_cast<uint64_t>(resources.max_threads)) {
    throw KernelError("kernel '" + std::string(cfg.kernel) +
                      "': too many resources requested for launch "
                      "(cudaErrorLaunchOutOfResources): block " +
                      dim_str(cfg.block) + " has " + std::to_string(nthreads) +
                      " threads but the kernel's __launch_bounds__ "
                      "allows at most " +
                      std::to_string(resources.max_threads));
  }
  const std::size_t smem_limit = max_dynamic_smem(cfg.fn);
  if (cfg.dynamic_smem > smem_limit) {
    const bool optin =
        cfg.dynamic_smem <= device().smem_per_block_optin && smem_limit == kDefaultSmemLimit;
    throw KernelError(k + std::to_string(cfg.dynamic_smem) +
                      " bytes of dynamic shared memory (at most " + std::to_string(smem_limit) +
                      (optin ? " without an opt-in: a GPU launch above 48 KiB needs "
                               "MG_SET_MAX_DYNAMIC_SMEM, i.e. cudaFuncSetAttribute("
                               "MaxDynamicSharedMemorySize), first)"
                             : ")"));
  }
  const uint64_t nblocks = uint64_t{cfg.grid.x} * cfg.grid.y * cfg.grid.z;
  if (cfg.cooperative) {
    const int fit =
        cooperative_max_blocks(cfg.fn, static_cast<unsigned>(nthreads), cfg.dynamic_smem);
    if (nblocks > static_cast<uint64_t>(fit)) {
      const DeviceProfile& d = device();
      throw KernelError(
          "kernel '" + std::string(cfg.kernel) +
          "': too many blocks in cooperative launch "
          "(cudaErrorCooperativeLaunchTooLarge): grid " +
          dim_str(cfg.grid) + " has " + std::to_string(nblocks) + " blocks but at most " +
          std::to_string(fit) + " of " + std::to_string(nthreads) + " threads, " +
          std::to_string(resources.registers) + " registers per thread" +
          (resources.registers_declared ? "" : " (estimated)") + " and " +
          std::to_string(cfg.dynamic_smem) +
          " bytes of dynamic shared memory can be co-resident on the emulated device '" + d.name +
          "' (" + std::to_string(d.sms) + " SMs)");
    }
  }
  if (running_ != nullptr) {
    throw KernelError(k +
                      "launched from inside a running kernel (dynamic parallelism is not "
                      "emulated)");
  }
  cfg_ = cfg;
  body_ = body;
  closure_ = closure;
  sched_ = schedule();
  rng_.seed(sched_.seed * 0x9E3779B97F4A7C15ull + launch_count_++);
  block_threads_ = static_cast<unsigned>(nthreads);
  smem_limit_ = smem_limit > kDefaultSmemLimit ? device().smem_per_block_optin : kDefaultSmemLimit;

  std::vector<uint64_t> order(nblocks);
  for (uint64_t i = 0; i < nblocks; ++i) order[i] = i;
  if (!cfg.cooperative && sched_.kind == ScheduleKind::reversed) {
    std::reverse(order.begin(), order.end());
  }
  if (!cfg.cooperative && sched_.kind == ScheduleKind::random) {
    std::shuffle(order.begin(), order.end(), rng_);
  }

  FaultHandlerScope fault_scope;
  try {
    if (cfg.cooperative) {  // the whole grid at once, in one scheduler
      if (blocks_.size() < nblocks) blocks_.resize(nblocks);
      for (uint64_t b = 0; b < nblocks; ++b) blocks_[b].idx = block_of(cfg.grid, b);
      run_resident(static_cast<unsigned>(nblocks));
    } else if (sched_.kind == ScheduleKind::concurrent && nblocks > 1) {
      run_concurrent(nblocks);  // blocks on several host threads at once
    } else {                    // one block after another, in the schedule's block order
      if (blocks_.empty()) blocks_.resize(1);
      for (uint64_t b : order) {
        blocks_[0].idx = block_of(cfg.grid, b);
        run_resident(1);
      }
    }
  } catch (...) {
    abandon_fibers();
    check_guards(cfg.kernel);  // an overrun is the better explanation, if there is one
    throw;
  }
  ++stats.launches;
  stats.last_stream = cfg.stream;
  check_guards(cfg.kernel);
}

// Runs blocks_[0, nblocks) (their idx set by the caller) to completion, all at once.
void Runner::run_resident(unsigned nblocks) {
  const dim3 bd = cfg_.block;
  const unsigned per = block_threads_;
  threads_.clear();
  threads_.resize(std::size_t{nblocks} * per);
  for (unsigned b = 0; b < nblocks; ++b) {
    Block& blk = blocks_[b];
    blk.first = b * per;
    std::memset(blk.static_smem.data(), kPoison,
                std::min(blk.static_smem.size(), blk.static_used + 64));
    blk.static_used = 0;
    blk.slots.clear();
    blk.dynamic_smem.assign(cfg_.dynamic_smem + kSmemCanary, kPoison);
    blk.at_barrier = 0;
    for (unsigned i = 0; i < per; ++i) {
      Thread& t = threads_[blk.first + i];
      t.ctx =
          ThreadCtx{{i % bd.x, i / bd.x % bd.y, i / (bd.x * bd.y)}, blk.idx, bd, cfg_.grid, i % 32};
      t.linear = i;
      t.block = b;
    }
  }
  const unsigned n = static_cast<unsigned>(threads_.size());
  runnable_.assign((n + 63) / 64, 0);
  runnable_count_ = 0;
  for (unsigned i = 0; i < n; ++i) make_runnable(i);
  unsigned done = 0;
  for (;;) {
    while (runnable_count_ > 0) {
      const unsigned i = pick_runnable();
      Thread& t = threads_[i];
      resume(t);
      if (t.error) fail_thread(t);
      if (t.status == Status::done) ++done;
      // Arriving at a warp collective, or leaving the kernel, may complete one.
      if (t.status == Status::warp || t.status == Status::done) {
        complete_warp(blocks_[t.block].first + t.linear / 32 * 32);
      }
      // A block whose threads all wait at a barrier goes on at once, so that in a
      // cooperative grid blocks run ahead of each other up to the next grid barrier.
      Block& b = blocks_[t.block];
      if (t.status == Status::barrier && ++b.at_barrier == block_threads_) complete_barrier(b);
    }
    if (done == n) break;
    bool progressed = false;
    for (unsigned b = 0; b < nblocks; ++b) progressed |= complete_barrier(blocks_[b]);
    if (!progressed && !complete_grid_barrier()) report_stall();
  }
  for (unsigned b = 0; b < nblocks; ++b) check_shared_canaries(blocks_[b]);
  stats.blocks += nblocks;
  stats.threads += n;
}

void Runner::make_runnable(unsigned i) {
  threads_[i].status = Status::runnable;
  runnable_[i / 64] |= uint64_t{1} << (i % 64);
  ++runnable_count_;
}

// Takes the next thread to run off the runnable set, as the schedule says.
unsigned Runner::pick_runnable() {
  const unsigned words = static_cast<unsigned>(runnable_.size());
  unsigned word = 0, bit = 0;
  if (sched_.kind == ScheduleKind::in_order) {
    while (runnable_[word] == 0) ++word;
    bit = static_cast<unsigned>(std::countr_zero(runnable_[word]));
  } else if (sched_.kind == ScheduleKind::reversed) {
    word = words - 1;
    while (runnable_[word] == 0) --word;
    bit = 63u - static_cast<unsigned>(std::countl_zero(runnable_[word]));
  } else {
    unsigned k = static_cast<unsigned>(rng_() % runnable_count_);
    while (static_cast<unsigned>(std::popcount(runnable_[word])) <= k) {
      k -= static_cast<unsigned>(std::popcount(runnable_[word]));
      ++word;
    }
    uint64_t w = runnable_[word];
    for (; k > 0; --k) w &= w - 1;  // drop the k lowest set bits
    bit = static_cast<unsigned>(std::countr_zero(w));
  }
  runnable_[word] &= ~(uint64_t{1} << bit);
  --runnable_count_;
  return word * 64 + bit;
}

void Runner::resume(Thread& t) {
  if (!t.fiber) {
    t.fiber = bctx::fiber(std::allocator_arg, PooledStack{&thread_stack_pool()},
                          [this, &t](bctx::fiber&& sink) {
                            t.sink = std::move(sink);
                            try {
                              body_(closure_);
                            } catch (const bctx::detail::forced_unwind&) {
                              throw;  // the scheduler is abandoning this fiber
                            } catch (...) {
                              t.error = std::current_exception();
                            }
                            t.status = Status::done;
                            return std::move(t.sink);
                          });
  }
  running_ = &t;
  t_ctx = &t.ctx;
  t_in_kernel = true;
  t.fiber = std::move(t.fiber).resume();
  t_in_kernel = false;
  t_ctx = nullptr;
  running_ = nullptr;
  ++stats.resumes;
}

void Runner::abandon_fibers() {
  for (Thread& t : threads_) t.fiber = bctx::fiber{};  // unwinds each suspended thread's stack
  running_ = nullptr;
  t_ctx = nullptr;
  t_in_kernel = false;
}

void Runner::fail_thread(const Thread& t) {
  const Block& b = blocks_[t.block];
  const std::string th = "thread " + dim_str(t.ctx.thread_idx) + ": ";
  try {
    std::rethrow_exception(t.error);
  } catch (const MemoryFault& f) {
    const char* kind = !f.known_write ? "invalid access"
                       : f.write      ? "invalid write"
                                      : "invalid read";
    fail(b, th + kind + " at " + describe_address(f.addr));
  } catch (const KernelError& e) {
    fail(b, th + e.what());
  } catch (const std::exception& e) {
    fail(b, th + "threw: " + e.what());
  } catch (...) {
    fail(b, th + "threw an unknown exception");
  }
}

int Runner::barrier(BarrierKind kind, int pred, const std::source_location& w) {
  Thread& t = running();
  t.status = Status::barrier;
  t.barrier_kind = kind;
  t.pred = pred;
  t.where = w;
  suspend(t);
  return t.barrier_result;
}

void Runner::grid_barrier(const std::source_location& w) {
  if (!cfg_.cooperative) {
    // Thrown inside the kernel thread; fail_thread() adds kernel, block and thread.
    throw KernelError("mg_grid_sync() at " + site_str(w) +
                      " in a kernel not launched with MG_LAUNCH_COOPERATIVE (on a GPU it would "
                      "hang or fail)");
  }
  Thread& t = running();
  t.status = Status::grid;
  t.where = w;
  suspend(t);
}

// Releases block b's barrier when every live thread of b waits at the same __syncthreads.
bool Runner::complete_barrier(Block& b) {
  const Thread* first = nullptr;
  const Thread* exited = nullptr;
  const Thread* at_grid = nullptr;
  bool at_warp = false;
  int count = 0;
  const Thread* begin = threads_.data() + b.first;
  for (const Thread* t = begin; t != begin + block_threads_; ++t) {
    if (t->status == Status::warp) at_warp = true;
    if (t->status == Status::grid && at_grid == nullptr) at_grid = t;
    if (t->status == Status::done && exited == nullptr) exited = t;
    if (t->status != Status::barrier) continue;
    if (first == nullptr) first = t;
    if (!same_site(t->where, first->where) || t->barrier_kind != first->barrier_kind) {
      fail(b, "barrier divergence: thread " + dim_str(first->ctx.thread_idx) +
                  " waits at __syncthreads at " + site_str(first->where) + " but thread " +
                  dim_str(t->ctx.thread_idx) + " waits at a different one at " +
                  site_str(t->where));
    }
    count += t->pred != 0;
  }
  if (first == nullptr || at_warp) return false;
  if (at_grid != nullptr) {
    fail(b, "barrier divergence: thread " + dim_str(first->ctx.thread_idx) +
                " waits at __syncthreads at " + site_str(first->where) + " but thread " +
                dim_str(at_grid->ctx.thread_idx) + " waits at mg_grid_sync at " +
                site_str(at_grid->where));
  }
  if (exited != nullptr) {
    fail(b, "barrier divergence: thread " + dim_str(exited->ctx.thread_idx) +
                " exited without reaching the __syncthreads at " + site_str(first->where) +
                " where thread " + dim_str(first->ctx.thread_idx) + " waits");
  }
  const int n = static_cast<int>(block_threads_);
  const int result = first->barrier_kind == BarrierKind::count ? count
                     : first->barrier_kind == BarrierKind::all ? (count == n)
                     : first->barrier_kind == BarrierKind::any ? (count > 0)
                                                               : 0;
  for (unsigned i = b.first; i < b.first + block_threads_; ++i) {
    threads_[i].barrier_result = result;
    make_runnable(i);
  }
  b.at_barrier = 0;
  return true;
}

// Releases the grid barrier when every thread of the grid waits at the same mg_grid_sync.
// Called when nothing can run and no block barrier can complete.
bool Runner::complete_grid_barrier() {
  const Thread* first = nullptr;
  const Thread* exited = nullptr;
  for (const Thread& t : threads_) {
    if (t.status == Status::barrier || t.status == Status::warp) return false;
    if (t.status == Status::done && exited == nullptr) exited = &t;
    if (t.status != Status::grid) continue;
    if (first == nullptr) first = &t;
    if (!same_site(t.where, first->where)) {
      fail(blocks_[t.block], "grid barrier divergence: " + who(*first) +
                                 " waits at mg_grid_sync at " + site_str(first->where) + " but " +
                                 who(t) + " waits at a different one at " + site_str(t.where));
    }
  }
  if (first == nullptr) return false;
  if (exited != nullptr) {
    fail(blocks_[exited->block], "grid barrier divergence: " + who(*exited) +
                                     " exited without reaching the mg_grid_sync at " +
                                     site_str(first->where) + " where " + who(*first) + " waits");
  }
  for (unsigned i = 0; i < threads_.size(); ++i) make_runnable(i);
  return true;
}

void* Runner::shared_static(const void* site, std::size_t bytes, std::size_t align,
                            const char* name) {
  Block& b = blocks_[running_->block];
  for (const SharedSlot& s : b.slots) {
    if (s.site == site) return b.static_smem.data() + s.offset;
  }
  const std::size_t offset = (b.static_used + std::max<std::size_t>(align, 16) - 1) /
                             std::max<std::size_t>(align, 16) * std::max<std::size_t>(align, 16);
  // Thrown inside the kernel thread; fail_thread() adds kernel, block and thread.
  if (offset + bytes > kStaticSmemLimit) {
    throw KernelError(std::string("static shared memory '") + name +
                      "' does not fit: " + std::to_string(offset + bytes) +
                      " bytes in all, the limit is " + std::to_string(kStaticSmemLimit));
  }
  if (offset + bytes + cfg_.dynamic_smem > smem_limit_) {
    throw KernelError("static + dynamic shared memory exceed " + std::to_string(smem_limit_) +
                      " bytes" +
                      (smem_limit_ == kDefaultSmemLimit
                           ? " (the limit without MG_SET_MAX_DYNAMIC_SMEM, as on a GPU)"
                           : ""));
  }
  b.slots.push_back({site, offset, bytes, name});
  b.static_used = offset + bytes + kSmemCanary;
  return b.static_smem.data() + offset;
}

void Runner::check_shared_canaries(const Block& b) {
  auto poisoned = [](const unsigned char* p, std::size_t n) {
    return std::all_of(p, p + n, [](unsigned char c) { return c == kPoison; });
  };
  for (const SharedSlot& s : b.slots) {
    if (!poisoned(b.static_smem.data() + s.offset + s.bytes, kSmemCanary)) {
      fail(b, std::string("wrote past the end of shared memory '") + s.name + "' (" +
                  std::to_string(s.bytes) + " bytes)");
    }
  }
  if (!poisoned(b.dynamic_smem.data() + cfg_.dynamic_smem, kSmemCanary)) {
    fail(b, "wrote past the end of dynamic shared memory (" + std::to_string(cfg_.dynamic_smem) +
                " bytes)");
  }
}

int block_barrier(BarrierKind kind, int pred, const std::source_location& where) {
  return runner().barrier(kind, pred, where);
}
void grid_barrier(const std::source_location& where) { runner().grid_barrier(where); }
uint64_t warp_collective(WarpOp op, unsigned int mask, uint64_t value, int param, int width,
                         const std::source_location& where) {
  return runner().warp_op(op, mask, value, param, width, where);
}
unsigned int active_mask() { return runner().active_mask(); }
void* shared_static(const void* site, std::size_t bytes, std::size_t align, const char* name) {
  return runner().shared_static(site, bytes, align, name);
}
void* shared_dynamic() { return runner().shared_dynamic(); }
void run_launch(const LaunchConfig& cfg, void (*body)(void*), void* closure) {
  runner().launch(cfg, body, closure);
}

namespace {
std::mutex g_smem_optin_mutex;
std::map<const void*, std::size_t>& smem_optins() {  // kernel function -> its limit
  static std::map<const void*, std::size_t> m;
  return m;
}
}  // namespace

void check_pointer_argument(const char* kernel, int index, const void* p) {
  if (p != nullptr && !is_device_pointer(p)) {
    std::ostringstream os;
    os << "kernel '" << kernel << "': pointer argument " << index << " (" << p
       << ") is not device memory; allocate it with emu::malloc (kernels::device_malloc)";
    throw KernelError(os.str());
  }
}

}  // namespace detail

Stats stats() { return detail::runner().stats; }

void set_max_dynamic_smem(const char* kernel, const void* fn, std::size_t bytes) {
  const std::size_t optin = device().smem_per_block_optin;
  if (bytes > optin) {
    throw KernelError("kernel '" + std::string(kernel) + "': cannot raise its dynamic shared " +
                      "memory limit to " + std::to_string(bytes) + " bytes (at most " +
                      std::to_string(optin) + " on the emulated device '" + device().name + "')");
  }
  std::lock_guard lock(detail::g_smem_optin_mutex);
  detail::smem_optins()[fn] = bytes;
}

std::size_t max_dynamic_smem(const void* fn) {
  std::lock_guard lock(detail::g_smem_optin_mutex);
  const auto it = detail::smem_optins().find(fn);
  return it != detail::smem_optins().end() ? it->second : kDefaultSmemLimit;
}

}  // namespace melgrad::emu
