// Mailbox: a queue for the messages and an event for the receiver's sleep (ordering in mailbox.hpp:
// push before signal; the receiver pops before every wait).
#include "nk/rt/mailbox.hpp"

#include "nk/nanokernel/region_error.hpp"

namespace nk::rt {
namespace {

std::string ready_name(std::string_view name) { return std::string(name) + ".ready"; }

}  // namespace

Result<Mailbox> Mailbox::create(const Region& region, std::string_view name, std::uint32_t message_size,
                                std::uint32_t capacity, std::string_view where) {
    auto queue = ipc::MpmcQueue::create(region, name, message_size, capacity, where);
    if (!queue) return fail(std::move(queue.error()));
    auto ready = ipc::Event::create(region, ready_name(name), ipc::EventMode::AutoReset, where);
    if (!ready) {
        (void)ipc::MpmcQueue::remove(region, name);
        return fail(std::move(ready.error()));
    }
    return Mailbox(std::move(*queue), std::move(*ready));
}

Result<Mailbox> Mailbox::open(const Region& region, std::string_view name, std::uint32_t message_size) {
    auto queue = ipc::MpmcQueue::open(region, name, message_size);
    if (!queue) return fail(std::move(queue.error()));
    auto ready = ipc::Event::open(region, ready_name(name));
    if (!ready) return fail(std::move(ready.error()));
    return Mailbox(std::move(*queue), std::move(*ready));
}

Result<void> Mailbox::send(std::span<const std::byte> message) {
    if (message.size() != queue_.item_size())
        return fail(RegionError::InvalidArgument, "mailbox: a message of " + std::to_string(message.size()) +
                                                      " bytes, the mailbox takes " + std::to_string(queue_.item_size()));
    if (!queue_.try_push(message)) return fail(RegionError::NoSpace, "mailbox is full");
    return ready_.signal();
}

Result<bool> Mailbox::receive_for(std::span<std::byte> out, std::chrono::nanoseconds timeout) {
    if (out.size() != queue_.item_size())
        return fail(RegionError::InvalidArgument, "mailbox: a buffer of " + std::to_string(out.size()) +
                                                      " bytes, messages are " + std::to_string(queue_.item_size()));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (queue_.try_pop(out)) return true;
        auto waited = ready_.wait_until(deadline);
        if (!waited) return fail(std::move(waited.error()));
        if (*waited == ipc::WaitResult::TimedOut) return queue_.try_pop(out);
    }
}

}  // namespace nk::rt
