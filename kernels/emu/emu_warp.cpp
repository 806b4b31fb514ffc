// The emulator's warp collectives: shuffles, votes, __syncwarp and reductions complete when
// every live lane named in the mask has arrived at the same collective with the same mask;
// a collective that can never complete is reported with what each missing lane waits at.
#include <algorithm>
#include <string>

#include "kernels/emu/emu_runner.h"

namespace melgrad::emu::detail {

uint64_t Runner::warp_op(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                         const std::source_location& w) {
  Thread& t = running();
  if ((mask & (1u << t.ctx.lane)) == 0) {
    // Thrown inside the kernel thread; fail_thread() adds kernel, block and thread.
    throw KernelError(std::string("calls ") + op_name(op) + " at " + site_str(w) + " with mask " +
                      hex(mask) + " that does not name its own lane " + std::to_string(t.ctx.lane));
  }
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
    throw KernelError(std::string(op_name(op)) + " at " + site_str(w) + ": width " +
                      std::to_string(width) + " is not a power of two in 1..32");
  }
  t.status = Status::warp;
  t.op = op;
  t.mask = mask;
  t.value = value;
  t.param = param;
  t.width = width;
  t.where = w;
  suspend(t);
  return t.result;
}

unsigned Runner::warp_end(unsigned base) const {
  const Block& b = blocks_[threads_[base].block];
  return std::min(base + 32u, b.first + block_threads_);
}

unsigned Runner::active_mask() const {
  const unsigned base = blocks_[running_->block].first + running_->linear / 32 * 32;
  const unsigned end = warp_end(base);
  unsigned m = 0;
  for (unsigned l = 0; base + l < end; ++l) {
    if (threads_[base + l].status != Status::done) m |= 1u << l;
  }
  return m;
}

