// The CUDA backend's public face: registration, the device's memory statistics, streams.
//
// Linking melgrad_cuda (GPU kernels, nvcc) or melgrad_cuda_emu (the same kernels through the
// CPU emulator) registers the backend and its caching allocator for DeviceType::cuda at
// program start (the library is linked whole-archive); init() does it explicitly and may be
// called any number of times. The GPU is only touched when the first cuda tensor is made,
// so a GPU build runs --device cpu on a machine without one.
#pragma once

#include <cstddef>
#include <string>

#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/stream.h"

namespace melgrad::cuda {

void init();

const char* variant();      // "cuda" or "emulator"
std::string device_name();  // e.g. "NVIDIA H100 80GB HBM3", or "kernel emulator"
bool device_available();    // a usable device (the emulator: always)

AllocatorStats memory_stats();
void reset_peak_memory();
std::size_t empty_cache();  // returns the bytes given back to the device
bool caching_enabled();     // false under MELGRAD_CUDA_ALLOCATOR=direct

// Waits for the work queued on every stream (device-wide, as torch.cuda.synchronize);
// throws errors that kernels recorded (see device_runtime.h). Streams: stream.h.
void synchronize();

}  // namespace melgrad::cuda
