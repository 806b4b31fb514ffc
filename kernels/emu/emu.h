// The kernel emulator's public API: it runs CUDA kernels (compiled by g++ through
// kernels/emu/cuda_compat.h) on the CPU. A launch runs the grid's blocks one after another
// on the calling thread; the threads of a block are cooperative fibers (Boost.Context) that
// switch only at synchronisation points (__syncthreads, warp shuffles/votes, __syncwarp), so
// barriers, shared memory and warp collectives behave as on a GPU, and the order in which
// threads resume is a policy (Schedule) that tests vary to expose missing barriers. The
// concurrent schedule instead runs the blocks of a launch on several host threads at once,
// so that a non-atomic read-modify-write shared by blocks (a lost update) or any other
// cross-block race can show. A cooperative launch runs all blocks of the grid at once (their
// threads fibers of one scheduler), so that the grid-wide barrier mg_grid_sync() works.
//
// Checks (each failure is a KernelError naming the kernel and the block, thrown from the
// launch): a barrier not reached by every thread of a block (of the grid, for
// mg_grid_sync), or reached at different __syncthreads (mg_grid_sync) calls; warp collectives that
// cannot complete; accesses past the end of an emu::malloc allocation (guard page → trap) or writes
// into its slack (canaries checked after each launch); shared-memory overruns (canaries checked
// after each block); host pointers passed as kernel pointer arguments; invalid launch
// configurations, including more than 48 KiB of shared memory for a kernel that did not opt in
// (MG_SET_MAX_DYNAMIC_SMEM, CUDA's cudaFuncSetAttribute(MaxDynamicSharedMemorySize)), a block
// larger than the kernel's __launch_bounds__, and a cooperative grid larger than what the
// emulated device (DeviceProfile) holds co-resident. Shared memory is filled with 0xFF bytes (a
// NaN for float, -1 for int) before every block. See docs/KERNELS.md for the guarantees and
// the limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <source_location>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// CUDA's vector types and stream handle, in the global namespace as in CUDA.
struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
      : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};
struct CUstream_st;
using cudaStream_t = CUstream_st*;

namespace melgrad::emu {

// Order in which the runnable threads of a block resume after every synchronisation point
// (and the order of the blocks of a grid). in_order: thread 0 first; reversed: the last
// thread first; random: a fresh permutation each time, from `seed`. concurrent: the blocks
// of a launch run at the same time on `workers` host threads (each takes the next block as
// it finishes one; inside a block, threads resume in order), so the interleaving of blocks
// is the operating system's and differs from run to run: a race between blocks shows as a
// wrong result some of the time. A cooperative launch always runs on one host thread (its
// grid barrier needs one scheduler); under concurrent it uses the in-order thread order.
enum class ScheduleKind : uint8_t { in_order, reversed, random, concurrent };

struct Schedule {
  static constexpr unsigned kDefaultWorkers = 4;
  static constexpr unsigned kMaxWorkers = 64;

  ScheduleKind kind = ScheduleKind::in_order;
  uint64_t seed = 0;
  unsigned workers = 0;  // host threads of the concurrent schedule

  static Schedule in_order() { return {}; }
  static Schedule reversed() { return {ScheduleKind::reversed, 0}; }
  static Schedule random(uint64_t seed) { return {ScheduleKind::random, seed}; }
  static Schedule concurrent(unsigned workers = kDefaultWorkers) {
    return {ScheduleKind::concurrent, 0, workers};
  }
  // "inorder" | "reversed" | "random" | "random:SEED" | "concurrent" | "concurrent:WORKERS"
  // (1..kMaxWorkers); throws std::invalid_argument.
  static Schedule parse(std::string_view text);
  std::string str() const;
};

// The process-wide schedule. Initially from MELGRAD_EMU_SCHEDULE (default inorder).
Schedule schedule();
void set_schedule(const Schedule& s);

// Sets a schedule for a scope (a test) and restores the previous one.
class ScopedSchedule {
 public:
  explicit ScopedSchedule(const Schedule& s) : saved_(schedule()) { set_schedule(s); }
  ~ScopedSchedule() { set_schedule(saved_); }
  ScopedSchedule(const ScopedSchedule&) = delete;
  ScopedSchedule& operator=(const ScopedSchedule&) = delete;

