// Event flags: a word and an embedded auto-reset event in one segment.
//
// Ordering: set() ORs the bits (acq_rel) before it signals; the event's signal/wait pair orders
// the waiter's next look at the word after the signal (src/event.cpp's contract). The waiter
// looks at the word before every wait, so bits set before it started waiting are seen without one.
#include "nk/rt/event_flags.hpp"

#include <cstring>

#include "nk/nanokernel/region_error.hpp"

namespace nk::rt {
namespace {

constexpr std::uint64_t kFlagsMagic = 0x4e4b'5246'4c47'0001ULL;  // "NKRFLG" 0001

// The segment's layout: a header line, then the event (64-byte aligned, as Event::embedded wants).
struct alignas(64) FlagsHeader {
    std::uint64_t magic;    // atomic; kFlagsMagic, stored last (release)
    std::uint32_t version;  // 1
    std::uint32_t bits;     // atomic; the flags
    std::uint8_t reserved[48];
};
static_assert(sizeof(FlagsHeader) == 64 && offsetof(FlagsHeader, bits) == 12);
static_assert(std::is_trivially_copyable_v<FlagsHeader> && std::atomic_ref<std::uint32_t>::is_always_lock_free);
constexpr std::uint64_t kSegmentSize = sizeof(FlagsHeader) + sizeof(ipc::EventHeader);

}  // namespace

Result<EventFlags> EventFlags::create(const Region& region, std::string_view name, std::string_view where) {
    auto segment = ipc::Segment::create(region, name, kSegmentSize, where);
    if (!segment) return fail(std::move(segment.error()));
    auto* header = reinterpret_cast<FlagsHeader*>(segment->bytes().data());
    auto event = ipc::Event::embedded(reinterpret_cast<ipc::EventHeader*>(header + 1), name, true, ipc::EventMode::AutoReset);
    if (!event) return fail(std::move(event.error()));
    header->version = 1;
    // release: the event and version before the magic; pairs with open()'s acquire.
    nk::layout::atomic(header->magic).store(kFlagsMagic, std::memory_order_release);
    return EventFlags(std::move(*segment), std::move(*event), &header->bits);
}

Result<EventFlags> EventFlags::open(const Region& region, std::string_view name) {
    auto segment = ipc::Segment::open(region, name);
    if (!segment) return fail(std::move(segment.error()));
    if (segment->bytes().size() < kSegmentSize)
        return fail(RegionError::SizeMismatch, "event flags '" + std::string(name) + "': segment too small");
    auto* header = reinterpret_cast<FlagsHeader*>(segment->bytes().data());
    // acquire: pairs with create()'s release of the magic.
    if (nk::layout::atomic(header->magic).load(std::memory_order_acquire) != kFlagsMagic ||
        nk::layout::atomic(header->version).load(std::memory_order_relaxed) != 1)
        return fail(RegionError::BadMagic, "'" + std::string(name) + "' is not an event flags object");
    auto event = ipc::Event::embedded(reinterpret_cast<ipc::EventHeader*>(header + 1), name, false);
    if (!event) return fail(std::move(event.error()));
    return EventFlags(std::move(*segment), std::move(*event), &header->bits);
}

Result<void> EventFlags::set(std::uint32_t bits) {
    // acq_rel: the caller's writes before the bits; pairs with the waiter's acq_rel fetch_and.
    nk::layout::atomic(*word_).fetch_or(bits, std::memory_order_acq_rel);
    return event_.signal();
}

void EventFlags::clear(std::uint32_t bits) { nk::layout::atomic(*word_).fetch_and(~bits, std::memory_order_acq_rel); }

std::uint32_t EventFlags::peek() const { return nk::layout::atomic(*word_).load(std::memory_order_acquire); }

Result<std::uint32_t> EventFlags::wait_for(std::uint32_t bits, FlagWait mode, std::chrono::nanoseconds timeout) {
    if (bits == 0) return fail(RegionError::InvalidArgument, "event flags: wait for no bits");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const std::uint32_t now = nk::layout::atomic(*word_).load(std::memory_order_acquire);
        const bool ready = mode == FlagWait::Any ? (now & bits) != 0 : (now & bits) == bits;
        if (ready) {
            // acq_rel: takes exactly the bits seen; bits set since stay for the next wait.
            const std::uint32_t before = nk::layout::atomic(*word_).fetch_and(~(now & bits), std::memory_order_acq_rel);
            return before & now & bits;
        }
        auto waited = event_.wait_until(deadline);
        if (!waited) return fail(std::move(waited.error()));
        if (*waited == ipc::WaitResult::TimedOut) {
            // One last look: bits set right at the deadline count.
            const std::uint32_t last = nk::layout::atomic(*word_).load(std::memory_order_acquire);
            const bool late = mode == FlagWait::Any ? (last & bits) != 0 : (last & bits) == bits;
            if (!late) return 0U;
        }
    }
}

}  // namespace nk::rt
