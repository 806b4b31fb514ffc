// The caching allocator (engine/cuda/caching_allocator.h): bucket sizes, reuse without a
// device allocation, the statistics (in use, peak, cached, hits), emptying the cache, the
// out-of-memory retry and the direct (non-caching) mode, first on a counting fake device,
// then on cuda tensors: a training step in steady state allocates nothing from the device.
// Streams on a fake device whose events the test completes: per-stream free lists, and
// record_stream's deferred reuse (pending blocks, empty_cache, out of memory, pools).
// Expected per build: the same in both (the fake device is plain C++; the messages are the
// allocator's); the "(caching allocator)" cases skip under MELGRAD_CUDA_ALLOCATOR=direct,
// so the direct-allocator run of test_cuda excludes them.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <utility>
#include <vector>

#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/cuda.h"
#include "engine/ops/ops.h"
#include "tests/skip.h"

using namespace melgrad;
using cuda::CachingAllocator;

namespace {

// Host memory standing in for a device with `limit` bytes.
struct FakeDevice {
  std::size_t limit = 1 << 30, used = 0;
  int mallocs = 0, frees = 0;
  std::map<void*, std::size_t> live;

  CachingAllocator::DeviceMemory memory() {
    return {[this](std::size_t bytes) -> void* {
              if (used + bytes > limit) return nullptr;
              used += bytes;
              ++mallocs;
              void* p = std::malloc(bytes);
              live[p] = bytes;
              return p;
            },
            [this](void* p) {
              REQUIRE(live.count(p) == 1);
              used -= live[p];
              live.erase(p);
              ++frees;
              std::free(p);
            }};
  }
};

constexpr std::size_t kMiB = 1 << 20;

}  // namespace

TEST_CASE("bucket sizes: 512-byte steps up to 1 MiB, quarter powers of two above") {
  CHECK(CachingAllocator::bucket_size(0) == 512);
  CHECK(CachingAllocator::bucket_size(1) == 512);
  CHECK(CachingAllocator::bucket_size(512) == 512);
  CHECK(CachingAllocator::bucket_size(513) == 1024);
  CHECK(CachingAllocator::bucket_size(kMiB) == kMiB);
  CHECK(CachingAllocator::bucket_size(kMiB + 1) == kMiB + kMiB / 4);
  CHECK(CachingAllocator::bucket_size(3 * kMiB) == 3 * kMiB);
  CHECK(CachingAllocator::bucket_size(7 * kMiB + 1) == 8 * kMiB);
  for (std::size_t b : {std::size_t{700}, 5 * kMiB + 3, 100 * kMiB + 12345}) {
    const std::size_t s = CachingAllocator::bucket_size(b);
    CHECK(s >= b);
    CHECK(double(s) <= 1.25 * double(b) + 512);  // slack at most 25% (or one small step)
  }
}

TEST_CASE("a freed block is reused for its bucket without touching the device") {
  FakeDevice dev;
  {
    CachingAllocator a(dev.memory());
    void* p = a.allocate(1000);
    auto s = a.stats();
    CHECK(dev.mallocs == 1);
    CHECK(s.in_use_bytes == 1024);
    CHECK(s.requested_bytes == 1000);
    a.deallocate(p, 1000);
    s = a.stats();
    CHECK(s.in_use_bytes == 0);
    CHECK(s.cached_bytes == 1024);

    void* q = a.allocate(900);  // same bucket: the same block, no device call
    CHECK(q == p);
    CHECK(dev.mallocs == 1);
    void* r = a.allocate(2000);  // another bucket: a new block
    CHECK(r != p);
    CHECK(dev.mallocs == 2);
    s = a.stats();
    CHECK(s.cache_hits == 1);
    CHECK(s.allocations == 3);
    CHECK(s.device_mallocs == 2);
    CHECK(s.in_use_bytes == 1024 + 2048);
    CHECK(s.peak_in_use_bytes == 1024 + 2048);

    a.deallocate(q, 900);
    a.deallocate(r, 2000);
    CHECK(a.stats().peak_in_use_bytes == 3072);
    a.reset_peak();
    CHECK(a.stats().peak_in_use_bytes == 0);
    CHECK(a.empty_cache() == 3072);
    CHECK(dev.frees == 2);
    CHECK(a.stats().cached_bytes == 0);
    CHECK_THROWS_AS(a.deallocate(q, 900), std::logic_error);  // freed twice
  }
  CHECK(dev.live.empty());
}