 private:
  Schedule saved_;
};

// Every bug the emulator detects in a kernel is reported as this exception.
class KernelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "Device" memory of emulator builds: host memory with a PROT_NONE guard page right after
// the allocation's (16-byte aligned) end and one before its first page, and canary bytes
// (0xFF, so stray float reads give NaN) in the slack around it. Reads or writes that
// reach a guard page raise KernelError from the launch; writes into the slack are found
// by check_guards(), which every launch runs afterwards. malloc(0) returns a valid pointer.
void* malloc(std::size_t bytes);
void free(void* p);                     // nullptr is fine; a pointer not from malloc throws
bool is_device_pointer(const void* p);  // inside (or one past the end of) a live allocation
void check_guards(const char* kernel);  // throws KernelError naming `kernel` if one is hit

// Recording: the emulator's stand-in for CUDA stream capture (engine/cuda/step_graph.cpp).
// Between begin_recording() and end_recording(), launches on the calling thread are stored
// (kernel, configuration and arguments, by value) instead of run; Recording::replay() runs
// them again, in order, on whatever the memory then holds. What a CUDA graph could not
// hold invalidates the recording: a copy between host and device memory (a read-back, an
// upload from pageable memory) or freeing device memory (the recorded launches may use
// it); end_recording() then throws KernelError naming the first such call.
class Recording {
 public:
  void replay() const;
  std::size_t launches() const { return launches_.size(); }

 private:
  friend Recording end_recording();
  std::vector<std::function<void()>> launches_;
};
void begin_recording();  // throws if this thread is already recording
Recording end_recording();
bool is_recording();  // on this thread

// The emulated device: what co-residency (occupancy, cooperative launches), the shared
// memory opt-in and kernels::device_sm_count() answer from. Chosen by MELGRAD_EMU_DEVICE:
//   small (default)  4 SMs of an H100's size: few blocks per grid-stride launch, fast tests
//   h100             132 SMs (H100 SXM), h200 the same SMs (132)
//   a100             108 SMs, 164 KiB of shared memory per SM, 163 KiB per block opt-in
// Every profile has 64 Ki 32-bit registers, 2048 threads and 32 blocks per SM, and reserves
// 1 KiB of shared memory per resident block (CUDA's cudaDevAttrReservedSharedMemoryPerBlock).
struct DeviceProfile {
  const char* name;
  int sms;
  int registers_per_sm;
  int threads_per_sm;
  int blocks_per_sm;
  std::size_t smem_per_sm;
  std::size_t smem_per_block_optin;  // cudaDevAttrMaxSharedMemoryPerBlockOptin
  std::size_t smem_reserved_per_block;
};
const DeviceProfile& device();
// Selects a profile by name ("small", "h100", "h200", "a100"); throws std::invalid_argument
// naming the profiles for any other.
void set_device(std::string_view name);
std::vector<std::string> device_names();

// Sets a device profile for a scope (a test) and restores the previous one.
class ScopedDevice {
 public:
  explicit ScopedDevice(std::string_view name) : saved_(device().name) { set_device(name); }
  ~ScopedDevice() { set_device(saved_); }
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

