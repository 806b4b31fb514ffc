// The one header every kernels/*.cu includes first, so that one source builds two ways:
//  - under nvcc (__CUDACC__): the real CUDA runtime; the MG_* macros expand to CUDA syntax;
//  - under g++ (emulator build, melgrad_kernels_emu): a shim that gives the CUDA built-ins
//    (threadIdx/blockIdx/blockDim/gridDim, __syncthreads, warp shuffles and votes, atomics,
//    math intrinsics) host definitions served by the fiber emulator in kernels/emu/emu.h.
//
// Kernel authors write, in both builds:
//   MG_LAUNCH(kernel, grid, block, smem, stream)(args...);   // not kernel<<<...>>>(args...)
//   MG_LAUNCH((kernel<T, 4>), ...)(args...);                 // parenthesise template commas
//   MG_SHARED(float, tile, 256);           // __shared__ float tile[256];
//   MG_SHARED_2D(float, tile, 32, 33);     // __shared__ float tile[32][33];
//   MG_SHARED_VAR(int, count);             // __shared__ int count;
//   MG_SHARED_DYN(float, buf);             // extern __shared__ float buf[];  (launch's smem)
//   MG_CHECK_LAUNCH("softmax_forward");    // after a launch: cudaGetLastError → exception
//   MG_SET_MAX_DYNAMIC_SMEM(kernel, bytes) // opt in to > 48 KiB of dynamic shared memory
//                                          // (cudaFuncSetAttribute; the emulator enforces it)
//   MG_RAISE_MAX_DYNAMIC_SMEM(kernel, bytes)  // the same, but never lowers the limit (what
//                                          // launchers use: a recorded graph keeps its launches)
// Host code of kernels/ checks CUDA runtime calls (nvcc build only) with
//   MG_CUDA_CHECK(cudaGetDevice(&dev));    // throws "cudaGetDevice(&dev) failed at FILE:LINE:
//                                          //   cudaErrorNoDevice (no CUDA-capable device ...)"
// (engine/cuda/cuda_check.h's MELGRAD_CUDA_CHECK, which kernels/ cannot include).
// Grid-wide barriers need a cooperative launch (every block resident at once):
//   MG_LAUNCH_COOPERATIVE(kernel, grid, block, smem, stream)(args...);  // throws if the
//       device cannot launch cooperatively or the grid does not fit co-resident
//   mg_grid_sync();                        // in the kernel: cg::this_grid().sync()
//   MG_COOPERATIVE_MAX_BLOCKS(kernel, threads, smem)  // on the host: co-resident blocks
// Both raise the kernel's dynamic shared memory limit when smem needs more than it allows
// (never lowering it). Occupancy and resources, in both builds:
//   MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(kernel, threads, smem)  // blocks per SM at once
//                                          // (cudaOccupancyMaxActiveBlocksPerMultiprocessor)
//   MG_DECLARE_REGISTERS(kernel, n)        // emulator: the kernel uses n registers a thread
//                                          // (nvcc --resource-usage); nvcc: nothing
// What the emulator checks as a GPU would (kernels/emu/emu.h, docs/KERNELS.md):
//   - `__global__ void __launch_bounds__(MAX, MIN) k(...)`: a launch of k with more than MAX
//     threads a block fails ("too many resources requested for launch",
//     cudaErrorLaunchOutOfResources). The emulator build turns the bounds into NOPs at k's
//     entry (GCC's patchable_function_entry) that it counts at launch: MAX in steps of 32.
//   - co-residency on a named device profile, MELGRAD_EMU_DEVICE=small (default: 4 SMs of an
//     H100's size) | h100 | h200 (132 SMs) | a100 (108 SMs): threads, blocks, registers (the
//     declared figure, or the most __launch_bounds__ lets nvcc use, or 32) and dynamic shared
//     memory per SM give the occupancy, and a cooperative grid above SMs × occupancy fails
//     ("too many blocks in cooperative launch", cudaErrorCooperativeLaunchTooLarge).
//   - schedules, MELGRAD_EMU_SCHEDULE=inorder (default) | reversed | random[:SEED] (the order
//     in which a block's threads, and the blocks, run; one host thread) | concurrent[:N]
//     (the blocks of a launch on N host threads at once, default 4: lost updates and other
//     cross-block races show; a cooperative launch stays on one thread).
// Global memory that other blocks write during the kernel is read with __ldcg (L2, not the
// possibly stale L1); the emulator defines it as a plain load.
// A raw `__shared__` declaration does not compile in the emulator build (the emulator could
// not poison or bounds-check it); use the macros. `__constant__` memory is not emulated.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#ifdef __CUDACC__  // ------------------------------------------------------------- nvcc --

