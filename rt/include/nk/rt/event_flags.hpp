// nk::rt::EventFlags: 32 event flags that the executive's tasks set and one task waits on
// (µITRON's event flags with a single waiter, TA_WSGL), on nk::ipc.
//
// The flags are one word in a named segment with an auto-reset ipc::Event embedded beside it:
// set() ORs the bits in and signals; wait_for() takes the bits it asked for once they are there.
// With a single waiter, the event's token cannot be lost (a signal with nobody waiting stays set
// for the next wait), so no wake-up is missed; several waiters on one object would race for the
// token, which is why there is one. Being a named object, it also works between processes.
//
//   auto flags = nk::rt::EventFlags::create(region, "rt.flags.ctl");
//   flags->set(kFrameReady);                                           // any task
//   auto got = flags->wait_for(kFrameReady | kStop, nk::rt::FlagWait::Any, 10ms);  // the one waiter
//   if (got && *got != 0) { ... }                                      // 0: timed out
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "nk/ipc/event.hpp"
#include "nk/ipc/segment.hpp"

namespace nk::rt {

enum class FlagWait { Any, All };

class EventFlags {
public:
    // Makes the flags in the area `where` names (as for ipc::Segment::create), all clear.
    [[nodiscard]] static Result<EventFlags> create(const Region& region, std::string_view name, std::string_view where = {});
    [[nodiscard]] static Result<EventFlags> open(const Region& region, std::string_view name);

    // Sets `bits`. Any task, any thread. Errors only for a corrupt object.
    [[nodiscard]] Result<void> set(std::uint32_t bits);
    // Clears `bits` without waking anyone.
    void clear(std::uint32_t bits);
    // The bits now (a snapshot).
    [[nodiscard]] std::uint32_t peek() const;

    // Waits until any (or all) of `bits` are set, clears those of `bits` that are, and returns
    // them; 0 when `timeout` passed first. One waiting thread at a time.
    [[nodiscard]] Result<std::uint32_t> wait_for(std::uint32_t bits, FlagWait mode, std::chrono::nanoseconds timeout);

private:
    EventFlags(ipc::Segment segment, ipc::Event event, std::uint32_t* word)
        : segment_(std::move(segment)), event_(std::move(event)), word_(word) {}
    ipc::Segment segment_;
    ipc::Event event_;
    std::uint32_t* word_;
};

}  // namespace nk::rt
