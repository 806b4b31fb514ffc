// Tempo estimation and dynamic-programming beat tracking (Ellis 2007), as librosa 0.11.0.
//
//   estimate_tempo(envelope, sr)
//       == librosa.feature.tempo(onset_envelope=envelope, sr=sr) with its defaults
//          (hop 512, start_bpm 120, std_bpm 1, ac_size 8 s, max_tempo 320, mean over time):
//       the autocorrelation tempogram (win_length = int(8 sr) // 512 frames, windows centred
//       with linear-ramp padding, periodic Hann, each column divided by its max), averaged
//       over frames, weighted by the log-normal prior -0.5 (log2(bpm) - log2(120))^2 with
//       lags above 320 BPM excluded; the tempo is the BPM of the argmax of
//       log1p(1e6 tg) + prior.
//   track_beats(envelope, sr, bpm)
//       == librosa.beat.beat_track's tracker (tightness 100, trim=True, sparse frames):
//       frames_per_beat = round(sr / 512 * 60 / bpm); the envelope divided by its sample
//       standard deviation; a local score = "same" convolution with a Gaussian of
//       2 fpb + 1 taps (librosa's loop, which never reaches the envelope's first sample);
//       the DP over predecessors i - round(fpb/2) ... i - 2 fpb with the penalty
//       100 (log(i - loc) - log(fpb))^2 (the nearest best wins ties); the last beat is the
//       last local maximum of the cumulative score >= half the median of those maxima;
//       backtracking; leading and trailing frames whose local score is <= half the RMS of
//       the Hann(5)-smoothed beat scores lose their beats.
//   beat_track_percussive(y, sr)
//       == y_p = librosa.effects.percussive(y); librosa.beat.beat_track(y=y_p, sr=sr):
//       onset strength with aggregate=np.median (onset.h), estimate_tempo, track_beats.
//       A silent envelope gives tempo 0 and no beats, as librosa.
// y: mono float32 [n] (normally at 22 050 Hz). Beat frames are STFT frame indices (hop 512).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "datasets/audio/hpss.h"  // MagnitudeTap

namespace melgrad::audio {

struct BeatResult {
  double tempo = 0;                  // beats per minute
  std::vector<int64_t> beat_frames;  // ascending frame indices
};

double estimate_tempo(std::span<const float> envelope, double sr);

std::vector<int64_t> track_beats(std::span<const float> envelope, double sr, double bpm);

// `tap`: handed to percussive (hpss.h), which sees y's STFT magnitudes block by block.
BeatResult beat_track_percussive(std::span<const float> y, double sr, int threads = 1,
                                 const MagnitudeTap& tap = {});

}  // namespace melgrad::audio
