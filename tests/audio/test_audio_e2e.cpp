// End-to-end: `melgrad extract` on audio files (a real Debian track excerpt, a folder with bad
// files, --force) and `melgrad predict` on an audio file with tiny trained runs.
// The excerpt's log-mel must match librosa's (fixture music004.logmel, same tolerances as
// test_audio.cpp: 99.9th percentile <= 0.01 dB, max <= 0.1 dB).
#include <doctest/doctest.h>

#include "../e2e/e2e_util.h"
#include "audio_test_util.h"
#include "datasets/audio/decode.h"
#include "datasets/audio/features.h"

namespace {

using namespace e2e;
using namespace melgrad::audio::testing;
using nlohmann::json;

std::string full_name(const std::string& id) { return id + ".fused.full.npy"; }

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// 70 s of two tones at 44.1 kHz stereo: 3015 frames at 22 050 Hz, so two 30-s windows (the
// 429-frame tail is under half a window and dropped).
fs::path tone_track() {
  const fs::path p = scratch() / "tones.wav";
  if (!fs::exists(p))
    write_sound(p.string(), tones(70 * 44100, 2, 44100), 2, 44100, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  return p;
}

TEST_CASE("music: extract on a Debian track excerpt writes librosa's log-mel") {
  const melgrad::audio::Signal excerpt =
      melgrad::audio::decode_mono(music_track("music004"), 30 * 44100, 10 * 44100);
  const fs::path wav = scratch() / "music004-excerpt.wav";
  write_sound(wav.string(), excerpt.samples, 1, 44100, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  const fs::path out = scratch() / "extract-music";
  Result r = run({"extract", wav.string(), "--out", out.string(), "--threads", "1"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const melgrad::data::NpyArray got =
      melgrad::data::read_npy((out / full_name("music004-excerpt")).string());
  REQUIRE(got.shape.at(1) == 431);
  const std::vector<float> mel(got.data.begin(), got.data.begin() + 128 * 431);
  const DiffStats d = diff_stats(mel, fixture("music004.logmel").data);
  CHECK(d.p999 <= 0.01);
  CHECK(d.max <= 0.1);
}

TEST_CASE(
    "extract: a folder run goes on past bad files, lists them, exits 1; --force to overwrite") {
  const fs::path in = scratch() / "extract-in";
  fs::create_directories(in / "sub");
  write_sound((in / "good.wav").string(), tones(44100, 2, 44100), 2, 44100,
              SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  write_sound((in / "sub" / "short.flac").string(), tones(4000, 1, 8000), 1, 8000,
              SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  std::ofstream(in / "notaudio.wav") << "text, not audio";
  write_sound((in / "empty.wav").string(), {}, 1, 44100, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  std::ofstream(in / "readme.txt") << "not picked: no audio extension";
  const fs::path out = scratch() / "extract-out";

  Result r = run({"extract", in.string(), "--out", out.string(), "--threads", "2"});
  CHECK(r.code == 1);
  CHECK(has(r.out, "extracted 2 of 4 files"));
  CHECK(has(r.err, "2 file(s) failed"));
  CHECK(has(r.err, (in / "notaudio.wav").string() + ": cannot decode audio"));
  CHECK(has(r.err, (in / "empty.wav").string() + ": no audio samples"));
  const melgrad::data::NpyArray good = melgrad::data::read_npy((out / full_name("good")).string());
  CHECK(good.shape == std::vector<int64_t>{140, 1 + 22050 / 512});
  CHECK(fs::exists(out / full_name("short")));  // 0.5 s at 8 kHz: 22 frames

  // Outputs are never replaced without --force.
  const auto stamp = fs::last_write_time(out / full_name("good"));
  Result again = run({"extract", (in / "good.wav").string(), "--out", out.string()});
  CHECK(again.code == 1);
  CHECK(has(again.err, "already exists (use --force to overwrite)"));
  CHECK(fs::last_write_time(out / full_name("good")) == stamp);
  Result forced = run({"extract", (in / "good.wav").string(), "--out", out.string(), "--force"});
  CHECK(forced.code == 0);

  Result missing = run({"extract", (in / "nothing.wav").string(), "--out", out.string()});
  CHECK(missing.code == 1);
  CHECK(has(missing.err, "nothing.wav: no such file or folder"));
}

TEST_CASE("predict on an audio file: 30-s windows and the track's mean, text, --json and --csv") {
  const fs::path genre_run = scratch() / "genre-run";
  Result g = run({"genre", "--data", tiny_data(), "--frames", "16", "--channels", "1,4,8",
                  "--epochs", "1", "--threads", "2", "--no-progress", "--out", genre_run.string()});
  INFO(g.err);
  REQUIRE(g.code == 0);
  const fs::path csv = scratch() / "predict.csv";
  Result p = run({"predict", "--run", genre_run.string(), "--json", "--csv", csv.string(),
                  tone_track().string()});
  INFO(p.err);
  REQUIRE(p.code == 0);
  const json rows = json::parse(p.out);
  REQUIRE(rows.size() == 1);
  const json& track = rows[0];
  REQUIRE(track["windows"].size() == 2);
  CHECK(track["windows"][1]["start_s"].get<double>() == doctest::Approx(1293 * 512 / 22050.0));
  for (const auto& [genre, prob] : track["probabilities"].items()) {
    const double mean = (track["windows"][0]["probabilities"][genre].get<double>() +
                         track["windows"][1]["probabilities"][genre].get<double>()) /
                        2;
    CHECK(prob.get<double>() == doctest::Approx(mean).epsilon(1e-9));
  }
  double total = 0;
  for (const auto& [genre, prob] : track["windows"][0]["probabilities"].items())
    total += prob.get<double>();
  CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
  const std::string table = read_text(csv);
  CHECK(std::count(table.begin(), table.end(), '\n') == 4);  // header, 2 windows, track
  CHECK(has(table, ",track,"));

  Result text = run({"predict", "--run", genre_run.string(), tone_track().string()});
  REQUIRE(text.code == 0);
  CHECK(has(text.out, "window 2 (0:30-1:00)"));
  CHECK(has(text.out, "track (mean of 2 windows)"));

  const fs::path multitask_run = scratch() / "multitask-run";
  Result m =
      run({"multitask", "--data", tiny_data(), "--frames", "16", "--channels", "1,4,8", "--epochs",
           "1", "--threads", "2", "--no-progress", "--out", multitask_run.string()});
  INFO(m.err);
  REQUIRE(m.code == 0);
  Result pm = run({"predict", "--run", multitask_run.string(), "--json", tone_track().string()});
  INFO(pm.err);
  REQUIRE(pm.code == 0);
  const json mt = json::parse(pm.out)[0];
  for (const char* target : {"valence", "energy", "danceability"}) {
    CHECK(mt["windows"].size() == 2);
    const double mean =
        (mt["windows"][0][target].get<double>() + mt["windows"][1][target].get<double>()) / 2;
    CHECK(mt[target].get<double>() == doctest::Approx(mean).epsilon(1e-9));
  }
}

TEST_CASE("predict on an audio file with a beat-synchronised run: one row per 30-s window") {
  // 70 s of tones with a noise click every 0.5 s (120 BPM) at 44.1 kHz: two 30-s windows, each
  // beat-synchronised over the ~60 beats inside it.
  const fs::path clicks = scratch() / "clicks.wav";
  std::vector<float> y = tones(70 * 44100, 1, 44100);
  uint32_t noise = 12345;
  for (int64_t start = 0; start + 2000 < int64_t(y.size()); start += 22050)
    for (int64_t i = 0; i < 2000; ++i) {
      noise = noise * 1664525u + 1013904223u;
      y[size_t(start + i)] +=
          float((double(noise >> 8) / double(1 << 24) - 0.5) * std::exp(-double(i) / 300.0));
    }
  write_sound(clicks.string(), y, 1, 44100, SF_FORMAT_WAV | SF_FORMAT_FLOAT);

  const fs::path beat_run = scratch() / "beat-run";
  Result g = run({"genre", "--data", tiny_data(), "--beat", "--frames", "16", "--channels", "1,4,8",
                  "--epochs", "1", "--threads", "2", "--no-progress", "--out", beat_run.string()});
  INFO(g.err);
  REQUIRE(g.code == 0);
  Result p = run({"predict", "--run", beat_run.string(), "--json", clicks.string()});
  INFO(p.err);
  REQUIRE(p.code == 0);
  const json track = json::parse(p.out).at(0);
  REQUIRE(track["windows"].size() == 2);
  for (const auto& [genre, prob] : track["probabilities"].items()) {
    const double mean = (track["windows"][0]["probabilities"][genre].get<double>() +
                         track["windows"][1]["probabilities"][genre].get<double>()) /
                        2;
    CHECK(prob.get<double>() == doctest::Approx(mean).epsilon(1e-9));
  }

  // The same file through `extract --beat`: the beat array has one column per beat segment.
  const fs::path out = scratch() / "extract-clicks";
  Result e = run({"extract", clicks.string(), "--out", out.string(), "--beat", "--threads", "1"});
  INFO(e.err);
  REQUIRE(e.code == 0);
  const melgrad::data::NpyArray beat =
      melgrad::data::read_npy((out / "beat" / full_name("clicks")).string());
  REQUIRE(beat.shape.size() == 2);
  CHECK(beat.shape[0] == 140);
  CHECK(beat.shape[1] >= 130);  // 140 clicks at 120 BPM: the tracker finds (almost) all of them
  CHECK(beat.shape[1] <= 142);
}

TEST_CASE("make-dataset --from-audio: a data set genre trains on") {
  const fs::path in = scratch() / "dataset-audio";
  fs::create_directories(in);
  const char* genres[] = {"Rock", "Rock", "Jazz", "Jazz", "Blues", "Blues"};
  std::string labels = "Id\tGenre\n";
  for (int i = 0; i < 6; ++i) {
    const std::string name = "track" + std::to_string(i) + ".wav";
    write_sound((in / name).string(), tones(22050 * (5 + i), 1, 22050), 1, 22050,
                SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    labels += name + "\t" + genres[i] + "\n";
  }
  std::ofstream(scratch() / "dataset-genres.tsv") << labels;
  const fs::path data = scratch() / "dataset-from-audio";
  Result r = run({"make-dataset", "--from-audio", in.string(), "--genre-labels",
                  (scratch() / "dataset-genres.tsv").string(), "--test-fraction", "0.5", "--out",
                  data.string()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(has(r.out, "6 tracks -> 3 train clips, 3 test clips"));
  Result g = run({"genre", "--data", data.string(), "--frames", "16", "--channels", "1,4,8",
                  "--epochs", "1", "--threads", "2", "--no-progress", "--out",
                  (scratch() / "genre-on-audio").string()});
  INFO(g.err);
  CHECK(g.code == 0);
}

}  // namespace
