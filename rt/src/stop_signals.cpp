#include "nk/rt/stop_signals.hpp"

#include <pthread.h>

namespace nk::rt {

StopSignals::StopSignals() noexcept {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

int StopSignals::wait() const noexcept {
    int signal = 0;
    while (sigwait(&set_, &signal) != 0) {
    }
    return signal;
}

}  // namespace nk::rt
