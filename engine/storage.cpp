// Storage and the per-device allocator table (see storage.h).
#include "engine/storage.h"

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

#include "engine/cpu/cpu_allocator.h"

namespace melgrad {

namespace {

Allocator* g_allocators[2] = {nullptr, nullptr};

}  // namespace

Allocator& allocator_for(Device device) {
  if (device.is_cpu()) return g_allocators[0] ? *g_allocators[0] : cpu::default_cpu_allocator();
  if (!g_allocators[1])
    throw std::runtime_error("device " + device.str() +
                             " is not available: this build has no CUDA backend");
  return *g_allocators[1];
}

void set_allocator(DeviceType type, Allocator* allocator) {
  g_allocators[static_cast<int>(type)] = allocator;
}

Storage::Storage(size_t bytes, Device device)
    : data_(allocator_for(device).allocate(bytes)), bytes_(bytes), device_(device) {}

Storage::~Storage() { allocator_for(device_).deallocate(data_, bytes_); }

}  // namespace melgrad
