// Emulator memory: the "device" allocator (guard pages + poisoned slack), the guard checks
// run after every launch, fiber stacks with guard pages, and the SIGSEGV handler that turns
// a kernel's stray access into a MemoryFault exception (the emulator library and kernel code
// are compiled with -fnon-call-exceptions so that exception unwinds through kernel frames).
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>

#include "kernels/emu/emu.h"
#include "kernels/emu/emu_internal.h"

namespace melgrad::emu {
namespace {

std::size_t page_size() {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}
std::size_t align_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

// Slack before the user pointer that check_guards() inspects (the whole slack can be up to a
// page; checking a prefix keeps the per-launch cost small when many buffers are live).
constexpr std::size_t kFrontCheckBytes = 256;
constexpr std::size_t kAlign = 16;

//   map: [guard page][ ...front slack... | user bytes | tail slack <16 ][guard page]
struct Allocation {
  char* map = nullptr;
  std::size_t map_bytes = 0;
  char* user = nullptr;
  std::size_t bytes = 0;
  std::size_t rounded = 0;  // bytes rounded up to kAlign; user + rounded = after-guard page
  uint64_t id = 0;
  char* data_begin() const { return map + page_size(); }
  char* data_end() const { return user + rounded; }
};

struct Heap {
  std::mutex mutex;
  std::map<const char*, Allocation> by_user;  // keyed by user pointer
  uint64_t next_id = 1;
};
Heap& heap() {
  static Heap h;
  return h;
}

// The allocation whose user range, or guard pages, contain p (caller holds the mutex).
const Allocation* find_locked(const void* p, bool with_guards) {
  auto& allocs = heap().by_user;
  const char* c = static_cast<const char*>(p);
  auto it = allocs.upper_bound(c);
  // Candidates: the allocation starting at or before p, and (for the front guard) after it.
  if (it != allocs.begin()) {
    const Allocation& a = std::prev(it)->second;
    const char* hi = with_guards ? a.map + a.map_bytes : a.user + a.bytes;
    if (c <= hi && (c != hi || !with_guards)) return &a;
  }
  if (with_guards && it != allocs.end()) {
    const Allocation& a = it->second;
    if (c >= a.map) return &a;
  }
  return nullptr;
}

bool all_poison(const char* begin, const char* end, const char** first_bad) {
  for (const char* p = begin; p < end; ++p) {
    if (static_cast<unsigned char>(*p) != detail::kPoison) {
      *first_bad = p;
      return false;
    }
  }
  return true;
}

}  // namespace

void* malloc(std::size_t bytes) {
  const std::size_t page = page_size();
  Allocation a;
  a.bytes = bytes;
  a.rounded = align_up(std::max<std::size_t>(bytes, 1), kAlign);
  const std::size_t data_bytes = align_up(a.rounded, page);
  a.map_bytes = data_bytes + 2 * page;
  void* m = mmap(nullptr, a.map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    throw std::bad_alloc();
  }
  a.map = static_cast<char*>(m);
  mprotect(a.map, page, PROT_NONE);
  mprotect(a.map + page + data_bytes, page, PROT_NONE);
  a.user = a.map + page + data_bytes - a.rounded;
  std::memset(a.map + page, detail::kPoison, data_bytes);  // fresh device memory reads NaN
  std::lock_guard lock(heap().mutex);
  a.id = heap().next_id++;
  heap().by_user.emplace(a.user, a);
  return a.user;
}

void free(void* p) {
  if (p == nullptr) return;
  detail::note_unrecordable("freeing device memory");
  Allocation a;
  {
    std::lock_guard lock(heap().mutex);
    auto it = heap().by_user.find(static_cast<const char*>(p));
    if (it == heap().by_user.end()) {
      throw std::invalid_argument(
          "emu::free: pointer was not returned by emu::malloc (or was "
          "freed already)");
    }
    a = it->second;
    heap().by_user.erase(it);
  }
  munmap(a.map, a.map_bytes);
}

bool is_device_pointer(const void* p) {
  std::lock_guard lock(heap().mutex);
  return find_locked(p, false) != nullptr;
}

void check_guards(const char* kernel) {
  std::lock_guard lock(heap().mutex);
  for (const auto& [user, a] : heap().by_user) {
    const char* bad = nullptr;
    const char* front = std::max(a.data_begin(), a.user - kFrontCheckBytes);
    if (!all_poison(a.user + a.bytes, a.data_end(), &bad) || !all_poison(front, a.user, &bad)) {
      std::ostringstream os;
      const long off = bad - a.user;
      os << "kernel '" << kernel << "' wrote out of bounds of device allocation #" << a.id << " ("
         << a.bytes << " bytes): byte at offset " << off;
      if (off >= 0) {
        os << " (" << (off - static_cast<long>(a.bytes)) << " past the end)";
      } else {
        os << " (before the start)";
      }
      os << " was modified";
      // Re-poison, so that the report comes once and later launches start clean.
      std::memset(a.user + a.bytes, detail::kPoison,
                  static_cast<std::size_t>(a.data_end() - (a.user + a.bytes)));
      std::memset(const_cast<char*>(front), detail::kPoison,
                  static_cast<std::size_t>(a.user - front));
      throw KernelError(os.str());
    }
  }
}

namespace detail {

thread_local bool t_in_kernel = false;

std::string describe_address(const void* addr) {
  std::ostringstream os;
  os << addr;
  if (reinterpret_cast<uintptr_t>(addr) < page_size()) {
    return os.str() + " (null pointer)";
  }
  std::lock_guard lock(heap().mutex);
  const Allocation* a = find_locked(addr, true);
  const char* c = static_cast<const char*>(addr);
  if (a != nullptr) {
    if (c >= a->user + a->bytes) {
      os << " (" << (c - (a->user + a->bytes)) << " bytes past the end of device allocation #"
         << a->id << " of " << a->bytes << " bytes)";
    } else if (c < a->user) {
      os << " (" << (a->user - c) << " bytes before the start of device allocation #" << a->id
         << " of " << a->bytes << " bytes)";
    }
    return os.str();
  }
  return os.str() + " (not device memory)";
}

// ---- fiber stacks ----
StackPool::StackPool() : page_(page_size()) {
  std::size_t kib = 64;
  if (const char* env = std::getenv("MELGRAD_EMU_STACK_KIB")) {
    kib = std::max<std::size_t>(16, std::strtoul(env, nullptr, 10));
  }
  stack_bytes_ = align_up(kib * 1024, page_);
}

StackPool::~StackPool() {
  for (char* base : all_) munmap(base, stack_bytes_ + page_);
}

boost::context::stack_context StackPool::take() {
  if (free_.empty()) {
    void* m = mmap(nullptr, stack_bytes_ + page_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    char* base = static_cast<char*>(m);
    mprotect(base, page_, PROT_NONE);  // stacks grow down: the guard is below
    all_.push_back(base);
    boost::context::stack_context sc;
    sc.size = stack_bytes_;
    sc.sp = base + page_ + stack_bytes_;
    free_.push_back(sc);
  }
  boost::context::stack_context sc = free_.back();
  free_.pop_back();
  return sc;
}

void StackPool::give_back(const boost::context::stack_context& sc) noexcept { free_.push_back(sc); }

bool StackPool::is_guard(const void* addr) const noexcept {
  const char* c = static_cast<const char*>(addr);
  for (char* base : all_) {
    if (c >= base && c < base + page_) return true;
  }
  return false;
}

StackPool& thread_stack_pool() {
  thread_local StackPool pool;
  return pool;
}

// ---- SIGSEGV → MemoryFault ----
namespace {

constexpr std::size_t kAltStackBytes = 64 * 1024;

void on_fault(int sig, siginfo_t* info, void* uctx) {
  if (!t_in_kernel) {
    // Not a kernel access: fall back to the default action (the fault re-executes).
    signal(sig, SIG_DFL);
    return;
  }
  if (thread_stack_pool().is_guard(info->si_addr)) {
    static const char msg[] =
        "melgrad emulator: a kernel thread overflowed its fiber stack; raise "
        "MELGRAD_EMU_STACK_KIB (default 64)\n";
    [[maybe_unused]] const ssize_t n = write(2, msg, sizeof(msg) - 1);
    std::abort();
  }
  MemoryFault fault{info->si_addr, false, false};
#if defined(__x86_64__)
  const auto* uc = static_cast<const ucontext_t*>(uctx);
  fault.write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;  // page-fault error code: W bit
  fault.known_write = true;
#else
  (void)uctx;
#endif
  throw fault;  // unwinds through the kernel frames (-fnon-call-exceptions) to the fiber entry
}

stack_t thread_alt_stack() {
  thread_local std::vector<char> alt_stack(kAltStackBytes);
  stack_t ss{};
  ss.ss_sp = alt_stack.data();
  ss.ss_size = alt_stack.size();
  return ss;
}

}  // namespace

void use_alternate_signal_stack() {
  const stack_t ss = thread_alt_stack();
  sigaltstack(&ss, nullptr);
}

FaultHandlerScope::FaultHandlerScope() {
  const stack_t ss = thread_alt_stack();
  sigaltstack(&ss, &old_altstack_);
  struct sigaction sa {};
  sa.sa_sigaction = on_fault;
  sigemptyset(&sa.sa_mask);
  // SA_NODEFER: the handler is left by an exception, not by returning, so the signal must
  // not stay blocked.
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigaction(SIGSEGV, &sa, &old_segv_);
  sigaction(SIGBUS, &sa, &old_bus_);
}

FaultHandlerScope::~FaultHandlerScope() {
  sigaction(SIGSEGV, &old_segv_, nullptr);
  sigaction(SIGBUS, &old_bus_, nullptr);
  if (old_altstack_.ss_sp != nullptr && (old_altstack_.ss_flags & SS_DISABLE) == 0) {
    sigaltstack(&old_altstack_, nullptr);
  } else {
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
  }
}

}  // namespace detail
}  // namespace melgrad::emu
