// The CUDA backend's device runtime (see device_runtime.h): CUDA runtime calls in the GPU
// variant, the kernel emulator's memory in the emulator variant.
#include "engine/cuda/device_runtime.h"

#include <cstring>
#include <new>
#include <stdexcept>

#include "kernels/indexing.h"
#if MELGRAD_KERNELS_CUDA
#include "engine/cuda/cuda_check.h"
#endif

namespace melgrad::cuda {

namespace {

struct DeviceState {
  kernels::Stream stream = nullptr;
  int* error_word = nullptr;
};

#if MELGRAD_KERNELS_CUDA

DeviceState init_device() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw std::runtime_error(
        std::string("device cuda:0 is not available (") +
        (e != cudaSuccess ? std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e)
                          : std::string("no CUDA device found")) +
        "). This program was built to run --device cuda on an NVIDIA GPU; melgrad-emu runs the "
        "same kernels through the emulator on the CPU");
  }
  DeviceState s;
  MELGRAD_CUDA_CHECK(cudaSetDevice(0));
  // A blocking stream: it also orders against the legacy default stream, which the kernels'
  // own helpers (kernels/runtime.h) use.
  MELGRAD_CUDA_CHECK(cudaStreamCreate(&s.stream));
  MELGRAD_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&s.error_word), sizeof(int)));
  MELGRAD_CUDA_CHECK(cudaMemsetAsync(s.error_word, 0, sizeof(int), s.stream));
  return s;
}

#else

DeviceState init_device() {
  DeviceState s;
  s.error_word = static_cast<int*>(kernels::device_malloc(sizeof(int)));
  const int zero = 0;
  kernels::copy_to_device(s.error_word, &zero, sizeof(int));
  return s;
}

#endif

// Initialised on first use; a failed initialisation is retried by the next call.
DeviceState& state() {
  static DeviceState s = init_device();
  return s;
}

}  // namespace

void require_device(Device device) {
  if (!device.is_cuda())
    throw std::logic_error("cuda backend: asked to use device " + device.str());
  if (device.index != 0)
    throw std::invalid_argument("device " + device.str() +
                                " is not supported: melgrad runs on one GPU, cuda:0");
  state();
}

kernels::Stream default_stream() { return state().stream; }
int* error_word() { return state().error_word; }

#if MELGRAD_KERNELS_CUDA

const char* variant() { return "cuda"; }

std::string device_name() {
  require_device(Device::cuda(0));
  cudaDeviceProp prop{};
  MELGRAD_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  return prop.name;
}

bool device_available() {
  int count = 0;
  const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  cudaGetLastError();
  return ok;
}

void* raw_malloc(std::size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;
  }
  check_status(e, "cudaMalloc(&p, bytes)", __FILE__, __LINE__);
  return p;
}

void raw_free(void* p) { MELGRAD_CUDA_CHECK(cudaFree(p)); }

// A copy between host and device memory cannot be part of a CUDA graph (the host side is
// pageable memory, and a read-back waits for the stream): refuse it while the current
// stream is being captured, in the words the emulator's recordings use.
static void refuse_while_capturing(const char* copy) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  MELGRAD_CUDA_CHECK(cudaStreamIsCapturing(stream(), &status));
  if (status != cudaStreamCaptureStatusNone)
    throw std::runtime_error(std::string(copy) +
                             " while the stream is being captured (a CUDA graph cannot hold it)");
}

void copy_host_to_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  refuse_while_capturing("a copy from host to device memory (an upload)");
  MELGRAD_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
}

void copy_device_to_host(void* dst, const void* src, std::size_t bytes) {
  refuse_while_capturing("a copy from device to host memory (a read-back)");
  if (bytes > 0) {
    MELGRAD_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
  }
  MELGRAD_CUDA_CHECK(cudaStreamSynchronize(stream()));
  check_deferred_errors();
}

void synchronize() {
  require_device(Device::cuda(0));
  MELGRAD_CUDA_CHECK(cudaDeviceSynchronize());
  check_deferred_errors();
}

static int read_and_reset_error_word() {
  int code = 0;
  MELGRAD_CUDA_CHECK(
      cudaMemcpyAsync(&code, error_word(), sizeof(int), cudaMemcpyDeviceToHost, stream()));
  MELGRAD_CUDA_CHECK(cudaStreamSynchronize(stream()));
  if (code != 0) MELGRAD_CUDA_CHECK(cudaMemsetAsync(error_word(), 0, sizeof(int), stream()));
  return code;
}

#else

const char* variant() { return "emulator"; }
std::string device_name() { return "kernel emulator"; }
bool device_available() { return true; }

void* raw_malloc(std::size_t bytes) {
  try {
    return kernels::device_malloc(bytes);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void raw_free(void* p) { kernels::device_free(p); }

void copy_host_to_device(void* dst, const void* src, std::size_t bytes) {
  kernels::copy_to_device(dst, src, bytes);
}

void copy_device_to_host(void* dst, const void* src, std::size_t bytes) {
  kernels::copy_to_host(dst, src, bytes);
  check_deferred_errors();
}

void synchronize() { check_deferred_errors(); }

static int read_and_reset_error_word() {
  int code = 0;
  kernels::copy_to_host(&code, error_word(), sizeof(int));
  const int zero = 0;
  if (code != 0) kernels::copy_to_device(error_word(), &zero, sizeof(int));
  return code;
}

#endif

void check_deferred_errors() {
  const int code = read_and_reset_error_word();
  if (code != 0)
    throw std::out_of_range(std::string("cuda:0: ") + kernels::index_error_name(code) +
                            ": an index was out of range (found by the kernel, reported at the "
                            "next synchronisation)");
}

}  // namespace melgrad::cuda
