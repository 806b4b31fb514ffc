// Emulator internals shared by emu.cpp (fiber scheduler) and emu_memory.cpp (allocator,
// guard pages, SIGSEGV → exception, fiber stacks). Not for kernel code.
#pragma once

#include <boost/context/stack_context.hpp>
#include <csignal>
#include <cstddef>
#include <string>
#include <vector>

namespace melgrad::emu::detail {

constexpr unsigned char kPoison = 0xFF;  // shared memory, device memory slack, guard canaries

// Thrown (from the SIGSEGV handler) in a kernel thread that touched an address it may not.
struct MemoryFault {
  const void* addr;
  bool write;  // known on x86-64; false (reported as "access") elsewhere
  bool known_write;
};

// What an address is, for a fault message: "12 bytes past the end of device allocation #3
// (400 bytes)", "null pointer", "not device memory".
std::string describe_address(const void* addr);

// True while the calling OS thread runs kernel code (a fiber): SIGSEGV becomes MemoryFault.
extern thread_local bool t_in_kernel;

// Installs the emulator's SIGSEGV handler (on an alternate signal stack) for the lifetime of
// a launch and restores whatever was there before (doctest installs its own per test case).
// Gives the calling thread (a worker of the concurrent schedule, which runs kernel code under
// the launching thread's FaultHandlerScope) an alternate signal stack for the rest of its life.
void use_alternate_signal_stack();

class FaultHandlerScope {
 public:
  FaultHandlerScope();
  ~FaultHandlerScope();
  FaultHandlerScope(const FaultHandlerScope&) = delete;
  FaultHandlerScope& operator=(const FaultHandlerScope&) = delete;

 private:
  struct sigaction old_segv_ {};
  struct sigaction old_bus_ {};
  stack_t old_altstack_{};
};

// Fiber stacks of one OS thread: mmap'ed, a PROT_NONE guard page below each, reused across
// blocks and launches. Size from MELGRAD_EMU_STACK_KIB (default 64).
class StackPool {
 public:
  StackPool();
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  boost::context::stack_context take();
  void give_back(const boost::context::stack_context& sc) noexcept;
  bool is_guard(const void* addr) const noexcept;  // async-signal-safe
  std::size_t stack_bytes() const { return stack_bytes_; }

 private:
  std::size_t stack_bytes_;
  std::size_t page_;
  std::vector<char*> all_;  // mapping base (= guard page) of every stack
  std::vector<boost::context::stack_context> free_;
};

// The StackPool of the calling OS thread (the signal handler reads it for overflow reports).
StackPool& thread_stack_pool();

// Boost.Context StackAllocator over a StackPool.
struct PooledStack {
  StackPool* pool;
  boost::context::stack_context allocate() { return pool->take(); }
  void deallocate(boost::context::stack_context& sc) noexcept { pool->give_back(sc); }
};

}  // namespace melgrad::emu::detail
