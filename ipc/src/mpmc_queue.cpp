// MpmcQueue: the ordering contract (Dmitry Vyukov's bounded MPMC queue, checked against an
// untrusted peer).
//
// Every slot has a sequence number s. For position p, which uses slot p & mask:
//   s == p       the slot is free for the push that claims p;
//   s == p + 1   the slot holds the item pushed at p, for the pop that claims p;
//   the pop at p sets s = p + capacity: free for the push one lap later.
//
//   push (any thread)                               pop (any thread)
//   ---------------------------------------------   ---------------------------------------------
//   [E1] p = load enqueue_pos (acquire)             [D1] p = load dequeue_pos (acquire)
//   [E2] s = load slot.sequence (acquire)           [D2] s = load slot.sequence (acquire)
//   [E3] s == p: CAS enqueue_pos p -> p+1 (acq_rel) [D3] s == p+1: CAS dequeue_pos p -> p+1 (acq_rel)
//   [E4] copy the item into the slot                [D4] copy the item out of the slot
//   [E5] store slot.sequence = p + 1 (release)      [D5] store slot.sequence = p + capacity (release)
//
// E5 -> D2: a pop that sees s == p + 1 sees the bytes the push at p copied in.
// D5 -> E2: a push that sees s == p one lap later knows the pop has finished copying out.
// The CAS (E3, D3) decides which thread owns position p; only its winner touches the slot's
// bytes, and a failed CAS hands back the newer position to try.
//
// The data needs only the slot sequences; Vyukov's positions are relaxed. Here they are acquire
// and release so that the window checks below are exact rather than heuristic: a thread that
// loads position p (E1, D1, or a failed CAS, from the release sequence of the CAS that made it)
// also sees every slot sequence the claimers of the positions before p saw. That gives, for a
// thread at position p with capacity c:
//
//   push sees s <  p:  legal only for p - c <= s (the push at p - c saw s == p - c). The slot is
//                      still in use one lap behind: the queue is full. Below: corrupt.
//   push sees s >  p:  legal only if another push claimed p, whose CAS happens before its E5 and
//                      so before our E2: reloading enqueue_pos must give a later position. If it
//                      does not, the sequence is corrupt.
//   pop  sees s <  p + 1:  legal only for p - c + 1 <= s (the pop at p - c saw s == p - c + 1).
//                      The item is not published yet: the queue is empty. Below: corrupt.
//   pop  sees s >  p + 1:  legal only if another pop claimed p (its D3 precedes its D5 = p + c,
//                      and c >= 2 makes that > p + 1): dequeue_pos must have moved on.
//
// On x86 the acquire loads and acq_rel CAS cost nothing over relaxed ones.
//
// Trust: slots are addressed as position & mask with the object's own mask and stride, taken
// from the validated header at open, so no position or sequence a peer writes can address memory
// outside the slots. A value outside its window trips the fault latch, after which this object
// refuses every call. Each call makes at most kMaxRaces attempts, so a peer that keeps rewriting
// a position cannot hold a caller in the loop. A peer that writes values inside the windows can
// stall the queue or pass garbage items, but cannot do more.
//
// Claimers that die (layout 2). Right after its CAS a claimer names itself in the slot [N]:
// pid, pid namespace, start time, guest, incarnation (relaxed), then claim = position << 2 | role
// (seq_cst). A caller held up at a slot whose claimer is slow to finish (a pop at p finding the
// push at p unpublished while enqueue_pos > p; a push finding the pop one lap behind unreleased
// while dequeue_pos has passed it) counts its sightings in a process-local ClaimWatch and, on the
// 8th and every 64th after, judges the claimer:
//   - named (claim matches) and shown dead by claimer_is_dead(): CAS the sequence from what the
//     claimer left (`held`) to `taken`: (p + 1) | Skipped for a push (the pop at p passes it),
//     p + capacity for a pop (the item is lost; the push one lap later may go).
//   - not named yet, for headerless_timeout: the claimer may be preempted between its CAS and
//     [N], so it must learn it lost the slot. [T1] CAS held -> held | Pending (seq_cst); [T2]
//     load claim (seq_cst); named now: CAS it back to held; else CAS held | Pending -> taken.
//   The claimer, after [N], [V] loads the sequence (seq_cst): held, go on; held | Pending, CAS
//   it back to held and go on (the judge's own CAS then fails); `taken`, it lost the slot: a push
//   tries another position, a pop the next item, and neither touched the slot's bytes.
// Why no live claimer loses a slot it went on with: the seq_cst operations [N] store, [V] load,
// [T1] and [T2] are in one total order. If [V] saw `held`, [T1] comes after [V], so [T2] after
// [N], and the judge sees the name and gives the slot back. If [V] saw Pending, the claimer and
// the judge race to CAS it, and exactly one wins. A judge that dies between [T1] and [T2] leaves
// Pending, which the claimer clears itself at [V] or when it finishes [F], so nothing waits on
// the judge. [F] (publish, release) is a CAS from held to its result; finding the slot taken
// there means someone took it from a claimer that had named itself and is alive, which only a
// peer scribbling on the slot can cause: the queue stops.
#include "nk/ipc/mpmc_queue.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <utility>