TEST_CASE("out of device memory: the cache is emptied and the request retried once") {
  FakeDevice dev;
  dev.limit = 4 * kMiB;
  CachingAllocator a(dev.memory());
  void* p = a.allocate(3 * kMiB);
  a.deallocate(p, 3 * kMiB);       // cached, still counted by the device
  void* q = a.allocate(2 * kMiB);  // does not fit next to the cached block
  CHECK(q != nullptr);
  CHECK(dev.frees == 1);
  CHECK(a.stats().cached_bytes == 0);
  CHECK_THROWS_WITH_AS(a.allocate(3 * kMiB), doctest::Contains("cuda:0 is out of memory"),
                       std::runtime_error);
  a.deallocate(q, 2 * kMiB);
}

TEST_CASE("direct mode: exact sizes, every free goes back to the device") {
  FakeDevice dev;
  CachingAllocator a(dev.memory(), /*caching=*/false);
  void* p = a.allocate(1000);
  CHECK(dev.used == 1000);
  a.deallocate(p, 1000);
  CHECK(dev.frees == 1);
  CHECK(a.stats().cached_bytes == 0);
}

// Excluded from the direct-allocator run of test_cuda (tests/cuda/CMakeLists.txt), where
// nothing is cached; anywhere else under MELGRAD_CUDA_ALLOCATOR=direct it reports a skip.
TEST_CASE("cuda tensors (caching allocator): a repeated training step allocates nothing new") {
  if (!cuda::caching_enabled())
    return melgrad::testing::skip("MELGRAD_CUDA_ALLOCATOR=direct: nothing is cached");
  const Device dev = Device::cuda(0);
  Generator gen(3);
  Tensor w = Tensor::normal({16, 8}, 0, 0.3, gen, DType::f32, dev).requires_grad_();
  const Tensor x = Tensor::normal({32, 16}, 0, 1, gen, DType::f32, dev);
  auto step = [&] {
    Tensor loss = mean(pow(tanh(matmul(x, w)), 2.0));
    loss.backward();
    w.zero_grad();
  };
  step();
  const auto warm = cuda::memory_stats();
  for (int i = 0; i < 3; ++i) step();
  const auto after = cuda::memory_stats();
  CHECK(after.device_mallocs == warm.device_mallocs);
  CHECK(after.cache_hits > warm.cache_hits);
  CHECK(after.in_use_bytes == warm.in_use_bytes);  // nothing leaks between steps
  CHECK(after.peak_in_use_bytes >= after.in_use_bytes);

  const std::size_t cached = cuda::memory_stats().cached_bytes;
  CHECK(cached > 0);
  CHECK(cuda::empty_cache() == cached);
  CHECK(cuda::memory_stats().cached_bytes == 0);
}

