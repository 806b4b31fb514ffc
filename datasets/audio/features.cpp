// extract_features and feature_windows: the study's (140, T) arrays and their beat-synchronised
// version from a 22 050 Hz signal (features.h).
#include "datasets/audio/features.h"

#include <algorithm>
#include <future>
#include <span>
#include <stdexcept>
#include <string>

#include "datasets/audio/beat.h"
#include "datasets/audio/chroma.h"
#include "datasets/audio/mel.h"
#include "datasets/audio/stft.h"
#include "datasets/audio/sync.h"

namespace melgrad::audio {

ClipFeatures extract_features(const Signal& signal, const ExtractOptions& options) {
  if (signal.sample_rate != 22050.0)
    throw AudioError("extract_features: the signal must be at 22050 Hz, got " +
                     std::to_string(signal.sample_rate));
  if (signal.samples.empty()) throw AudioError("extract_features: no audio samples");
  const std::span<const float> y(signal.samples);
  // With two or more threads the chroma runs beside the log-mel and the beat tracking (the
  // three read the same signal and nothing else), and the HPSS median filters are split.
  const int threads = std::max(1, options.threads);
  std::future<std::vector<float>> chroma_job;
  if (threads > 1)
    chroma_job = std::async(std::launch::async, [&] { return chroma_cqt(y, signal.sample_rate); });
  // With beats, the log-mel is projected from HPSS's STFT blocks (the same STFT of y), so
  // the signal is transformed once for both.
  MelSpectrogram mel;
  std::optional<BeatResult> beats;
  if (options.beat) {
    MelProjector projector(signal.sample_rate, stft_frame_count(int64_t(y.size()), {}));
    beats =
        beat_track_percussive(y, signal.sample_rate, threads,
                              [&](const float* magnitude, int64_t stride, int64_t first_column,
                                  int64_t count, int64_t first_frame) {
                                projector.add(magnitude, stride, first_column, count, first_frame);
                              });
    mel = projector.take();
  } else {
    mel = melspectrogram(y, signal.sample_rate);
  }
  power_to_db(mel.values);
  const std::vector<float> chroma =
      chroma_job.valid() ? chroma_job.get() : chroma_cqt(y, signal.sample_rate);  // [12, frames]

  ClipFeatures out;
  out.full.frames = mel.frames;
  if (chroma.size() != size_t(kChromaRows * mel.frames))
    throw AudioError("extract_features: chroma_cqt gave " + std::to_string(chroma.size()) +
                     " values, expected 12 x " + std::to_string(mel.frames) + " frames");
  out.full.rows = kFusedRows;
  out.full.values = std::move(mel.values);
  out.full.values.insert(out.full.values.end(), chroma.begin(), chroma.end());

  if (beats) {
    out.tempo = beats->tempo;
    out.beat_frames = std::move(beats->beat_frames);
    FeatureArray b;
    b.rows = out.full.rows;
    b.values = sync_median(out.full.values, out.full.rows, out.full.frames, out.beat_frames);
    b.frames = int64_t(b.values.size()) / b.rows;
    out.beat = std::move(b);
  }
  return out;
}

std::vector<FeatureWindow> feature_windows(const ClipFeatures& features, bool beat,
                                           int64_t window_frames) {
  if (window_frames < 1) throw std::invalid_argument("feature_windows: window_frames must be >= 1");
  if (beat && !features.beat)
    throw std::invalid_argument("feature_windows: beat windows need features extracted with beat");
  const FeatureArray& full = features.full;
  std::vector<FeatureWindow> windows;
  for (int64_t start = 0; start < full.frames; start += window_frames) {
    const int64_t end = std::min(full.frames, start + window_frames);
    if (start > 0 && 2 * (end - start) < window_frames) break;  // a short tail
    FeatureWindow w;
    w.first_frame = start;
    w.end_frame = end;
    w.array.rows = full.rows;
    w.array.frames = end - start;
    w.array.values.resize(size_t(full.rows * w.array.frames));
    for (int64_t r = 0; r < full.rows; ++r)
      std::copy_n(&full.values[size_t(r * full.frames + start)], w.array.frames,
                  &w.array.values[size_t(r * w.array.frames)]);
    if (beat) {
      std::vector<int64_t> inside;
      for (int64_t b : features.beat_frames)
        if (b >= start && b < end) inside.push_back(b - start);
      std::vector<float> synced = sync_median(w.array.values, w.array.rows, w.array.frames, inside);
      w.array.frames = int64_t(synced.size()) / w.array.rows;
      w.array.values = std::move(synced);
    }
    windows.push_back(std::move(w));
  }
  return windows;
}

}  // namespace melgrad::audio
