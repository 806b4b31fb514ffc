// A patreco3-layout data set from audio files and labels: see audio_dataset.h.
#include "datasets/audio/audio_dataset.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>

#include "datasets/audio/extract_files.h"
#include "datasets/file_io.h"
#include "datasets/genres.h"
#include "datasets/labels.h"
#include "datasets/parallel.h"
#include "datasets/progress.h"
#include "datasets/rng.h"

namespace melgrad::audio {
namespace fs = std::filesystem;

namespace {

struct Track {
  Track(std::string audio_path, std::string clip_id)
      : path(std::move(audio_path)), id(std::move(clip_id)) {}
  std::string path, id;
  bool test = false;
  bool labelled = false;
  std::string genre;                  // genre sets
  std::array<float, 3> targets{};     // multitask
  std::vector<std::string> clip_ids;  // written clips (after extraction)
};

// Finds the audio file a label row names: its path relative to DIR, its file name, its stem,
// or its clip id.
class FileIndex {
 public:
  FileIndex(const std::string& dir, const std::vector<std::string>& files) {
    for (size_t i = 0; i < files.size(); ++i) {
      const fs::path p(files[i]);
      for (const std::string& key : {fs::relative(p, dir).string(), p.filename().string(),
                                     p.stem().string(), clip_id_for(files[i])})
        keys_.emplace(key, i);  // the first file keeps a shared key
    }
  }
  int64_t find(const std::string& name) const {
    auto it = keys_.find(name);
    return it == keys_.end() ? -1 : int64_t(it->second);
  }

 private:
  std::multimap<std::string, size_t> keys_;
};

std::string format_targets(const std::array<float, 3>& t) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.6f,%.6f,%.6f", double(t[0]), double(t[1]), double(t[2]));
  return buf;
}

// Genre sets: per genre, the round(n * fraction) tracks with the smallest seeded hash go to test.
void choose_genre_test_tracks(std::vector<Track>& tracks, double fraction, uint64_t seed) {
  std::map<std::string, std::vector<Track*>> by_genre;
  for (Track& t : tracks) by_genre[t.genre].push_back(&t);
  for (auto& [genre, members] : by_genre) {
    std::sort(members.begin(), members.end(), [&](const Track* a, const Track* b) {
      return data::mix_seed(seed, data::fnv1a64(a->id)) <
             data::mix_seed(seed, data::fnv1a64(b->id));
    });
    const size_t n_test =
        members.size() < 2 ? 0 : size_t(std::lround(double(members.size()) * fraction));
    for (size_t i = 0; i < std::min(n_test, members.size() - 1); ++i) members[i]->test = true;
  }
}

void write_subset(const fs::path& root, data::Subset subset, const std::vector<Track>& tracks,
                  LabelKind kind) {
  const fs::path dir = root / data::subset_folder(subset);
  std::string train = kind == LabelKind::genre ? "Id\tGenre\n" : "Id,valence,energy,danceability\n";
  std::string test = train;
  for (const Track& t : tracks)
    for (const std::string& clip : t.clip_ids) {
      std::string& rows = t.test ? test : train;
      if (kind == LabelKind::genre)
        rows += clip + ".fused.full.npy\t" + t.genre + "\n";
      else if (t.labelled)
        rows += clip + "," + format_targets(t.targets) + "\n";
    }
  data::write_file_atomic((dir / "train_labels.txt").string(), train);
  if (kind == LabelKind::genre) data::write_file_atomic((dir / "test_labels.txt").string(), test);
}

}  // namespace

