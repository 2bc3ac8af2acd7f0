// nk_spsc_*, nk_mpmc_* and nk_msgring_*: the lock-free rings and queues.
//
// try_push / try_pop / try_write / try_read are the hot path of real-time callers: past the
// first call on a handle (which makes its producer or consumer), they do not allocate and do
// not touch the thread's last error except on a real error.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

#include "c_support.hpp"

namespace {

using nk::c::guarded;
using nk::c::invalid;

// A size_t argument that must fit the C++ side's 32-bit item sizes and capacities.
bool fits_u32(size_t value) { return value <= std::numeric_limits<std::uint32_t>::max(); }

nk_result_t wrong_item_size(const char* what, size_t given, std::uint32_t expected) noexcept {
    return guarded([&] {
        return nk::c::set_error(NK_E_INVALID, std::string(what) + ": an item of " + std::to_string(given) + " bytes; ",
                                "this one holds items of " + std::to_string(expected) + " bytes");
    });
}

// The result for a handle that stopped: its health() error (RegionError::Corrupt, with what it saw).
nk_result_t stopped(const nk::Result<void>& health, const char* what) {
    if (!health) return nk::c::from_error(health.error());
    return nk::c::set_error(NK_E_CORRUPT, what, " stopped");
}

std::span<const std::byte> in_bytes(const void* data, size_t size) { return {static_cast<const std::byte*>(data), size}; }
std::span<std::byte> out_bytes(void* data, size_t size) { return {static_cast<std::byte*>(data), size}; }

}  // namespace

