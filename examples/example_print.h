// Printing helpers shared by the teaching examples (examples/layer_*.cpp): fixed-format
// numbers, so that a page under docs/layers/ can quote a program's output and the test
// examples/check_output.cmake can compare the two character for character.
// Values print with 5 decimals (float64 inputs; the rounding hides the last-bit
// differences of a machine's FMA or vector width). Comparisons of two computations print
// a verdict against a stated tolerance, never the raw difference (which is platform noise).
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace melgrad::examples {

// Values that round to zero print as 0.00000, never "-0.00000".
inline double printable(double x) { return std::fabs(x) < 5e-6 ? 0.0 : x; }

inline void print_values(const char* name, const std::vector<double>& v) {
  std::printf("%s = [", name);
  for (size_t i = 0; i < v.size(); ++i) std::printf(i ? ", %.5f" : "%.5f", printable(v[i]));
  std::printf("]\n");
}

// A tensor as nested rows: its last dim per line, the shape first.
inline void print_tensor(const char* name, const Tensor& t) {
  const std::vector<double> v = t.to_vector();
  const int64_t cols = t.dim() == 0 ? 1 : t.size(-1);
  std::printf("%s %s\n", name, shape_str(t.shape()).c_str());
  for (size_t i = 0; i < v.size(); i += static_cast<size_t>(cols)) {
    std::printf("  ");
    for (int64_t j = 0; j < cols; ++j) {
      const double x = v[i + static_cast<size_t>(j)];
      std::printf(j ? " %9.5f" : "%9.5f", printable(x));
    }
    std::printf("\n");
  }
}

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::fmax(m, std::fabs(a[i] - b[i]));
  return m;
}

// "[agree] dL/dW = G^T x  (max |diff| < 1e-12)": the hand computation `formula` against
// what the engine computed. Tolerance 1e-12: both sides are float64 computations of the
// same sums in possibly different orders (~1e-16 apart).
inline bool report_agreement(const char* what, const std::vector<double>& formula,
                             const Tensor& autograd, double tol = 1e-12) {
  const bool ok = max_abs_diff(formula, autograd.to_vector()) < tol;
  std::printf("[%s] %s  (max |diff| < %.0e)\n", ok ? "agree" : "DIFFER", what, tol);
  return ok;
}

}  // namespace melgrad::examples
