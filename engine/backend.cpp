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

bool has_backend(DeviceType type) {
  return type == DeviceType::cpu || g_backends[static_cast<int>(type)] != nullptr;
}

void unsupported(const Backend& backend, const std::string& op, DType dtype) {
  throw std::runtime_error("op '" + op + "': the " + backend.name() + " backend has no " +
                           dtype_name(dtype) + " kernel");
}

Tensor cross_entropy_weights_grad(Backend& backend, const Tensor& picked_log_probs,
                                  const Tensor& targets, const Tensor& loss,
                                  const Tensor& weight_sum, const Tensor& grad_loss,
                                  int64_t classes) {
  const Shape n = picked_log_probs.shape();
  const DType dt = picked_log_probs.dtype();
  const Device dev = picked_log_probs.device();
  Tensor shifted = Tensor::empty(n, dt, dev), negated = Tensor::empty(n, dt, dev);
  Tensor scaled = Tensor::empty(n, dt, dev), per_sample = Tensor::empty(n, dt, dev);
  backend.binary(BinaryOp::add, picked_log_probs, broadcast_view(loss, n), shifted);
  backend.unary(UnaryOp::neg, shifted, negated, 0, 0);
  backend.binary(BinaryOp::mul, negated, broadcast_view(grad_loss, n), scaled);
  backend.binary(BinaryOp::div, scaled, broadcast_view(weight_sum, n), per_sample);
  Tensor grad = Tensor::empty({classes}, dt, dev);
  backend.fill(grad, 0.0);
  backend.index_add(grad, 0, targets, per_sample);
  return grad;
}

}  // namespace melgrad
