// The executive's stop request as its tasks see it: a flag for the hot path and an eventfd that a
// task blocked in poll() (a console's socket) hears.
#pragma once

#include <atomic>

namespace nk::rt::detail {

struct StopState {
    std::atomic<bool> requested{false};
    int fd = -1;  // eventfd; readable once requested (stop() writes it after the flag)
};

}  // namespace nk::rt::detail
