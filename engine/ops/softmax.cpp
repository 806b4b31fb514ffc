// softmax and log_softmax along one dim, computed stably (x - max) by the device's backend
// (Backend::softmax). One node each, with the closed-form backward (softmax_backward):
//   softmax:     dx = y * (g - sum(g * y))
//   log_softmax: dx = g - exp(y) * sum(g)
#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

static std::function<GradCases(Generator&)> softmax_cases(Tensor (*f)(const Tensor&, int64_t)) {
  return [f](Generator& g) {
    return GradCases{{"last dim",
                      {gc_input({3, 5}, g, -2, 2)},
                      [f](const TensorList& in) { return f(in[0], -1); }},
                     {"dim 0 of 3-D", {gc_input({4, 2, 3}, g, -2, 2)}, [f](const TensorList& in) {
                        return f(in[0], 0);
                      }}};
  };
}

static const OpInfo& kSoftmax =
    register_op({.name = "softmax", .family = "softmax", .gradcheck = softmax_cases(softmax)});
Tensor softmax(const Tensor& x, int64_t dim) {
  check_device(kSoftmax, {x});
  check_floating(kSoftmax, x);
  dim = wrap_dim(dim, x.dim(), "softmax");
  const Tensor y = backend_for(x.device()).softmax(x, dim, false);
  return record(kSoftmax, {x}, y, [y = y.detach(), dim](const TensorList& g) {
    return TensorList{backend_for(y.device()).softmax_backward(y, g[0], dim, false)};
  });
}

static const OpInfo& kLogSoftmax = register_op(
    {.name = "log_softmax", .family = "softmax", .gradcheck = softmax_cases(log_softmax)});
Tensor log_softmax(const Tensor& x, int64_t dim) {
  check_device(kLogSoftmax, {x});
  check_floating(kLogSoftmax, x);
  dim = wrap_dim(dim, x.dim(), "log_softmax");
  const Tensor y = backend_for(x.device()).softmax(x, dim, true);
  return record(kLogSoftmax, {x}, y, [y = y.detach(), dim](const TensorList& g) {
    return TensorList{backend_for(y.device()).softmax_backward(y, g[0], dim, true)};
  });
}

}  // namespace melgrad
