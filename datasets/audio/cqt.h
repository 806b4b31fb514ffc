// The constant-Q transform's magnitude as librosa 0.11.0 computes it (librosa.cqt, which is
// librosa.vqt with gamma 0), multirate:
//
//   cqt_magnitude(y, sr, options)
//     == np.abs(librosa.cqt(y, sr=sr, hop_length=hop, fmin=fmin, n_bins=n_bins,
//                           bins_per_octave=bins_per_octave, tuning=tuning))
//   with filter_scale 1, norm 1, sparsity 0.01, window "hann", scale True,
//   pad_mode "constant", res_type "soxr_hq".
//
// Steps (librosa's names): the tuning (estimate_tuning when not given) shifts fmin by
// 2^(tuning / bins_per_octave); bin frequencies fmin * 2^(k / bins_per_octave); relative
// bandwidths alpha (_relative_bandwidth) and filter lengths Q * sr / f with Q = 1 / alpha
// (wavelet_lengths); __early_downsample when the filters reach far below Nyquist; then per
// octave, top first: a Hann-windowed complex wavelet per bin (filters.wavelet, L1-normalised,
// centred in a power-of-two frame n_fft, cast to complex64), scaled by length / n_fft, FFT'd
// and sparsified to keep 99 % of each row's L1 mass (__vqt_filter_fft, util.sparsify_rows),
// scaled by sqrt(sr / octave_sr); the octave's response is the sparse basis times the
// all-ones-window STFT of the octave's signal (__cqt_response); the signal is then halved in
// rate with soxr (resample(y, 2, 1, scale=True), fed in blocks) and the hop halved. Octaves are
// stacked (__trim_stack: frames = the fewest any octave has) and each bin divided by
// sqrt(its filter length at the rate after early downsampling).
// y: mono float32 [n]. Result: [n_bins, frames] row-major float32, lowest frequency first;
// frames = 1 + n / hop (the first octave's STFT frame count, never more than the others').
// Each octave's frames are FFT'd and projected one at a time (no whole STFT in memory).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace melgrad::audio {

struct CqtOptions {
  int64_t hop = 512;
  double fmin = 0.0;  // 0: C1 (librosa's default, note_to_hz("C1") = 32.70 Hz)
  int64_t n_bins = 84;
  int bins_per_octave = 12;
  std::optional<double> tuning;  // none: estimate_tuning(y, sr, bins_per_octave)
};

struct CqtMagnitude {
  int64_t bins = 0, frames = 0;
  double tuning = 0.0;        // the tuning used (given or estimated), in fractions of a bin
  std::vector<float> values;  // [bins, frames]
};

CqtMagnitude cqt_magnitude(std::span<const float> y, double sr, const CqtOptions& options = {});

// One octave of the transform: bins [first_bin, first_bin + rows) of cqt_magnitude's result,
// values [rows, frames] row-major.
struct CqtOctave {
  int64_t first_bin = 0, rows = 0, frames = 0;
  std::span<const float> values;
};

// The same transform handed to `sink` one octave at a time, top octave first, instead of
// stacked (memory for one octave, not all). Returns the tuning used. The stacked transform
// has the fewest frames any octave has (__trim_stack); with even hops all octaves have
// 1 + n / hop.
double cqt_octaves(std::span<const float> y, double sr, const CqtOptions& options,
                   const std::function<void(const CqtOctave&)>& sink);

// librosa.note_to_hz("C1"): 440 * 2^((24 - 69) / 12).
double note_c1_hz();

}  // namespace melgrad::audio
