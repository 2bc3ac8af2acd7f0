// nk::rpc::Publisher<T> / Subscriber<T>: typed topics, a stream of one Protobuf message type from
// one publishing process to any number of subscribers in any guests (sensor readings, state).
//
//   // rt guest
//   auto readings = nk::rpc::Publisher<telemetry::Reading>::create(region, "topic.readings");
//   readings->publish(reading);                      // never blocks
//
//   // linux guest, any number of processes
//   auto sub = nk::rpc::Subscriber<telemetry::Reading>::open(region, "topic.readings");
//   telemetry::Reading reading;
//   nk::rpc::Status got = sub->next(reading, std::chrono::milliseconds(100));   // OK, DEADLINE_EXCEEDED, UNAVAILABLE
//
// The topic is a segment (default: the common area) holding a header and a table of subscriber
// slots; each subscriber owns an inbox port (ipc/include/nk/ipc/port.hpp) in a place the
// publisher reaches and claims a slot for it. publish() serializes once and offers the message to
// every live slot with try_send: a full inbox drops that message for that subscriber only (a
// stream of state must not let a slow reader stall the writer), and the subscriber sees the gap
// in sequence numbers (lost()). A slot whose subscriber's guest went away is freed by the
// publisher. A subscriber learns that the publisher's guest is down (or was restarted) from the
// guest table: next() returns UNAVAILABLE. Everything read from the segment and the inbox is
// validated first: a scribbled slot is skipped, a malformed message is INTERNAL for that read.
//
// Concurrency: one thread at a time per Publisher and per Subscriber. One publisher per topic.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "nk/ipc/port.hpp"
#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/region.hpp"
#include "nk/rpc/status.hpp"

namespace nk::rpc {

inline constexpr std::uint64_t kTopicMagic = 0x4e4b'544f'5049'4301ULL;  // "NKTOPIC" 01
inline constexpr std::uint32_t kTopicLayoutVersion = 1;
inline constexpr std::uint32_t kTopicMessageMagic = 0x4e4b544d;        // "NKTM"

// The head of a topic's segment; then `slot_count` TopicSlots. Part of the region's ABI.
struct TopicHeader {
    std::uint64_t magic;               // atomic; kTopicMagic, stored last (release)
    std::uint32_t layout_version;
    std::uint32_t slot_count;
    std::uint32_t max_message;         // largest serialized message
    std::uint16_t publisher_guest;
    std::uint16_t reserved0;
    std::uint32_t publisher_incarnation;
    std::uint32_t reserved1;
    std::uint64_t published;           // atomic; messages published
    char type_name[96];                // the message's full Protobuf name, NUL-terminated
};
static_assert(std::is_standard_layout_v<TopicHeader> && std::is_trivially_copyable_v<TopicHeader>);
static_assert(sizeof(TopicHeader) == 136 && offsetof(TopicHeader, published) == 32 && offsetof(TopicHeader, type_name) == 40);

enum class TopicSlotState : std::uint32_t { Free = 0, Claiming = 1, Live = 2 };

// One word, so that freeing a slot (compare-and-swap of the exact word) can never free a later
// claim of it: generation << 32 | TopicSlotState. The generation moves on at every claim.
struct TopicSlot {
    std::uint64_t control;             // atomic
    char inbox[48];                    // the subscriber's inbox port, NUL-terminated; written while Claiming
    std::uint64_t dropped;             // atomic; messages the publisher could not deliver (inbox full)
};
static_assert(std::is_standard_layout_v<TopicSlot> && std::is_trivially_copyable_v<TopicSlot>);
static_assert(sizeof(TopicSlot) == 64 && offsetof(TopicSlot, inbox) == 8 && offsetof(TopicSlot, dropped) == 56);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
inline constexpr std::size_t kTopicSlotsOffset = 192;  // sizeof(TopicHeader) rounded up to a cache line

// What every message in an inbox starts with.
struct TopicMessageHeader {
    std::uint32_t magic;               // kTopicMessageMagic
    std::uint32_t length;              // serialized message bytes after this header
    std::uint64_t sequence;            // 1, 2, ... per topic
};
static_assert(sizeof(TopicMessageHeader) == 16);

struct TopicOptions {
    std::uint32_t slots = 32;          // subscribers at most
    std::uint32_t max_message = 4096;
    std::string where;                 // the segment's area, as for Segment::create ("": common)
};

struct PublishStats {
    std::uint64_t published = 0;
    std::uint64_t delivered = 0;       // (message, subscriber) pairs
    std::uint64_t dropped = 0;         // inbox full
};

class TopicPublisher {
public:
    [[nodiscard]] static Result<TopicPublisher> create(const Region& region, std::string_view name,
                                                       std::string_view type_name, const TopicOptions& options = {});
    TopicPublisher(TopicPublisher&&) noexcept = default;
    TopicPublisher& operator=(TopicPublisher&&) noexcept = default;
    ~TopicPublisher();

