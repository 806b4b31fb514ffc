// Run-folder helpers (see run_folder.h).
#include "experiments/run_folder.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "datasets/file_io.h"

namespace fs = std::filesystem;

namespace melgrad::experiments {

static std::string format_utc(const char* format) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string iso_time_now() { return format_utc("%Y-%m-%dT%H:%M:%SZ"); }

std::string default_run_dir(const std::string& command) {
  return create_unique_run_dir("runs/" + command + "-" + format_utc("%Y%m%d-%H%M%S"));
}

static void refuse_if_not_empty(const std::string& dir) {
  if (!run_folder_entries(dir).empty())
    throw std::runtime_error("run folder '" + dir +
                             "' is not empty; pass --resume to continue its run, --force to "
                             "overwrite it, or choose another --out");
}

RunFolderLock prepare_run_dir(const std::string& dir, RunDirMode mode) {
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  if (exists && !fs::is_directory(dir, ec))
    throw std::runtime_error("run folder '" + dir + "' exists and is not a folder");
  if (mode == RunDirMode::resume)
    for (const char* f : {"config.json", "last.h5"})
      if (!fs::exists(fs::path(dir) / f))
        throw std::runtime_error("cannot resume: '" + (fs::path(dir) / f).string() +
                                 "' is missing (was the run started with this --out?)");
  if (exists && mode == RunDirMode::fresh) refuse_if_not_empty(dir);  // before leaving a lock file
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create run folder '" + dir + "': " + ec.message());
  RunFolderLock lock(dir);
  data::report_stale_temps(data::remove_stale_temps(dir), dir);
  if (mode == RunDirMode::force) replace_run_files(dir);
  if (mode != RunDirMode::resume) refuse_if_not_empty(dir);  // another process's files since
  return lock;
}

RunFolderLock lock_parent_run_dir(const std::string& dir, bool fresh) {
  if (fresh) return prepare_run_dir(dir, RunDirMode::fresh);
  fs::create_directories(dir);
  return RunFolderLock(dir);
}

void write_json_file(const std::string& path, const nlohmann::json& value) {
  data::write_file_atomic(path, value.dump(2) + "\n");
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("'" + path + "' is not valid JSON: " + e.what());
  }
}

void append_json_line(const std::string& path, const nlohmann::json& value) {
  const std::string line = value.dump() + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  const bool written = fd >= 0 && ::write(fd, line.data(), line.size()) == ssize_t(line.size());
  const std::string reason = std::strerror(errno);  // e.g. "No space left on device"
  if (fd >= 0) ::close(fd);
  if (!written) throw std::runtime_error("cannot append to '" + path + "': " + reason);
}

std::vector<nlohmann::json> read_json_lines(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      lines.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error("'" + path + "' line " + std::to_string(number) +
                               " is not valid JSON: " + e.what());
    }
  }
  return lines;
}

void truncate_log(const std::string& path, int64_t last_epoch) {
  if (!fs::exists(path)) return;
  std::string kept;
  for (const nlohmann::json& line : read_json_lines(path))
    if (line.value("epoch", int64_t(0)) <= last_epoch) kept += line.dump() + "\n";
  data::write_file_atomic(path, kept);
}

DataInfo describe_data_dir(const std::string& dir) {
  DataInfo info;
  std::error_code ec;
  info.path = fs::absolute(dir, ec).lexically_normal().string();
  if (info.path.empty()) info.path = dir;
  std::ifstream marker(fs::path(dir) / "melgrad-synthetic.txt");
  if (!marker) {
    info.name = "patreco3 at " + info.path;
    return info;
  }
  info.synthetic = true;
  std::string line, size = "?", seed = "?";
  while (std::getline(marker, line)) {
    if (line.rfind("size ", 0) == 0) size = line.substr(5);
    if (line.rfind("seed ", 0) == 0) seed = line.substr(5);
  }
  info.name = "synthetic patreco3 (" + size + ", seed " + seed + ")";
  return info;
}

}  // namespace melgrad::experiments