#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <array>
#include <tuple>
#include <utility>

#define MG_EMULATED 0
#define MG_LAUNCH(kernel, grid, block, smem, stream) kernel<<<(grid), (block), (smem), (stream)>>>
#define MG_SHARED(T, name, N) __shared__ T name[N]
#define MG_SHARED_2D(T, name, R, C) __shared__ T name[R][C]
#define MG_SHARED_VAR(T, name) __shared__ T name
#define MG_SHARED_DYN(T, name)                                     \
  extern __shared__ __align__(16) unsigned char mg_dynamic_smem[]; \
  T* const name = reinterpret_cast<T*>(mg_dynamic_smem)
#define MG_CHECK_LAUNCH(what)                                                                   \
  ::melgrad::cuda_launch::check_status(cudaGetLastError(), "kernel launch", __FILE__, __LINE__, \
                                       (what))
#define MG_CUDA_CHECK(call) ::melgrad::cuda_launch::check_status((call), #call, __FILE__, __LINE__)

__device__ __forceinline__ void mg_grid_sync() { cooperative_groups::this_grid().sync(); }

namespace melgrad::cuda_launch {

// Where a launcher called a CUDA runtime function (the .cu file and line).
struct CallSite {
  const char* file;
  int line;
};

// Throws "[what: ]call failed at file:line: cudaErrorName (text)" unless e is cudaSuccess,
// and clears a non-sticky error so that later calls start clean.
inline void check_status(cudaError_t e, const char* call, const char* file, int line,
                         const char* what = nullptr) {
  if (e == cudaSuccess) return;
  cudaGetLastError();
  throw std::runtime_error((what != nullptr ? std::string(what) + ": " : std::string()) + call +
                           " failed at " + file + ":" + std::to_string(line) + ": " +
                           cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}
inline void check(cudaError_t e, const char* call, const char* kernel, CallSite at) {
  check_status(e, call, at.file, at.line, kernel);
}

// cudaFuncSetAttribute(fn, MaxDynamicSharedMemorySize, bytes): what MG_SET_MAX_DYNAMIC_SMEM does.
template <class... P>
void set_max_dynamic_smem(const char* name, void (*fn)(P...), std::size_t smem, CallSite at) {
  check(cudaFuncSetAttribute(reinterpret_cast<const void*>(fn),
                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
        "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)", name, at);
}

// Raises the kernel's limit to smem when it allows less (it starts at 48 KiB); never lowers
// it, so launches recorded earlier in a graph with more shared memory stay valid.
template <class... P>
void raise_max_dynamic_smem(const char* name, void (*fn)(P...), std::size_t smem, CallSite at) {
  if (smem <= 48 * 1024) return;
  cudaFuncAttributes attributes{};
  check(cudaFuncGetAttributes(&attributes, reinterpret_cast<const void*>(fn)),
        "cudaFuncGetAttributes", name, at);
  if (smem > static_cast<std::size_t>(attributes.maxDynamicSharedSizeBytes))
    set_max_dynamic_smem(name, fn, smem, at);
}

// How many blocks of `threads` threads and `smem` bytes of dynamic shared memory can be
// resident at once (0 when the device cannot launch cooperatively). Raises the kernel's
// dynamic shared memory limit first when smem needs more than it allows.
template <class... P>
int cooperative_max_blocks(const char* name, void (*fn)(P...), int threads, std::size_t smem,
                           CallSite at) {
  int dev = 0, coop = 0, sms = 0, per_sm = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice", name, at);
  check(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev),
        "cudaDeviceGetAttribute(CooperativeLaunch)", name, at);
  if (coop == 0) return 0;
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev),
        "cudaDeviceGetAttribute(MultiProcessorCount)", name, at);
  raise_max_dynamic_smem(name, fn, smem, at);
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fn, threads, smem),
        "cudaOccupancyMaxActiveBlocksPerMultiprocessor", name, at);
  return per_sm * sms;
}

