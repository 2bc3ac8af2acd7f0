// Recovery requests (recovery.hpp).
#include "nk/nanokernel/recovery.hpp"

#include <algorithm>
#include <string>

#include "control_page.hpp"
#include "doorbell.hpp"

namespace nk::recovery {

Result<void> request(const Region& region, const Request& what) {
    const Identity& me = region.identity();
    if (me.role != Role::Guest) return fail(RegionError::InvalidArgument, "a recovery is asked for by a guest");
    if (what.target == me.guest_id) return fail(RegionError::InvalidArgument, "a guest cannot ask to recover itself");
    if (detail::guest_index(region, what.target) < 0)
        return fail(RegionError::NotFound, "no guest has id " + std::to_string(what.target));
    auto* page = detail::control_page(region, me.guest_id, true);
    if (page == nullptr) return fail(RegionError::NotMapped, "this guest's control page is not mapped writable here");
    auto& r = page->recovery;
    const std::uint32_t sequence = layout::atomic(r.sequence).load(std::memory_order_relaxed);
    // acquire: pairs with nkd's release of `handled`, so the fields are not rewritten under its copy.
    if (layout::atomic(r.handled).load(std::memory_order_acquire) != sequence)
        return fail(RegionError::Busy, "the nanokernel has not taken this guest's previous recovery request yet");
    layout::atomic(r.target_guest).store(what.target, std::memory_order_relaxed);  // published by the release below
    layout::atomic(r.target_incarnation).store(what.incarnation, std::memory_order_relaxed);
    layout::atomic(r.missed).store(static_cast<std::uint32_t>(std::min<std::uint64_t>(what.missed, UINT32_MAX)),
                                   std::memory_order_relaxed);
    layout::atomic(r.health).store(what.health, std::memory_order_relaxed);
    // release: the fields before the new sequence; pairs with the acquire in take().
    layout::atomic(r.sequence).store(sequence + 1, std::memory_order_release);
    detail::ring(page->to_nanokernel, layout::kRecoverLine);
    return {};
}

std::optional<Request> take(const Region& region, std::uint16_t from) {
    if (region.identity().role != Role::Creator) return std::nullopt;
    auto* page = detail::control_page(region, from, true);
    if (page == nullptr) return std::nullopt;
    auto& r = page->recovery;
    // acquire: pairs with the release in request().
    const std::uint32_t sequence = layout::atomic(r.sequence).load(std::memory_order_acquire);
    if (layout::atomic(r.handled).load(std::memory_order_relaxed) == sequence) return std::nullopt;
    Request out;
    out.target = layout::atomic(r.target_guest).load(std::memory_order_relaxed);
    out.incarnation = layout::atomic(r.target_incarnation).load(std::memory_order_relaxed);
    out.missed = layout::atomic(r.missed).load(std::memory_order_relaxed);
    out.health = layout::atomic(r.health).load(std::memory_order_relaxed);
    // release: the copy is taken before the guest may write the next request.
    layout::atomic(r.handled).store(sequence, std::memory_order_release);
    return out;
}

}  // namespace nk::recovery
