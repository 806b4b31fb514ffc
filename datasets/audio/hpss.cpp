// Median-filtering HPSS (librosa.decompose.hpss / effects.percussive): see hpss.h.
// The signal is streamed through blocks of 256 STFT frames (plus the 15 frames on each side
// that the time median reads), so no whole-track spectrogram is held; the medians are the
// sorting-network kernel of median_filter.h.
#include "datasets/audio/hpss.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

#include "datasets/audio/fftw_plans.h"
#include "datasets/audio/median_filter.h"
#include "datasets/audio/stft.h"

namespace melgrad::audio {
namespace {

// Runs fn(begin, end) over [0, n) split into `threads` contiguous parts.
template <class Fn>
void split_range(int64_t n, int threads, Fn fn) {
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, n));
  if (parts == 1) {
    fn(int64_t(0), n);
    return;
  }
  std::vector<std::thread> pool;
  for (int64_t p = 0; p < parts; ++p) pool.emplace_back(fn, n * p / parts, n * (p + 1) / parts);
  for (auto& t : pool) t.join();
}

void check_size(int64_t size) {
  if (size < 1 || size % 2 == 0)
    throw std::invalid_argument("median filter: size must be a positive odd number, got " +
                                std::to_string(size));
}

// One bin of decompose.hpss's percussive output: (S * M) * phase(D), with the soft mask
// M = librosa.util.softmask(P, H, power=2, split_zeros=True) in float32 and librosa.magphase's
// phase (1 + 0j where |D| = 0).
std::complex<float> percussive_bin(std::complex<float> d, float s, float p, float h) {
  const float z = std::max(p, h);
  float mask = 0.5f;
  if (!(z < FLT_MIN)) {
    const float pm = (p / z) * (p / z), hm = (h / z) * (h / z);
    mask = pm / (pm + hm);
  }
  const float scaled = s * mask;
  if (s == 0.0f) return {scaled * (d.real() + 1.0f), scaled * d.imag()};
  return {scaled * (d.real() / s), scaled * (d.imag() / s)};
}

}  // namespace

void keep_percussive(Spectrum& spectrum, int64_t kernel_size, int threads) {
  check_size(kernel_size);
  const int64_t bins = spectrum.bins, frames = spectrum.frames;
  if (bins < 1 || frames < 1) return;
  const std::vector<float> mag = magnitude(spectrum, 1.0);
  const std::vector<float> harmonic =
      median_filter_reflect(mag, bins, frames, kernel_size, 1, threads);
  const std::vector<float> perc = median_filter_reflect(mag, bins, frames, kernel_size, 0, threads);
  for (size_t at = 0; at < mag.size(); ++at)
    spectrum.values[at] = percussive_bin(spectrum.values[at], mag[at], perc[at], harmonic[at]);
}

