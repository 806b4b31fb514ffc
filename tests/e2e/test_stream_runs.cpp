// `melgrad genre --stream on|off|auto` end to end (datasets/clip_stream.h): streamed training
// equals in-memory training where the order is the same (one chunk: losses, parameters and
// metrics bit for bit), and so does `study --stream on`; the chunked order survives Ctrl-C
// and --resume; a damaged clip in the cache stops the run naming the cache file; a data set
// larger than the memory the process may use (RLIMIT_DATA through prlimit) trains with
// streaming while the in-memory path fails, and the peak resident memory is printed.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cmath>

#include "datasets/h5_cache.h"
#include "datasets/npy.h"
#include "engine/io/tensor_file.h"
#include "tests/e2e/e2e_util.h"
#include "tests/skip.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

std::vector<std::vector<double>> log_numbers(const fs::path& run) {
  std::vector<std::vector<double>> rows;
  for (const json& l : log_lines(run))
    rows.push_back({l["epoch"].get<double>(), l["train_loss"].get<double>(),
                    l["val_loss"].get<double>(), l["val_accuracy"].get<double>()});
  return rows;
}

std::map<std::string, std::vector<double>> model_tensors(const fs::path& file) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, t] : melgrad::io::load_tensor_file(file.string()).tensors)
    out[name] = t.to_vector();
  return out;
}

// The cache file a run's stderr names ("... HDF5 cache FILE ...").
std::string cache_file_of(const std::string& err) {
  const size_t at = err.find(fs::path(scratch() / "cache").string());
  if (at == std::string::npos) return "";
  const size_t end = err.find(".h5", at);
  return end == std::string::npos ? "" : err.substr(at, end + 3 - at);
}

// Runs `program args` and returns its result and peak resident memory (KiB, from wait4).
Result run_measured(const std::vector<std::string>& args, const fs::path& program,
                    long& max_rss_kib) {
  static int counter = 0;
  const std::string tag = "measured" + std::to_string(++counter);
  const pid_t pid = spawn(args, tag, program);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  max_rss_kib = usage.ru_maxrss;
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(scratch() / (tag + ".out"));
  r.err = read_text(scratch() / (tag + ".err"));
  return r;
}

// A genre data set of `clips` float32 clips of 48 frames (26.9 KB each), 4/5 in train/.
std::string many_clips(int clips) {
  const fs::path root = scratch() / "many" / "fma_genre_spectrograms";
  const char* genres[] = {"Blues", "Pop", "Rock", "Metal"};
  std::string train_labels = "Id\tGenre\n", test_labels = "Id\tGenre\n";
  fs::create_directories(root / "train");
  fs::create_directories(root / "test");
  std::vector<double> values(140 * 48);
  melgrad::data::NpyWriteOptions f32;
  f32.dtype = melgrad::data::NpyDtype::f4;
  for (int i = 0; i < clips; ++i) {
    const int genre = i % 4;
    for (size_t k = 0; k < values.size(); ++k)
      values[k] = std::sin(0.01 * double(k * (genre + 1) + i));
    const std::string id = std::to_string(1000 + i), name = id + ".fused.full.npy";
    const bool test = i % 5 == 4;
    melgrad::data::write_npy((root / (test ? "test" : "train") / name).string(), {140, 48},
                             values.data(), f32);
    (test ? test_labels : train_labels) += name + "\t" + genres[genre] + "\n";
  }
  std::ofstream(root / "train_labels.txt") << train_labels;
  std::ofstream(root / "test_labels.txt") << test_labels;
  return (scratch() / "many").string();
}

}  // namespace

TEST_CASE("streamed training equals in-memory training where the order is the same") {
  const fs::path memory = scratch() / "memory", streamed = scratch() / "streamed";
  Result m = run(tiny_cnn_genre_args(memory, 2, {"--stream", "off"}));
  INFO(m.err);
  REQUIRE(m.code == 0);
  Result s = run(tiny_cnn_genre_args(streamed, 2, {"--stream", "on"}));
  INFO(s.err);
  REQUIRE(s.code == 0);
  CHECK(s.err.find("streaming batches from the HDF5 cache " + cache_file_of(s.err)) !=
        std::string::npos);
  CHECK(s.err.find("(--stream on)") != std::string::npos);
  CHECK(m.err.find("streaming") == std::string::npos);
  // The tiny set fits in one chunk: the whole-list order, so everything is bit for bit.
  CHECK(log_numbers(streamed) == log_numbers(memory));
  CHECK(model_tensors(streamed / "last.h5") == model_tensors(memory / "last.h5"));
  CHECK(timeless(read_json(streamed / "metrics.json")) ==
        timeless(read_json(memory / "metrics.json")));
  CHECK(read_text(streamed / "predictions.json") == read_text(memory / "predictions.json"));
  // `auto` keeps a small set in memory and says why, once.
  Result a = run(tiny_cnn_genre_args(scratch() / "auto", 1, {}));
  REQUIRE(a.code == 0);
  const size_t said = a.err.find("--stream auto: ");
  CHECK(said != std::string::npos);
  CHECK(a.err.find("--stream auto: ", said + 1) == std::string::npos);
  CHECK(a.err.find("within the") != std::string::npos);
}

