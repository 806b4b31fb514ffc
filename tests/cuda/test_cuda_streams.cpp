// Streams and events of the CUDA backend (engine/cuda/stream.h): the current stream and its
// guards (nested, restored on exceptions, per thread), launches following it (the emulator
// reports each launch's stream), the caching allocator's per-stream free lists and
// record_stream on cuda tensors, events (query, elapsed time and its order) and one stream
// waiting for another. In the emulator launches run at once; test_cuda_native runs the
// same cases on a GPU, where the waits order real work.
#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "engine/cuda/cuda.h"
#include "engine/ops/ops.h"
#include "tests/skip.h"
#if MELGRAD_KERNELS_EMU
#include "kernels/emu/emu.h"
#endif

using namespace melgrad;

namespace {
const Device kCuda = Device::cuda(0);
}  // namespace

TEST_CASE("stream guards switch this thread's current stream and restore it") {
  const kernels::Stream base = cuda::stream();
  CHECK(base == cuda::default_stream());
  cuda::Stream a, b;
  CHECK(a.handle() != nullptr);
  CHECK(a.handle() != b.handle());
  CHECK(a.handle() != base);
  {
    cuda::StreamGuard outer(a);
    CHECK(cuda::stream() == a.handle());
    {
      cuda::StreamGuard inner(b);
      CHECK(cuda::stream() == b.handle());
    }
    CHECK(cuda::stream() == a.handle());
    kernels::Stream elsewhere = a;  // another thread has its own current stream
    std::thread([&] { elsewhere = cuda::stream(); }).join();
    CHECK(elsewhere == base);
  }
  CHECK(cuda::stream() == base);
  try {
    cuda::StreamGuard guard(a);
    throw std::runtime_error("step failed");
  } catch (const std::runtime_error&) {
  }
  CHECK(cuda::stream() == base);
}

#if MELGRAD_KERNELS_EMU
TEST_CASE("launches follow the current stream (the emulator reports each launch's stream)") {
  const Tensor x = Tensor::full({64}, -1.0, DType::f32, kCuda);
  cuda::Stream side;
  {
    cuda::StreamGuard guard(side);
    const Tensor y = relu(x);
    CHECK(emu::stats().last_stream == side.handle());
    const Tensor z = mul(y, x);  // kernels of a binary op as well
    CHECK(emu::stats().last_stream == side.handle());
  }
  const Tensor w = relu(x);
  CHECK(emu::stats().last_stream == cuda::default_stream());
}
#endif

// Excluded from the direct-allocator run of test_cuda, as in test_cuda_allocator.cpp.
TEST_CASE("cuda tensors (caching allocator): a block freed on one stream is reused on it only") {
  if (!cuda::caching_enabled())
    return melgrad::testing::skip("MELGRAD_CUDA_ALLOCATOR=direct: nothing is cached");
  cuda::Stream side;
  const void* on_side = nullptr;
  {
    cuda::StreamGuard guard(side);
    on_side = Tensor::empty({1000}, DType::f32, kCuda).raw_data();  // freed at once
  }
  const auto before = cuda::memory_stats();
  const Tensor other = Tensor::empty({1000}, DType::f32, kCuda);  // the default stream
  CHECK(other.raw_data() != on_side);
  {
    cuda::StreamGuard guard(side);
    const Tensor again = Tensor::empty({1000}, DType::f32, kCuda);
    CHECK(again.raw_data() == on_side);
  }
  CHECK(cuda::memory_stats().cache_hits >= before.cache_hits + 1);
}

TEST_CASE("cuda tensors: record_stream holds a freed block until the other stream's work ran") {
  cuda::Stream side;
  Tensor x = Tensor::full({256}, 3.0, DType::f32, kCuda);  // made on the default stream
  side.wait_stream(cuda::default_stream());                // side may read x
  Tensor y;
  {
    cuda::StreamGuard guard(side);
    y = mul(x, x);
  }
  cuda::record_stream(x, side);
  const auto before = cuda::memory_stats();
  x = Tensor();  // freed on the host while side's kernel may still read it
  CHECK(cuda::memory_stats().pending_free_bytes == before.pending_free_bytes + 1024);
  side.synchronize();                                         // the event has completed
  const Tensor next = Tensor::empty({1}, DType::f32, kCuda);  // allocations collect it
  CHECK(cuda::memory_stats().pending_free_bytes == before.pending_free_bytes);

  cuda::Event done;
  done.record(side);
  done.wait();  // the default stream (the read-back's) waits for side's kernel
  for (double v : y.to(Device::cpu()).to_vector()) CHECK(v == 9.0);
  CHECK_THROWS_AS(cuda::record_stream(Tensor::ones({2}), side), std::invalid_argument);
}

TEST_CASE("events: query, synchronize, elapsed time in recording order") {
  cuda::Event first, second, third;
  CHECK(first.query());  // never recorded: complete, as in CUDA
  CHECK_THROWS(first.elapsed_ms(second));
  first.record();
  const Tensor x = relu(Tensor::full({4096}, 1.0, DType::f32, kCuda));
  second.record();
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  third.record(cuda::stream());
  third.synchronize();
  CHECK(third.query());
  const float a = first.elapsed_ms(second), b = first.elapsed_ms(third);
  CHECK(a >= 0.0f);
  CHECK(b >= a);
  CHECK(b >= 1.0f);  // the host slept between the second and the third on an idle stream
  CHECK(third.elapsed_ms(first) <= 0.0f);
  cuda::synchronize();  // device-wide
}
