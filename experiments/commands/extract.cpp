// `melgrad extract AUDIO_OR_DIR... --out DIR [--beat] [--threads N] [--force]`: the data set's
// feature arrays from audio files (datasets/audio/extract_files.h, docs/AUDIO.md). Files are
// processed in parallel with a progress bar; a bad file does not stop the others: each gets
// one line naming it and the reason at the end, and the exit code is 1 if any failed.
#include <cstdio>

#include "datasets/audio/extract_files.h"
#include "experiments/cli.h"

namespace melgrad {
namespace {

int run_extract(const cli::Args& a) {
  if (a.positionals().empty()) throw cli::UsageError("give one or more audio files or folders");
  const int64_t threads = a.integer("threads");
  if (threads < 0)
    throw cli::UsageError("option --threads expects a count >= 0, got " + a.str("threads"));
  const std::vector<std::string> files = audio::collect_audio_files(a.positionals());
  if (files.empty()) {
    std::fprintf(stderr, "no audio files found in the given folders\n");
    return 1;
  }
  const std::string out = a.str("out");
  const std::vector<audio::ExtractedFile> results = audio::extract_files(
      files, out, {.beat = a.flag("beat"), .force = a.flag("force"), .threads = int(threads)});
  int64_t failed = 0;
  double seconds = 0;
  for (const audio::ExtractedFile& r : results) {
    if (r.ok)
      seconds += r.seconds;
    else
      ++failed;
  }
  std::printf("extracted %lld of %zu files (%.1f min of audio) into %s\n",
              static_cast<long long>(int64_t(results.size()) - failed), results.size(),
              seconds / 60.0, out.c_str());
  if (failed == 0) return 0;
  std::fprintf(stderr, "%lld file(s) failed:\n", static_cast<long long>(failed));
  for (const audio::ExtractedFile& r : results)
    if (!r.ok) std::fprintf(stderr, "  %s\n", r.error.c_str());
  return 1;
}

// Options: {name, help, default, is_flag, required}.
const cli::CommandRegistrar reg({
    .name = "extract",
    .summary =
        "compute the data set's feature arrays (log-mel + chroma, 22050 Hz) from audio files",
    .options = {{"out", "folder for <id>.fused.full.npy (and beat/<id>.fused.full.npy)", "", false,
                 true},
                {"beat", "also write the beat-synchronised arrays", "", true},
                {"force", "overwrite feature files that already exist", "", true},
                {"threads",
                 "threads (0: all cores): files at once; with fewer files, the chroma and "
                 "beat steps of a file run side by side",
                 "0"}},
    .positional_help = "AUDIO_OR_DIR...",
    .run = run_extract,
});

}  // namespace
}  // namespace melgrad