TEST_CASE("a private pool keeps its blocks from the shared cache until it is released") {
  FakeDevice dev;
  CachingAllocator a(dev.memory());
  void* shared = a.allocate(1000);
  a.deallocate(shared, 1000);  // a free shared block of the 1024 bucket

  const uint64_t pool = a.open_pool();
  CHECK_THROWS_WITH(a.open_pool(), doctest::Contains("is still open"));
  void* p1 = a.allocate(1000);  // not the shared block: the pool allocates its own
  CHECK(p1 != shared);
  CHECK(dev.mallocs == 2);
  a.deallocate(p1, 1000);  // back to the pool, reused inside it
  void* p2 = a.allocate(900);
  CHECK(p2 == p1);
  void* kept = a.allocate(5000);  // live after the recording (a graph's output)
  a.deallocate(p2, 900);
  a.close_pool(pool);
  CHECK(a.stats().pool_free_bytes == 1024);
  CHECK(a.stats().cached_bytes == 1024);

  // Outside the pool the shared block is served, never the pool's free one.
  void* outside = a.allocate(1000);
  CHECK(outside == shared);
  void* fresh = a.allocate(1000);
  CHECK(fresh != p1);
  // A pool block freed after the recording still returns to the pool.
  a.deallocate(kept, 5000);
  CHECK(a.stats().pool_free_bytes == 1024 + 5120);

  a.release_pool(pool);  // the graph is gone: its blocks serve everyone
  CHECK(a.stats().pool_free_bytes == 0);
  CHECK(a.allocate(5000) == kept);
  CHECK(a.allocate(1000) == p1);
  a.deallocate(outside, 1000);
  a.deallocate(fresh, 1000);
}

TEST_CASE("a pool's live blocks go to the shared cache when freed after its release") {
  FakeDevice dev;
  dev.limit = 4096;
  CachingAllocator a(dev.memory());
  void* cached = a.allocate(2048);
  a.deallocate(cached, 2048);
  const uint64_t pool = a.open_pool();
  void* live = a.allocate(1024);
  // While recording, out of memory throws instead of emptying the cache (no cudaFree then).
  CHECK_THROWS_WITH(a.allocate(2000), doctest::Contains("while recording a CUDA graph"));
  a.release_pool(pool);  // also closes it
  a.deallocate(live, 1024);
  CHECK(a.stats().pool_free_bytes == 0);
  CHECK(a.stats().cached_bytes == 2048 + 1024);
  CHECK(a.allocate(1024) == live);
  CHECK_THROWS_WITH(CachingAllocator(dev.memory(), /*caching=*/false).open_pool(),
                    doctest::Contains("CUDA graphs need the caching allocator"));
}

namespace {

// FakeDevice with streams and events that the test completes by hand: stream i is the
// address 0x1000 * i, and an event is complete once `complete` says so.
struct StreamFakeDevice : FakeDevice {
  kernels::Stream current = nullptr;
  std::map<kernels::Event, bool> complete;                           // live events
  std::vector<std::pair<kernels::Event, kernels::Stream>> recorded;  // in order
  int waits = 0;

  CachingAllocator::DeviceMemory memory() {
    CachingAllocator::DeviceMemory m = FakeDevice::memory();
    m.current_stream = [this] { return current; };
    m.record_event = [this](kernels::Stream s) {
      auto e = reinterpret_cast<kernels::Event>(std::uintptr_t(recorded.size() + 1));
      complete[e] = false;
      recorded.push_back({e, s});
      return e;
    };
    m.event_done = [this](kernels::Event e) { return complete.at(e); };
    m.wait_event = [this](kernels::Event e) {
      complete.at(e) = true;
      ++waits;
    };
    m.destroy_event = [this](kernels::Event e) { REQUIRE(complete.erase(e) == 1); };
    return m;
  }
};

kernels::Stream fake_stream(int i) {
  return reinterpret_cast<kernels::Stream>(std::uintptr_t(0x1000) * std::uintptr_t(i));
}

}  // namespace

TEST_CASE("streams: a freed block serves allocations on its own stream only") {
  StreamFakeDevice dev;
  CachingAllocator a(dev.memory());
  dev.current = fake_stream(1);
  void* p = a.allocate(1000);
  a.deallocate(p, 1000);

  dev.current = fake_stream(2);  // another stream: p's kernels may not have run yet
  void* q = a.allocate(1000);
  CHECK(q != p);
  CHECK(dev.mallocs == 2);
  CHECK(a.stats().cache_hits == 0);

  dev.current = fake_stream(1);  // its own stream: reused at once
  void* r = a.allocate(900);
  CHECK(r == p);
  CHECK(dev.mallocs == 2);
  CHECK(a.stats().cache_hits == 1);

  a.deallocate(q, 1000);
  a.deallocate(r, 900);
  CHECK(a.stats().cached_bytes == 2048);
  CHECK(a.empty_cache() == 2048);  // every stream's free lists
  CHECK(dev.frees == 2);
  CHECK(dev.recorded.empty());  // no record_stream: no events
}

