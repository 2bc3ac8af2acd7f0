// MessageRing: the named-object wrapper around MessageRingView (create/open/remove in a link or
// the common area, with the config's access rules), like SpscRing.
#include <utility>

#include "named_object.hpp"
#include "nk/ipc/message_ring.hpp"
#include "nk/nanokernel/access_policy.hpp"

namespace nk::ipc {
namespace {

constexpr layout::ObjectKind kKind = layout::ObjectKind::MessageRing;

}  // namespace

MessageRing::MessageRing(const Region& region, ObjectInfo object, std::string area_label, std::uint64_t region_offset,
                         MessageRingView view)
    : region_(&region),
      object_(std::move(object)),
      area_label_(std::move(area_label)),
      region_offset_(region_offset),
      view_(std::move(view)) {}

Result<MessageRing> MessageRing::create(const Region& region, std::string_view name, std::uint32_t capacity,
                                        std::uint32_t max_record_size, std::string_view where) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    if (auto ok = MessageRingView::check_shape(capacity, max_record_size, name); !ok)
        return fail(std::move(ok.error()));
    auto made = detail::create_object(region, name, kKind, MessageRingView::bytes_for(capacity), where);
    if (!made) return fail(std::move(made.error()));
    auto data = region.bytes(made->region_offset, made->object.size, true);
    if (!data) return fail(std::move(data.error()));
    // Objects are page-aligned, so the header's 64-byte alignment holds.
    auto view = MessageRingView::format(std::span<std::byte>(*data, made->object.size), capacity, max_record_size,
                                        name);
    if (!view) return fail(std::move(view.error()));
    return MessageRing(region, std::move(made->object), std::move(made->area_label), made->region_offset,
                       std::move(*view));
}

Result<MessageRing> MessageRing::open(const Region& region, std::string_view name) {
    if (auto allowed = check_access(region, name, Rights::ReadWrite); !allowed) return fail(std::move(allowed.error()));
    auto found = detail::find_object(region, name, kKind);
    if (!found) return fail(std::move(found.error()));
    auto data = region.bytes(found->region_offset, found->object.size, true);
    if (!data) return fail(std::move(data.error()));
    auto view = MessageRingView::attach(std::span<std::byte>(*data, found->object.size), name);
    if (!view) return fail(std::move(view.error()));
    return MessageRing(region, std::move(found->object), std::move(found->area_label), found->region_offset,
                       std::move(*view));
}

Result<void> MessageRing::remove(const Region& region, std::string_view name) {
    return detail::remove_object(region, name, kKind);
}

Result<MessageRingProducer> MessageRing::producer() const {
    WriterGuest writer;
    const Identity& who = region_->identity();
    if (who.role == Role::Guest) {
        writer.guest_id = who.guest_id;
        auto info = region_->guest(who.guest_id);
        writer.incarnation = info ? info->incarnation : 0;
    }
    return view_.producer(writer);
}

Result<MessageRingConsumer> MessageRing::consumer() const { return view_.consumer(region_); }

}  // namespace nk::ipc
