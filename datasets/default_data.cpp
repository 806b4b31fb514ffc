// Cache folder and the embedded default data set, generated on first use (default_data.h).
#include "datasets/default_data.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "datasets/file_io.h"

namespace fs = std::filesystem;

namespace melgrad::data {

std::string cache_root() {
  if (const char* c = std::getenv("MELGRAD_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/melgrad";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/melgrad";
  return ".cache/melgrad";
}

namespace {

// Removes "<name>.staging-<pid>[.tmp-<pid>]" folders left by generators that no longer run.
void remove_stale_temps(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  const std::string prefix = name + ".staging-";  // also matches make_dataset's own ".tmp-"
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(n.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0) fs::remove_all(e.path(), ec);
  }
}

}  // namespace

std::string default_data_dir(DatasetSize size, uint64_t seed, bool log) {
  const fs::path dir = fs::path(cache_root()) / "datasets";
  const std::string name = "patreco3-synthetic-" + dataset_size_name(size) + "-seed" +
                           std::to_string(seed) + "-v" + std::to_string(kGeneratorVersion);
  const fs::path target = dir / name;
  if (fs::is_regular_file(target / "melgrad-synthetic.txt")) return target.string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw DataError("cannot create the cache folder '" + dir.string() + "': " + ec.message() +
                    " (set MELGRAD_CACHE to a writable folder, or pass --data)");
  remove_stale_temps(dir, name);
  if (log)
    std::fprintf(stderr, "melgrad: generating the embedded %s data set (seed %llu) into %s\n",
                 dataset_size_name(size).c_str(), static_cast<unsigned long long>(seed),
                 target.string().c_str());
  // Generate under a private name, then move into place; if another process got there
  // first, its complete copy is used and ours is dropped.
  const fs::path staging = dir / (name + ".staging-" + std::to_string(::getpid()));
  fs::remove_all(staging, ec);
  SynthOptions opts;
  opts.size = size;
  opts.seed = seed;
  make_dataset(staging.string(), opts);
  fs::rename(staging, target, ec);
  if (ec) {
    fs::remove_all(staging, ec);
    if (!fs::is_regular_file(target / "melgrad-synthetic.txt"))
      throw DataError("cannot move the generated data set into '" + target.string() + "'");
  }
  if (log)
    std::fprintf(stderr, "melgrad: embedded data set ready at %s\n", target.string().c_str());
  return target.string();
}

std::string resolve_data_dir(const std::string& data_arg, uint64_t seed) {
  if (!data_arg.empty()) return data_arg;
  return default_data_dir(DatasetSize::small, seed);
}

}  // namespace melgrad::data
