// Per-launch memory and control-flow counters of the kernel emulator, for teaching why a
// kernel is fast (docs/KERNEL_LADDER.md, `melgrad kernel gemm --counters`). A kernel opts
// in by routing its accesses through the accessor macros below; under nvcc they are plain
// accesses, in the emulator build they also record what a GPU would see:
//   MG_LDG(p)      load  *p from global memory      MG_STG(p, v)   store v to global *p
//   MG_LDS(p)      load  *p from shared memory      MG_STS(p, v)   store v to shared *p
//   MG_LDG_BYTES(p, bytes) / MG_STG_BYTES / MG_LDS_BYTES / MG_STS_BYTES(p, bytes): record one
//                  access of `bytes` (a float4 = 16) made by the caller itself
//   MG_BARRIER()   __syncthreads(), counted         MG_BRANCH(cond)  cond, counted per warp
// Counting is off unless a counters::Session is open (then every recorded access of every
// launch counts, until finish()). What is counted, per *warp request*:
//   a request = the k-th execution of one access site (file and line) since the last
//   MG_BARRIER by the lanes of one warp (exact when the active lanes execute the site
//   equally often between barriers, as in uniform loops and barrier-separated tree levels;
//   a lane that skips an access of a loop shifts its later ones into other requests);
//   global: the distinct 32-byte sectors the request touches (a coalesced warp of 4-byte
//   loads: 4; a warp whose lanes are 128 bytes apart: 32);
//   shared: wavefronts = the most distinct 4-byte words any of the 32 banks must serve
//   (lanes reading one word share it: a broadcast); 8- and 16-byte accesses are split into
//   2 and 4 phases of 16 and 8 lanes, as the hardware does. Bank conflicts = wavefronts
//   beyond one per phase;
//   barriers: barriers executed, summed over blocks; branches: per warp evaluation of an
//   MG_BRANCH, divergent when its lanes disagree.
// These are the L1-request-level numbers of Nsight Compute (sectors per request, shared
// bank conflicts), not DRAM traffic: caches are not modelled.
#pragma once

#include <cstdint>

#include "kernels/emu/cuda_compat.h"  // MG_EMULATED, and the emulator's thread context

#if MG_EMULATED

namespace melgrad::emu::counters {

enum class Access : uint8_t { global_load, global_store, shared_load, shared_store };

struct Totals {
  uint64_t requests[4] = {};    // per Access
  uint64_t sectors[4] = {};     // global: 32-byte sectors touched (shared: 0)
  uint64_t wavefronts[4] = {};  // shared: bank passes (global: 0)
  uint64_t conflicts[4] = {};   // shared: wavefronts beyond the ideal one per phase
  uint64_t bytes[4] = {};       // bytes the lanes asked for
  uint64_t barriers = 0;        // MG_BARRIER()s executed, summed over blocks
  uint64_t branches = 0;        // MG_BRANCH evaluations per warp
  uint64_t divergent_branches = 0;

  double sectors_per_request(Access a) const;
  uint64_t global_bytes_moved() const;  // 32 * (load + store sectors)
};

// Opens counting (one session at a time; std::logic_error otherwise); finish() returns
// the totals of everything recorded since and closes it (the destructor closes it too).
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Totals finish();

 private:
  bool open_ = true;
};

bool active();
void record_access(Access kind, const void* p, unsigned bytes, const char* file, int line);
void record_branch(bool taken, const char* file, int line);
void record_barrier();

template <class T>
inline T load(Access kind, const T* p, const char* file, int line) {
  if (active()) record_access(kind, p, sizeof(T), file, line);
  return *p;
}
template <class T, class V>
inline void store(Access kind, T* p, const V& v, const char* file, int line) {
  if (active()) record_access(kind, p, sizeof(T), file, line);
  *p = v;
}
inline bool branch(bool taken, const char* file, int line) {
  if (active()) record_branch(taken, file, line);
  return taken;
}

}  // namespace melgrad::emu::counters

#define MG_COUNTERS_ ::melgrad::emu::counters
#define MG_LDG(p) MG_COUNTERS_::load(MG_COUNTERS_::Access::global_load, (p), __FILE__, __LINE__)
#define MG_STG(p, v) \
  MG_COUNTERS_::store(MG_COUNTERS_::Access::global_store, (p), (v), __FILE__, __LINE__)
#define MG_LDS(p) MG_COUNTERS_::load(MG_COUNTERS_::Access::shared_load, (p), __FILE__, __LINE__)
#define MG_STS(p, v) \
  MG_COUNTERS_::store(MG_COUNTERS_::Access::shared_store, (p), (v), __FILE__, __LINE__)
#define MG_COUNT_ACCESS_(kind, p, bytes)                                                           \
  (MG_COUNTERS_::active()                                                                          \
       ? MG_COUNTERS_::record_access(MG_COUNTERS_::Access::kind, (p), (bytes), __FILE__, __LINE__) \
       : void())
#define MG_LDG_BYTES(p, bytes) MG_COUNT_ACCESS_(global_load, p, bytes)
#define MG_STG_BYTES(p, bytes) MG_COUNT_ACCESS_(global_store, p, bytes)
#define MG_LDS_BYTES(p, bytes) MG_COUNT_ACCESS_(shared_load, p, bytes)
#define MG_STS_BYTES(p, bytes) MG_COUNT_ACCESS_(shared_store, p, bytes)
#define MG_BARRIER()                                            \
  do {                                                          \
    if (MG_COUNTERS_::active()) MG_COUNTERS_::record_barrier(); \
    __syncthreads();                                            \
  } while (0)
#define MG_BRANCH(cond) MG_COUNTERS_::branch(static_cast<bool>(cond), __FILE__, __LINE__)

#else  // nvcc: plain accesses

#define MG_LDG(p) (*(p))
#define MG_STG(p, v) (*(p) = (v))
#define MG_LDS(p) (*(p))
#define MG_STS(p, v) (*(p) = (v))
#define MG_LDG_BYTES(p, bytes) ((void)0)
#define MG_STG_BYTES(p, bytes) ((void)0)
#define MG_LDS_BYTES(p, bytes) ((void)0)
#define MG_STS_BYTES(p, bytes) ((void)0)
#define MG_BARRIER() __syncthreads()
#define MG_BRANCH(cond) (cond)

#endif
