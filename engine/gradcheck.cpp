// Float64 central-difference gradient checks (see gradcheck.h).
#include "engine/gradcheck.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace melgrad {

static double weighted_sum(const Tensor& out, const std::vector<double>& w) {
  std::vector<double> v = out.to_vector();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += v[i] * w[i];
  return s;
}

// The inputs on `device`: on the CPU the inputs themselves (a case may perturb tensors its
// function captures, e.g. a module's parameters); elsewhere their current values as new
// leaves, requiring grad where the inputs do.
static TensorList leaves_on(const TensorList& inputs, Device device) {
  if (device.is_cpu()) return inputs;
  TensorList out;
  for (const Tensor& t : inputs) {
    Tensor x = t.detach().to(device).detach();
    if (t.requires_grad()) x.requires_grad_();
    out.push_back(x);
  }
  return out;
}

GradCheckResult gradcheck(const GradCheckCase& c, Device device) {
  GradCheckResult r;
  for (const Tensor& t : c.inputs)
    if (t.requires_grad() &&
        (t.dtype() != DType::f64 || !t.is_contiguous() || !t.is_leaf() || !t.device().is_cpu()))
      throw std::invalid_argument("gradcheck '" + c.label +
                                  "': inputs that require grad must be contiguous float64 "
                                  "leaves on the cpu (the check copies them to its device)");
  for (const Tensor& t : c.inputs)
    if (t.requires_grad()) t.impl().grad.reset();

  const TensorList leaves = leaves_on(c.inputs, device);
  Tensor out = c.fn(leaves);
  Generator gen(20261125);
  Tensor w = Tensor::normal(out.shape(), 0, 1, gen, out.dtype());
  const std::vector<double> wv = w.to_vector();
  out.backward(w.to(out.device()));

  NoGradGuard no_grad;
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    const Tensor& x = c.inputs[k];
    if (!x.requires_grad()) continue;
    Tensor grad = leaves[k].grad();
    std::vector<double> analytic =
        grad.defined() ? grad.to_vector() : std::vector<double>(x.numel(), 0.0);
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double saved = p[i];
      p[i] = saved + c.eps;
      const double plus = weighted_sum(c.fn(leaves_on(c.inputs, device)), wv);
      p[i] = saved - c.eps;
      const double minus = weighted_sum(c.fn(leaves_on(c.inputs, device)), wv);
      p[i] = saved;
      const double numeric = (plus - minus) / (2 * c.eps);
      const double err = std::abs(analytic[i] - numeric);
      r.max_error = std::max(r.max_error, std::isnan(err) ? INFINITY : err);
      if (r.ok && !(err <= c.atol + c.rtol * std::abs(numeric))) {
        r.ok = false;
        std::ostringstream m;
        m << "case '" << c.label << "': input " << k << " " << shape_str(x.shape()) << " element "
          << i << ": analytic " << analytic[i] << " vs numeric " << numeric;
        r.message = m.str();
      }
    }
  }
  return r;
}

}  // namespace melgrad
