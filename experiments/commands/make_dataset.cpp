// `melgrad make-dataset`: writes the embedded synthetic patreco3 data set
// (datasets/synth_dataset.h), or, with --from-audio DIR and a label file, a data set of the same
// layout from the user's own audio (datasets/audio/audio_dataset.h).
#include <cstdio>

#include "datasets/audio/audio_dataset.h"
#include "datasets/synth_dataset.h"
#include "experiments/cli.h"

namespace melgrad {
namespace {

int run_from_audio(const cli::Args& args) {
  for (const char* synthetic_only : {"size", "short-arrays"})
    if (args.has(synthetic_only))
      throw cli::UsageError(std::string("option --") + synthetic_only +
                            " is for the synthetic data set, not --from-audio");
  const bool genre = args.has("genre-labels"), multitask = args.has("multitask-labels");
  if (genre == multitask)
    throw cli::UsageError(
        "--from-audio needs exactly one of --genre-labels FILE and --multitask-labels FILE");
  audio::AudioDatasetOptions o;
  o.kind = genre ? audio::LabelKind::genre : audio::LabelKind::multitask;
  o.labels_path = args.str(genre ? "genre-labels" : "multitask-labels");
  o.beat = args.flag("beat");
  o.test_fraction = args.number("test-fraction");
  if (!(o.test_fraction >= 0 && o.test_fraction < 1))
    throw cli::UsageError("option --test-fraction expects a number in [0, 1), got " +
                          args.str("test-fraction"));
  const int64_t seed = args.integer("seed");
  if (seed < 0)
    throw cli::UsageError("option --seed expects a non-negative integer, got " + args.str("seed"));
  o.seed = static_cast<uint64_t>(seed);
  o.threads = static_cast<int>(args.integer("threads"));
  const std::string out = args.str("out");
  const audio::AudioDatasetSummary s =
      audio::make_dataset_from_audio(args.str("from-audio"), out, o);
  std::printf("wrote %s: %lld tracks -> %lld train clips, %lld test clips%s\n", out.c_str(),
              static_cast<long long>(s.tracks), static_cast<long long>(s.train_clips),
              static_cast<long long>(s.test_clips), o.beat ? " (full and beat-synchronised)" : "");
  if (!s.ignored.empty())
    std::fprintf(stderr, "%zu audio file(s) have no label row and were left out (first: %s)\n",
                 s.ignored.size(), s.ignored.front().c_str());
  if (s.failed.empty()) return 0;
  std::fprintf(stderr, "%zu file(s) failed and were left out:\n", s.failed.size());
  for (const std::string& f : s.failed) std::fprintf(stderr, "  %s\n", f.c_str());
  return 1;
}

int run_make_dataset(const cli::Args& args) {
  if (args.has("from-audio")) return run_from_audio(args);
  for (const char* audio_only : {"genre-labels", "multitask-labels", "beat", "test-fraction"})
    if (args.has(audio_only))
      throw cli::UsageError(std::string("option --") + audio_only + " needs --from-audio DIR");
  data::SynthOptions o;
  try {
    o.size = data::parse_dataset_size(args.str("size"));
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(std::string("option --size: ") + e.what());
  }
  const int64_t seed = args.integer("seed");
  if (seed < 0)
    throw cli::UsageError("option --seed expects a non-negative integer, got " + args.str("seed"));
  o.seed = static_cast<uint64_t>(seed);
  o.short_arrays = args.flag("short-arrays");
  o.threads = static_cast<int>(args.integer("threads"));
  const std::string out = args.str("out");
  const data::SynthSummary s = data::make_dataset(out, o);
  std::printf(
      "wrote %s: %lld genre clips, %lld multitask clips, %lld files, %.1f MB in %.1f s (%s, seed "
      "%llu%s)\n",
      out.c_str(), static_cast<long long>(s.genre_clips), static_cast<long long>(s.multitask_clips),
      static_cast<long long>(s.files), static_cast<double>(s.bytes) / 1e6, s.seconds,
      data::dataset_size_name(o.size).c_str(), static_cast<unsigned long long>(o.seed),
      o.short_arrays ? ", short arrays" : "");
  return 0;
}

// Options: {name, help, default, is_flag, required}.
const cli::CommandRegistrar reg({
    .name = "make-dataset",
    .summary = "write the synthetic patreco3 data set, or one from your audio (--from-audio)",
    .options =
        {
            {"out", "folder to create (must not exist or be empty)", "", false, true},
            {"size", "small (fast study, ~15 min on 2 cores) or full (real counts and lengths)",
             "small", false, false},
            {"seed", "random seed; the same seed writes the same bytes", "42", false, false},
            {"short-arrays",
             "keep the counts of --size but write tiny arrays (T 3-5), e.g. to check counts", "",
             true, false},
            {"threads", "worker threads (0 = all cores)", "0", false, false},
            {"from-audio", "build the data set from this folder of audio files (docs/AUDIO.md)",
             ""},
            {"genre-labels", "--from-audio: Id<TAB>Genre file (Id = audio file name or stem)", ""},
            {"multitask-labels", "--from-audio: Id,valence,energy,danceability file", ""},
            {"beat", "--from-audio: also write the beat-synchronised sub-set", "", true},
            {"test-fraction",
             "--from-audio, genre: share of each genre's tracks in test/ (seeded by --seed)",
             "0.2"},
        },
    .positional_help = "",
    .run = run_make_dataset,
});

}  // namespace
}  // namespace melgrad
