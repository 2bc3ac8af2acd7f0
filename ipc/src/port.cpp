// Port (port.hpp): a message ring plus two events, owned by one receiving guest.
//
// Ordering: a sender commits its record (release, in the ring), then signals "data"; the
// receiver drains the ring until it is empty and only then waits on "data", whose auto-reset
// token cannot be lost between its empty read and its wait (event.cpp's contract). The receiver
// signals "space" after each record it frees; a sender that found the ring full waits on it.
#include "nk/ipc/port.hpp"

#include <cstring>
#include <utility>

#include "named_object.hpp"
#include "nk/nanokernel/access_policy.hpp"
#include "queue_support.hpp"

namespace nk::ipc {
namespace {

constexpr layout::ObjectKind kKind = layout::ObjectKind::Port;
constexpr std::uint64_t kDataEventOffset = sizeof(PortHeader);
constexpr std::uint64_t kSpaceEventOffset = kDataEventOffset + sizeof(EventHeader);
constexpr std::uint64_t kRingOffset = kSpaceEventOffset + sizeof(EventHeader);
static_assert(kRingOffset % detail::kCacheLine == 0);

std::uint64_t port_bytes(std::uint32_t capacity) { return kRingOffset + MessageRingView::bytes_for(capacity); }

EventHeader* event_at(std::byte* port, std::uint64_t offset) { return reinterpret_cast<EventHeader*>(port + offset); }

}  // namespace

std::string_view to_string(SendStatus status) {
    switch (status) {
        case SendStatus::Ok: return "ok";
        case SendStatus::Full: return "full";
        case SendStatus::TooLarge: return "too large";
        case SendStatus::OwnerDown: return "owner down";
        case SendStatus::Stopped: return "stopped";
    }
    return "unknown";
}

Result<Port> Port::create(const Region& region, std::string_view name, const PortOptions& options) {
    if (region.identity().role != Role::Guest)
        return fail(RegionError::InvalidArgument, "a port is owned by the guest that receives on it: attach as a guest");
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    if (auto shape = MessageRingView::check_shape(options.capacity, options.max_message, name); !shape)
        return fail(std::move(shape.error()));
    auto made = detail::create_object(region, name, kKind, port_bytes(options.capacity), options.where);
    if (!made) return fail(std::move(made.error()));
    auto data = region.bytes(made->region_offset, made->object.size, true);
    if (!data) return fail(std::move(data.error()));
    std::byte* port = *data;  // page-aligned, zero-filled
    auto* header = reinterpret_cast<PortHeader*>(port);
    const auto me = region.guest(region.identity().guest_id);
    header->layout_version = kPortLayoutVersion;
    header->header_size = sizeof(PortHeader);
    header->owner_guest = region.identity().guest_id;
    header->owner_incarnation = me ? me->incarnation : 0;
    header->capacity = options.capacity;
    header->max_message = options.max_message;
    header->data_event_offset = kDataEventOffset;
    header->space_event_offset = kSpaceEventOffset;
    header->ring_offset = kRingOffset;
    auto data_event = Event::embedded(event_at(port, kDataEventOffset), std::string(name) + ".data", true);
    auto space_event = Event::embedded(event_at(port, kSpaceEventOffset), std::string(name) + ".space", true);
    auto ring = MessageRingView::format({port + kRingOffset, MessageRingView::bytes_for(options.capacity)},
                                        options.capacity, options.max_message, name);
    if (!data_event || !space_event || !ring) {
        Error why = !data_event ? data_event.error() : !space_event ? space_event.error() : ring.error();
        (void)detail::remove_object(region, name, kKind);
        return fail(std::move(why));
    }
    auto consumer = ring->consumer(&region);
    if (!consumer) return fail(std::move(consumer.error()));
    // release: publishes everything above; pairs with the acquire in PortSender::open().
    layout::atomic(header->magic).store(kPortMagic, std::memory_order_release);
    return Port(std::move(*data_event), std::move(*space_event), *ring, std::move(*consumer), options.max_message);
}

Result<void> Port::remove(const Region& region, std::string_view name) { return detail::remove_object(region, name, kKind); }

Result<std::optional<std::size_t>> Port::try_receive(std::span<std::byte> out) {
    const ReadResult read = consumer_.try_read(out);
    switch (read.status) {
        case ReadStatus::Ok:
            if (auto woke = space_.signal(); !woke) return fail(std::move(woke.error()));
            return std::optional<std::size_t>(read.length);
        case ReadStatus::Empty: return std::optional<std::size_t>();
        case ReadStatus::BufferTooSmall:
            return fail(RegionError::InvalidArgument, "the next message on port '" + ring_.name() + "' has " +
                                                          std::to_string(read.length) + " bytes; the buffer holds " +
                                                          std::to_string(out.size()));
        case ReadStatus::Stopped: break;
    }
    return fail(stopped_error());
}

Result<std::optional<std::span<const std::byte>>> Port::try_peek() {
    if (auto record = consumer_.peek()) return std::optional<std::span<const std::byte>>(*record);
    if (!consumer_.corrupt()) return std::optional<std::span<const std::byte>>();
    return fail(stopped_error());
}

Error Port::stopped_error() const {
    auto health = consumer_.health();
    if (!health) return std::move(health.error());
    return Error{make_error_code(RegionError::Corrupt), "port '" + ring_.name() + "' stopped"};
}

Result<void> Port::release() {
    consumer_.release();
    if (auto woke = space_.signal(); !woke) return fail(std::move(woke.error()));
    return {};
}

Result<std::optional<std::size_t>> Port::receive(std::span<std::byte> out, std::chrono::nanoseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto got = try_receive(out);
        if (!got || *got) return got;
        auto woke = data_.wait_until(deadline);
        if (!woke) return fail(std::move(woke.error()));
        if (*woke == WaitResult::TimedOut) return try_receive(out);  // one last look
    }
}

