// The cuDNN wrappers' bookkeeping (kernels/cudnn_bookkeeping.h) with fakes, in both builds
// (the same answers: plain C++, no device): the algorithm choice under the determinism
// setting, the per-shape cache that keeps nothing from a failed search, and the grow-only
// scratch that never frees memory a captured CUDA graph may still point at.
#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cudnn_bookkeeping.h"

using namespace melgrad::kernels::detail;

TEST_CASE("cudnn algorithm choice: deterministic skips the faster nondeterministic ones") {
  // As cuDNN lists them: algorithm 0 (atomics) first, a failed one, then deterministic ones.
  const std::vector<CudnnAlgoCandidate> list = {
      {0, true, false}, {5, false, true}, {1, true, true}, {3, true, true}};
  CHECK(choose_cudnn_algorithm(list, true, "conv2d_backward_filter") == 1);
  CHECK(choose_cudnn_algorithm(list, false, "conv2d_backward_filter") == 0);
  CHECK_THROWS_WITH_AS(
      choose_cudnn_algorithm({{0, true, false}, {3, true, false}}, true, "conv2d_backward_data"),
      "conv2d_backward_data: cuDNN offers no deterministic algorithm for this shape (2 "
      "nondeterministic ones work); --deterministic off allows them",
      std::runtime_error);
  CHECK_THROWS_WITH_AS(choose_cudnn_algorithm({{2, false, true}}, false, "conv2d_forward"),
                       "conv2d_forward: cuDNN found no working algorithm (1 candidates)",
                       std::runtime_error);
}

TEST_CASE("cudnn algorithm cache: a search that throws leaves nothing cached") {
  using Key = std::tuple<int, bool, int>;
  CudnnAlgorithmCache<Key> cache;
  int searches = 0;
  const Key key{0, true, 32};
  CHECK_THROWS_AS(cache.find_or_search(key,
                                       [&]() -> int {
                                         ++searches;
                                         throw std::runtime_error("CUDNN_STATUS_ALLOC_FAILED");
                                       }),
                  std::runtime_error);
  CHECK_FALSE(cache.contains(key));  // before the fix: algorithm 0, cached for good
  CHECK(cache.find_or_search(key, [&] { return ++searches, 6; }) == 6);
  CHECK(cache.find_or_search(key, [&] { return ++searches, 7; }) == 6);  // cached now
  CHECK(searches == 2);
  CHECK(cache.find_or_search(Key{0, false, 32}, [] { return 1; }) == 1);  // its own entry
  CHECK(cache.size() == 2);
}

namespace {

// Device memory as a fake: addresses from a counter, the live and freed ones recorded.
struct FakeMemory {
  std::set<void*> live, freed;
  std::uintptr_t next = 0;
  GraphSafeBuffer::Allocate allocate() {
    return [this](std::size_t) {
      void* p = reinterpret_cast<void*>((++next) * 4096);  // distinct, never dereferenced
      live.insert(p);
      return p;
    };
  }
  GraphSafeBuffer::Free free() {
    return [this](void* p) {
      REQUIRE(live.erase(p) == 1);
      freed.insert(p);
    };
  }
};

}  // namespace

TEST_CASE("graph-safe scratch: grows by powers of two; eager growth frees the old buffer") {
  FakeMemory mem;
  {
    GraphSafeBuffer buf(mem.allocate(), mem.free());
    CHECK(buf.get(0, false) == nullptr);
    void* a = buf.get(1000, false);
    CHECK(buf.bytes() == 1024);
    CHECK(buf.get(1024, false) == a);  // fits: the same memory
    void* b = buf.get(5000, false);
    CHECK(b != a);
    CHECK(buf.bytes() == 8192);
    CHECK(mem.freed.count(a) == 1);  // no graph saw it
    CHECK(buf.retired_count() == 0);
  }
  CHECK(mem.live.empty());  // the destructor frees the rest
}

TEST_CASE("graph-safe scratch: memory a captured graph was given is never freed by growth") {
  FakeMemory mem;
  void* captured = nullptr;
  {
    GraphSafeBuffer buf(mem.allocate(), mem.free());
    (void)buf.get(512, false);      // eager warm-up
    captured = buf.get(512, true);  // a captured convolution's workspace: the graph keeps it
    void* bigger = buf.get(100000, false);  // a later eager call needs more
    CHECK(bigger != captured);
    // Before the fix the old buffer was freed here, and every later replay of the graph
    // used freed memory.
    CHECK(mem.freed.count(captured) == 0);
    CHECK(mem.live.count(captured) == 1);
    CHECK(buf.retired_count() == 1);
    CHECK(buf.retired_bytes() == 512);
    // Growing while capturing frees nothing either (cudaFree cannot run inside a capture),
    // even a buffer no graph has seen yet.
    void* eager_only = buf.get(200000, false);
    (void)buf.get(400000, true);
    CHECK(mem.freed.count(bigger) == 1);
    CHECK(mem.live.count(eager_only) == 1);
    CHECK(buf.retired_count() == 2);
  }
  CHECK(mem.freed.count(captured) == 1);  // freed with the buffer, at the thread's end
  CHECK(mem.live.empty());
}

TEST_CASE("graph-safe scratch: a failed allocation keeps the old buffer") {
  FakeMemory mem;
  GraphSafeBuffer::Allocate fail_big = [&](std::size_t bytes) -> void* {
    if (bytes > 4096) throw std::runtime_error("cudaMalloc: out of memory");
    return mem.allocate()(bytes);
  };
  GraphSafeBuffer buf(fail_big, mem.free());
  void* a = buf.get(4000, true);
  CHECK_THROWS_WITH(buf.get(10000, false), "cudaMalloc: out of memory");
  CHECK(buf.get(4000, false) == a);
  CHECK(mem.freed.empty());
}
