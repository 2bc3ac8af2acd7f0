// nk::ipc::MessageRing: a ring of variable-length records (packets, serialized messages) in
// shared memory, for several producers and one consumer, in processes that may belong to
// different guests. It is the inbound ring of a Port.
//
// A producer reserves a contiguous span (records never wrap: the end of the buffer is filled
// with a padding record), writes into it and commits. The consumer peeks at the oldest committed
// record in place and releases it. A record is never seen half-written: each carries a header
// with its length, a state (Reserved, Committed, Abandoned) and its writer's identity; a record
// whose writer died between reserve and commit is skipped and counted once the consumer finds
// the writer dead. The protocol and its remaining windows are in docs/message-ring.md.
//
//   // guest "linux": makes the ring in its link to "rt" and sends
//   auto ring = nk::ipc::MessageRing::create(region, "rt.inbox", 64 * 1024, 2048, "rt");
//   auto tx = ring->producer();
//   auto slot = tx->reserve(packet.size());
//   if (slot.status == nk::ipc::WriteStatus::Full) { /* back-pressure: try later */ }
//   if (slot) { std::memcpy(slot.data.data(), packet.data(), packet.size()); (void)tx->commit(); }
//
//   // guest "rt", one thread: opens and receives
//   auto ring = nk::ipc::MessageRing::open(region, "rt.inbox");
//   auto rx = ring->consumer();
//   while (auto record = rx->peek()) { handle(*record); rx->release(); }
//
// The ring's memory can also be formatted and attached without a name, through
// MessageRingView, so that a larger object (a Port) embeds one.
//
// Concurrency: any number of producer handles, each used by one thread at a time; at most one
// consumer handle per ring at a time, across all processes (the ring cannot enforce this). A
// producer handle belongs to the process that made it (its identity goes into each record).
// Handles are views: they stay valid while the memory is mapped and the object not removed; a
// consumer made with a Region keeps a pointer to it, so the Region must outlive the handle.
//
// The peers are untrusted. The shape is read once at attach and checked; every index, state and
// length read afterwards is checked against what the protocol allows. A handle that finds a value
// out of range stops: corrupt() becomes true, every later call fails, and health() returns
// RegionError::Corrupt with what it saw. No value in shared memory makes a handle touch memory
// outside the ring or loop without bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "nk/ipc/detail/message_ring_layout.hpp"
#include "nk/ipc/detail/queue_fault.hpp"
#include "nk/nanokernel/area_directory.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::ipc {

enum class WriteStatus : std::uint8_t {
    Ok = 0,
    Full,       // no room now: back-pressure, try again later (counted in full_count)
    TooLarge,   // longer than max_record_size; error_of() says by how much
    Pending,    // this handle already holds a reservation: commit or abandon it first
    Lost,       // try_write: the consumer declared this writer dead before the commit; not delivered
    Stopped,    // the handle found the ring corrupt; see health()
};

[[nodiscard]] std::string_view to_string(WriteStatus status);

// What reserve() gives: a writable span of exactly the asked length when status is Ok.
struct Reservation {
    std::span<std::byte> data;
    WriteStatus status = WriteStatus::Stopped;
    explicit operator bool() const noexcept { return status == WriteStatus::Ok; }
};

enum class ReadStatus : std::uint8_t {
    Ok = 0,
    Empty,          // no committed record at the tail now
    BufferTooSmall, // the oldest record is longer than the buffer; `length` says how long; it stays
    Stopped,        // the handle found the ring corrupt; see health()
};

struct ReadResult {
    ReadStatus status = ReadStatus::Stopped;
    std::size_t length = 0;  // payload bytes of the record (copied when Ok)
    explicit operator bool() const noexcept { return status == ReadStatus::Ok; }
};

// Counters kept in the ring's header (monitoring; each read relaxed).
struct MessageRingStats {
    std::uint64_t records = 0;     // committed records the consumer released
    std::uint64_t bytes = 0;       // their payload bytes
    std::uint64_t full = 0;        // reservations refused for want of space
    std::uint64_t abandoned = 0;   // records skipped because their writer gave up or died
    std::uint64_t used_bytes = 0;  // buffer bytes reserved and not yet released (head - tail)
};

// Who writes: the guest id (0 for the operator or a process outside any guest) and that guest's
// incarnation. The process part (pid, pid namespace, start time) is filled in by the library.
struct WriterGuest {
    std::uint16_t guest_id = 0;
    std::uint32_t incarnation = 0;
};

class MessageRingView;

// How long the consumer waits on bytes a writer claimed but never put a header on (it died right
// after its head CAS; docs/message-ring.md) before it skips them.
inline constexpr std::uint64_t kHeaderlessClaimTimeoutNs = 500'000'000;

