// libsoxr resampling: see resample.h.
#include "datasets/audio/resample.h"

#include <soxr.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace melgrad::audio {

std::vector<float> resample(std::span<const float> y, double orig_sr, double target_sr, bool scale) {
  if (!(orig_sr > 0) || !(target_sr > 0))
    throw std::invalid_argument("resample: sample rates must be positive");
  const double ratio = target_sr / orig_sr;
  const size_t n_out = size_t(std::ceil(double(y.size()) * ratio));
  std::vector<float> out(n_out);
  if (y.empty()) return out;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  size_t done = 0;
  const soxr_error_t err = soxr_oneshot(orig_sr, target_sr, 1, y.data(), y.size(), nullptr,
                                        out.data(), n_out, &done, &io, &quality, nullptr);
  if (err) throw std::runtime_error(std::string("resample: libsoxr failed: ") + err);
  out.resize(done);
  out.resize(n_out, 0.0f);  // librosa's fix_length: pad with zeros (or trim) to ceil(n * ratio)
  if (scale) {
    const float s = float(1.0 / std::sqrt(ratio));
    for (float& v : out) v *= s;
  }
  return out;
}

}  // namespace melgrad::audio