#include "nk/ipc/detail/copy_item.hpp"
#include "named_object.hpp"
#include "nk/nanokernel/access_policy.hpp"
#include "queue_support.hpp"
#include "writer_identity.hpp"

namespace nk::ipc {
namespace {

constexpr layout::ObjectKind kKind = layout::ObjectKind::MpmcQueue;
// Vyukov's scheme needs two slots: with one, "free for the next lap" (p + 1) and "holds the item
// pushed at p" (p + 1) would be the same sequence.
constexpr std::uint32_t kMinCapacity = 2;

std::uint32_t stride_of(std::uint32_t item_size) {
    // item_size <= kMaxItemSize, so this does not overflow.
    constexpr std::uint32_t align = alignof(MpmcSlot);
    return (static_cast<std::uint32_t>(sizeof(MpmcSlot)) + item_size + align - 1) / align * align;
}

constexpr std::uint64_t kFlags = kMpmcPending | kMpmcSkipped;
// A caller judges a held-up claimer on the 8th time it finds it, then every 64th time: a live
// claimer is normally done long before, and judging reads /proc.
constexpr std::uint64_t kFirstJudgement = 8;
constexpr std::uint64_t kJudgeEvery = 64;

MpmcSlot* slot_header(std::byte* slot) { return reinterpret_cast<MpmcSlot*>(slot); }

std::atomic_ref<std::uint64_t> sequence_of(std::byte* slot) { return layout::atomic(slot_header(slot)->sequence); }

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

}  // namespace

namespace detail {

// Which held-up position callers of this process keep finding, how often, and since when. Shared
// by the threads using one MpmcQueue; relaxed, because it only paces the judging.
struct ClaimWatch {
    std::atomic<std::uint64_t> position{~std::uint64_t{0}};
    std::atomic<std::uint64_t> seen{0};
    std::atomic<std::uint64_t> since_ns{0};

