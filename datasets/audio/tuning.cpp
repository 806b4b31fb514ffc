// Tuning estimation (librosa.estimate_tuning / piptrack / pitch_tuning): see tuning.h.
// Comments give the numpy expression each line reproduces and the dtype it runs in.
#include "datasets/audio/tuning.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "datasets/audio/frame_fft.h"
#include "datasets/audio/stft.h"

namespace melgrad::audio {
namespace {

constexpr int64_t kTuningFft = 2048, kTuningHop = 512;  // estimate_tuning's n_fft, win_length // 4
constexpr double kPiptrackFmin = 150.0, kPiptrackFmax = 4000.0, kPiptrackThreshold = 0.1;

struct Peak {
  float pitch, magnitude;
};

// piptrack on one frame's magnitudes S [bins] (float32; only bins bin_lo - 1 ... bin_hi are
// read) whose largest magnitude over all bins is s_max: appends the frame's peaks.
void frame_peaks(const std::vector<float>& S, float s_max, double sr, int64_t bin_lo,
                 int64_t bin_hi, std::vector<Peak>& peaks) {
  const int64_t bins = int64_t(S.size());
  // ref_value = threshold * np.max(S, axis=-2): a weak Python float times float32.
  const float ref = float(kPiptrackThreshold) * s_max;
  auto thresholded = [&](int64_t k) { return S[size_t(k)] > ref ? S[size_t(k)] : 0.0f; };
  for (int64_t k = bin_lo; k < bin_hi; ++k) {
    // util.localmax (numba stencil, zero at bin 0; last bin: x[-1] > x[-2]).
    const float x = thresholded(k);
    bool is_max;
    if (k == 0)
      is_max = false;
    else if (k == bins - 1)
      is_max = x > thresholded(k - 1);
    else
      is_max = x > thresholded(k - 1) && x >= thresholded(k + 1);
    if (!is_max) continue;
    // _parabolic_interpolation on S (not the thresholded S); zero at both edges. The numba
    // stencil mixes float32 values with the int literal 2, which numba types as float64.
    float shift = 0.0f;
    if (k > 0 && k < bins - 1) {
      const float up = S[size_t(k + 1)], down = S[size_t(k - 1)], mid = S[size_t(k)];
      const double a = double(up + down) - 2.0 * double(mid);
      const double b = double(up - down) / 2.0;
      shift = std::abs(b) >= std::abs(a) ? 0.0f : float(-b / a);
    }
    // np.gradient(S, axis=-2) in float32: centred inside, one-sided at the edges.
    float gradient;
    if (k == 0)
      gradient = S[1] - S[0];
    else if (k == bins - 1)
      gradient = S[size_t(k)] - S[size_t(k - 1)];
    else
      gradient = (S[size_t(k + 1)] - S[size_t(k - 1)]) / 2.0f;
    const float dskew = 0.5f * gradient * shift;
    // pitches[idx] = (idx + shift[idx]) * float(sr) / n_fft: int64 + float32 -> float64.
    const double pitch = (double(k) + double(shift)) * sr / double(kTuningFft);
    peaks.push_back({float(pitch), S[size_t(k)] + dskew});
  }
}

}  // namespace

double pitch_tuning(std::span<const float> frequencies, int bins_per_octave) {
  if (bins_per_octave < 1)
    throw std::invalid_argument("pitch_tuning: bins_per_octave " + std::to_string(bins_per_octave) +
                                " must be positive");
  // bins = np.linspace(-0.5, 0.5, ceil(1 / resolution) + 1): 101 edges, 100 bins.
  constexpr int kBins = 100;
  double edges[kBins + 1];
  for (int i = 0; i <= kBins; ++i) edges[i] = double(i) * (1.0 / kBins) + -0.5;
  edges[kBins] = 0.5;
  int counts[kBins] = {};
  bool any = false;
  for (const float f : frequencies) {
    if (!(f > 0.0f)) continue;
    any = true;
    // residual = np.mod(bpo * hz_to_octs(f), 1.0), all float32: log2(f / (440 / 16)).
    const float octs = std::log2(f / 27.5f);
    float residual = std::fmod(float(bins_per_octave) * octs, 1.0f);
    if (residual < 0.0f) residual += 1.0f;  // numpy's mod takes the divisor's sign
    if (residual >= 0.5f) residual -= 1.0f;
    // np.histogram with explicit edges: [e_i, e_i+1), the last bin closed; float64 compares.
    const double r = double(residual);
    int bin = int(std::upper_bound(edges, edges + kBins + 1, r) - edges) - 1;
    if (bin == kBins && r == edges[kBins]) bin = kBins - 1;
    if (bin >= 0 && bin < kBins) ++counts[bin];
  }
  if (!any) return 0.0;  // librosa warns and returns 0
  return edges[std::max_element(counts, counts + kBins) - counts];
}

double estimate_tuning(std::span<const float> y, double sr, int bins_per_octave) {
  if (!(sr > 0)) throw std::invalid_argument("estimate_tuning: sample rate must be positive");
  CenteredFrames frames(y, kTuningFft, kTuningHop);
  const std::vector<double> window = hann_window(kTuningFft);
  // freq_mask = (fmin <= fft_freqs) & (fft_freqs < fmax), fft_freqs = k * (1 / (n_fft / sr)).
  const double fmax = std::min(kPiptrackFmax, sr / 2.0);
  const double bin_hz = 1.0 / (double(kTuningFft) * (1.0 / sr));
  int64_t bin_lo = 0, bin_hi = 0;
  while (bin_lo < frames.bins() && double(bin_lo) * bin_hz < kPiptrackFmin) ++bin_lo;
  bin_hi = bin_lo;
  while (bin_hi < frames.bins() && double(bin_hi) * bin_hz < fmax) ++bin_hi;

  const int64_t s_lo = std::max<int64_t>(0, bin_lo - 1), s_hi = std::min(frames.bins(), bin_hi + 1);
  std::vector<Peak> peaks;
  std::vector<float> S(static_cast<size_t>(frames.bins()));
  for (int64_t t = 0; t < frames.frames(); ++t) {
    const auto spectrum = frames.transform(t, window);
    // np.abs of librosa's complex64 STFT: the float64 FFT rounded to complex64, then hypotf.
    // The maximum over all bins (for piptrack's threshold) is taken on the squared magnitude,
    // which the monotone rounding to float preserves; S itself only where peaks are sought.
    double max_square = 0.0;
    for (const std::complex<double>& z : spectrum) {
      const double re = double(float(z.real())), im = double(float(z.imag()));
      max_square = std::max(max_square, re * re + im * im);
    }
    const float s_max = float(std::sqrt(max_square));
    for (int64_t k = s_lo; k < s_hi; ++k)
      S[size_t(k)] =
          complex64_abs(float(spectrum[size_t(k)].real()), float(spectrum[size_t(k)].imag()));
    frame_peaks(S, s_max, sr, bin_lo, bin_hi, peaks);
  }
  // threshold = np.median(mag[pitch > 0]) (float32; the mean of the two middle values).
  std::vector<float> pitches;
  if (!peaks.empty()) {
    std::vector<float> magnitudes;
    magnitudes.reserve(peaks.size());
    for (const Peak& p : peaks)
      if (p.pitch > 0.0f) magnitudes.push_back(p.magnitude);
    float threshold = 0.0f;
    if (!magnitudes.empty()) {
      const size_t half = magnitudes.size() / 2;
      std::nth_element(magnitudes.begin(), magnitudes.begin() + long(half), magnitudes.end());
      threshold = magnitudes[half];
      if (magnitudes.size() % 2 == 0) {
        const float below = *std::max_element(magnitudes.begin(), magnitudes.begin() + long(half));
        threshold = (below + threshold) / 2.0f;
      }
    }
    for (const Peak& p : peaks)
      if (p.pitch > 0.0f && p.magnitude >= threshold) pitches.push_back(p.pitch);
  }
  return pitch_tuning(pitches, bins_per_octave);
}

}  // namespace melgrad::audio
