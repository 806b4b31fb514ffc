// The transport of data-parallel training: the collectives ranks use to agree (all-reduce,
// broadcast, all-gather, barrier), over MPI for CPU buffers and NCCL for CUDA tensors.
//
//   all_reduce_start(x)   x: float32, contiguous, same numel on every rank; sum in place
//   broadcast(x, root)    any dtype, contiguous; root's values everywhere
//   all_gather(x)         x: [n...] -> [size, n...] in rank order
//   broadcast_bytes / all_gather_bytes: metadata (config, checkpoint state, predictions)
//
// One world per process (`world()`, created on first use, like the device singletons):
// under mpirun (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK in the environment) it is
// MPI_COMM_WORLD; otherwise a single-process world whose collectives are identities and
// which never starts MPI, so a plain `melgrad genre` runs exactly as before.
//
// Faults: every wait polls its request against a deadline (`set_timeout`, default 60 s).
// When it passes, the waiting rank asks the other ranks who is still alive (a short
// roll call over point-to-point messages) and throws DistTimeout naming the ranks that did
// not answer, so a rank that died or hangs never leaves the others hanging.
//
// Progress: under mpirun a progress thread drives MPI while a collective is outstanding, so a
// gradient bucket started during the backward moves while the backward computes
// (mpi_transport.cpp; MELGRAD_MPI_PROGRESS=calls turns it off).
//
// Determinism: a reduction's order is fixed by the MPI library's algorithm for a given
// size and count (OpenMPI chooses it from those alone, not from when it progresses), so
// reruns are bit-identical.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace melgrad::dist {

// A collective that does not arrive within the deadline; what() names the missing ranks.
class DistTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A started collective; wait() returns once this rank's part is done.
class Pending {
 public:
  virtual ~Pending() = default;
  virtual bool test() = 0;  // progresses the collective; true once done
  virtual void wait() = 0;  // until done or the deadline (DistTimeout)
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;  // "mpi", "nccl", "single process"

  // Sum of x over ranks, in place, started now (x: float32, contiguous). x must stay alive
  // and untouched until the returned collective's wait().
  virtual std::unique_ptr<Pending> all_reduce_start(Tensor& x) = 0;
  void all_reduce(Tensor& x) { all_reduce_start(x)->wait(); }
  virtual void broadcast(Tensor& x, int root) = 0;
  virtual Tensor all_gather(const Tensor& x) = 0;
  virtual void barrier() = 0;

  // Host bytes: root's buffer everywhere (receivers are resized); every rank's buffer, in
  // rank order (sizes may differ).
  virtual void broadcast_bytes(std::string& bytes, int root) = 0;
  virtual std::vector<std::string> all_gather_bytes(const std::string& bytes) = 0;

  void set_timeout(double seconds) { timeout_seconds_ = seconds; }
  double timeout() const { return timeout_seconds_; }

 protected:
  double timeout_seconds_ = 60;
};

// The process's world (see above). The first call under mpirun starts MPI.
Transport& world();
// True when this process was started by mpirun (without starting MPI).
bool launched_by_mpi();
// Ends MPI in an orderly way (all ranks), or kills the whole job after an error on one rank
// (MPI_Abort): the other ranks may be waiting in a collective this rank will never join.
void finalize();
void abort_job(int exit_code);

// The collectives of one device: the world's MPI for CPU tensors; NCCL for CUDA tensors
// where the build has it (nccl_transport.h), else an error naming the device.
Transport& transport_for(Device device);

// Builds the CUDA tensors' transport over the world (its unique id shared over MPI). The
// NCCL library of the GPU build registers one from a static initialiser.
using DeviceTransportFactory = std::unique_ptr<Transport> (*)(Transport& world);
void register_device_transport(DeviceTransportFactory factory);
// The registered factory's transport over `world` (throws when the build has none).
std::unique_ptr<Transport> make_device_transport(Transport& world);

// A single-process world: every collective returns its input.
std::unique_ptr<Transport> make_single_process_transport();

}  // namespace melgrad::dist