extern "C" {

void nk_queue_options_init(nk_queue_options_t* options) {
    if (options == nullptr) return;
    *options = nk_queue_options_t{};
    options->struct_size = sizeof *options;
}

// ---- SPSC ----------------------------------------------------------------------------------

nk_result_t nk_spsc_create(nk_region_t* region, const char* name, size_t item_size, size_t capacity,
                           const nk_queue_options_t* options, nk_spsc_t** ring) {
    if (region == nullptr || name == nullptr || ring == nullptr)
        return invalid("nk_spsc_create: region, name and ring must not be NULL");
    if (!nk::c::options_ok(options)) return nk::c::bad_options("nk_queue_options_init");
    if (!fits_u32(item_size) || !fits_u32(capacity)) return invalid("nk_spsc_create: item size or capacity too large");
    return guarded([&] {
        auto made = nk::ipc::SpscRing::create(*region->region, name, static_cast<std::uint32_t>(item_size),
                                              static_cast<std::uint32_t>(capacity),
                                              nk::c::where_of(options != nullptr ? options->where : nullptr));
        if (!made) return nk::c::from_error(made.error());
        return nk::c::emit(ring, region->region, std::move(*made));
    });
}

nk_result_t nk_spsc_open(nk_region_t* region, const char* name, size_t expected_item_size, nk_spsc_t** ring) {
    if (region == nullptr || name == nullptr || ring == nullptr)
        return invalid("nk_spsc_open: region, name and ring must not be NULL");
    if (!fits_u32(expected_item_size)) return invalid("nk_spsc_open: expected item size too large");
    return guarded([&] {
        auto opened = nk::ipc::SpscRing::open(*region->region, name, static_cast<std::uint32_t>(expected_item_size));
        if (!opened) return nk::c::from_error(opened.error());
        return nk::c::emit(ring, region->region, std::move(*opened));
    });
}

nk_result_t nk_spsc_try_push(nk_spsc_t* ring, const void* item, size_t size) {
    if (ring == nullptr || item == nullptr) return invalid("nk_spsc_try_push: ring and item must not be NULL");
    if (size != ring->ring.item_size()) return wrong_item_size("nk_spsc_try_push", size, ring->ring.item_size());
    return guarded([&] {
        if (!ring->producer) {
            auto producer = ring->ring.producer();
            if (!producer) return nk::c::from_error(producer.error());
            ring->producer.emplace(std::move(*producer));
        }
        if (ring->producer->try_push(in_bytes(item, size))) return NK_OK;
        if (ring->producer->corrupt()) return stopped(ring->producer->health(), "the ring's producer");
        return NK_E_FULL;
    });
}

nk_result_t nk_spsc_try_pop(nk_spsc_t* ring, void* out, size_t size) {
    if (ring == nullptr || out == nullptr) return invalid("nk_spsc_try_pop: ring and out must not be NULL");
    if (size != ring->ring.item_size()) return wrong_item_size("nk_spsc_try_pop", size, ring->ring.item_size());
    return guarded([&] {
        if (!ring->consumer) {
            auto consumer = ring->ring.consumer();
            if (!consumer) return nk::c::from_error(consumer.error());
            ring->consumer.emplace(std::move(*consumer));
        }
        if (ring->consumer->try_pop(out_bytes(out, size))) return NK_OK;
        if (ring->consumer->corrupt()) return stopped(ring->consumer->health(), "the ring's consumer");
        return NK_E_EMPTY;
    });
}

size_t nk_spsc_item_size(const nk_spsc_t* ring) { return ring == nullptr ? 0 : ring->ring.item_size(); }
size_t nk_spsc_capacity(const nk_spsc_t* ring) { return ring == nullptr ? 0 : ring->ring.capacity(); }
size_t nk_spsc_size_approx(const nk_spsc_t* ring) { return ring == nullptr ? 0 : ring->ring.size_approx(); }
void nk_spsc_close(nk_spsc_t* ring) { delete ring; }

nk_result_t nk_spsc_remove(nk_region_t* region, const char* name) {
    if (region == nullptr || name == nullptr) return invalid("nk_spsc_remove: region and name must not be NULL");
    return guarded([&] {
        auto removed = nk::ipc::SpscRing::remove(*region->region, name);
        return removed ? NK_OK : nk::c::from_error(removed.error());
    });
}

// ---- MPMC ----------------------------------------------------------------------------------

nk_result_t nk_mpmc_create(nk_region_t* region, const char* name, size_t item_size, size_t capacity,
                           const nk_queue_options_t* options, nk_mpmc_t** queue) {
    if (region == nullptr || name == nullptr || queue == nullptr)
        return invalid("nk_mpmc_create: region, name and queue must not be NULL");
    if (!nk::c::options_ok(options)) return nk::c::bad_options("nk_queue_options_init");
    if (!fits_u32(item_size) || !fits_u32(capacity)) return invalid("nk_mpmc_create: item size or capacity too large");
    return guarded([&] {
        auto made = nk::ipc::MpmcQueue::create(*region->region, name, static_cast<std::uint32_t>(item_size),
                                               static_cast<std::uint32_t>(capacity),
                                               nk::c::where_of(options != nullptr ? options->where : nullptr));
        if (!made) return nk::c::from_error(made.error());
        return nk::c::emit(queue, region->region, std::move(*made));
    });
}

nk_result_t nk_mpmc_open(nk_region_t* region, const char* name, size_t expected_item_size, nk_mpmc_t** queue) {
    if (region == nullptr || name == nullptr || queue == nullptr)
        return invalid("nk_mpmc_open: region, name and queue must not be NULL");
    if (!fits_u32(expected_item_size)) return invalid("nk_mpmc_open: expected item size too large");
    return guarded([&] {
        auto opened = nk::ipc::MpmcQueue::open(*region->region, name, static_cast<std::uint32_t>(expected_item_size));
        if (!opened) return nk::c::from_error(opened.error());
        return nk::c::emit(queue, region->region, std::move(*opened));
    });
}

nk_result_t nk_mpmc_try_push(nk_mpmc_t* queue, const void* item, size_t size) {
    if (queue == nullptr || item == nullptr) return invalid("nk_mpmc_try_push: queue and item must not be NULL");
    if (size != queue->queue.item_size()) return wrong_item_size("nk_mpmc_try_push", size, queue->queue.item_size());
    if (queue->queue.try_push(in_bytes(item, size))) return NK_OK;
    return guarded([&] { return queue->queue.corrupt() ? stopped(queue->queue.health(), "the queue") : NK_E_FULL; });
}

nk_result_t nk_mpmc_try_pop(nk_mpmc_t* queue, void* out, size_t size) {
    if (queue == nullptr || out == nullptr) return invalid("nk_mpmc_try_pop: queue and out must not be NULL");
    if (size != queue->queue.item_size()) return wrong_item_size("nk_mpmc_try_pop", size, queue->queue.item_size());
    if (queue->queue.try_pop(out_bytes(out, size))) return NK_OK;
    return guarded([&] { return queue->queue.corrupt() ? stopped(queue->queue.health(), "the queue") : NK_E_EMPTY; });
}

size_t nk_mpmc_item_size(const nk_mpmc_t* queue) { return queue == nullptr ? 0 : queue->queue.item_size(); }
size_t nk_mpmc_capacity(const nk_mpmc_t* queue) { return queue == nullptr ? 0 : queue->queue.capacity(); }
size_t nk_mpmc_size_approx(const nk_mpmc_t* queue) { return queue == nullptr ? 0 : queue->queue.size_approx(); }
void nk_mpmc_close(nk_mpmc_t* queue) { delete queue; }

nk_result_t nk_mpmc_remove(nk_region_t* region, const char* name) {
    if (region == nullptr || name == nullptr) return invalid("nk_mpmc_remove: region and name must not be NULL");
    return guarded([&] {
        auto removed = nk::ipc::MpmcQueue::remove(*region->region, name);
        return removed ? NK_OK : nk::c::from_error(removed.error());
    });
}

// ---- Message rings -------------------------------------------------------------------------

void nk_msgring_options_init(nk_msgring_options_t* options) {
    if (options == nullptr) return;
    *options = nk_msgring_options_t{};
    options->struct_size = sizeof *options;
    options->capacity = 64 * 1024;
    options->max_record_size = 4096;
}

nk_result_t nk_msgring_create(nk_region_t* region, const char* name, const nk_msgring_options_t* options,
                              nk_msgring_t** ring) {
    if (region == nullptr || name == nullptr || ring == nullptr)
        return invalid("nk_msgring_create: region, name and ring must not be NULL");
    if (!nk::c::options_ok(options)) return nk::c::bad_options("nk_msgring_options_init");
    return guarded([&] {
        nk_msgring_options_t o;
        nk_msgring_options_init(&o);
        if (options != nullptr) o = *options;
        auto made = nk::ipc::MessageRing::create(*region->region, name, o.capacity, o.max_record_size,
                                                 nk::c::where_of(o.where));
        if (!made) return nk::c::from_error(made.error());
        return nk::c::emit(ring, region->region, std::move(*made));
    });
}

nk_result_t nk_msgring_open(nk_region_t* region, const char* name, nk_msgring_t** ring) {
    if (region == nullptr || name == nullptr || ring == nullptr)
        return invalid("nk_msgring_open: region, name and ring must not be NULL");
    return guarded([&] {
        auto opened = nk::ipc::MessageRing::open(*region->region, name);
        if (!opened) return nk::c::from_error(opened.error());
        return nk::c::emit(ring, region->region, std::move(*opened));
    });
}

nk_result_t nk_msgring_try_write(nk_msgring_t* ring, const void* record, size_t size) {
    if (ring == nullptr || (record == nullptr && size != 0))
        return invalid("nk_msgring_try_write: ring must not be NULL, nor record unless size is 0");
    return guarded([&] {
        if (!ring->producer) {
            auto producer = ring->ring.producer();
            if (!producer) return nk::c::from_error(producer.error());
            ring->producer.emplace(std::move(*producer));
        }
        const nk::ipc::WriteStatus status = ring->producer->try_write(in_bytes(record, size));
        switch (status) {
            case nk::ipc::WriteStatus::Ok: return NK_OK;
            case nk::ipc::WriteStatus::Full: return NK_E_FULL;
            case nk::ipc::WriteStatus::TooLarge:
                return nk::c::from_error_as(NK_E_TOO_LARGE, ring->producer->error_of(status, size));
            case nk::ipc::WriteStatus::Lost:
                return nk::c::set_error(NK_E_LOST, "the ring's reader declared this writer dead before the commit; ",
                                        "the record was not delivered");
            case nk::ipc::WriteStatus::Stopped: return stopped(ring->producer->health(), "the ring's writer");
            case nk::ipc::WriteStatus::Pending: break;  // try_write never leaves a reservation behind
        }
        return nk::c::set_error(NK_E_INTERNAL, "nk_msgring_try_write: unexpected write status ",
                                nk::ipc::to_string(status));
    });
}

nk_result_t nk_msgring_try_read(nk_msgring_t* ring, void* out, size_t capacity, size_t* length) {
    if (ring == nullptr || length == nullptr || (out == nullptr && capacity != 0))
        return invalid("nk_msgring_try_read: ring and length must not be NULL, nor out unless capacity is 0");
    return guarded([&] {
        if (!ring->consumer) {
            auto consumer = ring->ring.consumer();
            if (!consumer) return nk::c::from_error(consumer.error());
            ring->consumer.emplace(std::move(*consumer));
        }
        const nk::ipc::ReadResult read = ring->consumer->try_read(out_bytes(out, capacity));
        switch (read.status) {
            case nk::ipc::ReadStatus::Ok: *length = read.length; return NK_OK;
            case nk::ipc::ReadStatus::Empty: return NK_E_EMPTY;
            case nk::ipc::ReadStatus::BufferTooSmall:
                *length = read.length;
                return nk::c::set_error(NK_E_BUFFER_TOO_SMALL,
                                        "the next record has " + std::to_string(read.length) + " bytes; ",
                                        "the buffer holds " + std::to_string(capacity));
            case nk::ipc::ReadStatus::Stopped: break;
        }
        return stopped(ring->consumer->health(), "the ring's reader");
    });
}

size_t nk_msgring_max_record_size(const nk_msgring_t* ring) { return ring == nullptr ? 0 : ring->ring.max_record_size(); }
void nk_msgring_close(nk_msgring_t* ring) { delete ring; }

nk_result_t nk_msgring_remove(nk_region_t* region, const char* name) {
    if (region == nullptr || name == nullptr) return invalid("nk_msgring_remove: region and name must not be NULL");
    return guarded([&] {
        auto removed = nk::ipc::MessageRing::remove(*region->region, name);
        return removed ? NK_OK : nk::c::from_error(removed.error());
    });
}

}  // extern "C"
