// Fuzz target: an SPSC ring and an MPMC queue whose memory a crashed or hostile peer scribbles on
// while this process keeps pushing and popping.
//
// Both queues live in the common area of a real region (made once, not locked). Each input starts
// from the queues as created and is a stream of commands: scribble a byte or an aligned 64-bit
// word anywhere in either object (header line 0, the indices, the slot sequences, the items),
// push and pop single items and batches, open the queues again and make new handles (which
// re-reads and re-checks line 0). Whatever the bytes say, the calls must return (libFuzzer's
// -timeout catches a loop), never crash, report counts within what was asked and sizes within
// the capacity, and never write outside their own object: the rest of the area is compared with
// its pristine copy after every input (from the end of the first object on).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "nk/ipc/mpmc_queue.hpp"
#include "nk/ipc/spsc_ring.hpp"
#include "nk/nanokernel/platform_config.hpp"
#include "nk/nanokernel/region.hpp"

namespace {

constexpr const char* kPlatform = R"(
[platform]
name = "queue-fuzz"
lock_memory = false
[areas]
link_size = "64 KiB"
common_size = "64 KiB"
pnv_size = "64 KiB"
[[guests]]
id = 1
name = "a"
kind = "linux"
memory = "64 KiB"
cpus = [0]
[[access]]
objects = "*"
guests = ["*"]
rights = "rw"
)";

constexpr std::uint32_t kItem = 24;
constexpr std::uint32_t kCapacity = 16;
constexpr std::size_t kMaxBatch = 20;
constexpr std::uint32_t kMpmcStride = sizeof(nk::ipc::MpmcSlot) + kItem;  // the slot header (sequence, claim), then the item
static_assert(sizeof(nk::ipc::SpscRingHeader) == 192 && sizeof(nk::ipc::MpmcQueueHeader) == 192);

struct Fixture {
    std::optional<nk::Region> region;
    std::byte* area = nullptr;  // the common area
    std::uint64_t area_offset = 0, area_size = 0;
    std::vector<std::byte> pristine;  // the area as created
    // The objects, as offsets into the area.
    std::uint64_t spsc_at = 0, spsc_size = 0, mpmc_at = 0, mpmc_size = 0;
};

Fixture& fixture() {
    static Fixture f = [] {
        Fixture made;
        auto config = nk::parse_platform_config(kPlatform, "queue-fuzz.toml");
        if (!config) std::abort();
        auto region = nk::Region::create(*config);
        if (!region) std::abort();
        made.region.emplace(std::move(*region));
        const nk::AreaInfo* common = made.region->common_area();
        if (common == nullptr) std::abort();
        made.area_offset = common->offset;
        made.area_size = common->size;
        auto area = made.region->bytes(common->offset, common->size, true);
        if (!area) std::abort();
        made.area = *area;
        auto spsc = nk::ipc::SpscRing::create(*made.region, "fuzz.spsc", kItem, kCapacity);
        auto mpmc = nk::ipc::MpmcQueue::create(*made.region, "fuzz.mpmc", kItem, kCapacity);
        if (!spsc || !mpmc) std::abort();
        made.spsc_at = spsc->region_offset() - common->offset;
        made.spsc_size = spsc->object().size;
        made.mpmc_at = mpmc->region_offset() - common->offset;
        made.mpmc_size = mpmc->object().size;
        if (reinterpret_cast<const nk::ipc::MpmcQueueHeader*>(made.area + made.mpmc_at)->slot_stride != kMpmcStride)
            std::abort();
        made.pristine.assign(made.area, made.area + made.area_size);
        return made;
    }();
    return f;
}

struct Input {
    const std::uint8_t* data;
    std::size_t size;
    std::size_t at = 0;
    bool more() const { return at < size; }
    std::uint64_t take(std::size_t n) {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n && at < size; ++i) v = (v << 8) | data[at++];
        return v;
    }
};

// The handles of one input; any of them may be refused (a scribbled header), then its commands
// are skipped.
struct Handles {
    std::optional<nk::ipc::SpscRing> ring;
    std::optional<nk::ipc::SpscProducer> tx;
    std::optional<nk::ipc::SpscConsumer> rx;
    std::optional<nk::ipc::MpmcQueue> queue;

    void open_spsc(const nk::Region& region) {
        tx.reset();
        rx.reset();
        ring.reset();
        if (auto r = nk::ipc::SpscRing::open(region, "fuzz.spsc", kItem)) ring.emplace(std::move(*r));
        if (!ring) return;
        if (ring->capacity() == 0 || ring->item_size() != kItem) std::abort();
        if (auto p = ring->producer()) tx.emplace(std::move(*p));
        if (auto c = ring->consumer()) rx.emplace(std::move(*c));
    }
    void open_mpmc(const nk::Region& region) {
        queue.reset();
        if (auto q = nk::ipc::MpmcQueue::open(region, "fuzz.mpmc", kItem)) queue.emplace(std::move(*q));
        if (queue && (queue->capacity() < 2 || queue->item_size() != kItem)) std::abort();
    }
};

