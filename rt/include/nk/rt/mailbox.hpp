// nk::rt::Mailbox: fixed-size messages from any task to one receiving task, on nk::ipc.
//
// A bounded ipc::MpmcQueue holds the messages and an auto-reset ipc::Event named "<name>.ready"
// wakes the receiver: send() pushes, then signals; receive_for() pops, and waits on the event only
// when the queue is empty. With one receiver the event's token is never lost (a signal while it
// is not waiting stays set), so a message that is in the queue is always seen. Sending never
// blocks: a full mailbox is refused at once (a real-time sender must not wait on a slow receiver).
//
//   struct Command { std::uint32_t op, arg; };
//   auto box = nk::rt::Mailbox::create(region, "rt.mbox.ctl", sizeof(Command), 64);
//   (void)box->send_value(Command{1, 2});                       // any task
//   Command c;
//   if (auto got = box->receive_value_for(c, 10ms); got && *got) run(c);  // the one receiver
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include "nk/ipc/event.hpp"
#include "nk/ipc/mpmc_queue.hpp"

namespace nk::rt {

class Mailbox {
public:
    // `capacity` a power of two; `where` as for ipc::Segment::create.
    [[nodiscard]] static Result<Mailbox> create(const Region& region, std::string_view name, std::uint32_t message_size,
                                                std::uint32_t capacity, std::string_view where = {});
    [[nodiscard]] static Result<Mailbox> open(const Region& region, std::string_view name, std::uint32_t message_size);

    // Queues one message (exactly message_size() bytes). RegionError::NoSpace when full.
    [[nodiscard]] Result<void> send(std::span<const std::byte> message);
    // Takes the oldest message into `out`: true, or false when `timeout` passed first. One
    // receiving thread at a time.
    [[nodiscard]] Result<bool> receive_for(std::span<std::byte> out, std::chrono::nanoseconds timeout);

    template <class T>
    [[nodiscard]] Result<void> send_value(const T& value) {
        static_assert(std::is_trivially_copyable_v<T>);
        return send(std::as_bytes(std::span(&value, 1)));
    }
    template <class T>
    [[nodiscard]] Result<bool> receive_value_for(T& value, std::chrono::nanoseconds timeout) {
        static_assert(std::is_trivially_copyable_v<T>);
        return receive_for(std::as_writable_bytes(std::span(&value, 1)), timeout);
    }

    [[nodiscard]] std::uint32_t message_size() const { return queue_.item_size(); }

private:
    Mailbox(ipc::MpmcQueue queue, ipc::Event ready) : queue_(std::move(queue)), ready_(std::move(ready)) {}
    ipc::MpmcQueue queue_;
    ipc::Event ready_;
};

}  // namespace nk::rt
