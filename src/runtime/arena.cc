#include "runtime/arena.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace hone {
namespace {
constexpr size_t kAlign = 64;
// Room a slot takes in the block: the bytes plus the padding Buffer::Allocate promises.
size_t SlotSpan(size_t bytes) { return (bytes + 2 * kAlign - 1) / kAlign * kAlign; }
}  // namespace

std::shared_ptr<Buffer> AllocationRecorder::Allocate(size_t bytes, bool zero) {
  std::shared_ptr<Buffer> b = Buffer::Allocate(bytes, zero);
  live_.push_back(records_.size());
  records_.push_back({bytes, ++clock_, 0, b});
  return b;
}

void AllocationRecorder::AfterNode() {
  ++clock_;
  size_t kept = 0;
  for (size_t i : live_) {
    if (records_[i].buffer.expired()) {
      records_[i].died = clock_;
    } else {
      live_[kept++] = i;
    }
  }
  live_.resize(kept);
}

AllocationPlan AllocationRecorder::Finish() {
  AfterNode();
  std::vector<Lifetime> lifetimes;
  lifetimes.reserve(records_.size());
  for (const Record& r : records_)
    lifetimes.push_back({r.bytes, r.born, r.died, !r.buffer.expired()});
  return LayOut(lifetimes);
}

AllocationPlan LayOut(const std::vector<Lifetime>& lifetimes) {
  AllocationPlan plan;
  const size_t n = lifetimes.size();
  plan.slots.resize(n);
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i) {
    plan.slots[i].bytes = lifetimes[i].bytes;
    plan.slots[i].heap = lifetimes[i].heap;
    if (!lifetimes[i].heap) {
      order.push_back(i);
      plan.total_bytes += lifetimes[i].bytes;
    }
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lifetimes[a].bytes > lifetimes[b].bytes; });
  auto overlap_in_time = [&](size_t a, size_t b) {
    return lifetimes[a].born <= lifetimes[b].died && lifetimes[b].born <= lifetimes[a].died;
  };
  std::vector<size_t> placed;
  std::vector<std::pair<size_t, size_t>> busy;  // [offset, end) of live neighbours
  for (size_t i : order) {
    busy.clear();
    for (size_t j : placed)
      if (overlap_in_time(i, j))
        busy.emplace_back(plan.slots[j].offset,
                          plan.slots[j].offset + SlotSpan(plan.slots[j].bytes));
    std::sort(busy.begin(), busy.end());
    const size_t span = SlotSpan(lifetimes[i].bytes);
    size_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (begin >= offset + span) break;  // fits in the gap before this neighbour
      offset = std::max(offset, end);
    }
    plan.slots[i].offset = offset;
    plan.block_bytes = std::max(plan.block_bytes, offset + span);
    placed.push_back(i);
  }
  // A slot may be handed out only when the earlier slots sharing its bytes are free again.
  for (size_t a : placed)
    for (size_t b : placed) {
      if (lifetimes[a].born >= lifetimes[b].born) continue;
      const size_t a0 = plan.slots[a].offset, a1 = a0 + SlotSpan(plan.slots[a].bytes);
      const size_t b0 = plan.slots[b].offset, b1 = b0 + SlotSpan(plan.slots[b].bytes);
      if (a0 < b1 && b0 < a1) plan.slots[b].before.push_back(static_cast<uint32_t>(a));
    }
  return plan;
}

Arena::Arena(std::shared_ptr<const AllocationPlan> plan) : plan_(std::move(plan)) {
  const size_t bytes = std::max<size_t>(plan_->block_bytes, kAlign);
  void* p = std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
  if (p == nullptr) throw std::bad_alloc();
  block_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  slots_.resize(plan_->slots.size());
  for (size_t i = 0; i < slots_.size(); ++i) {
    const AllocationPlan::Slot& s = plan_->slots[i];
    if (s.heap) continue;
    slots_[i] = Buffer::Borrow(static_cast<char*>(p) + s.offset, s.bytes, block_);
  }
}

bool Arena::Begin() {
  for (const auto& s : slots_)
    if (s && s.use_count() > 1) return false;
  next_ = 0;
  diverged_ = false;
  return true;
}

long Arena::HeldReferences(const Buffer& b) const {
  const char* p = static_cast<const char*>(b.data());
  const char* base = static_cast<const char*>(block_.get());
  return p >= base && p < base + plan_->block_bytes ? 1 : 0;
}

std::shared_ptr<Buffer> Arena::Allocate(size_t bytes, bool zero) {
  if (!diverged_) {
    if (next_ >= slots_.size() || plan_->slots[next_].bytes != bytes) {
      diverged_ = true;
    } else {
      const size_t k = next_++;
      const AllocationPlan::Slot& s = plan_->slots[k];
      if (!s.heap) {
        bool free = slots_[k].use_count() == 1;
        for (uint32_t j : s.before) free = free && slots_[j].use_count() == 1;
        if (free) {
          char* p = static_cast<char*>(slots_[k]->data());
          if (zero) {
            std::memset(p, 0, SlotSpan(bytes));
          } else {
            std::memset(p + bytes, 0, SlotSpan(bytes) - bytes);  // the padding stays defined
          }
          return slots_[k];
        }
        diverged_ = true;
      }
    }
  }
  return Buffer::Allocate(bytes, zero);
}

}  // namespace hone