    // Counts a sighting of `at`; true when it is time to judge its claimer.
    bool due(std::uint64_t at) noexcept {
        if (position.load(std::memory_order_relaxed) != at) {
            position.store(at, std::memory_order_relaxed);
            seen.store(0, std::memory_order_relaxed);
            since_ns.store(now_ns(), std::memory_order_relaxed);
        }
        const std::uint64_t n = seen.fetch_add(1, std::memory_order_relaxed) + 1;
        return n >= kFirstJudgement && (n - kFirstJudgement) % kJudgeEvery == 0;
    }
    [[nodiscard]] bool held_longer_than(std::uint64_t ns) const noexcept {
        return now_ns() - since_ns.load(std::memory_order_relaxed) >= ns;
    }
};

}  // namespace detail

MpmcQueue::MpmcQueue(const Region& region, ObjectInfo object, std::string area_label, std::uint64_t region_offset,
                     MpmcQueueHeader* header, std::uint32_t item_size, std::uint32_t capacity,
                     std::uint32_t slot_stride)
    : object_(std::move(object)),
      area_label_(std::move(area_label)),
      region_offset_(region_offset),
      header_(header),
      slots_(reinterpret_cast<std::byte*>(header) + sizeof(MpmcQueueHeader)),
      item_size_(item_size),
      capacity_(capacity),
      slot_stride_(slot_stride),
      mask_(std::uint64_t{capacity} - 1),
      faults_(std::make_unique<detail::FaultLatch>()),
      push_watch_(std::make_unique<detail::ClaimWatch>()),
      pop_watch_(std::make_unique<detail::ClaimWatch>()),
      region_(&region) {
    // Who this process claims as, looked up once: a guest's processes keep its incarnation for
    // their lives (a restart starts new processes).
    const Identity& who = region.identity();
    if (who.role == nk::Role::Guest) {
        claimer_guest_ = who.guest_id;
        if (auto info = region.guest(who.guest_id)) claimer_incarnation_ = info->incarnation;
    }
    (void)detail::this_process();  // computed now, not in the first claim
}

MpmcQueue::MpmcQueue(MpmcQueue&&) noexcept = default;
MpmcQueue& MpmcQueue::operator=(MpmcQueue&&) noexcept = default;
MpmcQueue::~MpmcQueue() = default;

Result<MpmcQueue> MpmcQueue::create(const Region& region, std::string_view name, std::uint32_t item_size,
                                    std::uint32_t capacity, std::string_view where) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    if (auto ok = detail::check_create_arguments(kKind, name, item_size, capacity, kMinCapacity); !ok)
        return fail(std::move(ok.error()));
    const detail::QueueShape shape{item_size, capacity, stride_of(item_size), sizeof(MpmcQueueHeader)};
    auto made = detail::create_object(region, name, kKind,
                                      detail::queue_bytes(sizeof(MpmcQueueHeader), capacity, shape.slot_stride), where);
    if (!made) return fail(std::move(made.error()));
    auto data = region.bytes(made->region_offset, made->object.size, true);
    if (!data) return fail(std::move(data.error()));
    // Objects are page-aligned, so the header's 64-byte alignment holds.
    auto* header = reinterpret_cast<MpmcQueueHeader*>(*data);
    MpmcQueue queue(region, std::move(made->object), std::move(made->area_label), made->region_offset, header,
                    item_size, capacity, shape.slot_stride);
    // Positions start at zero (the directory zero-fills new objects); slot i is free for the push
    // at position i.
    for (std::uint64_t i = 0; i < capacity; ++i) {
        // relaxed: nobody uses the queue before the magic is published (release, below).
        sequence_of(queue.slot_at(i)).store(i, std::memory_order_relaxed);
    }
    detail::publish_header(*header, kMpmcQueueMagic, kMpmcQueueLayoutVersion, shape);
    return queue;
}

Result<MpmcQueue> MpmcQueue::open(const Region& region, std::string_view name, std::uint32_t expected_item_size) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    auto found = detail::find_object(region, name, kKind);
    if (!found) return fail(std::move(found.error()));
    auto data = region.bytes(found->region_offset, found->object.size, true);
    if (!data) return fail(std::move(data.error()));
    auto shape = detail::read_queue_header<MpmcQueueHeader>(*data, found->object.size, kKind, name, kMpmcQueueMagic,
                                                            kMpmcQueueLayoutVersion, kMinCapacity, stride_of);
    if (!shape) return fail(std::move(shape.error()));
    if (expected_item_size != 0 && expected_item_size != shape->item_size)
        return fail(RegionError::SizeConflict, detail::describe(kKind, name) + " carries items of " +
                                                   std::to_string(shape->item_size) + " bytes, not " +
                                                   std::to_string(expected_item_size));
    return MpmcQueue(region, std::move(found->object), std::move(found->area_label), found->region_offset,
                     reinterpret_cast<MpmcQueueHeader*>(*data), shape->item_size, shape->capacity, shape->slot_stride);
}

Result<void> MpmcQueue::remove(const Region& region, std::string_view name) {
    return detail::remove_object(region, name, kKind);
}

std::byte* MpmcQueue::slot_at(std::uint64_t position) const noexcept {
    return slots_ + (position & mask_) * slot_stride_;
}

void MpmcQueue::trip(const char* what, std::uint64_t position, std::uint64_t seen, std::uint64_t low,
                     std::uint64_t high) noexcept {
    faults_->trip(detail::QueueFault{what, position & mask_, seen, low, high});
}

void MpmcQueue::name_claimer(std::byte* slot, std::uint64_t position, Role role) noexcept {
    MpmcSlot* at = slot_header(slot);
    const detail::ProcessIdentity& me = detail::this_process();
    // relaxed: published by the seq_cst store of claim below, which a judge loads first [N].
    layout::atomic(at->pid).store(me.pid, std::memory_order_relaxed);
    layout::atomic(at->pid_ns).store(me.pid_ns, std::memory_order_relaxed);
    layout::atomic(at->start_time).store(me.start_time, std::memory_order_relaxed);
    layout::atomic(at->incarnation).store(claimer_incarnation_, std::memory_order_relaxed);
    layout::atomic(at->guest).store(claimer_guest_, std::memory_order_relaxed);
    // seq_cst [N]: ordered before our load of the sequence [V], against a judge's [T1]/[T2].
    layout::atomic(at->claim).store(position << 2 | static_cast<std::uint64_t>(role), std::memory_order_seq_cst);
}

