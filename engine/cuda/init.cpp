// Registration of the CUDA backend and its caching allocator (see cuda.h). The singletons
// are created once and never destroyed: tensors that live until exit (statics, a model the
// program never frees) still find their allocator when they are released.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "engine/cuda/cuda.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"

namespace melgrad::cuda {

namespace {

// Device memory and streams for the allocator: the device is initialised by the first
// allocation, so a program that never makes a cuda tensor never touches the GPU.
CachingAllocator::DeviceMemory device_memory() {
  CachingAllocator::DeviceMemory m;
  m.malloc = [](std::size_t bytes) {
    require_device(Device::cuda(0));
    return raw_malloc(bytes);
  };
  m.free = [](void* p) { raw_free(p); };
  m.current_stream = [] { return stream(); };
  m.record_event = [](kernels::Stream s) {
    kernels::Event e = kernels::event_create();
    try {
      kernels::event_record(e, s);
    } catch (...) {
      kernels::event_destroy(e);
      throw;
    }
    return e;
  };
  m.event_done = [](kernels::Event e) { return kernels::event_query(e); };
  m.wait_event = [](kernels::Event e) { kernels::event_synchronize(e); };
  m.destroy_event = [](kernels::Event e) { kernels::event_destroy(e); };
  return m;
}

bool caching_from_environment() {
  const char* v = std::getenv("MELGRAD_CUDA_ALLOCATOR");
  const std::string mode = v ? v : "caching";
  if (mode == "caching" || mode.empty()) return true;
  if (mode == "direct") return false;
  throw std::invalid_argument("MELGRAD_CUDA_ALLOCATOR='" + mode + "' (expected caching or direct)");
}

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator(device_memory(), caching_from_environment());
  return *a;
}

CudaBackend& backend() {
  static CudaBackend* b = new CudaBackend();
  return *b;
}

}  // namespace

CachingAllocator& device_allocator() { return allocator(); }

void init() {
  set_allocator(DeviceType::cuda, &allocator());
  set_backend(DeviceType::cuda, &backend());
}

AllocatorStats memory_stats() { return allocator().stats(); }
void reset_peak_memory() { allocator().reset_peak(); }
std::size_t empty_cache() { return allocator().empty_cache(); }
bool caching_enabled() { return allocator().caching(); }

// Registers at load time; the library is linked whole-archive so this object is kept.
[[maybe_unused]] static const bool registered = (init(), true);

}  // namespace melgrad::cuda
