// The shared FFTW plan cache: see fftw_plans.h.
#include "datasets/audio/fftw_plans.h"

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

namespace melgrad::audio {
namespace {

enum class PlanKind { real_forward, real_inverse, complex_forward };

fftw_plan cached_plan(PlanKind kind, int64_t n) {
  if (n < 1 || n > (int64_t(1) << 30))
    throw std::invalid_argument("FFTW plan: transform length " + std::to_string(n) +
                                " is out of range");
  static std::mutex mutex;
  // Never destroyed (nor are its plans), so a plan stays valid in every thread until the
  // process ends; held through a static pointer, so LeakSanitizer sees it as reachable.
  static auto& plans = *new std::map<std::pair<PlanKind, int64_t>, fftw_plan>();
  std::lock_guard<std::mutex> lock(mutex);
  fftw_plan& plan = plans[{kind, n}];
  if (plan) return plan;
  fftw_complex* spectrum = fftw_alloc_complex(size_t(n));
  if (kind == PlanKind::complex_forward) {
    fftw_complex* in = fftw_alloc_complex(size_t(n));
    plan = fftw_plan_dft_1d(int(n), in, spectrum, FFTW_FORWARD, FFTW_ESTIMATE);
    fftw_free(in);
  } else {
    double* real = fftw_alloc_real(size_t(n));
    plan = kind == PlanKind::real_forward
               ? fftw_plan_dft_r2c_1d(int(n), real, spectrum, FFTW_ESTIMATE)
               : fftw_plan_dft_c2r_1d(int(n), spectrum, real, FFTW_ESTIMATE);
    fftw_free(real);
  }
  fftw_free(spectrum);
  if (!plan)
    throw std::runtime_error("FFTW could not plan a transform of length " + std::to_string(n));
  return plan;
}

}  // namespace

fftw_plan real_forward_plan(int64_t n) { return cached_plan(PlanKind::real_forward, n); }
fftw_plan real_inverse_plan(int64_t n) { return cached_plan(PlanKind::real_inverse, n); }
fftw_plan complex_forward_plan(int64_t n) { return cached_plan(PlanKind::complex_forward, n); }

}  // namespace melgrad::audio
