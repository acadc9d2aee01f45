// Activation memory planned per input-shape signature.
//
// The first run of a signature records every buffer the kernels allocate through their
// ComputeContext: its size, and when the last reference to it died, on a clock that ticks once per
// allocation and once after each node (AllocationRecorder). LayOut then packs those lifetimes into
// one block, largest first (buffers whose lifetimes overlap never share bytes), and later runs of
// the signature lease an Arena over that block and take their buffers from it in the same order:
// no allocation, no page faults, and a footprint of the peak of live activations rather than their
// sum. In-place reuse needs nothing here: a kernel that writes over a dying input
// (ComputeContext::InputDiesHere) allocates nothing, so that buffer simply lives longer.
//
// Recording rather than a static shape pass: kernels already compute their output shapes in
// Compute, so replaying the run's own requests needs no second shape function per kernel. The cost
// is that a run must be checked against the recording: an Arena hands out a recorded slot only
// when the request has the recorded size and every buffer that shared the slot's bytes earlier in
// the recorded run is free again; the first request that differs (data-dependent shapes) turns the
// rest of the run to the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "hone/tensor.h"

namespace hone {

struct AllocationPlan {
  struct Slot {
    size_t bytes = 0;              // requested size
    size_t offset = 0;             // in the block
    bool heap = false;             // outlives the run (a graph output): never in the block
    std::vector<uint32_t> before;  // earlier slots that share bytes with this one
  };
  std::vector<Slot> slots;  // in request order
  size_t block_bytes = 0;
  size_t total_bytes = 0;  // sum of the slots' sizes (what separate allocations would take)
};

// Where a run's kernels get their output buffers (Frame::allocator). Null means the heap.
class RunAllocator {
 public:
  virtual ~RunAllocator() = default;
  // 64-byte aligned, padded by 64 bytes; zeroed when `zero`.
  virtual std::shared_ptr<Buffer> Allocate(size_t bytes, bool zero) = 0;
  // Called after each node has run and released its dead inputs.
  virtual void AfterNode() {}
  // References to `b` the allocator itself holds (an arena keeps one to each of its slots).
  virtual long HeldReferences(const Buffer& b) const { return 0; }
};

class AllocationRecorder : public RunAllocator {
 public:
  std::shared_ptr<Buffer> Allocate(size_t bytes, bool zero) override;
  void AfterNode() override;
  // Buffers still referenced now outlive the run and stay on the heap; the rest get a place.
  AllocationPlan Finish();

 private:
  struct Record {
    size_t bytes;
    uint64_t born;
    uint64_t died;
    std::weak_ptr<Buffer> buffer;
  };
  std::vector<Record> records_;
  std::vector<size_t> live_;  // indices into records_
  uint64_t clock_ = 0;
};

// Places buffers with [born, died] lifetimes in one block (greedy by size, first fit).
struct Lifetime {
  size_t bytes;
  uint64_t born;
  uint64_t died;
  bool heap;
};
AllocationPlan LayOut(const std::vector<Lifetime>& lifetimes);

// One run at a time over a block laid out by an AllocationPlan.
class Arena : public RunAllocator {
 public:
  explicit Arena(std::shared_ptr<const AllocationPlan> plan);
  // Starts a run; false when a buffer of an earlier run is still referenced (the arena must not
  // be reused then).
  bool Begin();
  std::shared_ptr<Buffer> Allocate(size_t bytes, bool zero) override;
  // True once a request differed from the recording (the rest of that run used the heap).
  bool diverged() const { return diverged_; }
  long HeldReferences(const Buffer& b) const override;
  size_t block_bytes() const { return plan_->block_bytes; }

 private:
  std::shared_ptr<const AllocationPlan> plan_;
  std::shared_ptr<void> block_;  // co-owned by every slot buffer (they may outlive the arena)
  std::vector<std::shared_ptr<Buffer>> slots_;  // borrowed views of block_, one per slot
  size_t next_ = 0;
  bool diverged_ = false;
};

}  // namespace hone
