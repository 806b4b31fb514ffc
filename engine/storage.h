// Storage: one reference-counted buffer on one device, shared by all views of it.
// Memory comes from the device's Allocator; the CPU one hands out 64-byte aligned blocks
// and caches freed large ones (engine/cpu/cpu_allocator.h),
// the CUDA backend installs its caching allocator with set_allocator().
#pragma once

#include <cstddef>

#include "engine/device.h"

namespace melgrad {

struct Allocator {
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* p, size_t bytes) = 0;
};

Allocator& allocator_for(Device device);  // throws when the device has no backend in this build
void set_allocator(DeviceType type, Allocator* allocator);

class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

}  // namespace melgrad
