#include "nk/nanokernel/area_lock.hpp"

#include <fcntl.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "nk/nanokernel/region_error.hpp"

namespace nk {
namespace {

// The lock covers byte 0 only; what it guards is the whole directory, by convention.
bool try_lock(int fd, short type, int& err) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    for (;;) {
        if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return true;
        if (errno == EINTR) continue;
        err = errno;
        return false;
    }
}

// A description of the area's file of this lock's own. An OFD lock belongs to the open file
// description, and a process forked after attaching shares its parent's descriptions (threads
// share them too): two such processes locking the same description would not exclude each other
// and could change the directory at once. Reopening through /proc/self/fd makes a new one. -1
// where /proc cannot do it (then the shared descriptor is locked, as before).
int own_description(int fd, AreaLock::Mode mode) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const int flags = (mode == AreaLock::Mode::Exclusive ? O_RDWR : O_RDONLY) | O_CLOEXEC;
    int own = -1;
    do own = ::open(path, flags);
    while (own < 0 && errno == EINTR);
    return own;
}

}  // namespace

Result<AreaLock> AreaLock::acquire(int fd, Mode mode, std::chrono::milliseconds timeout) {
    const int own = own_description(fd, mode);
    if (own >= 0) {
        auto locked = acquire_on(own, mode, timeout);
        if (!locked) ::close(own);
        else locked->owned_ = true;
        return locked;
    }
    return acquire_on(fd, mode, timeout);
}

Result<AreaLock> AreaLock::acquire_on(int fd, Mode mode, std::chrono::milliseconds timeout) {
    const short type = mode == Mode::Exclusive ? F_WRLCK : F_RDLCK;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // F_OFD_SETLKW has no timeout, so poll: directory operations are short and rare, and a
    // bounded wait is what lets a caller survive a holder that hangs.
    auto pause = std::chrono::microseconds(20);
    for (;;) {
        int err = 0;
        if (try_lock(fd, type, err)) return AreaLock(fd);
        if (err != EAGAIN && err != EACCES)
            return fail(Error{std::error_code(err, std::system_category()),
                              std::string("cannot lock the area directory: ") + std::strerror(err)});
        if (std::chrono::steady_clock::now() >= deadline)
            return fail(RegionError::Busy, "the area directory lock was held for more than " +
                                               std::to_string(timeout.count()) +
                                               " ms; its holder is hung or misbehaving");
        std::this_thread::sleep_for(pause);
        if (pause < std::chrono::milliseconds(2)) pause *= 2;
    }
}

AreaLock::AreaLock(AreaLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), owned_(std::exchange(other.owned_, false)) {}

AreaLock::~AreaLock() {
    if (fd_ < 0) return;
    struct flock fl {};
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    while (::fcntl(fd_, F_OFD_SETLK, &fl) != 0 && errno == EINTR) {
    }
    if (owned_) ::close(fd_);
}

}  // namespace nk
