// The caching CPU allocator (engine/cpu/cpu_allocator.h): size classes, reuse of freed
// large blocks, small blocks bypassing the cache, the byte limit, alignment.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>

#include "engine/cpu/cpu_allocator.h"
#include "engine/tensor.h"

using melgrad::cpu::CachingCpuAllocator;

TEST_CASE("size classes are 1/8 of a power of two apart above 1 MiB, 64-byte multiples below") {
  CHECK(CachingCpuAllocator::size_class(0) == 64);
  CHECK(CachingCpuAllocator::size_class(1) == 64);
  CHECK(CachingCpuAllocator::size_class(1000) == 1024);
  const size_t mib = size_t{1} << 20;
  CHECK(CachingCpuAllocator::size_class(mib) == mib);
  CHECK(CachingCpuAllocator::size_class(mib + 1) == mib + mib / 8);
  CHECK(CachingCpuAllocator::size_class(3 * mib + 5) == 3 * mib + mib / 4);
  for (size_t b : {mib, 5 * mib + 3, 100 * mib + 7}) {
    const size_t c = CachingCpuAllocator::size_class(b);
    CHECK(c >= b);
    CHECK(c <= b + b / 8);
    CHECK(c % 64 == 0);
  }
}

TEST_CASE("a freed large block is handed out again for the same size class") {
  CachingCpuAllocator a(64 << 20);
  const size_t n = 3 << 20;
  void* p = a.allocate(n);
  CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
  std::memset(p, 1, n);  // the whole requested size is usable
  a.deallocate(p, n);
  CHECK(a.cached_bytes() == CachingCpuAllocator::size_class(n));
  void* q = a.allocate(n - 1000);  // same class (2.75 MiB, 3 MiB]
  CHECK(q == p);
  CHECK(a.cached_bytes() == 0);
  void* r = a.allocate(2 * n);  // another class: a new block
  CHECK(r != p);
  a.deallocate(q, n);
  a.deallocate(r, 2 * n);
  a.release_cached();
  CHECK(a.cached_bytes() == 0);
}

TEST_CASE("small blocks are not cached and the cache stays under its limit") {
  CachingCpuAllocator a(8 << 20);
  void* s = a.allocate(1000);
  a.deallocate(s, 1000);
  CHECK(a.cached_bytes() == 0);
  void* blocks[4];
  for (void*& b : blocks) b = a.allocate(3 << 20);
  for (void* b : blocks) a.deallocate(b, 3 << 20);
  CHECK(a.cached_bytes() <= size_t{8} << 20);  // the oldest were released
  CHECK(a.cached_bytes() >= size_t{6} << 20);
  void* big = a.allocate(16 << 20);  // larger than the whole limit: never cached
  a.deallocate(big, 16 << 20);
  CHECK(a.cached_bytes() <= size_t{8} << 20);
}

TEST_CASE("tensors allocate through the caching allocator") {
  using namespace melgrad;
  void* first;
  {
    Tensor t = Tensor::zeros({3, 1 << 20});
    first = t.raw_data();
  }
  Tensor u = Tensor::empty({3, 1 << 20});
  CHECK(u.raw_data() == first);  // the 12 MB block came back from the cache
}