// The producing side. One thread at a time; any number of producers per ring.
class alignas(detail::kCacheLine) MessageRingProducer {
public:
    // A contiguous span of `length` bytes (0..max_record_size()) in the ring, to fill and then
    // commit() or abandon(). Never blocks: Full when there is no room now.
    [[nodiscard]] Reservation reserve(std::size_t length) noexcept;

    // Publishes the reserved record. False when there is none, or when the consumer declared
    // this writer dead meanwhile and skipped the record (then it was not delivered).
    [[nodiscard]] bool commit() noexcept;

    // Gives the reserved record up: the consumer skips it and counts it as abandoned. False when
    // there is none or the consumer had skipped it already.
    bool abandon() noexcept;

    // reserve + copy + commit.
    [[nodiscard]] WriteStatus try_write(std::span<const std::byte> record) noexcept;

    // The error for a status other than Ok, for a person: sizes for TooLarge, the fault for Stopped.
    [[nodiscard]] Error error_of(WriteStatus status, std::size_t length) const;

    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t max_record_size() const noexcept { return max_record_size_; }
    [[nodiscard]] bool corrupt() const noexcept { return fault_.has_value(); }
    [[nodiscard]] Result<void> health() const;

private:
    friend class MessageRingView;
    MessageRingProducer(const MessageRingView& view, WriterGuest writer, std::uint64_t tail);
    [[nodiscard]] bool reload_tail(std::uint64_t& head) noexcept;
    void stop(const detail::QueueFault& fault) noexcept { fault_ = fault; }

    MessageRingHeader* header_;
    std::byte* data_;
    std::uint32_t capacity_;
    std::uint32_t max_record_size_;
    std::uint64_t mask_;
    std::uint64_t cached_tail_;
    WriterGuest writer_;
    std::uint64_t pending_position_ = 0;  // of the reserved record
    std::uint64_t pending_word_ = 0;      // its Reserved word; 0 when nothing is reserved
    std::optional<detail::QueueFault> fault_;
    std::string name_;
};

// The consuming side. One thread at a time; one consumer per ring at a time.
class alignas(detail::kCacheLine) MessageRingConsumer {
public:
    // The oldest committed record, read-only, in place; empty when there is none now (the ring is
    // empty, the oldest record is still being written, or the handle stopped). Valid until
    // release(). Padding and abandoned records are skipped on the way; a record whose writer is
    // found dead is marked Abandoned, counted and skipped.
    [[nodiscard]] std::optional<std::span<const std::byte>> peek() noexcept;

    // Frees the record the last peek() returned. No effect without one.
    void release() noexcept;

    // peek + copy into `out` + release.
    [[nodiscard]] ReadResult try_read(std::span<std::byte> out) noexcept;

    // How long bytes claimed without a header block the tail before they are skipped
    // (default kHeaderlessClaimTimeoutNs; see docs/message-ring.md for the trade-off).
    void set_headerless_claim_timeout(std::uint64_t ns) noexcept { headerless_timeout_ns_ = ns; }

    [[nodiscard]] MessageRingStats stats() const noexcept;
    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t max_record_size() const noexcept { return max_record_size_; }
    [[nodiscard]] bool corrupt() const noexcept { return fault_.has_value(); }
    [[nodiscard]] Result<void> health() const;

private:
    friend class MessageRingView;
    MessageRingConsumer(const MessageRingView& view, const Region* region, std::uint64_t head, std::uint64_t tail);
    [[nodiscard]] bool load_head() noexcept;
    [[nodiscard]] bool writer_is_dead(const MessageRecordHeader& record) noexcept;
    [[nodiscard]] std::uint64_t headerless_claim() noexcept;
    void advance(std::uint64_t bytes) noexcept;
    void stop(const detail::QueueFault& fault) noexcept { fault_ = fault; }

    MessageRingHeader* header_;
    std::byte* data_;
    const Region* region_;  // for the guest state of writers in other pid namespaces; may be null
    std::uint32_t capacity_;
    std::uint32_t max_record_size_;
    std::uint64_t mask_;
    std::uint64_t tail_;          // authoritative: only this handle moves the shared tail
    std::uint64_t cached_head_;   // the producers' index as last loaded and checked
    std::uint64_t peeked_stride_ = 0;  // of the record peek() returned; 0 when none
    std::uint64_t peeked_length_ = 0;
    std::uint64_t records_ = 0, bytes_ = 0, abandoned_ = 0;
    std::uint64_t stall_position_ = ~std::uint64_t{0};  // a Reserved record peek() keeps finding
    std::uint32_t stall_seen_ = 0;
    std::uint64_t hole_position_ = ~std::uint64_t{0};  // a claim without a header that peek() keeps finding
    std::uint32_t hole_seen_ = 0;
    std::uint64_t hole_since_ns_ = 0;
    std::uint64_t headerless_timeout_ns_ = kHeaderlessClaimTimeoutNs;
    std::optional<detail::QueueFault> fault_;
    std::string name_;
};

