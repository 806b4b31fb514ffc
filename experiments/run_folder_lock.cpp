// Run-folder lock, unique default names and --force replacement (see run_folder_lock.h).
#include "experiments/run_folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "datasets/file_io.h"
#include "experiments/run_folder.h"

namespace fs = std::filesystem;

namespace melgrad::experiments {

RunFolderLock::RunFolderLock(const std::string& dir) {
  const std::string path = (fs::path(dir) / kRunLockFile).string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw std::runtime_error("cannot lock run folder '" + dir + "': cannot create '" + path +
                             "': " + std::strerror(errno) + " (is the folder writable?)");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char holder[32] = {0};
    const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (error != EWOULDBLOCK)
      throw std::runtime_error("cannot lock run folder '" + dir + "': " + std::strerror(error));
    std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "?";
    pid.erase(std::remove(pid.begin(), pid.end(), '\n'), pid.end());
    throw std::runtime_error("run folder '" + dir + "' is in use by another melgrad process (pid " +
                             pid + "); wait for it to end or choose another --out");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // The PID is only for messages; the lock itself is held.
  }
}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

RunFolderLock& RunFolderLock::operator=(RunFolderLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

std::string create_unique_run_dir(const std::string& base) {
  std::error_code ec;
  const fs::path parent = fs::path(base).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) throw std::runtime_error("cannot create '" + parent.string() + "': " + ec.message());
  for (int suffix = 1; suffix <= 10000; ++suffix) {
    const std::string name = suffix == 1 ? base : base + "-" + std::to_string(suffix);
    // mkdir is atomic: of two processes asking for one name, exactly one gets it.
    if (fs::create_directory(name, ec)) return name;
    if (ec) throw std::runtime_error("cannot create run folder '" + name + "': " + ec.message());
  }
  throw std::runtime_error("cannot find a free run folder name after '" + base + "-10000'");
}

std::vector<std::string> run_folder_entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    long pid = 0;
    if (name == kRunLockFile) continue;
    if (data::temp_name_pid(name, pid) && !data::process_running(pid)) continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void replace_run_files(const std::string& dir) {
  std::vector<std::string> run_files, foreign;
  for (const std::string& name : run_folder_entries(dir)) {
    const bool ours = std::find_if(std::begin(kRunFiles), std::end(kRunFiles),
                                   [&](const char* f) { return name == f; }) != std::end(kRunFiles);
    (ours ? run_files : foreign).push_back(name);
  }
  if (!foreign.empty()) {
    std::string list;
    for (size_t i = 0; i < foreign.size() && i < 3; ++i) list += (i ? ", " : "") + foreign[i];
    if (foreign.size() > 3) list += ", ... (" + std::to_string(foreign.size()) + " in all)";
    throw std::runtime_error("run folder '" + dir + "' holds files that are not a run's (" + list +
                             "); --force replaces only a run's own files, so nothing was removed: "
                             "move them away or choose another --out");
  }
  if (run_files.empty()) return;
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw std::runtime_error("run folder '" + dir + "' is not writable (" + std::strerror(errno) +
                             "); --force cannot replace its run, nothing was removed");
  // Aside under a temp name of this process: if we die before deleting it, the next run
  // finds a temp of a dead process and removes it.
  const fs::path aside = fs::path(dir) / (".replaced.tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::create_directory(aside, ec);
  if (ec)
    throw std::runtime_error("cannot replace the run in '" + dir + "': cannot create '" +
                             aside.string() + "': " + ec.message() + "; nothing was removed");
  std::vector<std::string> moved;
  for (const std::string& name : run_files) {
    fs::rename(fs::path(dir) / name, aside / name, ec);
    if (!ec) {
      moved.push_back(name);
      continue;
    }
    const std::string reason = ec.message();
    for (const std::string& back : moved) fs::rename(aside / back, fs::path(dir) / back, ec);
    fs::remove(aside, ec);
    throw std::runtime_error("cannot move '" + (fs::path(dir) / name).string() +
                             "' aside: " + reason + "; the run in '" + dir + "' is left as it was");
  }
  fs::remove_all(aside, ec);  // a failure leaves a stale temp, removed by the next run
}

}  // namespace melgrad::experiments