TEST_CASE("study --stream on streams each experiment, with the in-memory numbers") {
  auto study = [&](const fs::path& out, const std::string& stream) {
    return tiny_study_args(out, 1, {"--stream", stream});
  };
  const fs::path memory = scratch() / "study-memory", streamed = scratch() / "study-streamed";
  Result m = run(study(memory, "off"));
  INFO(m.err);
  REQUIRE(m.code == 0);
  Result s = run(study(streamed, "on"));
  INFO(s.err);
  REQUIRE(s.code == 0);
  CHECK(s.err.find("genre-cnn-mel-beat: streaming batches from the HDF5 cache") !=
        std::string::npos);
  CHECK(m.err.find("streaming") == std::string::npos);
  const fs::path experiment = "genre-cnn-mel-beat";
  CHECK(read_json(streamed / experiment / "config.json")["stream_chunk_clips"]
            .is_null());  // one chunk
  CHECK(log_numbers(streamed / experiment) == log_numbers(memory / experiment));
  CHECK(timeless(read_json(streamed / experiment / "metrics.json")) ==
        timeless(read_json(memory / experiment / "metrics.json")));
  // A bad value is a usage error before anything runs.
  Result bad = run(study(scratch() / "study-bad", "sometimes"));
  CHECK(bad.code == 2);
  CHECK(bad.err.find("option --stream") != std::string::npos);
  CHECK_FALSE(fs::exists(scratch() / "study-bad" / "genre-cnn-mel-beat"));
}

TEST_CASE(
    "chunked streaming: Ctrl-C stops the prefetch thread and saves; --resume ends as an "
    "uninterrupted run") {
  // Chunks of 0.02 MB (8 tiny clips): an order unlike the whole-list one, kept in config.json.
  auto args = [&](const fs::path& out, int epochs) {
    return tiny_cnn_genre_args(
        out, epochs,
        {"--stream", "on", "--stream-chunk-mb", "0.02", "--batch-size", "4", "--patience", "0"});
  };
  const fs::path reference = scratch() / "chunked-reference", interrupted = scratch() / "chunked";
  pid_t pid = spawn(args(interrupted, 50), "chunked-sigint");
  wait_until([&] { return fs::exists(interrupted / "last.h5"); });
  ::kill(pid, SIGINT);
  Result r = wait_for(pid, "chunked-sigint");
  INFO(r.err);
  REQUIRE(r.code == 130);  // not 134: the prefetch thread was joined, not left running
  int epoch = 0, batch = 0, batches = 0;
  const size_t at = r.err.find("interrupted at epoch");
  REQUIRE(at != std::string::npos);
  REQUIRE(std::sscanf(r.err.c_str() + at, "interrupted at epoch %d, batch %d of %d", &epoch, &batch,
                      &batches) == 3);
  CHECK(read_json(interrupted / "config.json").value("stream_chunk_clips", 0) > 0);
  const int epochs = epoch + 1;
  Result ref = run(args(reference, epochs));
  INFO(ref.err);
  REQUIRE(ref.code == 0);
  std::vector<std::string> resume = args(interrupted, epochs);
  resume.push_back("--resume");
  Result rr = run(resume);
  INFO(rr.err);
  REQUIRE(rr.code == 0);
  CHECK(log_numbers(interrupted) == log_numbers(reference));
  CHECK(timeless(read_json(interrupted / "metrics.json")) ==
        timeless(read_json(reference / "metrics.json")));
  // The chunked order is not the whole-list one: its losses differ from an in-memory run's.
  Result whole = run(tiny_cnn_genre_args(scratch() / "chunked-whole", 1,
                                         {"--batch-size", "4", "--patience", "0"}));
  REQUIRE(whole.code == 0);
  CHECK(log_numbers(scratch() / "chunked-whole")[0][1] != log_numbers(reference)[0][1]);
}

