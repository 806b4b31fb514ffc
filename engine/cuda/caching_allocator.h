// The CUDA backend's caching allocator: device memory is expensive to get (cudaMalloc
// synchronises and takes tens of microseconds), and a training step frees and re-requests
// the same sizes every iteration, so freed blocks are kept in per-size free lists and handed
// out again without touching the device.
//
// Buckets: a request is rounded up to a multiple of 512 bytes up to 1 MiB, and above that to
// a quarter of its power of two (1, 1.25, 1.5, 1.75 x 2^k: at most 25% slack); a free block
// serves only requests of its own bucket. When the device is out of memory the cache is
// emptied and the request retried once.
//
// Streams (as PyTorch's allocator): a block belongs to the stream that was current when it
// was allocated, and once freed it serves only allocations on that stream (free lists per
// stream and bucket). Work on one stream runs in order, so a block freed by the host may be
// reused at once on its stream: the kernels that used it run before any kernel of its next
// owner. A tensor also used on another stream must say so, record_stream(p, other): when
// its block is freed, an event is recorded on each such stream, and the block waits in a
// pending list until all of them have completed (queried at the next allocations;
// empty_cache() and the out-of-memory retry wait for them).
//
// Private pools (CUDA graph capture, engine/cuda/step_graph.cpp): between open_pool() and
// close_pool() every allocation is served from that pool (its own free lists, else the
// device) and belongs to it; a pool's block freed at any time returns to the pool, never to
// the shared cache, so a recorded graph may keep writing to it on every replay.
// release_pool() gives the pool's free blocks to the shared cache, and its live ones as
// they are freed. While a pool is open, running out of memory throws at once (emptying the
// cache would call cudaFree, which a capture forbids).
//
// With `caching` off every allocation goes to the device at its exact size and every free
// returns it (MELGRAD_CUDA_ALLOCATOR=direct): slower, but in the emulator a kernel that
// overruns a tensor then hits the block's guard page instead of a bucket's slack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/storage.h"
#include "kernels/runtime.h"

namespace melgrad::cuda {

struct AllocatorStats {
  std::size_t in_use_bytes = 0;       // bytes of live blocks (bucket sizes)
  std::size_t peak_in_use_bytes = 0;  // highest in_use_bytes since the last reset_peak()
  std::size_t requested_bytes = 0;    // bytes the live allocations asked for
  std::size_t cached_bytes = 0;       // free blocks held for reuse
  uint64_t allocations = 0;           // allocate() calls
  uint64_t cache_hits = 0;            // served from the free lists
  uint64_t device_mallocs = 0;        // calls into the device (misses)
  uint64_t device_frees = 0;
  std::size_t pool_free_bytes = 0;     // free blocks reserved by private pools (not cached_bytes)
  std::size_t pending_free_bytes = 0;  // freed blocks waiting for other streams' events
};

class CachingAllocator final : public Allocator {
 public:
  struct DeviceMemory {
    std::function<void*(std::size_t)> malloc;  // nullptr when out of memory
    std::function<void(void*)> free;
    // Streams, optional: without current_stream every block belongs to stream nullptr, and
    // without the event functions record_stream() throws.
    std::function<kernels::Stream()> current_stream = {};  // the stream an allocation is for
    std::function<kernels::Event(kernels::Stream)> record_event = {};  // a new event, recorded
    std::function<bool(kernels::Event)> event_done = {};               // complete?
    std::function<void(kernels::Event)> wait_event = {};               // until complete
    std::function<void(kernels::Event)> destroy_event = {};
  };

  explicit CachingAllocator(DeviceMemory device, bool caching = true);
  ~CachingAllocator() override;
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(std::size_t bytes) override;
  void deallocate(void* p, std::size_t bytes) override;

  // The live block at p is also used by work queued on `stream` (see above); its own
  // stream is implied.
  void record_stream(void* p, kernels::Stream stream);

  AllocatorStats stats() const;
  void reset_peak();
  // Waits for the pending blocks' events, then returns every cached block to the device;
  // returns the bytes released.
  std::size_t empty_cache();
  bool caching() const { return caching_; }

  static std::size_t bucket_size(std::size_t bytes);

  // Private pools (see above); ids are never 0. One pool is open at a time.
  uint64_t open_pool();
  void close_pool(uint64_t pool);
  void release_pool(uint64_t pool);

 private:
  // Free blocks by stream, then bucket size.
  using FreeLists = std::map<kernels::Stream, std::map<std::size_t, std::vector<void*>>>;

  std::size_t release_cached_locked();
  std::size_t release_all_locked();  // waits for pending blocks, then release_cached_locked
  void* device_malloc_locked(std::size_t bucket, std::size_t bytes, bool may_release);
  kernels::Stream current_stream() const;
  // A freed block (no events to wait for) back to its pool, the cache or the device.
  void return_block_locked(void* p, std::size_t bucket, kernels::Stream stream, uint64_t pool);
  void process_pending_locked();  // returns the pending blocks whose events have completed

  struct Pool {
    FreeLists free_blocks;
    std::size_t live_blocks = 0;
    bool released = false;
  };
  std::map<uint64_t, Pool> pools_;
  uint64_t open_pool_ = 0;  // 0: allocations come from the shared cache
  uint64_t next_pool_ = 1;

  DeviceMemory device_;
  bool caching_;
  mutable std::mutex mutex_;
  FreeLists free_blocks_;
  struct Live {
    std::size_t bucket, requested;
    uint64_t pool = 0;                     // the private pool it belongs to, or 0
    kernels::Stream stream = nullptr;      // allocated on
    std::vector<kernels::Stream> used_on;  // record_stream's other streams
  };
  std::unordered_map<void*, Live> live_;
  struct PendingFree {
    void* p;
    std::size_t bucket;
    kernels::Stream stream;
    uint64_t pool;
    std::vector<kernels::Event> events;  // one per stream of used_on
  };
  std::vector<PendingFree> pending_;
  AllocatorStats stats_;
};

}  // namespace melgrad::cuda
