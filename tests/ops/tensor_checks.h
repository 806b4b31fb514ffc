// Tolerance checks of whole tensors for doctest suites that compare melgrad with golden
// fixtures (PyTorch's values): one assertion per tensor, naming the worst element.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/shape.h"
#include "engine/tensor.h"

namespace melgrad::test {

// Elementwise |a - b| <= atol + rtol |b|; reports the worst element.
inline void check_close(const Tensor& a, const Tensor& b, double rtol, double atol,
                        const std::string& what) {
  REQUIRE_MESSAGE(a.shape() == b.shape(), what, ": shape ", shape_str(a.shape()), " vs ",
                  shape_str(b.shape()));
  const std::vector<double> va = a.to_vector(), vb = b.to_vector();
  bool ok = true;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    const double d = std::abs(va[i] - vb[i]);
    if (!(d <= atol + rtol * std::abs(vb[i]))) ok = false;
    if (!(d <= worst)) worst = d, at = i;
  }
  if (va.empty()) return;
  CHECK_MESSAGE(ok, what, ": max |a - b| = ", worst, " at element ", at, " (", va[at], " vs ",
                vb[at], "), rtol ", rtol, ", atol ", atol);
}

}  // namespace melgrad::test