MpmcQueue::Settled MpmcQueue::settle_claim(std::byte* slot, std::uint64_t position, std::uint64_t held,
                                           std::uint64_t taken) noexcept {
    auto sequence = sequence_of(slot);
    for (std::uint32_t race = 0; race < kMaxRaces; ++race) {
        // seq_cst [V]: see the contract at the top.
        std::uint64_t seen = sequence.load(std::memory_order_seq_cst);
        if (seen == held) return Settled::Ours;
        if (seen == taken) return Settled::Taken;
        if (seen != (held | kMpmcPending)) break;
        // A judge could not see our name yet: take the slot back (its own CAS then fails).
        // seq_cst: one of the two CASes on the Pending value wins.
        if (sequence.compare_exchange_strong(seen, held, std::memory_order_seq_cst, std::memory_order_seq_cst))
            return Settled::Ours;
    }
    trip("slot sequence of a claimed slot", position, sequence.load(std::memory_order_relaxed), held, taken);
    return Settled::Fault;
}

bool MpmcQueue::finish(std::byte* slot, std::uint64_t position, std::uint64_t held, std::uint64_t done) noexcept {
    auto sequence = sequence_of(slot);
    for (std::uint32_t race = 0; race < kMaxRaces; ++race) {
        std::uint64_t seen = held;
        // release [F] (E5, D5): publishes the item, or hands the slot to the next lap.
        if (sequence.compare_exchange_strong(seen, done, std::memory_order_release, std::memory_order_relaxed))
            return true;
        if (seen != (held | kMpmcPending)) break;
        // A judge that read the claim before we named ourselves; it will see the name and give
        // the slot back, but it may have died: do it for it. relaxed: the CAS above publishes.
        (void)sequence.compare_exchange_strong(seen, held, std::memory_order_relaxed, std::memory_order_relaxed);
    }
    trip("slot taken from a live claimer", position, sequence.load(std::memory_order_relaxed), held, done);
    return false;
}

bool MpmcQueue::pass_dead_claimer(std::byte* slot, std::uint64_t position, Role role, std::uint64_t held,
                                  std::uint64_t taken, detail::ClaimWatch& watch) noexcept {
    if (!watch.due(position)) return false;
    MpmcSlot* at = slot_header(slot);
    auto sequence = sequence_of(slot);
    const std::uint64_t named = position << 2 | static_cast<std::uint64_t>(role);
    const std::uint64_t pending = held | kMpmcPending;
    // seq_cst: as [T2]; a claimer that named itself before is seen.
    if (layout::atomic(at->claim).load(std::memory_order_seq_cst) == named) {
        // relaxed: the claim's seq_cst load above orders these after the claimer's stores.
        detail::ClaimerIdentity who;
        who.pid = layout::atomic(at->pid).load(std::memory_order_relaxed);
        who.pid_ns = layout::atomic(at->pid_ns).load(std::memory_order_relaxed);
        who.start_time = layout::atomic(at->start_time).load(std::memory_order_relaxed);
        who.incarnation = layout::atomic(at->incarnation).load(std::memory_order_relaxed);
        who.guest = layout::atomic(at->guest).load(std::memory_order_relaxed);
        const bool dead = detail::claimer_is_dead(who, region_);
        // Held, or Pending left by a judge that died before it looked at the name.
        std::uint64_t expected = sequence.load(std::memory_order_acquire);
        if (expected != held && expected != pending) return false;
        // A live claimer keeps the slot (a leftover Pending is cleared for it); a dead one loses
        // it. acq_rel: acquire, for the claimer's last writes; release, for whoever goes next.
        return sequence.compare_exchange_strong(expected, dead ? taken : held, std::memory_order_acq_rel,
                                                std::memory_order_relaxed) &&
               dead;
    }
    if (!watch.held_longer_than(headerless_timeout_ns_)) return false;
    // Never named: the claimer died right after its CAS, or is preempted right there.
    std::uint64_t expected = held;
    // seq_cst [T1]. Pending already (another judge, or one that died): go on from there.
    if (!sequence.compare_exchange_strong(expected, pending, std::memory_order_seq_cst, std::memory_order_seq_cst) &&
        expected != pending)
        return false;
    expected = pending;
    // seq_cst [T2]: named now, so alive: give the slot back.
    if (layout::atomic(at->claim).load(std::memory_order_seq_cst) == named) {
        (void)sequence.compare_exchange_strong(expected, held, std::memory_order_seq_cst, std::memory_order_seq_cst);
        return false;
    }
    return sequence.compare_exchange_strong(expected, taken, std::memory_order_seq_cst, std::memory_order_seq_cst);
}

