// The device runtime under the CUDA backend: raw device memory, host<->device copies on the
// device's stream, synchronisation, and the deferred report of errors that kernels cannot
// throw (an out-of-range index). One translation unit, two builds:
//   GPU variant (melgrad_cuda, kernels from nvcc): CUDA runtime calls, each checked by
//     MELGRAD_CUDA_CHECK (call, file, line in the error);
//   emulator variant (melgrad_cuda_emu): "device" memory from the emulator (guard pages),
//     copies are memcpy, launches are synchronous.
// One device, cuda:0. Every kernel and copy of the backend goes to the calling thread's
// current stream, stream(): the device's own stream unless a cuda::StreamGuard (stream.h)
// names another, so by default work runs in program order on one stream.
#pragma once

#include <cstddef>
#include <string>

#include "engine/device.h"
#include "kernels/runtime.h"

namespace melgrad::cuda {

const char* variant();  // "cuda" (GPU build) or "emulator"
// The device's name ("NVIDIA H100 80GB HBM3"; the emulator: "kernel emulator"); initialises it.
std::string device_name();

// Throws when `device` cannot be used: an index other than 0, or (GPU variant) no usable GPU,
// with a hint to run melgrad-emu. The first successful call initialises the device.
void require_device(Device device);
bool device_available();

// The device's stream (nullptr in the emulator: synchronous). It waits for the legacy
// default stream, which kernels/runtime.h's own helpers use.
kernels::Stream default_stream();
// This thread's current stream: default_stream() unless a StreamGuard is active.
kernels::Stream stream();

// Device memory straight from the driver (the caching allocator sits on top of these).
// raw_malloc returns nullptr when the device is out of memory; other failures throw.
void* raw_malloc(std::size_t bytes);
void raw_free(void* p);

// Copies in the current stream's order. device_to_host waits for that stream (the host
// reads the result) and then reports deferred kernel errors; host_to_device may return
// before the copy ran but after the host buffer was read (it may be freed at once).
void copy_host_to_device(void* dst, const void* src, std::size_t bytes);
void copy_device_to_host(void* dst, const void* src, std::size_t bytes);

// Waits for the whole device (every stream, as torch.cuda.synchronize); then throws what
// kernels recorded (see error_word). Stream::synchronize() waits for one stream.
void synchronize();

// A device int that kernels set to a nonzero kernels::IndexError code instead of throwing;
// checked (and reset) at every synchronisation.
int* error_word();
void check_deferred_errors();

}  // namespace melgrad::cuda
