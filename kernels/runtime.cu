// kernels/runtime.h in both builds: the CUDA runtime under nvcc, the emulator under g++.
#include <chrono>
#include <cstring>
#include <string>

#include "kernels/emu/cuda_compat.h"
#include "kernels/runtime.h"

#if MG_EMULATED
// The emulator's streams and events: every launch and copy has run when its call returns, so
// a stream only needs a distinct address, and an event only the host time it was recorded.
struct CUstream_st {};
struct CUevent_st {
  bool recorded = false;
  std::chrono::steady_clock::time_point time;
};
#endif

namespace melgrad::kernels {

#if MG_EMULATED

const char* backend_name() { return "emulator"; }
bool device_available() { return true; }
// The emulated device's (MELGRAD_EMU_DEVICE; the default "small" has 4 SMs: few blocks per
// grid-stride launch, fewer fibers).
int device_sm_count() { return emu::device().sms; }
std::size_t device_max_dynamic_smem() { return emu::device().smem_per_block_optin; }
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

Stream stream_create() { return new CUstream_st; }
void stream_destroy(Stream s) { delete s; }
void stream_synchronize(Stream) {}
void stream_wait_event(Stream, Event e) {
  if (e == nullptr) throw std::invalid_argument("stream_wait_event: null event");
}

Event event_create() { return new CUevent_st; }
void event_destroy(Event e) { delete e; }
void event_record(Event e, Stream) {
  if (e == nullptr) throw std::invalid_argument("event_record: null event");
  e->recorded = true;
  e->time = std::chrono::steady_clock::now();
}
bool event_query(Event e) {
  if (e == nullptr) throw std::invalid_argument("event_query: null event");
  return true;
}
void event_synchronize(Event e) { event_query(e); }
float event_elapsed_ms(Event start, Event end) {
  if (start == nullptr || end == nullptr || !start->recorded || !end->recorded)
    throw std::invalid_argument("event_elapsed_ms: both events must have been recorded");
  return std::chrono::duration<float, std::milli>(end->time - start->time).count();
}

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

Stream stream_create() {
  cudaStream_t s = nullptr;
  MG_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}
void stream_destroy(Stream s) {
  if (s != nullptr) MG_CUDA_CHECK(cudaStreamDestroy(s));
}
void stream_synchronize(Stream s) { MG_CUDA_CHECK(cudaStreamSynchronize(s)); }
void stream_wait_event(Stream s, Event e) { MG_CUDA_CHECK(cudaStreamWaitEvent(s, e, 0)); }

Event event_create() {
  cudaEvent_t e = nullptr;
  MG_CUDA_CHECK(cudaEventCreate(&e));  // with timing (elapsed_ms)
  return e;
}
void event_destroy(Event e) {
  if (e != nullptr) MG_CUDA_CHECK(cudaEventDestroy(e));
}
void event_record(Event e, Stream s) { MG_CUDA_CHECK(cudaEventRecord(e, s)); }
bool event_query(Event e) {
  const cudaError_t status = cudaEventQuery(e);
  if (status == cudaErrorNotReady) {
    cudaGetLastError();  // not an error: the event is still pending
    return false;
  }
  cuda_launch::check_status(status, "cudaEventQuery(e)", __FILE__, __LINE__);
  return true;
}
void event_synchronize(Event e) { MG_CUDA_CHECK(cudaEventSynchronize(e)); }
float event_elapsed_ms(Event start, Event end) {
  float ms = 0.0f;
  MG_CUDA_CHECK(cudaEventElapsedTime(&ms, start, end));
  return ms;
}

#endif

}  // namespace melgrad::kernels
