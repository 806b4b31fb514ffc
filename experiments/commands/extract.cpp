// `melgrad extract AUDIO_OR_DIR... --out DIR [--beat] [--threads N] [--force]`: the data set's
// feature arrays from audio files (datasets/audio/extract_files.h, docs/AUDIO.md). Files are
// processed in parallel with a progress bar; a bad file does not stop the others: each gets
// one line naming it and the reason at the end, and the exit code is 1 if any failed.
//
// Under `mpirun -np N` the files are dealt out over the ranks (file i to rank i mod N, in the
// sorted order collect_audio_files gives every rank alike); each rank extracts its share with
// --threads threads, rank 0 draws its share's progress bar, and the ranks' results are
// gathered so that rank 0 prints the summary and the failures of all files, in file order:
// the output folder and the printed lines are those of a single process, plus one line on
// stderr saying how many files each rank took and how long. Every rank exits with the same
// code.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "datasets/audio/extract_files.h"
#include "engine/dist/transport.h"
#include "experiments/cli.h"

namespace melgrad {
namespace {

nlohmann::json result_json(size_t index, const audio::ExtractedFile& r) {
  return {{"index", index},          {"ok", r.ok},
          {"error", r.error},        {"frames", r.frames},
          {"beat", r.beat_segments}, {"seconds", r.seconds}};
}

// Every file's result, in file order: this rank extracts files rank, rank + N, ... and the
// ranks' results are gathered (one rank: extract_files itself).
std::vector<audio::ExtractedFile> extract_sharded(const std::vector<std::string>& files,
                                                  const std::string& out,
                                                  audio::ExtractFilesOptions options) {
  dist::Transport& world = dist::world();
  if (world.size() == 1) return audio::extract_files(files, out, options);
  audio::check_distinct_clip_ids(files);  // over all files, before any rank writes
  std::vector<std::string> mine;
  for (size_t i = size_t(world.rank()); i < files.size(); i += size_t(world.size()))
    mine.push_back(files[i]);
  options.progress_label = "extracting (rank 0's " + std::to_string(mine.size()) + " of " +
                           std::to_string(files.size()) + " files, " +
                           std::to_string(world.size()) + " ranks)";
  const auto start = std::chrono::steady_clock::now();
  const std::vector<audio::ExtractedFile> done = audio::extract_files(mine, out, options);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  nlohmann::json results = nlohmann::json::array();
  for (size_t k = 0; k < done.size(); ++k)
    results.push_back(result_json(size_t(world.rank()) + k * size_t(world.size()), done[k]));
  const nlohmann::json mine_json = {{"results", results}, {"seconds", took.count()}};
  // The extraction takes as long as the files do: no deadline on waiting for the others.
  const double timeout = world.timeout();
  world.set_timeout(24 * 3600.0);
  const std::vector<std::string> parts = world.all_gather_bytes(mine_json.dump());
  world.set_timeout(timeout);
  // How the work was shared: "extract: 6 files over 2 ranks: rank 0 3 files in 1.2 s, ...".
  std::string shares;
  std::vector<audio::ExtractedFile> all(files.size());
  for (size_t rank = 0; rank < parts.size(); ++rank) {
    const nlohmann::json part = nlohmann::json::parse(parts[rank]);
    char line[96];
    std::snprintf(line, sizeof line, "%srank %zu %zu files in %.1f s", rank ? ", " : "", rank,
                  part.at("results").size(), part.at("seconds").get<double>());
    shares += line;
    for (const nlohmann::json& j : part.at("results")) {
      audio::ExtractedFile& r = all.at(j.at("index").get<size_t>());
      r.audio_path = files[j.at("index").get<size_t>()];
      r.id = audio::clip_id_for(r.audio_path);
      r.ok = j.at("ok").get<bool>();
      r.error = j.at("error").get<std::string>();
      r.frames = j.at("frames").get<int64_t>();
      r.beat_segments = j.at("beat").get<int64_t>();
      r.seconds = j.at("seconds").get<double>();
    }
  }
  std::fprintf(stderr, "extract: %zu files over %d ranks: %s\n", files.size(), world.size(),
               shares.c_str());
  return all;
}

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
  const std::vector<audio::ExtractedFile> results = extract_sharded(
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
                 "beat steps of a file run side by side (under mpirun: per rank)",
                 "0"}},
    .positional_help = "AUDIO_OR_DIR...",
    .run = run_extract,
});

}  // namespace
}  // namespace melgrad
