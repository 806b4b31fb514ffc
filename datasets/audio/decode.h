// Decoding audio files with libsndfile, and librosa.load's mono 22 050 Hz signal.
//
//   decode_mono(path)  ~ soundfile.read(path, dtype="float32") then librosa.to_mono:
//                        the channels' mean per frame, in float32 (numpy's float32 mean:
//                        the channels summed in order, then divided by their count).
//   decode_mono(path, first, count): the same for frames [first, first + count) only, read
//                        sequentially from the start (no seeking, so the samples are exactly
//                        those of a whole-file decode).
//   load(path, sr)     == librosa.load(path, sr=sr, mono=True, res_type="soxr_hq"):
//                        decode, mix and resample (resample.h) block by block, so a 10-min
//                        44.1 kHz stereo track never holds more than its 22 050 Hz mono result.
// Formats: whatever the system's libsndfile reads (WAV, FLAC, OGG/Vorbis, Opus, MP3, ...).
// Errors are AudioError naming the file and the reason (libsndfile's, or "no audio samples"
// for an empty file). A truncated file yields the frames libsndfile could read, as
// soundfile (and so librosa) does.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace melgrad::audio {

struct AudioError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Signal {
  std::vector<float> samples;  // mono
  double sample_rate = 0;
  int source_channels = 0;
  double source_sample_rate = 0;  // the file's rate (before resampling)
};

Signal decode_mono(const std::string& path);
Signal decode_mono(const std::string& path, int64_t first_frame, int64_t frame_count);
Signal load(const std::string& path, double sample_rate = 22050.0);

}  // namespace melgrad::audio