 private:
  std::string saved_;
};

// What a kernel declares about its resources. max_threads and min_blocks are the arguments of
// its __launch_bounds__ (0 when it has none; cuda_compat.h encodes them into the function's
// entry, to a multiple of 32 threads, and launch_bounds_of reads them back); registers per
// thread are a declared figure (declare_registers, e.g. from nvcc --resource-usage) or else
// an estimate: the most that __launch_bounds__ lets nvcc use (64 Ki / (max_threads ×
// min_blocks), in steps of 8, at most 255), or kEstimatedRegisters without bounds.
struct KernelResources {
  int max_threads = 0;
  int min_blocks = 0;
  int registers = 0;
  bool registers_declared = false;
};
constexpr int kEstimatedRegisters = 32;
KernelResources kernel_resources(const void* fn);
void declare_registers(const void* fn, int registers_per_thread);  // 1..255, else throws

// cudaOccupancyMaxActiveBlocksPerMultiprocessor on the emulated device: blocks of
// `threads_per_block` threads and `dynamic_smem` bytes that one SM holds at once, limited by
// threads, blocks, registers (allocated per warp in units of 256) and shared memory. Static
// shared memory is not known before a block runs, so only the dynamic part counts. 0 when
// even one block does not fit (more threads than __launch_bounds__ or the SM allows).
int max_active_blocks_per_sm(const void* fn, unsigned threads_per_block, std::size_t dynamic_smem);
// Cooperative launches (MG_LAUNCH_COOPERATIVE) need every block of the grid resident at
// once: at most device().sms × max_active_blocks_per_sm blocks, as cudaLaunchCooperativeKernel
// refuses larger grids (cudaErrorCooperativeLaunchTooLarge). Without a kernel (fn nullptr),
// one of kEstimatedRegisters registers per thread and no launch bounds.
int cooperative_max_blocks(const void* fn, unsigned threads_per_block, std::size_t dynamic_smem);
inline int cooperative_max_blocks(unsigned threads_per_block, std::size_t dynamic_smem) {
  return cooperative_max_blocks(nullptr, threads_per_block, dynamic_smem);
}

// Shared memory per block, as on a GPU: a kernel gets at most kDefaultSmemLimit (static +
// dynamic) unless it opted in to more with set_max_dynamic_smem (what
// cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) does; the
// MG_SET_MAX_DYNAMIC_SMEM macro in both builds), up to the device's smem_per_block_optin
// (kOptinSmemLimit on sm_90). A launch above the kernel's limit is an invalid launch
// configuration. Like the CUDA attribute, the opt-in is per kernel function, process-wide,
// and the last value set wins.
constexpr std::size_t kDefaultSmemLimit = 48 * 1024;
constexpr std::size_t kOptinSmemLimit = 227 * 1024;
// Throws KernelError (naming `kernel`) above the device's opt-in limit, as CUDA refuses it.
void set_max_dynamic_smem(const char* kernel, const void* fn, std::size_t bytes);
// The kernel's dynamic shared memory limit: kDefaultSmemLimit unless it opted in.
std::size_t max_dynamic_smem(const void* fn);

// Counters for benchmarks and tests (of the calling OS thread).
struct Stats {
  uint64_t launches = 0;
  uint64_t blocks = 0;
  uint64_t threads = 0;
  uint64_t resumes = 0;                // fiber switches into kernel threads
  cudaStream_t last_stream = nullptr;  // the stream the last launch named (it ran at once)
};
Stats stats();

namespace detail {

// What kernel code reads through threadIdx, blockIdx, blockDim, gridDim.
struct ThreadCtx {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  unsigned int lane;  // linear thread index % 32
};
extern thread_local const ThreadCtx* t_ctx;
inline const ThreadCtx& ctx() { return *t_ctx; }  // only valid inside a running kernel

enum class BarrierKind : uint8_t { sync, count, all, any };
// Suspends the calling thread until every thread of the block waits at the same barrier;
// returns the barrier's reduction of `pred` (count/all/any), 0 for plain sync.
int block_barrier(BarrierKind kind, int pred, const std::source_location& where);

enum class WarpOp : uint8_t {
  shfl_idx,
  shfl_up,
  shfl_down,
  shfl_xor,  // move 64-bit payloads between lanes
  ballot,
  sync,  // vote / __syncwarp
  reduce_add,
  reduce_min_s,
  reduce_max_s,
  reduce_min_u,
  reduce_max_u,
  reduce_and,
  reduce_or,
  reduce_xor,  // __reduce_*_sync on 32-bit integers
};
// Suspends until every non-exited lane named in `mask` arrived at a warp collective with
// the same op and mask, then returns this lane's result.
uint64_t warp_collective(WarpOp op, unsigned int mask, uint64_t value, int param, int width,
                         const std::source_location& where);
unsigned int active_mask();

// Suspends the calling thread until every thread of the (cooperative) grid waits at the same
// mg_grid_sync(); throws KernelError in a kernel not launched cooperatively.
void grid_barrier(const std::source_location& where);

// Shared memory of the running block: one region per declaration site (static) and the
// launch's dynamic region. Both are poisoned with 0xFF bytes when a block starts.
void* shared_static(const void* site, std::size_t bytes, std::size_t align, const char* name);
void* shared_dynamic();

struct LaunchConfig {
  const char* kernel;
  const void* fn;  // the kernel function: its shared memory opt-in (set_max_dynamic_smem)
  dim3 grid;
  dim3 block;
  std::size_t dynamic_smem;
  bool cooperative = false;       // all blocks resident at once (grid barriers allowed)
  cudaStream_t stream = nullptr;  // only reported (Stats::last_stream): launches are synchronous
};
// Runs every thread of every block; each thread calls body(closure).
void run_launch(const LaunchConfig& cfg, void (*body)(void*), void* closure);
// While recording: stores a launch instead of running it (see Recording).
void record_launch(std::function<void()> launch);
// While recording: `what` (a copy, a free) cannot be recorded; the recording is invalid.
void note_unrecordable(const char* what);
// Throws KernelError if a pointer argument is neither nullptr nor emulator device memory.
void check_pointer_argument(const char* kernel, int index, const void* p);

template <class T>
void check_argument(const char* kernel, int index, const T& arg) {
  if constexpr (std::is_pointer_v<T>) check_pointer_argument(kernel, index, arg);
}

// What MG_LAUNCH(kernel, grid, block, smem, stream)(args...) builds in emulator builds.
template <class... P>
class Launcher {
 public:
  Launcher(const char* name, void (*fn)(P...), dim3 grid, dim3 block, std::size_t smem,
           bool cooperative, cudaStream_t stream)
      : fn_(fn), cfg_{name,  reinterpret_cast<const void*>(fn), grid, block, smem, cooperative,
                      stream} {}

