// Writes the synthetic patreco3 data set: counts, ids, file names and quirks, label files
// and the clips of synth_clip.h, in parallel and atomically (see synth_dataset.h).
#include "datasets/synth_dataset.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "datasets/file_io.h"
#include "datasets/npy.h"
#include "datasets/parallel.h"
#include "datasets/progress.h"
#include "datasets/rng.h"
#include "datasets/synth_clip.h"

namespace fs = std::filesystem;

namespace melgrad::data {

namespace {

// Raw counts per genre for the full set, chosen so that CLASS_MAPPING gives the real
// numbers: train 3069 -> 2305, test 765 -> 575 (Blues 40, Classical 40, Electronic 80,
// Folk 80, Hip-Hop 40, Jazz 40, Metal 78, Pop 40, Rock 103, Trip-Hop 34).
const std::vector<GenreCount> kFullCounts = {
    {"Blues", 160, 40},      {"Chiptune", 160, 40},      {"Classical", 160, 40},
    {"Electronic", 160, 40}, {"Folk", 160, 40},          {"Hip-Hop", 160, 40},
    {"Indie-Rock", 153, 38}, {"International", 153, 38}, {"Jazz", 160, 40},
    {"Metal", 160, 40},      {"Old-Time", 153, 38},      {"Pop", 160, 40},
    {"Post-Punk", 153, 38},  {"Post-Rock", 121, 29},     {"Psych-Folk", 160, 40},
    {"Psych-Rock", 136, 34}, {"Punk", 152, 38},          {"Rock", 160, 40},
    {"Soundtrack", 152, 38}, {"Trip-Hop", 136, 34},
};

struct PlannedClip {
  std::string id, genre;
  bool test = false;
  bool gzip = false;       // files of this clip are written gzip-compressed
  std::string label_name;  // what the (full) label row claims
};

std::vector<std::string> draw_ids(size_t n, std::set<int64_t>& used, Rng& rng) {
  std::vector<std::string> ids;
  while (ids.size() < n) {
    const int64_t id = rng.integer(2, 155320);  // the range of FMA track ids
    if (used.insert(id).second) ids.push_back(std::to_string(id));
  }
  return ids;
}

// Marks max(2, n/50) clips of the list as gzip files.
void choose_gzip(std::vector<PlannedClip>& clips, Rng& rng) {
  std::vector<size_t> order(clips.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  rng.shuffle(order);
  const size_t k = std::min(order.size(), std::max<size_t>(2, clips.size() / 50));
  for (size_t i = 0; i < k; ++i) clips[order[i]].gzip = true;
}

ClipFrames frames_for(DatasetSize size, bool short_arrays) {
  if (short_arrays) return {3, 5, 1, 3};
  return size == DatasetSize::full ? ClipFrames{1291, 1293, 29, 129} : ClipFrames{128, 160, 24, 40};
}

std::string fmt_target(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

}  // namespace

DatasetSize parse_dataset_size(const std::string& name) {
  if (name == "small") return DatasetSize::small;
  if (name == "full") return DatasetSize::full;
  throw std::invalid_argument("unknown data-set size '" + name + "' (expected small or full)");
}

std::string dataset_size_name(DatasetSize size) {
  return size == DatasetSize::full ? "full" : "small";
}

std::vector<GenreCount> genre_counts(DatasetSize size) {
  if (size == DatasetSize::full) return kFullCounts;
  std::vector<GenreCount> small;
  for (const GenreCount& c : kFullCounts)  // 1/8, rounded half up
    small.push_back(
        {c.genre, std::max<int64_t>(1, (c.train + 4) / 8), std::max<int64_t>(1, (c.test + 4) / 8)});
  return small;
}

int64_t multitask_count(DatasetSize size, bool labelled) {
  if (size == DatasetSize::full) return labelled ? 1122 : 375;
  return labelled ? 280 : 94;
}

SynthSummary make_dataset(const std::string& out_dir, const SynthOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (fs::exists(out_dir) && !(fs::is_directory(out_dir) && fs::is_empty(out_dir)))
    throw DataError("output folder '" + out_dir +
                    "' already exists and is not empty; choose another --out");
  fs::path final_path = fs::absolute(out_dir).lexically_normal();
  if (!final_path.has_filename()) final_path = final_path.parent_path();  // "out/" -> "out"
  const fs::path parent = final_path.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  report_stale_temps(remove_stale_temps(parent.string(), final_path.filename().string() + ".tmp-"),
                     parent.string());
  const fs::path tmp = final_path.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  for (Subset s : kAllSubsets)
    for (const char* part : {"train", "test"}) {
      fs::create_directories(tmp / subset_folder(s) / part, ec);
      if (ec)
        throw DataError("cannot create '" + (tmp / subset_folder(s) / part).string() +
                        "': " + ec.message());
    }

  // Plan: ids, genres, gzip files and label names from one layout stream.
  Rng layout(mix_seed(options.seed, fnv1a64("layout")));
  std::set<int64_t> used;
  std::vector<PlannedClip> genre_train, genre_test, mt_train, mt_test;
  for (const GenreCount& c : genre_counts(options.size)) {
    for (const std::string& id : draw_ids(static_cast<size_t>(c.train), used, layout))
      genre_train.push_back({id, c.genre, false, false, id + ".fused.full.npy.gz"});
    for (const std::string& id : draw_ids(static_cast<size_t>(c.test), used, layout))
      genre_test.push_back(
          {id, c.genre, true, false,
           id + (layout.uniform() < 0.15 ? ".full.fused.npy.gz" : ".fused.full.npy.gz")});
  }
  const std::vector<std::string>& genres = [] {
    static std::vector<std::string> g;
    if (g.empty())
      for (const GenreCount& c : kFullCounts) g.push_back(c.genre);
    return g;
  }();
  for (bool labelled : {true, false})
    for (const std::string& id :
         draw_ids(static_cast<size_t>(multitask_count(options.size, labelled)), used, layout))
      (labelled ? mt_train : mt_test)
          .push_back({id, genres[layout.below(genres.size())], !labelled, false, id});
  for (auto* list : {&genre_train, &genre_test, &mt_train, &mt_test}) {
    layout.shuffle(*list);  // label rows in no particular order, as in the real files
    choose_gzip(*list, layout);
  }

  // Clips, in parallel; every clip has its own seed so the output does not depend on threads.
  struct Job {
    const PlannedClip* clip;
    bool multitask;
  };
  std::vector<Job> jobs;
  for (const auto* list : {&genre_train, &genre_test})
    for (const PlannedClip& c : *list) jobs.push_back({&c, false});
  for (const auto* list : {&mt_train, &mt_test})
    for (const PlannedClip& c : *list) jobs.push_back({&c, true});
  std::vector<std::array<double, 3>> targets(jobs.size());
  std::atomic<uint64_t> bytes{0};
  const ClipFrames frames = frames_for(options.size, options.short_arrays);
  {
    ProgressBar bar("generating " + dataset_size_name(options.size) + " data set",
                    static_cast<int64_t>(jobs.size()), options.progress);
    parallel_for(static_cast<int64_t>(jobs.size()), options.threads, [&](int64_t j) {
      const Job& job = jobs[static_cast<size_t>(j)];
      const PlannedClip& c = *job.clip;
      const std::string family = job.multitask ? "multitask:" : "genre:";
      const ClipStyle style =
          draw_style(c.genre, mix_seed(options.seed, fnv1a64(family + "style:" + c.id)));
      const SynthClip clip =
          synthesize_clip(style, frames, mix_seed(options.seed, fnv1a64(family + "clip:" + c.id)));
      targets[static_cast<size_t>(j)] = clip.targets;
      const Subset full = job.multitask ? Subset::multitask : Subset::genre;
      const Subset beat = job.multitask ? Subset::multitask_beat : Subset::genre_beat;
      const std::string name = c.id + ".fused.full.npy" + (c.gzip ? ".gz" : "");
      const std::string part = c.test ? "test" : "train";
      NpyWriteOptions w;
      w.gzip = c.gzip;
      const auto a = encode_npy({140, clip.frames}, clip.full.data(), w);
      const auto b = encode_npy({140, clip.beats}, clip.beat.data(), w);
      write_file_atomic((tmp / subset_folder(full) / part / name).string(), a.data(), a.size());
      write_file_atomic((tmp / subset_folder(beat) / part / name).string(), b.data(), b.size());
      bytes += a.size() + b.size();
      bar.advance(1, a.size() + b.size());
    });
  }

  // Label files.
  auto genre_labels = [](const std::vector<PlannedClip>& clips, bool beat) {
    std::string text = "Id\tGenre\n";
    for (const PlannedClip& c : clips)
      text += (beat ? c.id + ".beatsync.fused.npy" : c.label_name) + "\t" + c.genre + "\n";
    return text;
  };
  for (bool beat : {false, true}) {
    const fs::path root = tmp / subset_folder(beat ? Subset::genre_beat : Subset::genre);
    write_file_atomic((root / "train_labels.txt").string(), genre_labels(genre_train, beat));
    write_file_atomic((root / "test_labels.txt").string(), genre_labels(genre_test, beat));
  }
  std::string mt_text = "Id,valence,energy,danceability\n";
  const size_t mt_first = genre_train.size() + genre_test.size();
  for (size_t i = 0; i < mt_train.size(); ++i) {
    const auto& t = targets[mt_first + i];
    mt_text += mt_train[i].id + "," + fmt_target(t[0]) + "," + fmt_target(t[1]) + "," +
               fmt_target(t[2]) + "\n";
  }
  for (Subset s : {Subset::multitask, Subset::multitask_beat})
    write_file_atomic((tmp / subset_folder(s) / "train_labels.txt").string(), mt_text);
  write_file_atomic((tmp / "melgrad-synthetic.txt").string(),
                    "synthetic patreco3 data set written by melgrad make-dataset\nsize " +
                        dataset_size_name(options.size) +
                        (options.short_arrays ? " (short arrays)" : "") + "\nseed " +
                        std::to_string(options.seed) + "\ngenerator version " +
                        std::to_string(kGeneratorVersion) + "\n");

  if (fs::exists(final_path)) fs::remove(final_path, ec);  // an empty folder (checked above)
  fs::rename(tmp, final_path, ec);
  if (ec)
    throw DataError("cannot rename '" + tmp.string() + "' to '" + final_path.string() +
                    "': " + ec.message());

  SynthSummary summary;
  summary.genre_clips = static_cast<int64_t>(genre_train.size() + genre_test.size());
  summary.multitask_clips = static_cast<int64_t>(mt_train.size() + mt_test.size());
  summary.files = 2 * static_cast<int64_t>(jobs.size()) + 7;
  summary.bytes = bytes.load();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace melgrad::data
