// Onset strength (spectral flux on a log-mel spectrogram), as librosa 0.11.0.
//
//   onset_strength_median(y, sr)
//       == librosa.onset.onset_strength(y=y, sr=sr, aggregate=np.median), the call
//          librosa.beat.beat_track makes, with every other default:
//       S = melspectrogram(y, sr, n_fft=2048, hop_length=512, power=2, 128 Slaney bands,
//           fmin 0, fmax sr/2, Slaney norm)  -> power_to_db(S, ref=1, amin=1e-10, top_db=80)
//       flux[m, t] = max(0, S_db[m, t] - S_db[m, t - 1])       (lag 1, max_size 1)
//       env[t] = median over the 128 bands (even count: mean of the two middle values)
//       shifted right by lag + n_fft / (2 hop) = 3 frames (zeros in front), cut to the
//       number of STFT frames.  Result: float32 [frames].
// The mel power is mel.h's melspectrogram (the same code as the log-mel rows). Precision: the mel
// projection sums in double and rounds to float32 (librosa uses a float32 BLAS product), so S_db
// agrees to ~1e-5 dB, and the envelope to the same order.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace melgrad::audio {

std::vector<float> onset_strength_median(std::span<const float> y, double sr);

}  // namespace melgrad::audio