    // Offers `message` to every subscriber; RESOURCE_EXHAUSTED (both sizes) when it is too large.
    [[nodiscard]] Status publish(const google::protobuf::MessageLite& message);
    [[nodiscard]] std::size_t subscribers() const;  // live slots at the last publish
    [[nodiscard]] const PublishStats& stats() const { return stats_; }

private:
    struct Cached {
        std::uint64_t control;
        std::optional<ipc::PortSender> sender;
    };
    TopicPublisher(const Region& region, std::string name, ipc::Segment segment)
        : region_(&region), name_(std::move(name)), segment_(std::move(segment)) {}
    [[nodiscard]] TopicHeader& header() const;
    [[nodiscard]] TopicSlot& slot(std::uint32_t i) const;

    const Region* region_;
    std::string name_;
    ipc::Segment segment_;
    std::uint32_t slot_count_ = 0, max_message_ = 0;  // validated copies
    std::uint64_t sequence_ = 0;
    std::vector<std::byte> buffer_;
    std::map<std::uint32_t, Cached> senders_;           // by slot
    std::size_t live_ = 0;
    PublishStats stats_;
};

class TopicSubscriber {
public:
    struct Options {
        std::uint32_t inbox_capacity = 64 * 1024;   // a power of two; holds what arrives between reads
        std::string inbox_prefix = "topic.in";
    };
    [[nodiscard]] static Result<TopicSubscriber> open(const Region& region, std::string_view name,
                                                      std::string_view type_name, const Options& options);
    TopicSubscriber(TopicSubscriber&& other) noexcept;
    TopicSubscriber& operator=(TopicSubscriber&&) = delete;
    ~TopicSubscriber();

    // The next message parsed into `message`: OK; DEADLINE_EXCEEDED after `timeout` without one;
    // UNAVAILABLE when the publisher's guest is down or restarted; INTERNAL for malformed bytes.
    [[nodiscard]] Status next(google::protobuf::MessageLite& message, std::chrono::nanoseconds timeout);
    [[nodiscard]] std::uint64_t sequence() const { return last_sequence_; }  // of the last message read
    // Messages that did not reach this subscriber (its inbox was full), seen as sequence gaps.
    [[nodiscard]] std::uint64_t lost() const { return lost_; }

private:
    TopicSubscriber(const Region& region, std::string name, ipc::Segment segment, ipc::Port inbox, std::string inbox_name,
                    std::uint32_t slot, std::uint16_t publisher, std::uint32_t incarnation, std::uint32_t max_message)
        : region_(&region), name_(std::move(name)), segment_(std::move(segment)), inbox_(std::move(inbox)),
          inbox_name_(std::move(inbox_name)), slot_(slot), publisher_(publisher), publisher_incarnation_(incarnation),
          buffer_(max_message + sizeof(TopicMessageHeader)) {}
    [[nodiscard]] bool publisher_up() const;

    const Region* region_;
    std::string name_;
    ipc::Segment segment_;
    std::optional<ipc::Port> inbox_;
    std::string inbox_name_;
    std::uint32_t slot_;
    std::uint16_t publisher_;
    std::uint32_t publisher_incarnation_;
    std::vector<std::byte> buffer_;
    std::uint64_t last_sequence_ = 0, lost_ = 0;
};

// The typed faces.
template <class Message>
class Publisher {
public:
    [[nodiscard]] static Result<Publisher> create(const Region& region, std::string_view name, const TopicOptions& options = {}) {
        auto topic = TopicPublisher::create(region, name, Message().GetTypeName(), options);
        if (!topic) return fail(std::move(topic.error()));
        return Publisher(std::move(*topic));
    }
    [[nodiscard]] Status publish(const Message& message) { return topic_.publish(message); }
    [[nodiscard]] std::size_t subscribers() const { return topic_.subscribers(); }
    [[nodiscard]] const PublishStats& stats() const { return topic_.stats(); }

private:
    explicit Publisher(TopicPublisher topic) : topic_(std::move(topic)) {}
    TopicPublisher topic_;
};

template <class Message>
class Subscriber {
public:
    [[nodiscard]] static Result<Subscriber> open(const Region& region, std::string_view name,
                                                 const TopicSubscriber::Options& options = {}) {
        auto topic = TopicSubscriber::open(region, name, Message().GetTypeName(), options);
        if (!topic) return fail(std::move(topic.error()));
        return Subscriber(std::move(*topic));
    }
    [[nodiscard]] Status next(Message& message, std::chrono::nanoseconds timeout) { return topic_.next(message, timeout); }
    [[nodiscard]] std::uint64_t sequence() const { return topic_.sequence(); }
    [[nodiscard]] std::uint64_t lost() const { return topic_.lost(); }

private:
    explicit Subscriber(TopicSubscriber topic) : topic_(std::move(topic)) {}
    TopicSubscriber topic_;
};

}  // namespace nk::rpc
