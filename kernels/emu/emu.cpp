// The emulator's scheduler: runs a launch's blocks one after another on the calling thread,
// each block's threads as fibers. A thread runs until it reaches a synchronisation point
// (block barrier, warp collective) or returns. The Schedule picks which runnable thread
// resumes next: in order = always the lowest-numbered one (so warp 0 races ahead of warp 1
// up to the next block barrier), reversed = the highest, random = any, seeded. A warp
// collective completes as soon as its last participant arrives; the block barrier is
// released when nothing else can run and every live thread waits at it. Otherwise the block
// is stuck, and the scheduler reports why (barrier divergence, exited threads, mismatched
// warp collectives). Varying the order is what makes a missing __syncthreads change a
// kernel's result in tests.
#include <boost/context/fiber.hpp>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <sstream>
#include <vector>

#include "kernels/emu/emu.h"
#include "kernels/emu/emu_internal.h"

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
  throw std::invalid_argument("emulator schedule '" + std::string(text) +
                              "': expected inorder, reversed, random or random:SEED");
}

std::string Schedule::str() const {
  switch (kind) {
    case ScheduleKind::in_order: return "inorder";
    case ScheduleKind::reversed: return "reversed";
    case ScheduleKind::random: return "random:" + std::to_string(seed);
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

namespace {

namespace bctx = boost::context;

constexpr std::size_t kStaticSmemLimit = 48 * 1024;   // CUDA's static __shared__ limit
constexpr std::size_t kTotalSmemLimit = 227 * 1024;   // sm_90 opt-in maximum per block
constexpr std::size_t kSmemCanary = 16;               // poisoned bytes after each region

enum class Status : uint8_t { runnable, barrier, warp, done };

struct Thread {
  ThreadCtx ctx{};
  unsigned linear = 0;
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

std::string basename_of(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}
std::string site_str(const std::source_location& w) {
  return basename_of(w.file_name()) + ":" + std::to_string(w.line()) + ":" +
         std::to_string(w.column());
}
bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         std::strcmp(a.file_name(), b.file_name()) == 0;
}
std::string dim_str(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}
const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::shfl_idx: return "__shfl_sync";
    case WarpOp::shfl_up: return "__shfl_up_sync";
    case WarpOp::shfl_down: return "__shfl_down_sync";
    case WarpOp::shfl_xor: return "__shfl_xor_sync";
    case WarpOp::ballot: return "__ballot_sync/__any_sync/__all_sync";
    case WarpOp::sync: return "__syncwarp";
    default: return "__reduce_*_sync";
  }
}
std::string hex(unsigned v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

class Runner {
 public:
  void launch(const LaunchConfig& cfg, void (*body)(void*), void* closure);
  int barrier(BarrierKind kind, int pred, const std::source_location& w);
  uint64_t warp_op(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                   const std::source_location& w);
  unsigned active_mask() const;
  void* shared_static(const void* site, std::size_t bytes, std::size_t align, const char* name);
  void* shared_dynamic() { return dynamic_smem_.data(); }
  Stats stats;

 private:
  void run_block(uint3 block);
  void resume(Thread& t);
  void suspend(Thread& t) { t.sink = std::move(t.sink).resume(); }
  void fail_thread(const Thread& t);
  void make_runnable(unsigned i);
  unsigned pick_runnable();
  bool complete_warp(unsigned base);
  bool complete_barrier();
  [[noreturn]] void report_stall();
  void check_shared_canaries();
  void abandon_fibers();
  [[noreturn]] void fail(const std::string& what) const;
  Thread& running() { return *running_; }

  LaunchConfig cfg_{};
  void (*body_)(void*) = nullptr;
  void* closure_ = nullptr;
  Schedule sched_;
  std::mt19937_64 rng_;
  uint3 block_{};
  std::vector<Thread> threads_;
  std::vector<uint64_t> runnable_;  // bit set over threads_
  unsigned runnable_count_ = 0;
  Thread* running_ = nullptr;
  std::vector<unsigned char> static_smem_ =
      std::vector<unsigned char>(kStaticSmemLimit + 64 * kSmemCanary, kPoison);
  std::size_t static_used_ = 0;
  std::vector<SharedSlot> slots_;
  std::vector<unsigned char> dynamic_smem_;
  uint64_t launch_count_ = 0;
};

Runner& runner() {
  thread_local Runner r;
  return r;
}

void Runner::fail(const std::string& what) const {
  throw KernelError("kernel '" + std::string(cfg_.kernel) + "' block " + dim_str(block_) + ": " +
                    what);
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
  if (cfg.dynamic_smem > kTotalSmemLimit) {
    throw KernelError(k + std::to_string(cfg.dynamic_smem) +
                      " bytes of dynamic shared memory (at most " +
                      std::to_string(kTotalSmemLimit) + ")");
  }
  if (running_ != nullptr) {
    throw KernelError(k + "launched from inside a running kernel (dynamic parallelism is not "
                          "emulated)");
  }
  cfg_ = cfg;
  body_ = body;
  closure_ = closure;
  sched_ = schedule();
  rng_.seed(sched_.seed * 0x9E3779B97F4A7C15ull + launch_count_++);
  dynamic_smem_.assign(cfg.dynamic_smem + kSmemCanary, kPoison);
  threads_.clear();
  threads_.resize(nthreads);

  const uint64_t nblocks = uint64_t{cfg.grid.x} * cfg.grid.y * cfg.grid.z;
  std::vector<uint64_t> blocks(nblocks);
  for (uint64_t i = 0; i < nblocks; ++i) blocks[i] = i;
  if (sched_.kind == ScheduleKind::reversed) std::reverse(blocks.begin(), blocks.end());
  if (sched_.kind == ScheduleKind::random) std::shuffle(blocks.begin(), blocks.end(), rng_);

  FaultHandlerScope fault_scope;
  try {
    for (uint64_t b : blocks) {
      const unsigned gx = cfg.grid.x, gy = cfg.grid.y;
      run_block({static_cast<unsigned>(b % gx), static_cast<unsigned>(b / gx % gy),
                 static_cast<unsigned>(b / (uint64_t{gx} * gy))});
    }
  } catch (...) {
    abandon_fibers();
    check_guards(cfg.kernel);  // an overrun is the better explanation, if there is one
    throw;
  }
  ++stats.launches;
  check_guards(cfg.kernel);
}

void Runner::run_block(uint3 block) {
  block_ = block;
  std::memset(static_smem_.data(), kPoison, std::min(static_smem_.size(), static_used_ + 64));
  static_used_ = 0;
  slots_.clear();
  std::fill(dynamic_smem_.begin(), dynamic_smem_.end(), kPoison);

  const dim3 bd = cfg_.block;
  const unsigned n = static_cast<unsigned>(threads_.size());
  for (unsigned i = 0; i < n; ++i) {
    Thread& t = threads_[i];
    t.ctx = ThreadCtx{{i % bd.x, i / bd.x % bd.y, i / (bd.x * bd.y)}, block, bd, cfg_.grid, i % 32};
    t.linear = i;
    t.status = Status::runnable;
    t.error = nullptr;
  }
  runnable_.assign((n + 63) / 64, 0);
  runnable_count_ = 0;
  for (unsigned i = 0; i < n; ++i) make_runnable(i);
  unsigned done = 0;
  for (;;) {
    while (runnable_count_ > 0) {
      Thread& t = threads_[pick_runnable()];
      resume(t);
      if (t.error) fail_thread(t);
      if (t.status == Status::done) ++done;
      // Arriving at a warp collective, or leaving the kernel, may complete one.
      if (t.status == Status::warp || t.status == Status::done) complete_warp(t.linear / 32 * 32);
    }
    if (done == n) break;
    if (!complete_barrier()) report_stall();
  }
  check_shared_canaries();
  ++stats.blocks;
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
  const std::string who = "thread " + dim_str(t.ctx.thread_idx) + ": ";
  try {
    std::rethrow_exception(t.error);
  } catch (const MemoryFault& f) {
    const char* kind = !f.known_write ? "invalid access" : f.write ? "invalid write" : "invalid read";
    fail(who + kind + " at " + describe_address(f.addr));
  } catch (const KernelError& e) {
    fail(who + e.what());
  } catch (const std::exception& e) {
    fail(who + "threw: " + e.what());
  } catch (...) {
    fail(who + "threw an unknown exception");
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

uint64_t Runner::warp_op(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                         const std::source_location& w) {
  Thread& t = running();
  if ((mask & (1u << t.ctx.lane)) == 0) {
    // Thrown inside the kernel thread; fail_thread() adds kernel, block and thread.
    throw KernelError(std::string("calls ") + op_name(op) + " at " + site_str(w) + " with mask " +
                      hex(mask) + " that does not name its own lane " +
                      std::to_string(t.ctx.lane));
  }
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
    throw KernelError(std::string(op_name(op)) + " at " + site_str(w) + ": width " +
                      std::to_string(width) + " is not a power of two in 1..32");
  }
  t.status = Status::warp;
  t.op = op;
  t.mask = mask;
  t.value = value;
  t.param = param;
  t.width = width;
  t.where = w;
  suspend(t);
  return t.result;
}

unsigned Runner::active_mask() const {
  const unsigned base = running_->linear / 32 * 32;
  unsigned m = 0;
  for (unsigned l = 0; l < 32 && base + l < threads_.size(); ++l) {
    if (threads_[base + l].status != Status::done) m |= 1u << l;
  }
  return m;
}

// Completes the collectives of the warp starting at thread `base` whose participants (live
// lanes named in the mask) have all arrived with the same op and mask.
bool Runner::complete_warp(unsigned base) {
  bool progressed = false;
  const unsigned n = static_cast<unsigned>(threads_.size());
  {
    const unsigned lanes = std::min(32u, n - base);
    Thread* w = &threads_[base];
    unsigned alive = 0, waiting = 0;
    for (unsigned l = 0; l < lanes; ++l) {
      if (w[l].status != Status::done) alive |= 1u << l;
      if (w[l].status == Status::warp) waiting |= 1u << l;
    }
    unsigned seen = 0;
    for (unsigned l = 0; l < lanes; ++l) {
      if (!(waiting & (1u << l)) || (seen & (1u << l))) continue;
      const unsigned mask = w[l].mask;
      const unsigned part = mask & alive;
      bool ready = true;
      for (unsigned p = 0; p < lanes; ++p) {
        if (!(part & (1u << p))) continue;
        if (w[p].status != Status::warp || w[p].mask != mask) {
          ready = false;
        } else if (w[p].op != w[l].op) {
          fail("warp " + std::to_string(base / 32) + " diverges: lane " + std::to_string(l) +
               " calls " + op_name(w[l].op) + " at " + site_str(w[l].where) + " but lane " +
               std::to_string(p) + " calls " + op_name(w[p].op) + " at " + site_str(w[p].where) +
               " (mask " + hex(mask) + ")");
        }
      }
      for (unsigned p = 0; p < lanes; ++p) {
        if ((waiting & (1u << p)) && w[p].mask == mask) seen |= 1u << p;
      }
      if (!ready) continue;
      // Compute each participant's result.
      uint64_t votes = 0;
      uint32_t sum = 0, mn_u = ~0u, mx_u = 0, band = ~0u, bor = 0, bxor = 0;
      int32_t mn_s = INT32_MAX, mx_s = INT32_MIN;
      for (unsigned p = 0; p < lanes; ++p) {
        if (!(part & (1u << p))) continue;
        const uint32_t v = static_cast<uint32_t>(w[p].value);
        if (w[p].value != 0) votes |= 1u << p;
        sum += v;
        mn_u = std::min(mn_u, v);
        mx_u = std::max(mx_u, v);
        mn_s = std::min(mn_s, static_cast<int32_t>(v));
        mx_s = std::max(mx_s, static_cast<int32_t>(v));
        band &= v;
        bor |= v;
        bxor ^= v;
      }
      for (unsigned p = 0; p < lanes; ++p) {
        if (!(part & (1u << p))) continue;
        Thread& t = w[p];
        const int width = t.width;
        const int seg = static_cast<int>(p) & ~(width - 1);
        int src = static_cast<int>(p);
        switch (t.op) {
          case WarpOp::shfl_idx: src = seg + (((t.param % width) + width) % width); break;
          case WarpOp::shfl_up: src = static_cast<int>(p) - t.param; if (src < seg) src = static_cast<int>(p); break;
          case WarpOp::shfl_down: src = static_cast<int>(p) + t.param; if (src >= seg + width) src = static_cast<int>(p); break;
          case WarpOp::shfl_xor: src = static_cast<int>(p) ^ t.param; if (src >= seg + width) src = static_cast<int>(p); break;
          default: break;
        }
        switch (t.op) {
          case WarpOp::shfl_idx:
          case WarpOp::shfl_up:
          case WarpOp::shfl_down:
          case WarpOp::shfl_xor:
            // Reading a lane that does not take part is undefined in CUDA: give poison.
            t.result = (src >= 0 && src < 32 && (part & (1u << src))) ? w[src].value : ~uint64_t{0};
            break;
          case WarpOp::ballot: t.result = (uint64_t{part} << 32) | votes; break;
          case WarpOp::sync: t.result = 0; break;
          case WarpOp::reduce_add: t.result = sum; break;
          case WarpOp::reduce_min_u: t.result = mn_u; break;
          case WarpOp::reduce_max_u: t.result = mx_u; break;
          case WarpOp::reduce_min_s: t.result = static_cast<uint32_t>(mn_s); break;
          case WarpOp::reduce_max_s: t.result = static_cast<uint32_t>(mx_s); break;
          case WarpOp::reduce_and: t.result = band; break;
          case WarpOp::reduce_or: t.result = bor; break;
          case WarpOp::reduce_xor: t.result = bxor; break;
        }
      }
      for (unsigned p = 0; p < lanes; ++p) {
        if (part & (1u << p)) make_runnable(base + p);
      }
      progressed = true;
    }
  }
  return progressed;
}

// Releases the block barrier when every live thread waits at the same __syncthreads.
bool Runner::complete_barrier() {
  const Thread* first = nullptr;
  const Thread* exited = nullptr;
  bool at_warp = false;
  int count = 0;
  for (const Thread& t : threads_) {
    if (t.status == Status::warp) at_warp = true;
    if (t.status == Status::done && exited == nullptr) exited = &t;
    if (t.status != Status::barrier) continue;
    if (first == nullptr) first = &t;
    if (!same_site(t.where, first->where) || t.barrier_kind != first->barrier_kind) {
      fail("barrier divergence: thread " + dim_str(first->ctx.thread_idx) +
           " waits at __syncthreads at " + site_str(first->where) + " but thread " +
           dim_str(t.ctx.thread_idx) + " waits at a different one at " + site_str(t.where));
    }
    count += t.pred != 0;
  }
  if (first == nullptr || at_warp) return false;
  if (exited != nullptr) {
    fail("barrier divergence: thread " + dim_str(exited->ctx.thread_idx) +
         " exited without reaching the __syncthreads at " + site_str(first->where) +
         " where thread " + dim_str(first->ctx.thread_idx) + " waits");
  }
  const int n = static_cast<int>(threads_.size());
  const int result = first->barrier_kind == BarrierKind::count ? count
                     : first->barrier_kind == BarrierKind::all ? (count == n)
                     : first->barrier_kind == BarrierKind::any ? (count > 0)
                                                               : 0;
  for (unsigned i = 0; i < threads_.size(); ++i) {
    threads_[i].barrier_result = result;
    make_runnable(i);
  }
  return true;
}

// Nothing can run and nothing can complete: say what each stuck warp collective waits for.
void Runner::report_stall() {
  for (const Thread& t : threads_) {
    if (t.status != Status::warp) continue;
    const unsigned base = t.linear / 32 * 32;
    for (unsigned p = 0; p < 32 && base + p < threads_.size(); ++p) {
      const Thread& o = threads_[base + p];
      if (!(t.mask & (1u << p)) || o.status == Status::done) continue;
      std::string why;
      if (o.status == Status::barrier) {
        why = "waits at __syncthreads at " + site_str(o.where);
      } else if (o.status == Status::warp && o.mask != t.mask) {
        why = "waits at " + std::string(op_name(o.op)) + " at " + site_str(o.where) +
              " with mask " + hex(o.mask);
      } else {
        continue;
      }
      fail("warp collective cannot complete: thread " + dim_str(t.ctx.thread_idx) + " waits at " +
           op_name(t.op) + " at " + site_str(t.where) + " with mask " + hex(t.mask) +
           ", which names lane " + std::to_string(p) + " (thread " + dim_str(o.ctx.thread_idx) +
           ") that " + why);
    }
  }
  fail("deadlock: no thread can make progress");
}

void* Runner::shared_static(const void* site, std::size_t bytes, std::size_t align,
                            const char* name) {
  for (const SharedSlot& s : slots_) {
    if (s.site == site) return static_smem_.data() + s.offset;
  }
  const std::size_t offset = (static_used_ + std::max<std::size_t>(align, 16) - 1) /
                             std::max<std::size_t>(align, 16) * std::max<std::size_t>(align, 16);
  // Thrown inside the kernel thread; fail_thread() adds kernel, block and thread.
  if (offset + bytes > kStaticSmemLimit) {
    throw KernelError(std::string("static shared memory '") + name + "' does not fit: " +
                      std::to_string(offset + bytes) + " bytes in all, the limit is " +
                      std::to_string(kStaticSmemLimit));
  }
  if (offset + bytes + cfg_.dynamic_smem > kTotalSmemLimit) {
    throw KernelError("static + dynamic shared memory exceed " +
                      std::to_string(kTotalSmemLimit) + " bytes");
  }
  slots_.push_back({site, offset, bytes, name});
  static_used_ = offset + bytes + kSmemCanary;
  return static_smem_.data() + offset;
}

void Runner::check_shared_canaries() {
  auto poisoned = [](const unsigned char* p, std::size_t n) {
    return std::all_of(p, p + n, [](unsigned char c) { return c == kPoison; });
  };
  for (const SharedSlot& s : slots_) {
    if (!poisoned(static_smem_.data() + s.offset + s.bytes, kSmemCanary)) {
      fail(std::string("wrote past the end of shared memory '") + s.name + "' (" +
           std::to_string(s.bytes) + " bytes)");
    }
  }
  if (!poisoned(dynamic_smem_.data() + cfg_.dynamic_smem, kSmemCanary)) {
    fail("wrote past the end of dynamic shared memory (" + std::to_string(cfg_.dynamic_smem) +
         " bytes)");
  }
}

}  // namespace

int block_barrier(BarrierKind kind, int pred, const std::source_location& where) {
  return runner().barrier(kind, pred, where);
}
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

}  // namespace melgrad::emu