// Scribbles on one object: a byte anywhere in it, or an aligned word. Half the words are the ones
// the protocol reads (line 0's fields, the indices, the slot sequences; `stride` apart from
// `slots` on), and half the values are the word's own value moved by a little, which is where the
// window checks have their edges (full against corrupt, one lap behind, one lap ahead).
void scribble(Input& in, std::byte* object, std::uint64_t size, std::uint32_t stride, bool word) {
    if (!word) {
        object[in.take(2) % size] = static_cast<std::byte>(in.take(1));
        return;
    }
    constexpr std::uint64_t kHeaderWords[] = {0, 8, 16, 24, 32, 64, 72, 128};
    const auto mode = static_cast<std::uint8_t>(in.take(1));
    const std::uint64_t pick = in.take(1);
    std::uint64_t position = 0;
    if (mode & 1) {
        position = pick % 2 == 0 ? kHeaderWords[pick / 2 % 8] : 192 + pick / 2 % kCapacity * stride;
    } else {
        position = in.take(2) % (size / 8) * 8;
    }
    std::uint64_t value = 0;
    if (mode & 2) {
        std::memcpy(&value, object + position, 8);
        value += static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int8_t>(in.take(1))));
    } else {
        value = in.take(8);
    }
    if (mode & 4) value ^= std::uint64_t{in.take(1) & 3} << 62;  // an MPMC sequence's Pending / Skipped flags
    std::memcpy(object + position, &value, 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Fixture& f = fixture();
    std::memcpy(f.area, f.pristine.data(), f.area_size);
    Handles h;
    h.open_spsc(*f.region);
    h.open_mpmc(*f.region);
    if (!h.tx || !h.rx || !h.queue) std::abort();  // pristine queues open

    Input in{data, size};
    std::byte items[kMaxBatch * kItem];
    std::uint64_t checksum = 0;
    std::uint64_t stamp = 0;
    auto fill = [&](std::size_t count) {
        for (std::size_t i = 0; i < count * kItem; i += 8) std::memcpy(items + i, &++stamp, 8);
    };
    while (in.more()) {
        const auto command = static_cast<std::uint8_t>(in.take(1));
        switch (command % 12) {
            case 0:
            case 1: scribble(in, f.area + f.spsc_at, f.spsc_size, kItem, command % 12 == 1); break;
            case 2:
            case 3: scribble(in, f.area + f.mpmc_at, f.mpmc_size, kMpmcStride, command % 12 == 3); break;
            case 4:
                if (h.tx) {
                    fill(1);
                    (void)h.tx->try_push(std::span(items, kItem));
                }
                break;
            case 5:
                if (h.tx) {
                    const std::size_t n = in.take(1) % (kMaxBatch + 1);
                    fill(n);
                    if (h.tx->push_batch(std::span(items, n * kItem), n) > n) std::abort();
                }
                break;
            case 6:
                if (h.rx && h.rx->try_pop(std::span(items, kItem))) checksum += static_cast<std::uint8_t>(items[0]);
                break;
            case 7:
                if (h.rx) {
                    const std::size_t n = in.take(1) % (kMaxBatch + 1);
                    const std::size_t got = h.rx->pop_batch(std::span(items, n * kItem), n);
                    if (got > n) std::abort();
                    for (std::size_t i = 0; i < got * kItem; ++i) checksum += static_cast<std::uint8_t>(items[i]);
                }
                break;
            case 8:
                if (h.queue) {
                    fill(1);
                    (void)h.queue->try_push(std::span(items, kItem));
                }
                break;
            case 9:
                if (h.queue && h.queue->try_pop(std::span(items, kItem))) checksum += static_cast<std::uint8_t>(items[0]);
                break;
            case 10:
                if (command & 0x10) h.open_spsc(*f.region);
                else h.open_mpmc(*f.region);
                break;
            case 11:
                // A wrong size is refused before any shared byte is read.
                if (h.tx && h.tx->try_push(std::span(items, kItem - 1))) std::abort();
                if (h.queue && h.queue->try_pop(std::span(items, kItem + 1))) std::abort();
                break;
        }
        if (h.ring && h.ring->size_approx() > h.ring->capacity()) std::abort();
        if (h.tx && h.tx->size_approx() > h.tx->capacity()) std::abort();
        if (h.rx && h.rx->size_approx() > h.rx->capacity()) std::abort();
        if (h.queue && h.queue->size_approx() > h.queue->capacity()) std::abort();
        if (h.tx) (void)h.tx->health();
        if (h.rx) (void)h.rx->health();
        if (h.queue) (void)h.queue->health();
    }
    // Nothing after the first object, outside the two objects, was written. (Before it lie the area
    // header and the directory, which open() updates: attach counts and times.)
    auto outside_changed = [&](std::uint64_t from, std::uint64_t to) {
        return to > from && std::memcmp(f.area + from, f.pristine.data() + from, to - from) != 0;
    };
    const std::uint64_t first = std::min(f.spsc_at, f.mpmc_at), second = std::max(f.spsc_at, f.mpmc_at);
    const std::uint64_t first_end = first + (first == f.spsc_at ? f.spsc_size : f.mpmc_size);
    const std::uint64_t second_end = second + (second == f.spsc_at ? f.spsc_size : f.mpmc_size);
    if (outside_changed(first_end, second) || outside_changed(second_end, f.area_size))
        std::abort();
    return checksum == 1 ? 1 : 0;  // keeps the reads from being optimised away
}