bool MpmcQueue::try_push(std::span<const std::byte> item) noexcept {
    if (item.size() != item_size_ || faults_->tripped()) return false;
    auto enqueue = layout::atomic(header_->enqueue_pos);
    // acquire [E1]: joins the release sequence of the claims before pos (see the contract).
    std::uint64_t pos = enqueue.load(std::memory_order_acquire);
    for (std::uint32_t race = 0; race < kMaxRaces; ++race) {
        if (pos >= kMpmcPositionLimit) {
            trip("producer position", pos, pos, 0, kMpmcPositionLimit - 1);
            return false;
        }
        std::byte* slot = slot_at(pos);
        // acquire [E2]: pairs with the release in try_pop() [D5]: the last pop of this slot is done.
        const std::uint64_t seq = sequence_of(slot).load(std::memory_order_acquire);
        const auto ahead = static_cast<std::int64_t>((seq & ~kFlags) - pos);
        if (ahead == 0 && (seq & kFlags) == 0) {
            // acq_rel [E3]: release heads the sequence later claimers acquire (E1); acquire on
            // failure, likewise, for the newer position it hands back in pos.
            if (!enqueue.compare_exchange_weak(pos, pos + 1, std::memory_order_acq_rel, std::memory_order_acquire))
                continue;
            name_claimer(slot, pos, Role::Push);
            switch (settle_claim(slot, pos, pos, (pos + 1) | kMpmcSkipped)) {
                case Settled::Ours: break;
                case Settled::Taken:  // passed as dead while we were held up: take another position
                    pos = enqueue.load(std::memory_order_acquire);
                    continue;
                case Settled::Fault: return false;
            }
            detail::copy_item(slot + sizeof(MpmcSlot), item.data(), item_size_);
            return finish(slot, pos, pos, pos + 1);  // [E5]
        }
        if (ahead < 0) {
            if (ahead < -static_cast<std::int64_t>(capacity_)) {
                trip("slot sequence", pos, seq, pos - capacity_, pos);
                return false;
            }
            // One lap behind. Holding the item of the pop one lap back (s = p - c + 1) while
            // dequeue_pos has passed it: that pop claimed it and has not released it.
            const std::uint64_t behind = pos - capacity_;
            if ((seq & ~kFlags) == behind + 1 &&
                // acquire: the pop's claim (D3) is what we judge.
                static_cast<std::int64_t>(layout::atomic(header_->dequeue_pos).load(std::memory_order_acquire) -
                                          behind) > 0 &&
                pass_dead_claimer(slot, behind, Role::Pop, seq & ~kMpmcPending, pos, *pop_watch_)) {
                // relaxed: a statistic.
                layout::atomic(header_->reclaimed_count).fetch_add(1, std::memory_order_relaxed);
                continue;  // the slot is free for this position now
            }
            // relaxed: a statistic; orders nothing.
            layout::atomic(header_->full_count).fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        // Ahead, or flagged at our position: another push claimed pos.
        // acquire [E1]: as above; must be past pos, since a push claimed pos (see the contract).
        const std::uint64_t now = enqueue.load(std::memory_order_acquire);
        if (static_cast<std::int64_t>(now - pos) <= 0) {
            trip("slot sequence", pos, seq, pos - capacity_, pos);
            return false;
        }
        pos = now;
    }
    return false;
}

bool MpmcQueue::try_pop(std::span<std::byte> out) noexcept {
    if (out.size() != item_size_ || faults_->tripped()) return false;
    auto dequeue = layout::atomic(header_->dequeue_pos);
    // acquire [D1]: joins the release sequence of the claims before pos (see the contract).
    std::uint64_t pos = dequeue.load(std::memory_order_acquire);
    for (std::uint32_t race = 0; race < kMaxRaces; ++race) {
        if (pos >= kMpmcPositionLimit) {
            trip("consumer position", pos, pos, 0, kMpmcPositionLimit - 1);
            return false;
        }
        std::byte* slot = slot_at(pos);
        // acquire [D2]: pairs with the release in try_push() [E5]: the item's bytes are written.
        const std::uint64_t seq = sequence_of(slot).load(std::memory_order_acquire);
        const auto ahead = static_cast<std::int64_t>((seq & ~kFlags) - (pos + 1));
        if (ahead == 0 && (seq & kMpmcPending) == 0) {
            // acq_rel [D3]: release heads the sequence later claimers acquire (D1); acquire on
            // failure, likewise, for the newer position it hands back in pos.
            if (!dequeue.compare_exchange_weak(pos, pos + 1, std::memory_order_acq_rel, std::memory_order_acquire))
                continue;
            name_claimer(slot, pos, Role::Pop);
            switch (settle_claim(slot, pos, seq, pos + capacity_)) {
                case Settled::Ours: break;
                case Settled::Taken:  // taken back as dead while we were held up: the next item
                    pos = dequeue.load(std::memory_order_acquire);
                    continue;
                case Settled::Fault: return false;
            }
            const bool skipped = (seq & kMpmcSkipped) != 0;
            if (!skipped) detail::copy_item(out.data(), slot + sizeof(MpmcSlot), item_size_);
            // [D5]: hands the slot to the push one lap later; pairs with the acquire in try_push() [E2].
            if (!finish(slot, pos, seq, pos + capacity_)) return false;
            if (!skipped) return true;
            pos = dequeue.load(std::memory_order_acquire);  // a dead producer's position: on to the next
            continue;
        }
        if (ahead < 0) {
            if (ahead < -static_cast<std::int64_t>(capacity_)) {
                trip("slot sequence", pos, seq, pos + 1 - capacity_, pos + 1);
                return false;
            }
            // Not published. If enqueue_pos has passed pos, the push at pos claimed it and is
            // slow, stopped or dead.
            if ((seq == pos || seq == (pos | kMpmcPending)) &&
                // acquire: the push's claim (E3) is what we judge.
                static_cast<std::int64_t>(layout::atomic(header_->enqueue_pos).load(std::memory_order_acquire) -
                                          pos) > 0 &&
                pass_dead_claimer(slot, pos, Role::Push, pos, (pos + 1) | kMpmcSkipped, *push_watch_)) {
                // relaxed: a statistic.
                layout::atomic(header_->skipped_count).fetch_add(1, std::memory_order_relaxed);
                continue;  // the skipped slot is ours to pass now, or another pop's
            }
            return false;  // empty, or the push at pos has not published yet
        }
        // Ahead, or being taken from its pop: another pop claimed pos.
        // acquire [D1]: as above; must be past pos, since a pop claimed pos (see the contract).
        const std::uint64_t now = dequeue.load(std::memory_order_acquire);
        if (static_cast<std::int64_t>(now - pos) <= 0) {
            trip("slot sequence", pos, seq, pos + 1 - capacity_, pos + 1);
            return false;
        }
        pos = now;
    }
    return false;
}

std::size_t MpmcQueue::size_approx() const noexcept {
    // acquire: joins the claims' release sequence; every pop below the position loaded saw its
    // item published, and so its push's claim, so the enqueue position loaded next is not lower.
    const std::uint64_t popped = layout::atomic(header_->dequeue_pos).load(std::memory_order_acquire);
    // relaxed: a snapshot for monitoring; no slot is read on its strength.
    const std::uint64_t pushed = layout::atomic(header_->enqueue_pos).load(std::memory_order_relaxed);
    const auto n = static_cast<std::int64_t>(pushed - popped);
    return static_cast<std::size_t>(std::clamp<std::int64_t>(n, 0, capacity_));  // clamped: untrusted
}

MpmcQueueStats MpmcQueue::stats() const noexcept {
    MpmcQueueStats s;
    // relaxed: monitoring snapshots.
    s.full = layout::atomic(header_->full_count).load(std::memory_order_relaxed);
    s.skipped = layout::atomic(header_->skipped_count).load(std::memory_order_relaxed);
    s.reclaimed = layout::atomic(header_->reclaimed_count).load(std::memory_order_relaxed);
    return s;
}

Result<void> MpmcQueue::health() const {
    if (auto fault = faults_->fault()) return fail(detail::corruption_error(kKind, object_.name, *fault));
    if (faults_->tripped())  // a thread is still recording it
        return fail(RegionError::Corrupt, detail::describe(kKind, object_.name) + " is corrupt");
    return {};
}

}  // namespace nk::ipc