std::vector<float> percussive(std::span<const float> y, int threads, const MagnitudeTap& tap) {
  constexpr int64_t n_fft = 2048, hop = 512, kernel = 31, half = kernel / 2, chunk = 256;
  const int64_t n = int64_t(y.size());
  if (n == 0) throw std::invalid_argument("percussive: empty signal");
  const int64_t frames = stft_frame_count(n, {.n_fft = n_fft, .hop = hop});  // istft uses them all
  const int64_t bins = n_fft / 2 + 1;
  const std::vector<double> window = hann_window(n_fft);
  std::vector<float> out(size_t(n), 0.0f);
  std::vector<int64_t> along_bins(size_t(bins + 2 * half));
  for (int64_t k = 0; k < bins + 2 * half; ++k)
    along_bins[size_t(k)] = scipy_reflect_index(k - half, bins);

  fftw_plan plan = real_inverse_plan(n_fft);
  for (int64_t c0 = 0; c0 < frames; c0 += chunk) {
    const int64_t c1 = std::min(frames, c0 + chunk), width = c1 - c0;
    // Frames [m0, m1) cover every frame the harmonic median of [c0, c1) reads (reflected
    // indices near the ends stay inside, since chunks start at 0 and are >= half long or
    // the whole signal).
    const int64_t m0 = std::max<int64_t>(0, c0 - half), m1 = std::min(frames, c1 + half);
    const int64_t span_frames = m1 - m0;
    const Spectrum block = stft_frames(y, {.n_fft = n_fft, .hop = hop}, m0, span_frames);
    const std::vector<float> mag = magnitude(block, 1.0);  // [bins, span_frames]
    if (tap) tap(mag.data(), span_frames, c0 - m0, width, c0);

    // Harmonic median along time (global reflect indices, all inside [m0, m1)) and
    // percussive median along frequency, both [bins, width].
    std::vector<int64_t> along_time(size_t(width + 2 * half));
    for (int64_t k = 0; k < width + 2 * half; ++k)
      along_time[size_t(k)] = scipy_reflect_index(c0 - half + k, frames) - m0;
    std::vector<float> harmonic(size_t(bins * width)), perc(size_t(bins * width));
    median_lines(mag.data(), bins, span_frames, 1, along_time, kernel, harmonic.data(), width, 1,
                 threads);
    median_lines(mag.data() + (c0 - m0), width, 1, span_frames, along_bins, kernel, perc.data(), 1,
                 width, threads);

    // Per frame: mask, inverse FFT, window (n_fft values each).
    std::vector<double> frames_out(size_t(width * n_fft));
    split_range(width, threads, [&](int64_t begin, int64_t end) {
      fftw_complex* in = fftw_alloc_complex(size_t(bins));
      double* time = fftw_alloc_real(size_t(n_fft));
      for (int64_t j = begin; j < end; ++j) {
        const int64_t local = c0 + j - m0;
        for (int64_t f = 0; f < bins; ++f) {
          const std::complex<float> v =
              percussive_bin(block.at(f, local), mag[size_t(f * span_frames + local)],
                             perc[size_t(f * width + j)], harmonic[size_t(f * width + j)]);
          in[f][0] = v.real();
          in[f][1] = v.imag();
        }
        in[0][1] = in[bins - 1][1] = 0.0;  // irfft ignores them
        fftw_execute_dft_c2r(plan, in, time);
        double* dst = frames_out.data() + j * n_fft;
        // numpy's irfft of complex64 is float32; librosa multiplies by the float64 window.
        for (int64_t i = 0; i < n_fft; ++i)
          dst[i] = window[size_t(i)] * double(float(time[i] / double(n_fft)));
      }
      fftw_free(in);
      fftw_free(time);
    });

    // Overlap-add in frame order into the float32 output, as librosa's buffer (its first
    // n_fft / 2 samples, the centring pad, are never kept).
    for (int64_t j = 0; j < width; ++j) {
      const int64_t start = (c0 + j) * hop - n_fft / 2;
      const double* src = frames_out.data() + j * n_fft;
      for (int64_t i = std::max<int64_t>(0, -start); i < n_fft && start + i < n; ++i)
        out[size_t(start + i)] = float(double(out[size_t(start + i)]) + src[i]);
    }
  }

  // Divide by the window's sum-square envelope, accumulated in float32 in frame order like
  // librosa.filters.window_sumsquare, where it exceeds float32's tiny.
  for (int64_t s = 0; s < n; ++s) {
    const int64_t p = s + n_fft / 2;  // position in the uncropped overlap-add buffer
    const int64_t first = p < n_fft ? 0 : (p - n_fft) / hop + 1,
                  last = std::min(frames - 1, p / hop);
    float envelope = 0.0f;
    for (int64_t t = first; t <= last; ++t) {
      const double w = window[size_t(p - t * hop)];
      envelope = float(double(envelope) + w * w);
    }
    if (envelope > FLT_MIN) out[size_t(s)] /= envelope;
  }
  return out;
}

}  // namespace melgrad::audio
