// nk::ipc::Port: a named endpoint that any guest allowed to may send messages to, and its owner
// receives from (the Nanokernel paper's inter-OS message passing).
//
// A port is one shared object: a header naming its owner guest and incarnation, a message ring
// (message_ring.hpp: variable-length records, many senders, one receiver) and two events
// (event.hpp): "data" wakes the receiver, "space" wakes senders waiting for room.
//
//   // guest "rt" owns the port and receives
//   auto inbox = nk::ipc::Port::create(region, "rt.commands", {.where = "linux"});
//   std::array<std::byte, 4096> buffer;
//   auto n = inbox->receive(buffer, std::chrono::milliseconds(10));   // bytes, or TimedOut
//
//   // guest "linux" sends
//   auto to_rt = nk::ipc::PortSender::open(region, "rt.commands");
//   to_rt->send(std::as_bytes(std::span(command)), std::chrono::milliseconds(5));
//
// Sending to a port whose owner guest is down, or restarted since it made the port (a new
// incarnation: nobody receives there any more), fails at once with RegionError::NotRunning.
// A full port is back-pressure: try_send says Full, send waits up to its timeout. A message
// larger than the port's maximum is refused with both sizes in the message.
//
// Concurrency: one Port (receiver) per port at a time; any number of PortSenders, each used by
// one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "nk/ipc/event.hpp"
#include "nk/ipc/message_ring.hpp"
#include "nk/nanokernel/region.hpp"

namespace nk::ipc {

inline constexpr std::uint64_t kPortMagic = 0x4e4b'504f'5254'0001ULL;  // "NKPORT" 0001
inline constexpr std::uint32_t kPortLayoutVersion = 1;

// The first bytes of a port; then the data event, the space event and the ring, at the offsets
// the header gives (each checked against the object's size before use).
struct alignas(detail::kCacheLine) PortHeader {
    std::uint64_t magic;              // atomic; kPortMagic, stored last (release)
    std::uint32_t layout_version;
    std::uint32_t header_size;        // sizeof(PortHeader)
    std::uint16_t owner_guest;        // the receiving guest
    std::uint16_t reserved0;
    std::uint32_t owner_incarnation;  // its incarnation when it made the port
    std::uint32_t capacity;           // ring bytes
    std::uint32_t max_message;        // largest message
    std::uint64_t data_event_offset;  // from the start of the port
    std::uint64_t space_event_offset;
    std::uint64_t ring_offset;
    std::uint64_t sent;               // atomic; messages senders committed
    std::uint64_t refused_down;       // atomic; sends refused because the owner was down
    std::uint8_t reserved1[56];
};
static_assert(std::is_standard_layout_v<PortHeader> && std::is_trivially_copyable_v<PortHeader>);
static_assert(sizeof(PortHeader) == 2 * detail::kCacheLine);
static_assert(offsetof(PortHeader, owner_guest) == 16 && offsetof(PortHeader, capacity) == 24);
static_assert(offsetof(PortHeader, data_event_offset) == 32 && offsetof(PortHeader, sent) == 56);

struct PortOptions {
    std::uint32_t capacity = 64 * 1024;  // ring bytes, a power of two
    std::uint32_t max_message = 4096;
    std::string where;                   // as for Segment::create
};

enum class SendStatus { Ok, Full, TooLarge, OwnerDown, Stopped };
[[nodiscard]] std::string_view to_string(SendStatus status);

// When try_send wakes a sleeping receiver: at once, or at the sender's wake() after a batch (one
// wake-up for many messages; the receiver sleeps until then, so wake() must follow).
enum class Wake : std::uint8_t { Now, Later };

class Port {
public:
    // Makes the port; the calling guest owns it and is its one receiver.
    [[nodiscard]] static Result<Port> create(const Region& region, std::string_view name, const PortOptions& options = {});
    [[nodiscard]] static Result<void> remove(const Region& region, std::string_view name);

