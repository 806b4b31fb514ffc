// Decoding audio files with libsndfile, and librosa.load's mono 22 050 Hz signal.
//
//   decode_mono(path)  ~ soundfile.read(path, dtype="float32") then librosa.to_mono:
//                        the channels' mean per frame, in float32.
//   load(path, sr)     == librosa.load(path, sr=sr, mono=True, res_type="soxr_hq"):
//                        decode_mono, then resample (resample.h) when the rates differ.
// Formats: whatever the system's libsndfile reads (WAV, FLAC, OGG/Vorbis, Opus, MP3, ...).
// Errors are AudioError naming the file and libsndfile's reason.
#pragma once

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
};

Signal decode_mono(const std::string& path);
Signal load(const std::string& path, double sample_rate = 22050.0);

}  // namespace melgrad::audio