Result<PortSender> PortSender::open(const Region& region, std::string_view name) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    auto found = detail::find_object(region, name, kKind);
    if (!found) return fail(std::move(found.error()));
    const std::string what = detail::describe(kKind, name);
    if (found->object.size < kRingOffset) return fail(RegionError::Corrupt, what + " is smaller than its header");
    auto data = region.bytes(found->region_offset, found->object.size, true);
    if (!data) return fail(std::move(data.error()));
    std::byte* port = *data;
    auto* header = reinterpret_cast<PortHeader*>(port);
    // acquire: pairs with the release in Port::create().
    const std::uint64_t magic = layout::atomic(header->magic).load(std::memory_order_acquire);
    if (magic == 0) return fail(RegionError::Busy, what + " is not initialised yet (or its creator died doing so)");
    if (magic != kPortMagic) return fail(RegionError::BadMagic, what + " does not start with a port header");
    // Read once, then checked: the fields written at creation only. The counters from `sent` on
    // are atomics that live senders move; open() does not use them (and copying them would race).
    PortHeader copy{};
    std::memcpy(static_cast<void*>(&copy), header, offsetof(PortHeader, sent));
    if (copy.layout_version != kPortLayoutVersion)
        return fail(RegionError::VersionMismatch, what + " has layout version " + std::to_string(copy.layout_version));
    if (copy.header_size != sizeof(PortHeader) || copy.data_event_offset != kDataEventOffset ||
        copy.space_event_offset != kSpaceEventOffset || copy.ring_offset != kRingOffset)
        return fail(RegionError::Corrupt, what + " has a header whose offsets this build does not use");
    if (auto shape = MessageRingView::check_shape(copy.capacity, copy.max_message, name); !shape)
        return fail(RegionError::Corrupt, what + ": " + shape.error().message);
    if (port_bytes(copy.capacity) > found->object.size)
        return fail(RegionError::Corrupt, what + " claims a ring larger than the object");
    if (!region.guest(copy.owner_guest)) return fail(RegionError::Corrupt, what + " names an owner guest that does not exist");
    auto data_event = Event::embedded(event_at(port, kDataEventOffset), std::string(name) + ".data", false);
    if (!data_event) return fail(std::move(data_event.error()));
    auto space_event = Event::embedded(event_at(port, kSpaceEventOffset), std::string(name) + ".space", false);
    if (!space_event) return fail(std::move(space_event.error()));
    auto ring = MessageRingView::attach({port + kRingOffset, MessageRingView::bytes_for(copy.capacity)}, name);
    if (!ring) return fail(std::move(ring.error()));
    WriterGuest me;
    if (region.identity().role == Role::Guest) {
        me.guest_id = region.identity().guest_id;
        if (auto info = region.guest(me.guest_id)) me.incarnation = info->incarnation;
    }
    auto producer = ring->producer(me);
    if (!producer) return fail(std::move(producer.error()));
    return PortSender(region, std::string(name), header, std::move(*data_event), std::move(*space_event),
                      std::move(*producer), copy.owner_guest, copy.owner_incarnation, copy.max_message);
}

