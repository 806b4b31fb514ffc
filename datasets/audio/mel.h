// The study's log-mel spectrogram, as librosa 0.11.0 computes it.
//
//   mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
//       == librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
//                              htk=False, norm="slaney", dtype=np.float32)
//       Slaney's mel scale (linear below 1 kHz, logarithmic above) and Slaney's area norm
//       (each triangle scaled by 2 / its width in Hz). Result [n_mels, 1 + n_fft / 2]
//       row-major, float32 like librosa's (weights rounded to float32, then scaled by the
//       float64 norm and rounded again, as librosa's in-place `weights *= enorm` does).
//   melspectrogram(y, sr, options)
//       == librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512,
//                                         window="hann", center=True, pad_mode="constant",
//                                         power=2.0, n_mels=128, fmin=0, fmax=sr/2)
//       the power spectrum |stft|^2 (stft.h; float32 like librosa's) projected on the mel
//       basis. The STFT is taken in blocks of frames, so a 10-min track never holds its
//       whole [1025, frames] spectrum. Result [n_mels, frames] row-major.
//   MelProjector: the projection alone, for a caller that already holds the STFT's
//       magnitudes block by block (features.cpp hands it HPSS's blocks, so the signal is
//       transformed once for both); melspectrogram is built on it, so the values are the same.
//   power_to_db(S)
//       == librosa.power_to_db(S, ref=np.max, amin=1e-10, top_db=80.0), in place:
//       10 log10(max(amin, S)) - 10 log10(max(amin, max(S))), then floored at (max - top_db).
//       A silent signal gives all zeros, as in librosa.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace melgrad::audio {

std::vector<float> mel_filterbank(double sr, int64_t n_fft, int64_t n_mels, double fmin,
                                  double fmax);

// Slaney's mel scale (librosa.hz_to_mel / mel_to_hz with htk=False).
double hz_to_mel(double hz);
double mel_to_hz(double mel);

struct MelOptions {
  int64_t n_fft = 2048;
  int64_t hop = 512;
  int64_t n_mels = 128;
  double fmin = 0.0;
  double fmax = 0.0;  // <= 0: sr / 2 (librosa's fmax=None)
};

struct MelSpectrogram {
  int64_t mels = 0, frames = 0;
  std::vector<float> values;  // [mels, frames] row-major
};

MelSpectrogram melspectrogram(std::span<const float> y, double sr, const MelOptions& options = {});

class MelProjector {
 public:
  MelProjector(double sr, int64_t frames, const MelOptions& options = {});
  // magnitude: |X| of an STFT block, [1 + n_fft / 2, stride] row-major. Its columns
  // [first_column, first_column + count) become frames [first_frame, first_frame + count).
  void add(const float* magnitude, int64_t stride, int64_t first_column, int64_t count,
           int64_t first_frame);
  MelSpectrogram take() { return std::move(out_); }

 private:
  struct Band {
    int64_t first = 0;  // the band's non-zero weights cover bins [first, first + weights.size())
    std::vector<float> weights;
  };
  std::vector<Band> bands_;
  MelSpectrogram out_;
  std::vector<double> sum_;
};

void power_to_db(std::span<float> S, double amin = 1e-10, double top_db = 80.0);

}  // namespace melgrad::audio