    // The oldest message copied into `out`: its length, or std::nullopt on timeout.
    // RegionError::InvalidArgument when `out` is smaller than the message (it stays queued).
    [[nodiscard]] Result<std::optional<std::size_t>> receive(std::span<std::byte> out, std::chrono::nanoseconds timeout);
    [[nodiscard]] Result<std::optional<std::size_t>> try_receive(std::span<std::byte> out);
    // The oldest message in place, read-only and valid until release(), for a receiver that
    // passes it on without copying it (nk-netbridge writes packets from here into its TUN);
    // std::nullopt when there is none now. The senders can still write those bytes: copy what you
    // check before you act on it.
    [[nodiscard]] Result<std::optional<std::span<const std::byte>>> try_peek();
    // Frees the message try_peek() returned and wakes a sender waiting for room.
    [[nodiscard]] Result<void> release();

    [[nodiscard]] MessageRingStats stats() const { return ring_.stats(); }
    // The word senders move after each message (the data event's): for asio_port.hpp.
    [[nodiscard]] std::uint32_t* arrival_word() const { return data_.futex_word(); }
    // A waiter on arrival_word() counts itself here, so that senders wake the word.
    void count_arrival_waiter(bool waiting) const { data_.count_external_waiter(waiting); }
    [[nodiscard]] std::uint32_t max_message() const { return max_message_; }

private:
    // Why the consumer stopped: the ring's health, else that it stopped.
    [[nodiscard]] Error stopped_error() const;
    Port(Event data, Event space, MessageRingView ring, MessageRingConsumer consumer, std::uint32_t max_message)
        : data_(std::move(data)), space_(std::move(space)), ring_(ring), consumer_(std::move(consumer)),
          max_message_(max_message) {}
    Event data_, space_;
    MessageRingView ring_;
    MessageRingConsumer consumer_;
    std::uint32_t max_message_;
};

class PortSender {
public:
    [[nodiscard]] static Result<PortSender> open(const Region& region, std::string_view name);

    // Sends now or says why not.
    [[nodiscard]] SendStatus try_send(std::span<const std::byte> message, Wake wake = Wake::Now);
    // Wakes the receiver for the messages sent with Wake::Later. False when the port is damaged.
    [[nodiscard]] bool wake();
    // Sends, waiting up to `timeout` for room. Errors: NotRunning (owner down), NoSpace (still
    // full at the timeout), InvalidArgument (too large), Corrupt.
    [[nodiscard]] Result<void> send(std::span<const std::byte> message, std::chrono::nanoseconds timeout);

    // Whether the owner guest is running in the incarnation that made the port (the check every
    // send makes): for callers that wait on a reply and must notice that the peer went away.
    [[nodiscard]] bool owner_up() const;
    [[nodiscard]] std::uint16_t owner_guest() const { return owner_; }
    [[nodiscard]] std::uint32_t max_message() const { return max_message_; }
    // After try_send said Stopped: what this sender found wrong with the port (its ring's health).
    [[nodiscard]] Error why_stopped() const { return error_of(SendStatus::Stopped, 0); }

private:
    PortSender(const Region& region, std::string name, PortHeader* header, Event data, Event space,
               MessageRingProducer producer, std::uint16_t owner, std::uint32_t incarnation, std::uint32_t max_message)
        : region_(&region), name_(std::move(name)), header_(header), data_(std::move(data)), space_(std::move(space)),
          producer_(std::move(producer)), owner_(owner), owner_incarnation_(incarnation), max_message_(max_message) {}
    [[nodiscard]] Error error_of(SendStatus status, std::size_t length) const;

    const Region* region_;
    std::string name_;
    PortHeader* header_;
    Event data_, space_;
    MessageRingProducer producer_;
    std::uint16_t owner_;              // validated copies
    std::uint32_t owner_incarnation_;
    std::uint32_t max_message_;
};

}  // namespace nk::ipc
