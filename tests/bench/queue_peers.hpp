// Queue throughput against the peers of the issue:
//   - MPMC: nk's MpmcQueue (in a region) against boost::lockfree::queue (fixed_sized, capacity<1024>,
//     placed in a shared anonymous mapping: its nodes are an array inside the object, linked by
//     index, so it works across forked processes), with 1, 2 and 4 producer processes and as many
//     consumer processes, 8-byte items;
//   - SPSC between two threads: nk's SpscRing against moodycamel::ReaderWriterQueue (heap memory,
//     so threads only), 8- and 64-byte items.
// Every side spins on full and empty, yielding the CPU when it fails (with up to eight processes
// on two CPUs a side that only spun would burn its time slice while the other side waits).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace nk::bench {

class QueueBench {
public:
    // One round: every queue and shape once, nk and its peer alternately.
    void run_round();
    // mpmc_throughput_{1,2,4}p{1,2,4}c and spsc_threads_throughput_{8,64}B: medians over rounds.
    void append_records(std::vector<Record>& records) const;

private:
    std::map<std::string, std::vector<double>> rates_;  // "queue/shape" -> M items/s per round
};

}  // namespace nk::bench
