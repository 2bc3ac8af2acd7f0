// Fuzz target: a message ring whose memory a crashed or hostile peer scribbles on while a
// producer and the consumer keep working.
//
// The ring lives in an exactly sized heap buffer (ASan catches any access outside it). The input
// is a stream of commands: scribble a byte or a 64-bit word anywhere in the ring (header line 0
// included), reserve/commit/abandon records, peek/release, try_read, make a new consumer, attach
// again. Whatever the bytes say, the handles must report errors, never crash, hang, or hand out a
// span outside the buffer (checked here as well).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>

#include "nk/ipc/message_ring.hpp"

namespace {

constexpr std::uint32_t kCapacity = 1024;
constexpr std::uint32_t kMaxRecord = 200;
constexpr std::size_t kBytes = nk::ipc::MessageRingView::bytes_for(kCapacity);
static_assert(kBytes % 64 == 0);

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

void check_inside(std::span<const std::byte> span, const std::byte* memory) {
    if (span.empty()) return;
    const std::byte* first = memory + sizeof(nk::ipc::MessageRingHeader);
    if (span.data() < first || span.data() + span.size() > memory + kBytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto* memory = static_cast<std::byte*>(std::aligned_alloc(64, kBytes));
    if (memory == nullptr) return 0;
    std::span<std::byte> ring_memory(memory, kBytes);
    auto formatted = nk::ipc::MessageRingView::format(ring_memory, kCapacity, kMaxRecord, "fuzz");
    if (!formatted) std::abort();
    std::optional<nk::ipc::MessageRingView> view(std::move(*formatted));
    std::optional<nk::ipc::MessageRingProducer> tx;
    std::optional<nk::ipc::MessageRingConsumer> rx;
    if (auto p = view->producer({1, 1})) tx.emplace(std::move(*p));
    if (auto c = view->consumer()) rx.emplace(std::move(*c));
    if (rx && size % 2 == 0) rx->set_headerless_claim_timeout(0);
    Input in{data, size};
    std::byte sink[kMaxRecord];
    std::uint64_t checksum = 0;
    while (in.more()) {
        const auto command = static_cast<std::uint8_t>(in.take(1));
        switch (command % 10) {
            case 0: {  // scribble a byte
                const std::uint64_t position = in.take(2) % kBytes;
                memory[position] = static_cast<std::byte>(in.take(1));
                break;
            }
            case 1: {  // scribble an aligned word: head, tail, a record word or length
                const std::uint64_t position = (in.take(2) % (kBytes / 8)) * 8;
                const std::uint64_t value = in.take(8);
                std::memcpy(memory + position, &value, 8);
                break;
            }
            case 2:
            case 3:
            case 4: {  // reserve; then commit, abandon or leave it pending
                if (!tx) break;
                const std::size_t length = in.take(1) * 2 % (kMaxRecord + 20);
                auto slot = tx->reserve(length);
                if (slot) {
                    check_inside(slot.data, memory);
                    if (slot.data.size() != length) std::abort();
                    std::memset(slot.data.data(), command, length);
                    if (command % 10 == 2) (void)tx->commit();
                    if (command % 10 == 3) (void)tx->abandon();
                }
                break;
            }
            case 5:
                if (tx) (void)tx->commit();
                break;
            case 6:
            case 7: {  // peek, read every byte, release
                if (!rx) break;
                for (int i = 0; i < 1 + command / 32; ++i) {
                    auto record = rx->peek();
                    if (!record) break;
                    check_inside(*record, memory);
                    if (record->size() > kMaxRecord) std::abort();
                    for (std::byte b : *record) checksum += static_cast<std::uint8_t>(b);
                    rx->release();
                }
                break;
            }
            case 8: {
                if (!rx) break;
                auto r = rx->try_read(std::span(sink, 1 + in.take(1) % kMaxRecord));
                if (r && r.length > kMaxRecord) std::abort();
                break;
            }
            case 9: {  // a new handle, or attach again from whatever line 0 now says
                if (command & 0x10) {
                    rx.reset();
                    if (auto c = view->consumer()) rx.emplace(std::move(*c));
                    // Skip headerless claims at once, so the forward scan runs on scribbled bytes too.
                    if (rx && (command & 0x40)) rx->set_headerless_claim_timeout(0);
                } else if (command & 0x20) {
                    tx.reset();
                    if (auto p = view->producer({2, 3})) tx.emplace(std::move(*p));
                } else if (auto again = nk::ipc::MessageRingView::attach(ring_memory, "fuzz")) {
                    // A scribbled line 0 may describe a smaller ring; never one larger than the memory.
                    if (nk::ipc::MessageRingView::bytes_for(again->capacity()) > kBytes) std::abort();
                    view.emplace(std::move(*again));
                    tx.reset();
                    rx.reset();
                    if (auto p = view->producer({1, 1})) tx.emplace(std::move(*p));
                    if (auto c = view->consumer()) rx.emplace(std::move(*c));
                }
                break;
            }
        }
        if (tx) (void)tx->health();
        if (rx) (void)rx->stats();
    }
    std::free(memory);
    return checksum == 1 ? 1 : 0;  // keeps the reads from being optimised away
}