// cudaOccupancyMaxActiveBlocksPerMultiprocessor: what MG_OCCUPANCY_MAX_ACTIVE_BLOCKS builds.
template <class... P>
int max_active_blocks_per_sm(const char* name, void (*fn)(P...), int threads, std::size_t smem,
                             CallSite at) {
  int per_sm = 0;
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fn, threads, smem),
        "cudaOccupancyMaxActiveBlocksPerMultiprocessor", name, at);
  return per_sm;
}

// What MG_LAUNCH_COOPERATIVE(...)(args...) builds under nvcc: checks that the grid fits
// co-resident (a clear error instead of cudaErrorCooperativeLaunchTooLarge), then
// cudaLaunchCooperativeKernel with the arguments converted to the kernel's parameter types.
template <class... P>
class CooperativeLauncher {
 public:
  CooperativeLauncher(const char* name, void (*fn)(P...), dim3 grid, dim3 block, std::size_t smem,
                      cudaStream_t stream, CallSite at)
      : name_(name), fn_(fn), grid_(grid), block_(block), smem_(smem), stream_(stream), at_(at) {}

  template <class... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong argument count");
    std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
    std::apply([this](auto&... p) { launch(std::array<void*, sizeof...(P)>{&p...}.data()); },
               params);
  }

 private:
  void launch(void** args) const {
    const long long blocks = static_cast<long long>(grid_.x) * grid_.y * grid_.z;
    const int threads = static_cast<int>(block_.x * block_.y * block_.z);
    const int fit = cooperative_max_blocks(name_, fn_, threads, smem_, at_);
    if (blocks > fit) {
      throw std::runtime_error(
          std::string(name_) + ": cooperative launch of " + std::to_string(blocks) + " blocks of " +
          std::to_string(threads) + " threads with " + std::to_string(smem_) +
          " bytes of dynamic shared memory: at most " + std::to_string(fit) +
          " fit co-resident on this device (" + at_.file + ":" + std::to_string(at_.line) + ")");
    }
    check(cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(fn_), grid_, block_, args,
                                      smem_, stream_),
          "cudaLaunchCooperativeKernel", name_, at_);
  }

  const char* name_;
  void (*fn_)(P...);
  dim3 grid_, block_;
  std::size_t smem_;
  cudaStream_t stream_;
  CallSite at_;
};

template <class... P>
CooperativeLauncher<P...> make_cooperative_launcher(const char* name, void (*fn)(P...), dim3 grid,
                                                    dim3 block, std::size_t smem,
                                                    cudaStream_t stream, CallSite at) {
  return CooperativeLauncher<P...>(name, fn, grid, block, smem, stream, at);
}

}  // namespace melgrad::cuda_launch

#define MG_LAUNCH_COOPERATIVE(kernel, grid, block, smem, stream)                              \
  ::melgrad::cuda_launch::make_cooperative_launcher(#kernel, kernel, (grid), (block), (smem), \
                                                    (stream), {__FILE__, __LINE__})
#define MG_COOPERATIVE_MAX_BLOCKS(kernel, threads, smem)                             \
  ::melgrad::cuda_launch::cooperative_max_blocks(#kernel, kernel, (threads), (smem), \
                                                 {__FILE__, __LINE__})