bool PortSender::owner_up() const {
    const auto owner = region_->guest_status(owner_);
    if (!owner) return false;
    const bool down = owner->state == layout::GuestState::Down || owner->state == layout::GuestState::Stopped ||
                      owner->state == layout::GuestState::Restarting;
    // A new incarnation made its own ports afresh; this one has no receiver any more.
    return !down && owner->incarnation == owner_incarnation_;
}

SendStatus PortSender::try_send(std::span<const std::byte> message, Wake wake) {
    if (!owner_up()) {
        layout::atomic(header_->refused_down).fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
        return SendStatus::OwnerDown;
    }
    if (message.size() > max_message_) return SendStatus::TooLarge;
    switch (producer_.try_write(message)) {
        case WriteStatus::Ok:
            layout::atomic(header_->sent).fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
            if (wake == Wake::Later) return SendStatus::Ok;
            return data_.signal() ? SendStatus::Ok : SendStatus::Stopped;  // after the commit: see the top
        case WriteStatus::Full: return SendStatus::Full;
        case WriteStatus::TooLarge: return SendStatus::TooLarge;
        case WriteStatus::Pending:
        case WriteStatus::Lost:
        case WriteStatus::Stopped: break;
    }
    return SendStatus::Stopped;
}

bool PortSender::wake() { return static_cast<bool>(data_.signal()); }

Error PortSender::error_of(SendStatus status, std::size_t length) const {
    const std::string port = "port '" + name_ + "'";
    switch (status) {
        case SendStatus::OwnerDown: {
            const auto owner = region_->guest(owner_);
            return Error{make_error_code(RegionError::NotRunning),
                         port + " belongs to guest '" + (owner ? owner->name : std::to_string(owner_)) +
                             "', which is down or was restarted since it made the port; nothing was sent"};
        }
        case SendStatus::Full:
            return Error{make_error_code(RegionError::NoSpace), port + " is still full at the timeout: its receiver is "
                                                                       "not keeping up (back-pressure); nothing was sent"};
        case SendStatus::TooLarge:
            return Error{make_error_code(RegionError::InvalidArgument),
                         "a message of " + std::to_string(length) + " bytes is larger than " + port + "'s maximum of " +
                             std::to_string(max_message_)};
        default: break;
    }
    auto health = producer_.health();
    return health ? Error{make_error_code(RegionError::Corrupt), port + " stopped"} : health.error();
}

Result<void> PortSender::send(std::span<const std::byte> message, std::chrono::nanoseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const SendStatus status = try_send(message);
        if (status == SendStatus::Ok) return {};
        if (status != SendStatus::Full) return fail(error_of(status, message.size()));
        auto woke = space_.wait_until(deadline);
        if (!woke) return fail(std::move(woke.error()));
        if (*woke == WaitResult::TimedOut) {
            const SendStatus last = try_send(message);
            if (last == SendStatus::Ok) return {};
            return fail(error_of(last, message.size()));
        }
    }
}

}  // namespace nk::ipc
