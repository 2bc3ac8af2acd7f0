#include "throughput_peers.hpp"

#include <array>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstring>
#include <stdexcept>

#include "bench_util.hpp"

namespace nk::bench {
namespace {

template <std::size_t Size>
class BoostQueue final : public ItemQueue {
    using Item = std::array<std::byte, Size>;
    using Ring = boost::lockfree::spsc_queue<Item, boost::lockfree::capacity<4096>>;

public:
    BoostQueue() : ring_(shared_new<Ring>()) {}
    ~BoostQueue() override { shared_delete(ring_); }
    std::string name() const override { return "boost-spsc"; }
    bool try_push(const void* item) override {
        Item copy;
        std::memcpy(copy.data(), item, Size);
        return ring_->push(copy);
    }
    bool try_pop(void* item) override {
        Item copy;
        if (!ring_->pop(copy)) return false;
        std::memcpy(item, copy.data(), Size);
        return true;
    }

private:
    Ring* ring_;
};

}  // namespace

std::unique_ptr<ItemQueue> make_boost_spsc_queue(std::size_t item_size) {
    if (item_size == 8) return std::make_unique<BoostQueue<8>>();
    if (item_size == 64) return std::make_unique<BoostQueue<64>>();
    throw std::invalid_argument("boost queue item size");
}

}  // namespace nk::bench