AudioDatasetSummary make_dataset_from_audio(const std::string& audio_dir,
                                            const std::string& out_dir,
                                            const AudioDatasetOptions& o) {
  if (!fs::is_directory(audio_dir)) throw AudioError(audio_dir + ": not a folder of audio files");
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_empty(out_dir, ec))
    throw AudioError(out_dir + ": exists and is not empty (choose a new folder)");
  if (!(o.test_fraction >= 0 && o.test_fraction < 1))
    throw std::invalid_argument("test fraction must be in [0, 1), got " +
                                std::to_string(o.test_fraction));
  const std::vector<std::string> files = collect_audio_files({audio_dir});
  const FileIndex index(audio_dir, files);

  // Label rows -> tracks (a row naming no audio file is an error naming file, line and id).
  std::vector<Track> tracks;
  std::vector<bool> has_row(files.size(), false);
  auto track_for = [&](int64_t line, const std::string& name, const std::string& id) -> Track& {
    int64_t f = index.find(name);
    if (f < 0) f = index.find(id);
    if (f < 0)
      throw AudioError(o.labels_path + " line " + std::to_string(line) + ": no audio file '" +
                       name + "' in " + audio_dir);
    if (has_row[size_t(f)])
      throw AudioError(o.labels_path + " line " + std::to_string(line) + ": a second row for " +
                       files[size_t(f)]);
    has_row[size_t(f)] = true;
    tracks.emplace_back(files[size_t(f)], clip_id_for(files[size_t(f)]));
    tracks.back().labelled = true;
    return tracks.back();
  };
  if (o.kind == LabelKind::genre) {
    for (const data::GenreLabelRow& r : data::read_genre_labels(o.labels_path))
      track_for(r.line, r.name, r.id).genre = r.genre;
    choose_genre_test_tracks(tracks, o.test_fraction, o.seed);
  } else {
    for (const data::MultitaskLabelRow& r : data::read_multitask_labels(o.labels_path))
      track_for(r.line, r.name, r.id).targets = r.targets;
  }
  AudioDatasetSummary summary;
  for (size_t f = 0; f < files.size(); ++f) {
    if (has_row[f]) continue;
    if (o.kind == LabelKind::genre) {
      summary.ignored.push_back(files[f]);
    } else {
      tracks.emplace_back(files[f], clip_id_for(files[f]));
      tracks.back().test = true;  // unlabelled: the multitask test/ folder
    }
  }
  std::map<std::string, std::string> ids;
  for (const Track& t : tracks)
    if (auto [it, fresh] = ids.emplace(t.id, t.path); !fresh)
      throw AudioError("two audio files give the clip id '" + t.id + "': " + it->second + " and " +
                       t.path);

  const data::Subset full =
      o.kind == LabelKind::genre ? data::Subset::genre : data::Subset::multitask;
  const data::Subset beat =
      o.kind == LabelKind::genre ? data::Subset::genre_beat : data::Subset::multitask_beat;
  const fs::path staging = out_dir + ".partial-" + std::to_string(::getpid());
  fs::remove_all(staging);
  for (data::Subset s : {full, beat}) {
    if (s == beat && !o.beat) continue;
    for (const char* split : {"train", "test"})
      fs::create_directories(staging / data::subset_folder(s) / split);
  }
  std::vector<std::string> errors(tracks.size());
  data::ProgressBar bar("extracting", int64_t(tracks.size()), o.progress);
  data::parallel_for(int64_t(tracks.size()), o.threads, [&](int64_t i) {
    Track& t = tracks[size_t(i)];
    try {
      const ClipFeatures features = extract_features(load(t.path), ExtractOptions{.beat = o.beat});
      const std::vector<FeatureWindow> windows = feature_windows(features, false);
      const std::vector<FeatureWindow> beat_windows =
          o.beat ? feature_windows(features, true) : std::vector<FeatureWindow>{};
      const char* split = t.test ? "test" : "train";
      for (size_t k = 0; k < windows.size(); ++k) {
        const std::string clip = t.id + "_" + std::to_string(k);
        const std::string name = clip + ".fused.full.npy";
        write_feature_array((staging / data::subset_folder(full) / split / name).string(),
                            windows[k].array);
        if (o.beat)
          write_feature_array((staging / data::subset_folder(beat) / split / name).string(),
                              beat_windows[k].array);
        t.clip_ids.push_back(clip);
      }
    } catch (const std::exception& e) {
      const std::string what = e.what();
      errors[size_t(i)] = what.rfind(t.path, 0) == 0 ? what : t.path + ": " + what;
      t.clip_ids.clear();
    }
    bar.advance(1);
  });
  bar.finish();
  for (size_t i = 0; i < tracks.size(); ++i) {
    if (!errors[i].empty())
      summary.failed.push_back(errors[i]);
    else
      ++summary.tracks;
    (tracks[i].test ? summary.test_clips : summary.train_clips) +=
        int64_t(tracks[i].clip_ids.size());
  }
  write_subset(staging, full, tracks, o.kind);
  if (o.beat) write_subset(staging, beat, tracks, o.kind);
  if (fs::exists(out_dir, ec)) fs::remove(out_dir);  // empty (checked above)
  fs::rename(staging, out_dir);
  return summary;
}

}  // namespace melgrad::audio
