// Message-ring throughput against its peers: a producer process sends N records of one size to
// the consumer process, both spinning on full and empty. nk's MessageRing (variable-length
// records, multi-producer capable) against boost::lockfree::spsc_queue of fixed 64-byte items (the
// cost of a fixed-size single-producer queue) and a Unix datagram socket pair (what a program
// would otherwise use for packets).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace nk::bench {

class MessageRingBench {
public:
    // One round: every transport and record size once, in fresh process pairs.
    void run_round();
    // msgring_throughput_64B and _1500B, each against its peers: median over rounds.
    void append_records(std::vector<Record>& records) const;

private:
    std::map<std::string, std::vector<double>> rates_;  // "transport/size" -> Mrecords/s per round
};

}  // namespace nk::bench
