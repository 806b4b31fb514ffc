// Audio front end against librosa 0.11.0: the mel basis, decoding + resampling (librosa.load),
// the log-mel (melspectrogram + power_to_db), and how bad or unusual audio is handled.
// Tolerances are the issue's: resampled signal max |diff| <= 1e-4; log-mel 99.9th percentile
// |diff| <= 0.01 dB and max <= 0.1 dB. Measured (December, this machine): resampled signal
// max |diff| <= 1.5e-7 (libsoxr gives librosa's samples bit for bit from the same input; the
// 1e-7 comes from Debian's libvorbis vs the one in soundfile's wheel), log-mel p99.9 <= 1e-4 dB
// and max <= 5e-4 dB (float32 rounding).
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <numeric>

#include "audio_test_util.h"
#include "datasets/audio/audio_dataset.h"
#include "datasets/audio/decode.h"
#include "datasets/audio/features.h"
#include "datasets/audio/mel.h"
#include "datasets/audio/resample.h"

namespace melgrad::audio {
namespace {

using namespace testing;
namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "melgrad-audio-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::vector<float> log_mel(std::span<const float> y) {
  MelSpectrogram m = melspectrogram(y, 22050.0);
  power_to_db(m.values);
  return m.values;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("mel_filterbank is librosa.filters.mel (Slaney scale and norm, float32)") {
  const data::NpyArray ref = fixture("mel_basis");
  REQUIRE(ref.shape == std::vector<int64_t>{128, 1025});
  const std::vector<float> ours = mel_filterbank(22050.0, 2048, 128, 0.0, 11025.0);
  // Same float64 formula rounded to float32 the same way: at most one float32 ulp apart.
  double worst = 0;
  for (size_t i = 0; i < ours.size(); ++i)
    worst = std::max(worst, std::abs(double(ours[i]) - double(ref.data[i])) /
                                std::max(1e-30, std::abs(double(ref.data[i]))));
  CHECK(worst <= 1.2e-7);
}

TEST_CASE(
    "extract_features: the log-mel from HPSS's shared STFT equals melspectrogram's, bit for bit") {
  // 15 s of tones with clicks: 646 frames, three HPSS blocks of 256 (with their margins).
  std::vector<float> y = tones(15 * 22050, 1, 22050);
  for (int64_t start = 0; start + 500 < int64_t(y.size()); start += 11025)
    for (int64_t i = 0; i < 500; ++i) y[size_t(start + i)] += float(0.5 * std::exp(-i / 80.0));
  Signal s;
  s.samples = y;
  s.sample_rate = 22050.0;
  const ClipFeatures with_beats = extract_features(s, {.beat = true});
  const ClipFeatures without = extract_features(s, {});
  const ClipFeatures two_threads = extract_features(s, {.beat = true, .threads = 2});
  REQUIRE(with_beats.full.frames == 646);
  MelSpectrogram mel = melspectrogram(y, 22050.0);
  power_to_db(mel.values);
  REQUIRE(mel.values.size() == size_t(kMelRows * 646));
  CHECK(std::equal(mel.values.begin(), mel.values.end(), with_beats.full.values.begin()));
  CHECK(with_beats.full.values == without.full.values);
  CHECK(two_threads.full.values == with_beats.full.values);
  CHECK(two_threads.beat_frames == with_beats.beat_frames);
  CHECK(with_beats.beat_frames.size() >= 25);  // clicks every 0.5 s
}

TEST_CASE("power_to_db: ref = max, amin 1e-10, floored 80 dB below the peak") {
  std::vector<float> S = {2.0f, 0.2f, 2e-7f, 1e-12f, 0.0f};
  power_to_db(S);
  CHECK(S[0] == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(S[1] == doctest::Approx(-10.0).epsilon(1e-6));
  CHECK(S[2] == doctest::Approx(-70.0).epsilon(1e-6));
  CHECK(S[3] == doctest::Approx(-80.0).epsilon(1e-6));  // -113 dB, floored
  CHECK(S[4] == doctest::Approx(-80.0).epsilon(1e-6));
  std::vector<float> silent(10, 0.0f);  // librosa: every value 10 log10(amin) - ref = 0
  power_to_db(silent);
  for (float v : silent) CHECK(v == 0.0f);
}

TEST_CASE("load mixes 1..8 channels and resamples 8 kHz..192 kHz as librosa.load") {
  TempDir dir;
  const std::pair<int, int> cases[] = {{8000, 1},  {11025, 2}, {16000, 3}, {22050, 2},
                                       {44100, 6}, {48000, 8}, {96000, 2}, {192000, 4}};
  for (auto [rate, channels] : cases) {
    CAPTURE(rate);
    CAPTURE(channels);
    const int64_t frames = rate * 3 / 2 + 17;  // 1.5 s, not a whole number of blocks
    const std::vector<float> x = tones(frames, channels, rate);
    const std::string path = dir / ("tone" + std::to_string(rate) + ".wav");
    write_sound(path, x, channels, rate, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    // librosa: to_mono (float32 mean over channels in order), then one soxr pass.
    std::vector<float> mono(static_cast<size_t>(frames));
    for (int64_t i = 0; i < frames; ++i) {
      float sum = x[size_t(i * channels)];
      for (int c = 1; c < channels; ++c) sum += x[size_t(i * channels + c)];
      mono[size_t(i)] = channels == 1 ? sum : sum / float(channels);
    }
    const std::vector<float> expected = rate == 22050 ? mono : resample(mono, rate, 22050.0);
    const Signal s = load(path);
    CHECK(s.sample_rate == 22050.0);
    CHECK(s.source_sample_rate == rate);
    CHECK(s.source_channels == channels);
    REQUIRE(s.samples.size() == size_t(std::ceil(double(frames) * 22050.0 / rate)));
    // Block-wise streaming through soxr gives the one-shot samples exactly.
    CHECK(diff_stats(s.samples, expected).max == 0.0);
  }
}

TEST_CASE("FLAC and OGG/Vorbis files decode; a 0.5 s clip gives librosa's 22 frames") {
  TempDir dir;
  const std::vector<float> x = tones(22050, 2, 44100);  // 0.5 s stereo at 44.1 kHz
  write_sound(dir / "clip.flac", x, 2, 44100, SF_FORMAT_FLAC | SF_FORMAT_PCM_24);
  write_sound(dir / "clip.ogg", x, 2, 44100, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
  for (const char* name : {"clip.flac", "clip.ogg"}) {
    CAPTURE(name);
    const Signal s = load(dir / name);
    CHECK(s.samples.size() == 11025);
    const double energy =
        std::inner_product(s.samples.begin(), s.samples.end(), s.samples.begin(), 0.0);
    // Two tones of amplitude 0.1 and 0.2 mixed by the mean: rms^2 = (0.05^2 + 0.1^2) / 2.
    CHECK(energy / 11025.0 == doctest::Approx(0.00625).epsilon(0.05));
    const MelSpectrogram m = melspectrogram(s.samples, 22050.0);
    CHECK(m.mels == 128);
    CHECK(m.frames == 1 + 11025 / 512);
  }
}

TEST_CASE("bad audio: errors name the file and the reason; truncated and silent as librosa") {
  TempDir dir;
  {
    std::ofstream(dir / "notes.txt") << "this is not audio\n";
    const std::string e = error_of([&] { load(dir / "notes.txt"); });
    CHECK(e.find(dir / "notes.txt") != std::string::npos);
    CHECK(e.find("cannot decode audio") != std::string::npos);
  }
  {
    write_sound(dir / "empty.wav", {}, 1, 44100, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    const std::string e = error_of([&] { load(dir / "empty.wav"); });
    CHECK(e.find(dir / "empty.wav") != std::string::npos);
    CHECK(e.find("no audio samples") != std::string::npos);
  }
  {
    std::ofstream(dir / "zero.wav");  // a zero-byte file
    CHECK(error_of([&] { load(dir / "zero.wav"); }).find(dir / "zero.wav") != std::string::npos);
  }
  {
    // Truncated: libsndfile (and so soundfile and librosa) returns the frames that are there.
    write_sound(dir / "cut.wav", tones(44100, 2, 44100), 2, 44100,
                SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    fs::resize_file(dir / "cut.wav", fs::file_size(dir / "cut.wav") - 4 * 22050);
    const Signal s = load(dir / "cut.wav", 44100);
    CHECK(s.samples.size() == 22050);
  }
  {
    // A cut OGG: Debian's libsndfile 1.2.0 then claims 2^63 - 1 frames in the header (it finds
    // no last page); the decoder must not trust it, and reads the pages that are there.
    write_sound(dir / "long.ogg", tones(10 * 44100, 2, 44100), 2, 44100,
                SF_FORMAT_OGG | SF_FORMAT_VORBIS);
    const auto size = fs::file_size(dir / "long.ogg");
    fs::resize_file(dir / "long.ogg", size / 2);
    const Signal s = load(dir / "long.ogg");
    CHECK(s.samples.size() > 22050);
    CHECK(s.samples.size() < 10 * 22050);
  }
  {
    write_sound(dir / "silent.wav", std::vector<float>(44100, 0.0f), 1, 44100,
                SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    const Signal s = load(dir / "silent.wav");
    const std::vector<float> db = log_mel(s.samples);
    CHECK(std::all_of(db.begin(), db.end(), [](float v) { return v == 0.0f; }));
  }
}

TEST_CASE(
    "make_dataset_from_audio writes a patreco3 layout the loader reads (genre and multitask)") {
  TempDir dir;
  fs::create_directories(dir.path / "audio");
  // 50 s at 22 050 Hz: 2154 frames, two clips (the second 861 frames, over half a window);
  // 20 s: one short clip.
  const std::pair<const char*, int> tracks[] = {{"a", 50}, {"b", 20}, {"c", 20}, {"d", 20},
                                                {"e", 20}, {"f", 20}, {"g", 20}};
  for (auto [name, seconds] : tracks)
    write_sound(dir / ("audio/" + std::string(name) + ".wav"), tones(22050 * seconds, 1, 22050), 1,
                22050, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  std::ofstream(dir / "genres.tsv") << "Id\tGenre\na.wav\tRock\nb\tPsych-Rock\nc.wav\tJazz\n"
                                       "d.wav\tJazz\ne.wav\tJazz\nf.wav\tSoundtrack\n";
  AudioDatasetOptions o;
  o.labels_path = dir / "genres.tsv";
  o.test_fraction =
      0.34;  // Rock-like raw genres are separate here: Rock 1 track, Psych-Rock 1, Jazz 3
  o.progress = data::Progress::never;
  const AudioDatasetSummary s = make_dataset_from_audio(dir / "audio", dir / "genre-data", o);
  CHECK(s.tracks == 6);
  CHECK(s.failed.empty());
  REQUIRE(s.ignored.size() == 1);  // g.wav has no row
  CHECK(s.train_clips + s.test_clips == 7);
  CHECK(s.test_clips == 1);  // round(3 * 0.34) = 1 Jazz track; single-track genres stay in train
  data::LoadOptions lo;
  lo.use_cache = false;
  lo.progress = data::Progress::never;
  const data::SubsetData genre = data::load_subset(dir / "genre-data", data::Subset::genre, lo);
  CHECK(genre.clips.size() == 6);  // Soundtrack is dropped by CLASS_MAPPING when loading
  CHECK(genre.test_given.size() == 1);
  int64_t longest = 0;
  for (const data::Clip& c : genre.clips) longest = std::max(longest, c.frames);
  CHECK(longest == kClipFrames);

  std::ofstream(dir / "affect.csv")
      << "Id,valence,energy,danceability\na,0.1,0.2,0.3\nb.wav,0.4,0.5,0.6\n";
  o.kind = LabelKind::multitask;
  o.labels_path = dir / "affect.csv";
  const AudioDatasetSummary m = make_dataset_from_audio(dir / "audio", dir / "mt-data", o);
  CHECK(m.train_clips == 3);  // a (two clips) and b
  CHECK(m.test_clips == 5);   // c ... g, unlabelled
  const data::SubsetData mt = data::load_subset(dir / "mt-data", data::Subset::multitask, lo);
  CHECK(mt.train_pool.size() == 3);
  CHECK(mt.test_given.size() == 5);
  for (int64_t i : mt.train_pool)
    if (mt.clips[size_t(i)].id == "b_0")
      CHECK(mt.clips[size_t(i)].targets[1] == doctest::Approx(0.5));

  // A row naming no audio file, and an existing --out, are errors naming them.
  std::ofstream(dir / "bad.tsv") << "Id\tGenre\nnosuch.wav\tRock\n";
  o.kind = LabelKind::genre;
  o.labels_path = dir / "bad.tsv";
  const std::string e = error_of([&] { make_dataset_from_audio(dir / "audio", dir / "x", o); });
  CHECK(e.find(dir / "bad.tsv") != std::string::npos);
  CHECK(e.find("line 2") != std::string::npos);
  CHECK(e.find("nosuch.wav") != std::string::npos);
  const std::string busy =
      error_of([&] { make_dataset_from_audio(dir / "audio", dir / "mt-data", o); });
  CHECK(busy.find("not empty") != std::string::npos);
}

TEST_CASE("music excerpts: resampled signal and log-mel match librosa on 8 Debian tracks") {
  for (int track = 0; track < 8; ++track) {
    char name[16];
    std::snprintf(name, sizeof name, "music%03d", track);
    CAPTURE(name);
    const Signal excerpt = decode_mono(music_track(name), 30 * 44100, 10 * 44100);
    REQUIRE(excerpt.sample_rate == 44100.0);
    const std::vector<float> y = resample(excerpt.samples, 44100.0, 22050.0);
    REQUIRE(y.size() == 220500);
    const data::NpyArray ref_y = fixture(std::string(name) + ".resampled");
    std::vector<float> strided;
    for (size_t i = 0; i < y.size(); i += 10) strided.push_back(y[i]);
    const DiffStats dy = diff_stats(strided, ref_y.data);
    CHECK(dy.max <= 1e-4);

    const data::NpyArray ref_db = fixture(std::string(name) + ".logmel");
    REQUIRE(ref_db.shape == std::vector<int64_t>{128, 431});
    const DiffStats ddb = diff_stats(log_mel(y), ref_db.data);
    CHECK(ddb.p999 <= 0.01);
    CHECK(ddb.max <= 0.1);
    MESSAGE(name << ": resampled max |diff| " << dy.max << "; log-mel dB p99.9 " << ddb.p999
                 << " max " << ddb.max);
  }
}

TEST_CASE("music full tracks: load() and the whole track's log-mel match librosa.load") {
  for (const std::string track : {"music004", "music005"}) {
    CAPTURE(track);
    const Signal s = load(music_track(track));
    REQUIRE(double(s.samples.size()) == fixture(track + ".load_length").data.at(0));
    std::vector<float> strided;
    for (size_t i = 0; i < s.samples.size(); i += 1000) strided.push_back(s.samples[i]);
    const DiffStats dy = diff_stats(strided, fixture(track + ".load_stride1000").data);
    CHECK(dy.max <= 1e-4);

    const MelSpectrogram m = melspectrogram(s.samples, 22050.0);
    std::vector<float> db = m.values;
    power_to_db(db);
    const data::NpyArray ref = fixture(track + ".logmel_stride50");
    REQUIRE(ref.shape.at(1) == (m.frames + 49) / 50);
    std::vector<float> picked;
    for (int64_t b = 0; b < m.mels; ++b)
      for (int64_t t = 0; t < m.frames; t += 50) picked.push_back(db[size_t(b * m.frames + t)]);
    const DiffStats ddb = diff_stats(picked, ref.data);
    CHECK(ddb.p999 <= 0.01);
    CHECK(ddb.max <= 0.1);
    MESSAGE(track << " (whole): load max |diff| " << dy.max << "; log-mel dB p99.9 " << ddb.p999
                  << " max " << ddb.max);
  }
}

}  // namespace
}  // namespace melgrad::audio
