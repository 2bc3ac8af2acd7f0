// nk's own transports for the ipc benchmark: SPSC rings in a real region (created here, locked and
// prefaulted as nkd creates it), shared with the forked peer process.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "nk/nanokernel/region.hpp"
#include "pingpong_peers.hpp"
#include "throughput_peers.hpp"

namespace nk::bench {

// A region for the benchmark's queues, created like nkd creates one (locked, prefaulted), with a
// 2 MiB common area.
Region make_bench_region();

std::unique_ptr<PingPong> make_nk_spsc_pingpong();
std::unique_ptr<ItemQueue> make_nk_spsc_queue(std::size_t item_size);
// Two event variables; `spin` 0 makes every wait sleep on the futex.
std::unique_ptr<PingPong> make_nk_event_pingpong(std::chrono::nanoseconds spin);

}  // namespace nk::bench