TEST_CASE("streams: record_stream defers a block's reuse until the other stream's event") {
  StreamFakeDevice dev;
  CachingAllocator a(dev.memory());
  const kernels::Stream s1 = fake_stream(1), s2 = fake_stream(2);
  dev.current = s1;
  void* p = a.allocate(4096);
  a.record_stream(p, s2);
  a.record_stream(p, s2);  // once per stream
  a.record_stream(p, s1);  // its own stream: nothing to wait for
  a.deallocate(p, 4096);
  REQUIRE(dev.recorded.size() == 1);
  CHECK(dev.recorded[0].second == s2);
  auto s = a.stats();
  CHECK(s.pending_free_bytes == 4096);
  CHECK(s.cached_bytes == 0);
  CHECK(s.in_use_bytes == 0);

  void* q = a.allocate(4096);  // s2's event is pending: p is not handed out
  CHECK(q != p);
  CHECK(dev.mallocs == 2);
  a.deallocate(q, 4096);  // q had no other stream: cached at once

  dev.complete.begin()->second = true;  // s2's work up to the free has run
  void* r1 = a.allocate(4096);          // the pending block is returned first
  void* r2 = a.allocate(4096);
  CHECK(((r1 == p && r2 == q) || (r1 == q && r2 == p)));
  CHECK(dev.mallocs == 2);
  CHECK(dev.complete.empty());  // the event was destroyed
  CHECK(a.stats().pending_free_bytes == 0);
  a.deallocate(r1, 4096);
  a.deallocate(r2, 4096);

  CHECK_THROWS_AS(a.record_stream(r1, s2), std::logic_error);  // not live
  FakeDevice plain;
  CachingAllocator no_events(plain.memory());
  void* t = no_events.allocate(10);
  CHECK_THROWS_WITH(no_events.record_stream(t, s2), doctest::Contains("no events"));
  no_events.deallocate(t, 10);
}

TEST_CASE("streams: empty_cache and the out-of-memory retry wait for pending blocks") {
  StreamFakeDevice dev;
  dev.limit = 8192;
  CachingAllocator a(dev.memory());
  dev.current = fake_stream(1);
  void* p = a.allocate(4096);
  a.record_stream(p, fake_stream(2));
  a.deallocate(p, 4096);
  CHECK(a.empty_cache() == 4096);  // waited for the event, then released the block
  CHECK(dev.waits == 1);
  CHECK(dev.frees == 1);
  CHECK(a.stats().pending_free_bytes == 0);

  void* big = a.allocate(6000);
  a.record_stream(big, fake_stream(3));
  a.deallocate(big, 6000);     // pending, still held on the device
  void* q = a.allocate(7000);  // does not fit next to it: wait, release, retry
  CHECK(dev.waits == 2);
  CHECK(dev.frees == 2);
  a.deallocate(q, 7000);
}

TEST_CASE("streams: a pending pool block returns to its pool") {
  StreamFakeDevice dev;
  CachingAllocator a(dev.memory());
  const uint64_t pool = a.open_pool();
  void* p = a.allocate(1000);
  a.close_pool(pool);
  a.record_stream(p, fake_stream(2));
  a.deallocate(p, 1000);
  CHECK(a.stats().pending_free_bytes == 1024);
  REQUIRE(dev.complete.size() == 1);
  dev.complete.begin()->second = true;
  void* q = a.allocate(1000);  // processes the pending block: into the pool, not the cache
  CHECK(q != p);
  CHECK(a.stats().pool_free_bytes == 1024);
  a.deallocate(q, 1000);
  a.release_pool(pool);
  CHECK(a.stats().cached_bytes == 2048);
}
