// The device runtime that kernels/ launchers and their tests use, identical in both builds:
// in melgrad_kernels_cuda it is the CUDA runtime (cudaMalloc, cudaMemcpy, ...); in
// melgrad_kernels_emu "device" memory is host memory from emu::malloc (guard pages,
// poisoned slack) and launches run synchronously on the calling thread.
// Streams and events (below) are CUDA's; in the emulator, where every launch and copy has
// finished when its call returns, they are small host objects with the same answers: an
// event is complete as soon as it is recorded, and its time is the host's steady clock.
// Plain C++ (no CUDA headers): host code includes it in both builds.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <utility>
#include <vector>

struct CUstream_st;
struct CUevent_st;

namespace melgrad::kernels {

// cudaStream_t under nvcc; nullptr is the default stream. The emulator runs every launch at
// once, whatever its stream.
using Stream = CUstream_st*;
// cudaEvent_t under nvcc; a host timestamp in the emulator.
using Event = CUevent_st*;

const char* backend_name();  // "cuda" or "emulator"
bool device_available();     // the emulator: always; CUDA: at least one usable GPU
int device_sm_count();       // streaming multiprocessors (the emulator: its device profile's)
// Dynamic shared memory one block may use after opting in (MG_SET_MAX_DYNAMIC_SMEM); without
// the opt-in a launch may use kDefaultDynamicSmem. The emulator answers its device profile's
// (227 KiB, an H100's, unless MELGRAD_EMU_DEVICE=a100).
std::size_t device_max_dynamic_smem();
constexpr std::size_t kDefaultDynamicSmem = 48 * 1024;
void* device_malloc(std::size_t bytes);
void device_free(void* p);
void copy_to_device(void* dst, const void* src, std::size_t bytes);
void copy_to_host(void* dst, const void* src, std::size_t bytes);
void device_synchronize();

// Streams: a created stream does not wait for the legacy default stream (non-blocking).
// stream_destroy(nullptr) does nothing; a destroyed stream's queued work still runs.
Stream stream_create();
void stream_destroy(Stream s);
void stream_synchronize(Stream s);          // waits until the stream's queued work has run
void stream_wait_event(Stream s, Event e);  // work queued on s later waits for e

// Events: markers in a stream's work, timed. An event never recorded counts as complete.
Event event_create();
void event_destroy(Event e);           // nullptr: nothing
void event_record(Event e, Stream s);  // completes when the work queued on s so far has run
bool event_query(Event e);             // complete?
void event_synchronize(Event e);       // waits until it is complete
// Milliseconds from `start` to `end`, both recorded and complete (throws otherwise).
float event_elapsed_ms(Event start, Event end);

// A typed device allocation owned by the caller (tests, benchmarks, the CUDA backend).
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) : n_(n), p_(static_cast<T*>(device_malloc(n * sizeof(T)))) {}
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    copy_to_device(p_, host.data(), n_ * sizeof(T));
  }
  ~DeviceBuffer() {
    try {
      device_free(p_);
    } catch (...) {  // a destructor must not throw; a failed free is reported by the next call
    }
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : n_(std::exchange(o.n_, 0)), p_(std::exchange(o.p_, nullptr)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(n_, o.n_);
    std::swap(p_, o.p_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }
  std::vector<T> to_host() const {
    std::vector<T> h(n_);
    copy_to_host(h.data(), p_, n_ * sizeof(T));
    return h;
  }

 private:
  std::size_t n_ = 0;
  T* p_ = nullptr;
};

}  // namespace melgrad::kernels