// Completes the collectives of the warp starting at thread `base` whose participants (live
// lanes named in the mask) have all arrived with the same op and mask.
bool Runner::complete_warp(unsigned base) {
  bool progressed = false;
  {
    const unsigned lanes = warp_end(base) - base;
    Thread* w = &threads_[base];
    unsigned alive = 0, waiting = 0;
    for (unsigned l = 0; l < lanes; ++l) {
      if (w[l].status != Status::done) alive |= 1u << l;
      if (w[l].status == Status::warp) waiting |= 1u << l;
    }
    unsigned seen = 0;
    for (unsigned l = 0; l < lanes; ++l) {
      if (!(waiting & (1u << l)) || (seen & (1u << l))) continue;
      const unsigned mask = w[l].mask;
      const unsigned part = mask & alive;
      bool ready = true;
      for (unsigned p = 0; p < lanes; ++p) {
        if (!(part & (1u << p))) continue;
        if (w[p].status != Status::warp || w[p].mask != mask) {
          ready = false;
        } else if (w[p].op != w[l].op) {
          fail(blocks_[w[l].block],
               "warp " + std::to_string(w[l].linear / 32) + " diverges: lane " + std::to_string(l) +
                   " calls " + op_name(w[l].op) + " at " + site_str(w[l].where) + " but lane " +
                   std::to_string(p) + " calls " + op_name(w[p].op) + " at " +
                   site_str(w[p].where) + " (mask " + hex(mask) + ")");
        }
      }
      for (unsigned p = 0; p < lanes; ++p) {
        if ((waiting & (1u << p)) && w[p].mask == mask) seen |= 1u << p;
      }
      if (!ready) continue;
      // Compute each participant's result.
      uint64_t votes = 0;
      uint32_t sum = 0, mn_u = ~0u, mx_u = 0, band = ~0u, bor = 0, bxor = 0;
      int32_t mn_s = INT32_MAX, mx_s = INT32_MIN;
      for (unsigned p = 0; p < lanes; ++p) {
        if (!(part & (1u << p))) continue;
        const uint32_t v = static_cast<uint32_t>(w[p].value);
        if (w[p].value != 0) votes |= 1u << p;
        sum += v;
        mn_u = std::min(mn_u, v);
        mx_u = std::max(mx_u, v);
        mn_s = std::min(mn_s, static_cast<int32_t>(v));
        mx_s = std::max(mx_s, static_cast<int32_t>(v));
        band &= v;
        bor |= v;
        bxor ^= v;
      }
      for (unsigned p = 0; p < lanes; ++p) {
        if (!(part & (1u << p))) continue;
        Thread& t = w[p];
        const int width = t.width;
        const int seg = static_cast<int>(p) & ~(width - 1);
        int src = static_cast<int>(p);
        switch (t.op) {
          case WarpOp::shfl_idx:
            src = seg + (((t.param % width) + width) % width);
            break;
          case WarpOp::shfl_up:
            src = static_cast<int>(p) - t.param;
            if (src < seg) src = static_cast<int>(p);
            break;
          case WarpOp::shfl_down:
            src = static_cast<int>(p) + t.param;
            if (src >= seg + width) src = static_cast<int>(p);
            break;
          case WarpOp::shfl_xor:
            src = static_cast<int>(p) ^ t.param;
            if (src >= seg + width) src = static_cast<int>(p);
            break;
          default:
            break;
        }
        switch (t.op) {
          case WarpOp::shfl_idx:
          case WarpOp::shfl_up:
          case WarpOp::shfl_down:
          case WarpOp::shfl_xor:
            // Reading a lane that does not take part is undefined in CUDA: give poison.
            t.result = (src >= 0 && src < 32 && (part & (1u << src))) ? w[src].value : ~uint64_t{0};
            break;
          case WarpOp::ballot:
            t.result = (uint64_t{part} << 32) | votes;
            break;
          case WarpOp::sync:
            t.result = 0;
            break;
          case WarpOp::reduce_add:
            t.result = sum;
            break;
          case WarpOp::reduce_min_u:
            t.result = mn_u;
            break;
          case WarpOp::reduce_max_u:
            t.result = mx_u;
            break;
          case WarpOp::reduce_min_s:
            t.result = static_cast<uint32_t>(mn_s);
            break;
          case WarpOp::reduce_max_s:
            t.result = static_cast<uint32_t>(mx_s);
            break;
          case WarpOp::reduce_and:
            t.result = band;
            break;
          case WarpOp::reduce_or:
            t.result = bor;
            break;
          case WarpOp::reduce_xor:
            t.result = bxor;
            break;
        }
      }
      for (unsigned p = 0; p < lanes; ++p) {
        if (part & (1u << p)) make_runnable(base + p);
      }
      progressed = true;
    }
  }
  return progressed;
}

// Nothing can run and nothing can complete: say what each stuck warp collective waits for.
void Runner::report_stall() {
  for (const Thread& t : threads_) {
    if (t.status != Status::warp) continue;
    const unsigned base = blocks_[t.block].first + t.linear / 32 * 32;
    for (unsigned p = 0; base + p < warp_end(base); ++p) {
      const Thread& o = threads_[base + p];
      if (!(t.mask & (1u << p)) || o.status == Status::done) continue;
      std::string why;
      if (o.status == Status::barrier) {
        why = "waits at __syncthreads at " + site_str(o.where);
      } else if (o.status == Status::grid) {
        why = "waits at mg_grid_sync at " + site_str(o.where);
      } else if (o.status == Status::warp && o.mask != t.mask) {
        why = "waits at " + std::string(op_name(o.op)) + " at " + site_str(o.where) +
              " with mask " + hex(o.mask);
      } else {
        continue;
      }
      fail(blocks_[t.block], "warp collective cannot complete: thread " +
                                 dim_str(t.ctx.thread_idx) + " waits at " + op_name(t.op) + " at " +
                                 site_str(t.where) + " with mask " + hex(t.mask) +
                                 ", which names lane " + std::to_string(p) + " (thread " +
                                 dim_str(o.ctx.thread_idx) + ") that " + why);
    }
  }
  fail(blocks_[0], "deadlock: no thread can make progress");
}

}  // namespace melgrad::emu::detail
