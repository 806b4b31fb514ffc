// kernels/runtime.h in both builds: the CUDA runtime under nvcc, the emulator under g++.
#include "kernels/emu/cuda_compat.h"
#include "kernels/runtime.h"

#include <cstring>
#include <string>

namespace melgrad::kernels {

#if MG_EMULATED

const char* backend_name() { return "emulator"; }
bool device_available() { return true; }
int device_sm_count() { return 4; }  // few blocks per grid-stride launch: fewer fibers
std::size_t device_max_dynamic_smem() { return emu::kOptinSmemLimit; }
void* device_malloc(std::size_t bytes) { return emu::malloc(bytes); }
void device_free(void* p) { emu::free(p); }
void copy_to_device(void* dst, const void* src, std::size_t bytes) {
  emu::detail::note_unrecordable("a copy from host to device memory");
  if (bytes > 0 && !emu::is_device_pointer(dst)) {
    throw std::invalid_argument("copy_to_device: destination is not device memory");
  }
  std::memcpy(dst, src, bytes);
}
void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  emu::detail::note_unrecordable("a copy from device to host memory (a read-back)");
  if (bytes > 0 && !emu::is_device_pointer(src)) {
    throw std::invalid_argument("copy_to_host: source is not device memory");
  }
  std::memcpy(dst, src, bytes);
}
void device_synchronize() {}

#else

const char* backend_name() { return "cuda"; }
bool device_available() {
  int n = 0;
  const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  cudaGetLastError();  // clear the sticky "no device" error
  return ok;
}
int device_sm_count() {
  static const int count = [] {
    int dev = 0, sms = 0;
    MG_CUDA_CHECK(cudaGetDevice(&dev));
    MG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    return sms;
  }();
  return count;
}
std::size_t device_max_dynamic_smem() {
  static const std::size_t bytes = [] {
    int dev = 0, optin = 0;
    MG_CUDA_CHECK(cudaGetDevice(&dev));
    MG_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    return static_cast<std::size_t>(optin);
  }();
  return bytes;
}
void* device_malloc(std::size_t bytes) {
  void* p = nullptr;
  MG_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}
void device_free(void* p) { MG_CUDA_CHECK(cudaFree(p)); }
void copy_to_device(void* dst, const void* src, std::size_t bytes) {
  MG_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  MG_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void device_synchronize() { MG_CUDA_CHECK(cudaDeviceSynchronize()); }

#endif

}  // namespace melgrad::kernels
