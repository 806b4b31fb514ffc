// Run folders that two processes cannot share and --force cannot half-delete:
//   - RunFolderLock: an exclusive flock(2) on RUN_DIR/.melgrad.lock, held while a run writes
//     its folder. The kernel drops it when the process ends, however it ends (kill -9
//     included), so a lock is never left behind by a dead run. The file keeps the holder's
//     PID for the error message of the process that is refused.
//   - create_unique_run_dir: the default "runs/<command>-<time>" made with mkdir, adding
//     "-2", "-3", ... when the name exists, so runs started in the same second never share.
//   - replace_run_files (--force): checks everything first (no foreign files, the folder is
//     writable), then moves the old run's files aside one rename each (put back if one
//     fails) and only then deletes them.
#pragma once

#include <string>
#include <vector>

namespace melgrad::experiments {

constexpr const char* kRunLockFile = ".melgrad.lock";

class RunFolderLock {
 public:
  RunFolderLock() = default;
  // Takes the lock of the existing folder `dir` without waiting; throws when another process
  // holds it (naming its PID) or when the lock file cannot be created (naming the reason).
  explicit RunFolderLock(const std::string& dir);
  ~RunFolderLock();
  RunFolderLock(RunFolderLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunFolderLock& operator=(RunFolderLock&& other) noexcept;
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Creates `base` (its parent too), or `base-2`, `base-3`, ... when taken; returns the name.
std::string create_unique_run_dir(const std::string& base);

// Entries of `dir` other than the lock file, and temp files of processes that are gone.
std::vector<std::string> run_folder_entries(const std::string& dir);

// --force on a locked folder: replaces nothing and throws when the folder holds anything
// but a run's files (kRunFiles) or is not writable; otherwise removes the run's files as
// described above. Leaves the folder holding only the lock file.
void replace_run_files(const std::string& dir);

}  // namespace melgrad::experiments