  template <class... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong argument count");
    struct Closure {
      void (*fn)(P...);
      std::tuple<std::decay_t<P>...> params;
    };
    // Arguments convert to the parameter types once, as a CUDA launch does; every thread
    // then gets its own copy of the parameters.
    Closure closure{fn_, std::tuple<std::decay_t<P>...>(std::forward<A>(args)...)};
    check_arguments(closure.params, std::index_sequence_for<P...>{});
    auto body = [](void* c) {
      auto* cl = static_cast<Closure*>(c);
      std::apply(cl->fn, cl->params);
    };
    if (is_recording()) {  // kept by value, run by Recording::replay()
      record_launch([cfg = cfg_, closure, body]() mutable { run_launch(cfg, body, &closure); });
      return;
    }
    run_launch(cfg_, body, &closure);
  }

 private:
  template <class Tuple, std::size_t... I>
  void check_arguments(const Tuple& t, std::index_sequence<I...>) const {
    (check_argument(cfg_.kernel, static_cast<int>(I), std::get<I>(t)), ...);
  }

  void (*fn_)(P...);
  LaunchConfig cfg_;
};

template <class... P>
Launcher<P...> make_launcher(const char* name, void (*fn)(P...), dim3 grid, dim3 block,
                             std::size_t smem, cudaStream_t stream) {
  return Launcher<P...>(name, fn, grid, block, smem, false, stream);
}

// Raises the kernel's limit to `bytes` when it is lower; never lowers it, so a launch
// recorded earlier with more shared memory (a step graph) stays valid. What the cooperative
// launch and occupancy helpers and MG_RAISE_MAX_DYNAMIC_SMEM use, in both builds.
inline void raise_max_dynamic_smem(const char* name, const void* fn, std::size_t bytes) {
  if (bytes > max_dynamic_smem(fn)) set_max_dynamic_smem(name, fn, bytes);
}
template <class... P>
void raise_max_dynamic_smem_of(const char* name, void (*fn)(P...), std::size_t bytes) {
  raise_max_dynamic_smem(name, reinterpret_cast<const void*>(fn), bytes);
}

// What MG_SET_MAX_DYNAMIC_SMEM(kernel, bytes) builds.
template <class... P>
void set_max_dynamic_smem_of(const char* name, void (*fn)(P...), std::size_t bytes) {
  set_max_dynamic_smem(name, reinterpret_cast<const void*>(fn), bytes);
}

// What MG_COOPERATIVE_MAX_BLOCKS(kernel, threads, smem) builds. As under nvcc, it first
// raises the kernel's dynamic shared memory limit when smem needs more than it allows.
template <class... P>
int cooperative_max_blocks_of(const char* name, void (*fn)(P...), unsigned threads,
                              std::size_t smem) {
  raise_max_dynamic_smem(name, reinterpret_cast<const void*>(fn), smem);
  return cooperative_max_blocks(reinterpret_cast<const void*>(fn), threads, smem);
}

// What MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(kernel, threads, smem) builds (the nvcc build calls
// cudaOccupancyMaxActiveBlocksPerMultiprocessor).
template <class... P>
int max_active_blocks_per_sm_of(void (*fn)(P...), unsigned threads, std::size_t smem) {
  return max_active_blocks_per_sm(reinterpret_cast<const void*>(fn), threads, smem);
}

// What MG_DECLARE_REGISTERS(kernel, n) builds (nothing under nvcc, which knows the figure).
template <class... P>
void declare_registers_of(void (*fn)(P...), int registers) {
  declare_registers(reinterpret_cast<const void*>(fn), registers);
}

// __launch_bounds__(max_threads, min_blocks) in emulator builds: the number of single-byte
// (x86-64) or one-word (AArch64) NOPs that GCC's patchable_function_entry puts at the
// kernel's entry, ceil(max_threads / 32) + 33 × (min_blocks - 1), which
// launch_bounds_of() counts back. The third argument (blocks per cluster) is ignored.
constexpr int launch_bounds_nops(int max_threads, int min_blocks = 1, int = 0) {
  return (max_threads + 31) / 32 + 33 * ((min_blocks < 1 ? 1 : min_blocks) - 1);
}
struct LaunchBounds {
  int max_threads = 0;  // 0: none declared (or an architecture whose NOPs are not decoded)
  int min_blocks = 0;
};
LaunchBounds launch_bounds_of(const void* fn);

// What MG_LAUNCH_COOPERATIVE(kernel, grid, block, smem, stream)(args...) builds; like the
// nvcc launcher, it raises the kernel's shared memory limit when needed.
template <class... P>
Launcher<P...> make_cooperative_launcher(const char* name, void (*fn)(P...), dim3 grid, dim3 block,
                                         std::size_t smem, cudaStream_t stream) {
  raise_max_dynamic_smem(name, reinterpret_cast<const void*>(fn), smem);
  return Launcher<P...>(name, fn, grid, block, smem, true, stream);
}

}  // namespace detail
}  // namespace melgrad::emu