// A message ring in memory the caller has already validated (an object's extent, part of a Port).
// Cheap to copy; holds no resources.
class MessageRingView {
public:
    // Bytes a ring with a buffer of `capacity` bytes takes.
    [[nodiscard]] static constexpr std::uint64_t bytes_for(std::uint32_t capacity) noexcept {
        return sizeof(MessageRingHeader) + std::uint64_t{capacity};
    }

    // Checks a shape: capacity a power of two in 256..2^30, max_record_size >= 1 and small enough
    // that a record and padding always fit in an empty ring (record_stride(max) <= capacity / 2).
    [[nodiscard]] static Result<void> check_shape(std::uint32_t capacity, std::uint32_t max_record_size,
                                                  std::string_view name);

    // Formats zero-filled (or otherwise unused) memory as an empty ring, magic last. `memory` must
    // be 64-byte aligned and hold bytes_for(capacity). `name` is for messages only.
    [[nodiscard]] static Result<MessageRingView> format(std::span<std::byte> memory, std::uint32_t capacity,
                                                        std::uint32_t max_record_size, std::string_view name);

    // Attaches a ring another process formatted: magic, version and shape checked once, against
    // `memory`'s size.
    [[nodiscard]] static Result<MessageRingView> attach(std::span<std::byte> memory, std::string_view name);

    // A producer writing as `writer`. Checks the shared indices it starts from.
    [[nodiscard]] Result<MessageRingProducer> producer(WriterGuest writer = {}) const;
    // The consumer. With `region`, writers in other pid namespaces are judged dead by their
    // guest's state and incarnation; without, only writers in this pid namespace can be.
    [[nodiscard]] Result<MessageRingConsumer> consumer(const Region* region = nullptr) const;

    [[nodiscard]] MessageRingStats stats() const noexcept;
    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t max_record_size() const noexcept { return max_record_size_; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] MessageRingHeader* header() const noexcept { return header_; }

private:
    friend class MessageRingProducer;
    friend class MessageRingConsumer;
    MessageRingView(MessageRingHeader* header, std::uint32_t capacity, std::uint32_t max_record_size,
                    std::string name);

    MessageRingHeader* header_ = nullptr;
    std::uint32_t capacity_ = 0;         // validated copies: never re-read from shared memory
    std::uint32_t max_record_size_ = 0;
    std::string name_;
};

// A message ring as a named object in a link area or the common area, following the config's
// [[access]] rules (create and open need read-write rights), like SpscRing.
class MessageRing {
public:
    // Makes a ring with a buffer of `capacity` bytes (a power of two) for records of up to
    // `max_record_size` bytes. `where` picks the area as for Segment::create.
    [[nodiscard]] static Result<MessageRing> create(const Region& region, std::string_view name, std::uint32_t capacity,
                                                    std::uint32_t max_record_size, std::string_view where = {});

    // Opens an existing ring by name in the areas this process holds.
    [[nodiscard]] static Result<MessageRing> open(const Region& region, std::string_view name);

    // Removes the ring: its owner guest, the operator or the creator may. Stop all handles first.
    [[nodiscard]] static Result<void> remove(const Region& region, std::string_view name);

    // A producer writing as this process's guest (its current incarnation).
    [[nodiscard]] Result<MessageRingProducer> producer() const;
    // The consumer; it judges writers of other guests by the region's guest table. The Region
    // given to create()/open() must outlive it.
    [[nodiscard]] Result<MessageRingConsumer> consumer() const;

    [[nodiscard]] const MessageRingView& view() const noexcept { return view_; }
    [[nodiscard]] MessageRingStats stats() const noexcept { return view_.stats(); }
    [[nodiscard]] std::uint32_t capacity() const noexcept { return view_.capacity(); }
    [[nodiscard]] std::uint32_t max_record_size() const noexcept { return view_.max_record_size(); }
    [[nodiscard]] const ObjectInfo& object() const noexcept { return object_; }
    [[nodiscard]] const std::string& area_label() const noexcept { return area_label_; }
    [[nodiscard]] std::uint64_t region_offset() const noexcept { return region_offset_; }

private:
    MessageRing(const Region& region, ObjectInfo object, std::string area_label, std::uint64_t region_offset,
                MessageRingView view);

    const Region* region_;
    ObjectInfo object_;
    std::string area_label_;
    std::uint64_t region_offset_ = 0;
    MessageRingView view_;
};

}  // namespace nk::ipc
