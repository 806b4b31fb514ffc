// The process's FFTW3 plans (double precision), one per kind and length, shared by every
// audio step (stft.cpp, frame_fft.cpp, istft.cpp, hpss.cpp, beat.cpp).
//
// FFTW's planner is not thread-safe: all planning in the program must go through one lock,
// which is why there is exactly one cache. Plans are made with FFTW_ESTIMATE (no timing
// runs, so the chosen algorithm, and hence every result, does not depend on the machine's
// load) on fftw_malloc'ed buffers and kept for the life of the process. Execute them with
// FFTW's new-array interface (fftw_execute_dft_r2c / _c2r / fftw_execute_dft) on buffers from
// fftw_malloc / fftw_alloc_* (the same alignment as the planning buffers); execution is
// thread-safe.
#pragma once

#include <fftw3.h>

#include <cstdint>

namespace melgrad::audio {

fftw_plan real_forward_plan(int64_t n);     // r2c: n reals -> n / 2 + 1 complex values
fftw_plan real_inverse_plan(int64_t n);     // c2r: n / 2 + 1 complex values -> n reals (unscaled)
fftw_plan complex_forward_plan(int64_t n);  // n complex -> n complex, FFTW_FORWARD

}  // namespace melgrad::audio