#define MG_SET_MAX_DYNAMIC_SMEM(kernel, bytes) \
  ::melgrad::cuda_launch::set_max_dynamic_smem(#kernel, kernel, (bytes), {__FILE__, __LINE__})
#define MG_RAISE_MAX_DYNAMIC_SMEM(kernel, bytes) \
  ::melgrad::cuda_launch::raise_max_dynamic_smem(#kernel, kernel, (bytes), {__FILE__, __LINE__})
#define MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(kernel, threads, smem)                          \
  ::melgrad::cuda_launch::max_active_blocks_per_sm(#kernel, kernel, (threads), (smem), \
                                                   {__FILE__, __LINE__})
#define MG_DECLARE_REGISTERS(kernel, n) ((void)(kernel), (void)(n))

#else  // ---------------------------------------------------------------- emulator (g++) --

#include <algorithm>
#include <atomic>
#include <bit>
#include <limits>
#include <source_location>

#include "kernels/emu/emu.h"

#define MG_EMULATED 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// Encoded as NOPs at the kernel's entry, which the launch counts (launch_bounds_of).
#define __launch_bounds__(...) \
  __attribute__((              \
      patchable_function_entry(::melgrad::emu::detail::launch_bounds_nops(__VA_ARGS__), 0)))
#define __align__(n) alignas(n)
#define __shared__ \
  static_assert(false, "raw __shared__ is not emulated: use MG_SHARED(T, name, N) instead");

#define threadIdx (::melgrad::emu::detail::ctx().thread_idx)
#define blockIdx (::melgrad::emu::detail::ctx().block_idx)
#define blockDim (::melgrad::emu::detail::ctx().block_dim)
#define gridDim (::melgrad::emu::detail::ctx().grid_dim)
constexpr int warpSize = 32;

#define MG_LAUNCH(kernel, grid, block, smem, stream) \
  ::melgrad::emu::detail::make_launcher(#kernel, kernel, (grid), (block), (smem), (stream))
// clang-format off: it would split `T(&name)[N]`, the reference-to-array declarator.
#define MG_SHARED_SITE_             \
  []() -> const void* {             \
    static const char mg_site_ = 0; \
    return &mg_site_;               \
  }()
#define MG_SHARED(T, name, N)  \
  T(&name)                     \
  [N] = *static_cast<T(*)[N]>( \
      ::melgrad::emu::detail::shared_static(MG_SHARED_SITE_, sizeof(T[N]), alignof(T), #name))
#define MG_SHARED_2D(T, name, R, C)  \
  T(&name)                           \
  [R][C] = *static_cast<T(*)[R][C]>( \
      ::melgrad::emu::detail::shared_static(MG_SHARED_SITE_, sizeof(T[R][C]), alignof(T), #name))
#define MG_SHARED_VAR(T, name) \
  T& name = *static_cast<T*>(  \
      ::melgrad::emu::detail::shared_static(MG_SHARED_SITE_, sizeof(T), alignof(T), #name))
#define MG_SHARED_DYN(T, name) \
  T* const name = static_cast<T*>(::melgrad::emu::detail::shared_dynamic())
// clang-format on
#define MG_CHECK_LAUNCH(what) ((void)(what))  // emulator launches throw KernelError themselves
#define MG_LAUNCH_COOPERATIVE(kernel, grid, block, smem, stream)                              \
  ::melgrad::emu::detail::make_cooperative_launcher(#kernel, kernel, (grid), (block), (smem), \
                                                    (stream))
#define MG_COOPERATIVE_MAX_BLOCKS(kernel, threads, smem)             \
  ::melgrad::emu::detail::cooperative_max_blocks_of(#kernel, kernel, \
                                                    static_cast<unsigned>(threads), (smem))
#define MG_SET_MAX_DYNAMIC_SMEM(kernel, bytes) \
  ::melgrad::emu::detail::set_max_dynamic_smem_of(#kernel, kernel, (bytes))
#define MG_RAISE_MAX_DYNAMIC_SMEM(kernel, bytes) \
  ::melgrad::emu::detail::raise_max_dynamic_smem_of(#kernel, kernel, (bytes))
#define MG_OCCUPANCY_MAX_ACTIVE_BLOCKS(kernel, threads, smem)                                 \
  ::melgrad::emu::detail::max_active_blocks_per_sm_of(kernel, static_cast<unsigned>(threads), \
                                                      (smem))
#define MG_DECLARE_REGISTERS(kernel, n) ::melgrad::emu::detail::declare_registers_of(kernel, (n))
inline void mg_grid_sync(const std::source_location& w = std::source_location::current()) {
  ::melgrad::emu::detail::grid_barrier(w);
}

// ---- barriers and warp collectives (each is a scheduling point) ----
inline void __syncthreads(const std::source_location& w = std::source_location::current()) {
  ::melgrad::emu::detail::block_barrier(::melgrad::emu::detail::BarrierKind::sync, 0, w);
}
inline int __syncthreads_count(int pred,
                               const std::source_location& w = std::source_location::current()) {
  return ::melgrad::emu::detail::block_barrier(::melgrad::emu::detail::BarrierKind::count, pred, w);
}
inline int __syncthreads_and(int pred,
                             const std::source_location& w = std::source_location::current()) {
  return ::melgrad::emu::detail::block_barrier(::melgrad::emu::detail::BarrierKind::all, pred, w);
}
inline int __syncthreads_or(int pred,
                            const std::source_location& w = std::source_location::current()) {
  return ::melgrad::emu::detail::block_barrier(::melgrad::emu::detail::BarrierKind::any, pred, w);
}

namespace melgrad::emu::detail {
template <class T>
uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffle of a type > 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <class T>
T from_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}
template <class T>
T shuffle(WarpOp op, unsigned int mask, T var, int param, int width,
          const std::source_location& w) {
  return from_bits<T>(warp_collective(op, mask, to_bits(var), param, width, w));
}
}  // namespace melgrad::emu::detail

inline void __syncwarp(unsigned int mask = 0xffffffffu,
                       const std::source_location& w = std::source_location::current()) {
  ::melgrad::emu::detail::warp_collective(::melgrad::emu::detail::WarpOp::sync, mask, 0, 0, 32, w);
}
template <class T>
T __shfl_sync(unsigned int mask, T var, int src_lane, int width = warpSize,
              const std::source_location& w = std::source_location::current()) {
  return ::melgrad::emu::detail::shuffle(::melgrad::emu::detail::WarpOp::shfl_idx, mask, var,
                                         src_lane, width, w);
}
template <class T>
T __shfl_up_sync(unsigned int mask, T var, unsigned int delta, int width = warpSize,
                 const std::source_location& w = std::source_location::current()) {
  return ::melgrad::emu::detail::shuffle(::melgrad::emu::detail::WarpOp::shfl_up, mask, var,
                                         static_cast<int>(delta), width, w);
}
template <class T>
T __shfl_down_sync(unsigned int mask, T var, unsigned int delta, int width = warpSize,
                   const std::source_location& w = std::source_location::current()) {
  return ::melgrad::emu::detail::shuffle(::melgrad::emu::detail::WarpOp::shfl_down, mask, var,
                                         static_cast<int>(delta), width, w);
}
template <class T>
T __shfl_xor_sync(unsigned int mask, T var, int lane_mask, int width = warpSize,
                  const std::source_location& w = std::source_location::current()) {
  return ::melgrad::emu::detail::shuffle(::melgrad::emu::detail::WarpOp::shfl_xor, mask, var,
                                         lane_mask, width, w);
}
// The emulator's ballot returns (participating lanes << 32) | votes.
inline unsigned int __ballot_sync(unsigned int mask, int pred,
                                  const std::source_location& w = std::source_location::current()) {
  return static_cast<unsigned int>(::melgrad::emu::detail::warp_collective(
      ::melgrad::emu::detail::WarpOp::ballot, mask, pred != 0, 0, 32, w));
}
inline int __any_sync(unsigned int mask, int pred,
                      const std::source_location& w = std::source_location::current()) {
  return __ballot_sync(mask, pred, w) != 0;
}
inline int __all_sync(unsigned int mask, int pred,
                      const std::source_location& w = std::source_location::current()) {
  const uint64_t r = ::melgrad::emu::detail::warp_collective(::melgrad::emu::detail::WarpOp::ballot,
                                                             mask, pred != 0, 0, 32, w);
  return static_cast<uint32_t>(r) == static_cast<uint32_t>(r >> 32);
}
inline unsigned int __activemask() { return ::melgrad::emu::detail::active_mask(); }

#define MG_EMU_WARP_REDUCE_(fn, T, op)                                                      \
  inline T fn(unsigned int mask, T value,                                                   \
              const std::source_location& w = std::source_location::current()) {            \
    return static_cast<T>(::melgrad::emu::detail::warp_collective(                          \
        ::melgrad::emu::detail::WarpOp::op, mask, static_cast<uint32_t>(value), 0, 32, w)); \
  }
MG_EMU_WARP_REDUCE_(__reduce_add_sync, unsigned int, reduce_add)
MG_EMU_WARP_REDUCE_(__reduce_add_sync, int, reduce_add)
MG_EMU_WARP_REDUCE_(__reduce_min_sync, unsigned int, reduce_min_u)
MG_EMU_WARP_REDUCE_(__reduce_min_sync, int, reduce_min_s)
MG_EMU_WARP_REDUCE_(__reduce_max_sync, unsigned int, reduce_max_u)
MG_EMU_WARP_REDUCE_(__reduce_max_sync, int, reduce_max_s)
MG_EMU_WARP_REDUCE_(__reduce_and_sync, unsigned int, reduce_and)
MG_EMU_WARP_REDUCE_(__reduce_or_sync, unsigned int, reduce_or)
MG_EMU_WARP_REDUCE_(__reduce_xor_sync, unsigned int, reduce_xor)
#undef MG_EMU_WARP_REDUCE_

// ---- atomics: return the old value, as in CUDA ----
namespace melgrad::emu::detail {
template <class T>
std::atomic_ref<T> atom(T* p) {
  return std::atomic_ref<T>(*p);
}
template <class T, class F>
T atomic_update(T* p, F f) {  // CAS loop for the operations std::atomic_ref lacks
  auto a = atom(p);
  T old = a.load();
  while (!a.compare_exchange_weak(old, f(old))) {
  }
  return old;
}
}  // namespace melgrad::emu::detail

#define MG_EMU_ATOMIC_ADD_(T)                                                            \
  inline T atomicAdd(T* p, T v) { return ::melgrad::emu::detail::atom(p).fetch_add(v); } \
  inline T atomicSub(T* p, T v) { return ::melgrad::emu::detail::atom(p).fetch_sub(v); } \
  inline T atomicExch(T* p, T v) { return ::melgrad::emu::detail::atom(p).exchange(v); }
MG_EMU_ATOMIC_ADD_(int)
MG_EMU_ATOMIC_ADD_(unsigned int)
MG_EMU_ATOMIC_ADD_(unsigned long long)
MG_EMU_ATOMIC_ADD_(float)
MG_EMU_ATOMIC_ADD_(double)
#undef MG_EMU_ATOMIC_ADD_

#define MG_EMU_ATOMIC_INT_(T)                                                            \
  inline T atomicMin(T* p, T v) {                                                        \
    return ::melgrad::emu::detail::atomic_update(p, [v](T o) { return o < v ? o : v; }); \
  }                                                                                      \
  inline T atomicMax(T* p, T v) {                                                        \
    return ::melgrad::emu::detail::atomic_update(p, [v](T o) { return o > v ? o : v; }); \
  }                                                                                      \
  inline T atomicAnd(T* p, T v) { return ::melgrad::emu::detail::atom(p).fetch_and(v); } \
  inline T atomicOr(T* p, T v) { return ::melgrad::emu::detail::atom(p).fetch_or(v); }   \
  inline T atomicXor(T* p, T v) { return ::melgrad::emu::detail::atom(p).fetch_xor(v); } \
  inline T atomicCAS(T* p, T compare, T v) {                                             \
    ::melgrad::emu::detail::atom(p).compare_exchange_strong(compare, v);                 \
    return compare;                                                                      \
  }
MG_EMU_ATOMIC_INT_(int)
MG_EMU_ATOMIC_INT_(unsigned int)
MG_EMU_ATOMIC_INT_(unsigned long long)
MG_EMU_ATOMIC_INT_(long long)
#undef MG_EMU_ATOMIC_INT_

inline unsigned int atomicInc(unsigned int* p,
                              unsigned int limit) {  // ((old >= limit) ? 0 : old+1)
  return ::melgrad::emu::detail::atomic_update(
      p, [limit](unsigned int o) { return o >= limit ? 0u : o + 1u; });
}
inline unsigned int atomicDec(unsigned int* p, unsigned int limit) {  // old==0 || old>limit → limit
  return ::melgrad::emu::detail::atomic_update(
      p, [limit](unsigned int o) { return (o == 0u || o > limit) ? limit : o - 1u; });
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- math and bit intrinsics ----
[[noreturn]] inline void __trap() { throw ::melgrad::emu::KernelError("kernel executed __trap()"); }
template <class T>
T __ldg(const T* p) {
  return *p;
}
template <class T>
T __ldcg(const T* p) {
  return *p;
}
template <class T>
void __stcg(T* p, T v) {
  *p = v;
}
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline unsigned int __float_as_uint(float x) { return std::bit_cast<unsigned int>(x); }
inline float __uint_as_float(unsigned int x) { return std::bit_cast<float>(x); }
inline int __popc(unsigned int x) { return std::popcount(x); }
inline int __popcll(unsigned long long x) { return std::popcount(x); }
inline int __clz(int x) { return std::countl_zero(static_cast<unsigned int>(x)); }
inline int __ffs(int x) { return x == 0 ? 0 : std::countr_zero(static_cast<unsigned int>(x)) + 1; }
inline unsigned int __brev(unsigned int x) {
  unsigned int r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
// CUDA's global min/max overloads for device code.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }

#endif  // __CUDACC__