TEST_CASE("a damaged clip in the cache stops a streamed run naming the cache file") {
  const fs::path first = scratch() / "damage-first";
  Result s = run(tiny_cnn_genre_args(first, 1, {"--stream", "on"}));
  REQUIRE(s.code == 0);
  const std::string cache = cache_file_of(s.err);
  REQUIRE(!cache.empty());
  melgrad::data::H5CacheIndex index;
  std::string fingerprint;
  {
    // The fingerprint of the sub-set folder the run read (the cache's own 'fingerprint').
    REQUIRE(melgrad::data::read_h5_cache_index(
        cache, melgrad::data::subset_fingerprint(tiny_data() + "/fma_genre_spectrograms"), index));
  }
  std::FILE* f = std::fopen(cache.c_str(), "r+b");
  REQUIRE(f);
  const long at =
      long(index.values_address + uint64_t(index.offsets[3]) * 140 * 4 + 2);  // clip 3 (train/)
  std::fseek(f, at, SEEK_SET);
  const int byte = std::fgetc(f);
  std::fseek(f, at, SEEK_SET);
  std::fputc(byte ^ 0x40, f);
  std::fclose(f);
  Result d = run(tiny_cnn_genre_args(scratch() / "damage-second", 1, {"--stream", "on"}));
  CHECK(d.code == 1);
  CHECK(d.err.find(cache + ": the checksum of table 'values' does not match at clip " +
                   index.clips[3].id) != std::string::npos);
  // In memory, the damaged cache is rebuilt (as before), after which streaming works again.
  CHECK(run(tiny_cnn_genre_args(scratch() / "damage-memory", 1, {"--stream", "off"})).code == 0);
  CHECK(run(tiny_cnn_genre_args(scratch() / "damage-third", 1, {"--stream", "on"})).code == 0);
}

TEST_CASE("Ctrl-C while the cache is built stops the load at once, writing nothing") {
  // The cache of 2400 clips is written 16 MB at a time on one thread; SIGINT is sent as soon
  // as its temp file appears. Before, the signal was only seen at the first training batch.
  const std::string data = many_clips(2400);
  const fs::path out = scratch() / "interrupted-load", h5 = scratch() / "cache" / "h5";
  const std::vector<std::string> args = {
      "genre", "--data",        data,       "--frames", "16",    "--channels",
      "1,4,8", "--pool",        "2",        "--epochs", "1",     "--threads",
      "1",     "--no-progress", "--stream", "on",       "--out", out.string()};
  const pid_t pid = spawn(args, "interrupted-load");
  auto temp_files = [&] {
    int n = 0;
    if (fs::exists(h5))
      for (const auto& e : fs::directory_iterator(h5))
        n += e.path().filename().string().find(".tmp-") != std::string::npos;
    return n;
  };
  wait_until([&] { return temp_files() > 0; }, std::chrono::seconds(30));
  REQUIRE(temp_files() == 1);
  ::kill(pid, SIGINT);
  Result r = wait_for(pid, "interrupted-load");
  INFO(r.err);
  CHECK(r.code == 130);
  CHECK(r.err.find("genre: interrupted while loading the data set, before any training") !=
        std::string::npos);
  CHECK(temp_files() == 0);                      // the cache's temp file is removed
  CHECK_FALSE(fs::exists(out / "config.json"));  // nothing of the run was written
  // The same command then runs from the start.
  CHECK(run(args).code == 0);
}

TEST_CASE("a data set larger than the memory the process may use trains with streaming") {
  // Its own CTest test (test_e2e_stream_runs_memory_limit), so that it can skip.
  if (!fs::exists("/usr/bin/prlimit"))
    return melgrad::testing::skip("prlimit (util-linux) is not installed");
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer pass (scripts/test-asan.sh) builds no melgrad-emu, and AddressSanitizer's
  // shadow memory alone is far more than the limit.
  return melgrad::testing::skip(
      "under AddressSanitizer: its shadow memory counts against RLIMIT_DATA");
#endif
  // 4800 clips x 48 frames x 140 bands x 4 B = 129 MB of float32 features, under a 100 MiB
  // data limit (RLIMIT_DATA: heap and private writable mappings). melgrad-emu: the program
  // without the CUDA libraries, whose own mappings take ~250 MB (a GPU build's melgrad).
  const std::string data = many_clips(4800);
  const std::string limit = "--data=" + std::to_string(100 << 20);
  auto args = [&](const std::string& name, const std::string& stream) {
    return std::vector<std::string>{limit,      melgrad_emu_exe().string(),
                                    "genre",    "--data",
                                    data,       "--frames",
                                    "16",       "--channels",
                                    "1,4,8",    "--pool",
                                    "2",        "--epochs",
                                    "1",        "--threads",
                                    "1",        "--no-progress",
                                    "--stream", stream,
                                    "--out",    (scratch() / name).string()};
  };
  long rss_memory = 0, rss_streamed = 0, rss_auto = 0;
  Result m = run_measured(args("big-memory", "off"), "/usr/bin/prlimit", rss_memory);
  CHECK(m.code != 0);  // bad_alloc while loading
  Result s = run_measured(args("big-streamed", "on"), "/usr/bin/prlimit", rss_streamed);
  INFO(s.err);
  REQUIRE(s.code == 0);
  CHECK(read_json(scratch() / "big-streamed" / "metrics.json")["test_clips"] == 960);
  Result a = run_measured(args("big-auto", "auto"), "/usr/bin/prlimit", rss_auto);
  INFO(a.err);
  REQUIRE(a.code == 0);
  CHECK(a.err.find("more than the") != std::string::npos);  // auto chose streaming
  MESSAGE("peak resident memory (KiB): in memory (failed) "
          << rss_memory << ", streamed " << rss_streamed << ", auto " << rss_auto);
  CHECK(rss_streamed < 100 * 1024);
}
