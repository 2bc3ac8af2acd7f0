// Fixed-size item queues between two processes, for throughput: a producer process pushes N items,
// the consumer process pops them, spinning on full and empty alike.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace nk::bench {

class ItemQueue {
public:
    virtual ~ItemQueue() = default;
    [[nodiscard]] virtual std::string name() const = 0;
    [[nodiscard]] virtual bool try_push(const void* item) = 0;
    [[nodiscard]] virtual bool try_pop(void* item) = 0;
};

// boost::lockfree::spsc_queue in shared memory, items of 8 or 64 bytes, 4096 slots.
std::unique_ptr<ItemQueue> make_boost_spsc_queue(std::size_t item_size);

}  // namespace nk::bench
