// Topics (topic.hpp). Ordering: a subscriber makes its inbox, claims a Free slot by
// compare-and-swap to Claiming (its generation moved on), writes the inbox name, then publishes
// Live with a release store; the publisher loads the control word with acquire before it reads
// the name (pairs with that release). Freeing is a compare-and-swap of the exact word it saw, so
// a slot re-claimed meanwhile (a new generation) is never freed by mistake.
#include "nk/rpc/topic.hpp"


#include <cstring>

#include "client_ports.hpp"
#include "nk/nanokernel/layout.hpp"

namespace nk::rpc {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSlice = std::chrono::milliseconds(5);  // how soon a waiting subscriber sees the publisher go

constexpr std::uint64_t word(std::uint32_t generation, TopicSlotState state) {
    return std::uint64_t{generation} << 32 | static_cast<std::uint32_t>(state);
}
constexpr TopicSlotState state_of(std::uint64_t control) { return static_cast<TopicSlotState>(control & 0xffff'ffffU); }
constexpr std::uint32_t generation_of(std::uint64_t control) { return static_cast<std::uint32_t>(control >> 32); }

std::uint64_t segment_bytes(std::uint32_t slots) { return kTopicSlotsOffset + std::uint64_t{slots} * sizeof(TopicSlot); }

// A name field the peer wrote: NUL-terminated within the field and printable, or nothing.
std::optional<std::string> name_in(const char* field, std::size_t capacity) {
    char copy[128];
    if (capacity > sizeof copy) return std::nullopt;
    std::memcpy(copy, field, capacity);
    const auto* end = static_cast<const char*>(std::memchr(copy, '\0', capacity));
    if (end == nullptr || end == copy) return std::nullopt;
    for (const char* c = copy; c != end; ++c)
        if (*c <= ' ' || *c > '~') return std::nullopt;
    return std::string(static_cast<const char*>(copy), end);
}

bool guest_up(const Region& region, std::uint16_t guest, std::uint32_t incarnation) {
    const auto info = region.guest(guest);
    if (!info) return false;
    const bool down = info->state == layout::GuestState::Down || info->state == layout::GuestState::Stopped ||
                      info->state == layout::GuestState::Restarting;
    return !down && info->incarnation == incarnation;
}

// The header checked as a reader must: magic (acquire), version, sizes, a NUL-terminated type name.
Result<TopicHeader> checked_header(const ipc::Segment& segment, std::string_view name) {
    const std::string what = "topic '" + std::string(name) + "'";
    if (segment.bytes().size() < kTopicSlotsOffset) return fail(RegionError::Corrupt, what + " is smaller than its header");
    auto* shared = reinterpret_cast<TopicHeader*>(segment.bytes().data());
    // acquire: pairs with the release in TopicPublisher::create().
    const std::uint64_t magic = layout::atomic(shared->magic).load(std::memory_order_acquire);
    if (magic == 0) return fail(RegionError::Busy, what + " is not initialised yet");
    if (magic != kTopicMagic) return fail(RegionError::BadMagic, what + " is not a topic");
    TopicHeader copy;
    std::memcpy(static_cast<void*>(&copy), shared, sizeof copy);
    if (copy.layout_version != kTopicLayoutVersion)
        return fail(RegionError::VersionMismatch, what + " has layout version " + std::to_string(copy.layout_version));
    if (copy.slot_count == 0 || segment_bytes(copy.slot_count) > segment.bytes().size() || copy.max_message == 0 ||
        copy.max_message > (1U << 24) || !name_in(copy.type_name, sizeof copy.type_name))
        return fail(RegionError::Corrupt, what + " has a header out of bounds");
    return copy;
}

}  // namespace

// ---- Publisher

TopicHeader& TopicPublisher::header() const { return *reinterpret_cast<TopicHeader*>(segment_.bytes().data()); }
TopicSlot& TopicPublisher::slot(std::uint32_t i) const {
    return reinterpret_cast<TopicSlot*>(segment_.bytes().data() + kTopicSlotsOffset)[i];
}

Result<TopicPublisher> TopicPublisher::create(const Region& region, std::string_view name, std::string_view type_name,
                                              const TopicOptions& options) {
    if (region.identity().role != Role::Guest) return fail(RegionError::InvalidArgument, "a topic is published by a guest");
    if (type_name.empty() || type_name.size() >= sizeof(TopicHeader::type_name))
        return fail(RegionError::InvalidArgument, "message type name '" + std::string(type_name) + "' does not fit a topic");
    if (options.slots == 0 || options.slots > 1024 || options.max_message == 0 || options.max_message > (1U << 24))
        return fail(RegionError::InvalidArgument, "a topic has 1..1024 slots and a maximum message of 1..16 MiB");
    const std::uint16_t me = region.identity().guest_id;
    const auto my_info = region.guest(me);
    const std::uint32_t incarnation = my_info ? my_info->incarnation : 0;
    auto made = ipc::Segment::create(region, name, segment_bytes(options.slots), options.where);
    if (!made && made.error().code == make_error_code(RegionError::Exists)) {
        // A publisher of this guest that restarted: it takes the topic over, subscribers and all.
        auto existing = ipc::Segment::open(region, name);
        if (!existing) return fail(std::move(existing.error()));
        auto header = checked_header(*existing, name);
        if (!header) return fail(std::move(header.error()));
        if (header->publisher_guest != me)
            return fail(RegionError::Exists, "topic '" + std::string(name) + "' is published by guest " +
                                                 std::to_string(header->publisher_guest));
        if (std::string_view(header->type_name) != type_name)
            return fail(RegionError::Exists, "topic '" + std::string(name) + "' carries " + header->type_name + ", not " +
                                                 std::string(type_name));
        TopicPublisher publisher(region, std::string(name), std::move(*existing));
        auto& shared = publisher.header();
        shared.publisher_incarnation = incarnation;
        publisher.slot_count_ = header->slot_count;
        publisher.max_message_ = header->max_message;
        publisher.sequence_ = layout::atomic(shared.published).load(std::memory_order_relaxed);  // relaxed: one publisher
        return publisher;
    }
    if (!made) return fail(std::move(made.error()));
    TopicPublisher publisher(region, std::string(name), std::move(*made));
    TopicHeader& shared = publisher.header();  // zero-filled
    shared.layout_version = kTopicLayoutVersion;
    shared.slot_count = options.slots;
    shared.max_message = options.max_message;
    shared.publisher_guest = me;
    shared.publisher_incarnation = incarnation;
    std::memcpy(shared.type_name, type_name.data(), type_name.size());
    // release: publishes the fields above; pairs with the acquire in checked_header().
    layout::atomic(shared.magic).store(kTopicMagic, std::memory_order_release);
    publisher.slot_count_ = options.slots;
    publisher.max_message_ = options.max_message;
    return publisher;
}

TopicPublisher::~TopicPublisher() = default;  // the topic stays: a restarted publisher takes it over

std::size_t TopicPublisher::subscribers() const { return live_; }

Status TopicPublisher::publish(const google::protobuf::MessageLite& message) {
    const std::size_t size = message.ByteSizeLong();
    if (size > max_message_)
        return Status(StatusCode::ResourceExhausted, "a message of " + std::to_string(size) +
                                                         " bytes is larger than topic '" + name_ + "''s maximum of " +
                                                         std::to_string(max_message_));
    buffer_.resize(sizeof(TopicMessageHeader) + size);
    const TopicMessageHeader head{kTopicMessageMagic, static_cast<std::uint32_t>(size), ++sequence_};
    std::memcpy(buffer_.data(), &head, sizeof head);
    message.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(buffer_.data() + sizeof head));
    layout::atomic(header().published).store(sequence_, std::memory_order_relaxed);  // relaxed: a statistic
    ++stats_.published;
    live_ = 0;
    for (std::uint32_t i = 0; i < slot_count_; ++i) {
        TopicSlot& s = slot(i);
        // acquire: pairs with the subscriber's release of Live, after it wrote the inbox name.
        const std::uint64_t control = layout::atomic(s.control).load(std::memory_order_acquire);
        if (state_of(control) != TopicSlotState::Live) {
            senders_.erase(i);
            continue;
        }
        Cached& cached = senders_[i];
        if (!cached.sender || cached.control != control) {
            cached.sender.reset();
            cached.control = control;
            const auto inbox = name_in(s.inbox, sizeof s.inbox);
            if (!inbox) continue;  // scribbled: skipped, never followed
            auto opened = ipc::PortSender::open(*region_, *inbox);
            if (!opened) {
                // Its inbox is gone (a subscriber that died and was reclaimed): the slot is free again.
                if (opened.error().code == make_error_code(RegionError::NotFound)) {
                    std::uint64_t expected = control;
                    (void)layout::atomic(s.control).compare_exchange_strong(
                        expected, word(generation_of(control), TopicSlotState::Free), std::memory_order_acq_rel);
                }
                continue;
            }
            cached.sender.emplace(std::move(*opened));
        }
        ++live_;
        switch (cached.sender->try_send(buffer_)) {
            case ipc::SendStatus::Ok: ++stats_.delivered; break;
            case ipc::SendStatus::OwnerDown: {
                // The subscriber's guest went away: free its slot (only this claim of it).
                std::uint64_t expected = control;
                (void)layout::atomic(s.control).compare_exchange_strong(
                    expected, word(generation_of(control), TopicSlotState::Free), std::memory_order_acq_rel);
                senders_.erase(i);
                --live_;
                break;
            }
            case ipc::SendStatus::Full:
            case ipc::SendStatus::TooLarge:
            case ipc::SendStatus::Stopped:
                ++stats_.dropped;
                layout::atomic(s.dropped).fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
                break;
        }
    }
    return Status();
}

// ---- Subscriber

Result<TopicSubscriber> TopicSubscriber::open(const Region& region, std::string_view name, std::string_view type_name,
                                              const Options& options) {
    if (region.identity().role != Role::Guest)
        return fail(RegionError::InvalidArgument, "a topic subscriber receives on a port of its own: attach as a guest");
    auto segment = ipc::Segment::open(region, name);
    if (!segment) return fail(context(std::move(segment.error()), "subscribe to topic '" + std::string(name) + "'"));
    auto header = checked_header(*segment, name);
    if (!header) return fail(std::move(header.error()));
    if (std::string_view(header->type_name) != type_name)
        return fail(RegionError::InvalidArgument, "topic '" + std::string(name) + "' carries " + header->type_name +
                                                      ", not " + std::string(type_name));
    const auto publisher = region.guest(header->publisher_guest);
    if (!publisher) return fail(RegionError::Corrupt, "topic '" + std::string(name) + "' names no publisher guest");
    const std::uint16_t me = region.identity().guest_id;
    const std::string inbox_name = detail::unique_port_name(region, options.inbox_prefix);
    if (inbox_name.size() >= sizeof(TopicSlot::inbox))
        return fail(RegionError::InvalidArgument, "inbox name '" + inbox_name + "' is too long: shorten inbox_prefix");
    // In the topic's own area, which the publisher reaches: the common area, or its link with us.
    const std::string where = segment->info().area_label == "common" || header->publisher_guest == me
                                  ? std::string()
                                  : publisher->name;
    auto inbox = ipc::Port::create(region, inbox_name,
                                   {options.inbox_capacity, header->max_message + static_cast<std::uint32_t>(sizeof(TopicMessageHeader)), where});
    if (!inbox) return fail(context(std::move(inbox.error()), "make topic inbox"));
    auto* slots = reinterpret_cast<TopicSlot*>(segment->bytes().data() + kTopicSlotsOffset);
    for (std::uint32_t i = 0; i < header->slot_count; ++i) {
        auto control = layout::atomic(slots[i].control);
        std::uint64_t seen = control.load(std::memory_order_relaxed);  // relaxed: the CAS below decides
        if (state_of(seen) != TopicSlotState::Free) continue;
        const std::uint32_t generation = generation_of(seen) + 1;
        if (!control.compare_exchange_strong(seen, word(generation, TopicSlotState::Claiming), std::memory_order_acq_rel))
            continue;
        std::memset(slots[i].inbox, 0, sizeof slots[i].inbox);
        std::memcpy(slots[i].inbox, inbox_name.data(), inbox_name.size());
        // release: publishes the inbox name; pairs with the acquire in publish().
        control.store(word(generation, TopicSlotState::Live), std::memory_order_release);
        return TopicSubscriber(region, std::string(name), std::move(*segment), std::move(*inbox), inbox_name, i,
                               header->publisher_guest, header->publisher_incarnation, header->max_message);
    }
    (void)ipc::Port::remove(region, inbox_name);
    return fail(RegionError::NoSpace, "topic '" + std::string(name) + "' has all " + std::to_string(header->slot_count) +
                                          " subscriber slots taken");
}

TopicSubscriber::TopicSubscriber(TopicSubscriber&& other) noexcept
    : region_(other.region_), name_(std::move(other.name_)), segment_(std::move(other.segment_)),
      inbox_(std::move(other.inbox_)), inbox_name_(std::move(other.inbox_name_)), slot_(other.slot_),
      publisher_(other.publisher_), publisher_incarnation_(other.publisher_incarnation_), buffer_(std::move(other.buffer_)),
      last_sequence_(other.last_sequence_), lost_(other.lost_) {
    other.inbox_.reset();
}

TopicSubscriber::~TopicSubscriber() {
    if (!inbox_) return;  // moved from
    auto* slots = reinterpret_cast<TopicSlot*>(segment_.bytes().data() + kTopicSlotsOffset);
    auto control = layout::atomic(slots[slot_].control);
    std::uint64_t seen = control.load(std::memory_order_relaxed);  // relaxed: the CAS below decides
    if (state_of(seen) == TopicSlotState::Live)
        (void)control.compare_exchange_strong(seen, word(generation_of(seen), TopicSlotState::Free), std::memory_order_acq_rel);
    inbox_.reset();
    (void)ipc::Port::remove(*region_, inbox_name_);
}

bool TopicSubscriber::publisher_up() const { return guest_up(*region_, publisher_, publisher_incarnation_); }

Status TopicSubscriber::next(google::protobuf::MessageLite& message, std::chrono::nanoseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (!publisher_up())
            return Status(StatusCode::Unavailable, "the publisher of topic '" + name_ + "' is down or was restarted");
        const auto now = Clock::now();
        auto got = inbox_->receive(buffer_, std::min<std::chrono::nanoseconds>(kSlice, std::max(deadline - now, Clock::duration(0))));
        if (!got) return Status(StatusCode::Internal, "inbox of topic '" + name_ + "': " + got.error().message);
        if (!*got) {
            if (Clock::now() >= deadline)
                return Status(StatusCode::DeadlineExceeded, "no message on topic '" + name_ + "' within the timeout");
            continue;
        }
        TopicMessageHeader head{};
        if (**got < sizeof head) return Status(StatusCode::Internal, "a malformed message on topic '" + name_ + "': too short");
        std::memcpy(&head, buffer_.data(), sizeof head);
        if (head.magic != kTopicMessageMagic || head.length != **got - sizeof head || head.sequence <= last_sequence_)
            return Status(StatusCode::Internal, "a malformed message on topic '" + name_ + "' (magic, length or sequence)");
        if (last_sequence_ != 0) lost_ += head.sequence - last_sequence_ - 1;
        last_sequence_ = head.sequence;
        if (!message.ParseFromArray(buffer_.data() + sizeof head, static_cast<int>(head.length)))
            return Status(StatusCode::Internal, "message " + std::to_string(head.sequence) + " on topic '" + name_ +
                                                    "' does not parse as " + message.GetTypeName());
        return Status();
    }
}

}  // namespace nk::rpc
