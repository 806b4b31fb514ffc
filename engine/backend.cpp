// The per-device backend table; the CPU backend is always there (see backend.h).
#include "engine/backend.h"

#include <stdexcept>

#include "engine/cpu/cpu_backend.h"

namespace melgrad {

static Backend* g_backends[2] = {nullptr, nullptr};

Backend& backend_for(Device device) {
  static cpu::CpuBackend cpu_backend;
  if (device.is_cpu()) return cpu_backend;
  if (!g_backends[1])
    throw std::runtime_error("device " + device.str() +
                             " is not available: this build has no CUDA backend");
  return *g_backends[1];
}

void set_backend(DeviceType type, Backend* backend) {
  g_backends[static_cast<int>(type)] = backend;
}

void unsupported(const Backend& backend, const std::string& op, DType dtype) {
  throw std::runtime_error("op '" + op + "': the " + backend.name() + " backend has no " +
                           dtype_name(dtype) + " kernel");
}

}  // namespace melgrad
