// iceoryx (Debian's libiceoryx-posh, 2.0) as a ping-pong peer: the zero-copy publish/subscribe
// middleware users weigh nk against. One 8-byte sample each way per round trip, loaned and
// published in place, taken by busy polling on the other side (what iceoryx's own iceperf does,
// and what nk's spinning SPSC ping-pong does).
//
// iceoryx needs its broker, RouDi (`iox-roudi`), running: scripts/bench.sh ipc starts one. A
// process holds one iceoryx runtime for its whole life and a forked child cannot take over its
// parent's, so the follower side is this benchmark executed again with `--iceoryx-follower`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nk::bench {

// Round-trip times in ns of `trips` ping-pongs after `warmup`, with a follower pinned to CPU 1
// started from `self` (this program's path). `round` keeps each round's services apart.
std::vector<double> iceoryx_pingpong(const std::string& self, int round, std::uint64_t warmup, std::uint64_t trips);

// The follower: answers `count` pings of round `round`, then exits. Returns the exit code.
int iceoryx_follower(int round, std::uint64_t count);

}  // namespace nk::bench
