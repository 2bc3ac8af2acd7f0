#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nk/ipc/segment.hpp"
#include "nk/ipc/spsc_ring.hpp"
#include "test_platform.hpp"

namespace nk::ipc {
namespace {

using Item = std::uint64_t;
constexpr std::uint32_t kItem = sizeof(Item);

std::span<const std::byte> bytes_of(const Item& item) { return std::as_bytes(std::span(&item, 1)); }
std::span<std::byte> bytes_of(Item& item) { return std::as_writable_bytes(std::span(&item, 1)); }

class SpscRingTest : public test::SmallPlatformTest {
protected:
    // A ring of 8-byte items made by guest "linux" in its link to "rt".
    SpscRing make(std::string_view name, std::uint32_t capacity) {
        auto ring = SpscRing::create(*linux_guest, name, kItem, capacity, "rt");
        EXPECT_TRUE(ring) << ring.error().message;
        return std::move(*ring);
    }

    // The ring's shared header, as a peer that scribbles on it would see it.
    SpscRingHeader& shared_header(const SpscRing& ring) {
        auto bytes = linux_guest->bytes(ring.region_offset(), sizeof(SpscRingHeader), true);
        EXPECT_TRUE(bytes) << bytes.error().message;
        return *reinterpret_cast<SpscRingHeader*>(*bytes);
    }

    // The sequence word of slot `slot`, as a peer that scribbles on it would see it.
    std::uint64_t& slot_word(const SpscRing& ring, std::uint64_t slot) {
        auto* slots = reinterpret_cast<std::byte*>(&shared_header(ring)) + sizeof(SpscRingHeader);
        return reinterpret_cast<SpscSlot*>(slots + slot * spsc_slot_stride(kItem))->sequence;
    }
    void scribble(std::uint64_t& word, std::uint64_t value) { layout::atomic(word).store(value, std::memory_order_relaxed); }

};

TEST_F(SpscRingTest, NewlyCreatedRingIsEmpty) {
    SpscRing ring = make("fresh", 16);
    EXPECT_EQ(ring.capacity(), 16U);
    EXPECT_EQ(ring.item_size(), kItem);
    EXPECT_EQ(ring.size_approx(), 0U);
    EXPECT_EQ(ring.area_label(), "link.linux-rt");
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    EXPECT_EQ(producer->size_approx(), 0U);
    EXPECT_EQ(consumer->size_approx(), 0U);
    Item out = 0;
    EXPECT_FALSE(consumer->try_pop(bytes_of(out)));
    EXPECT_FALSE(consumer->corrupt());
    EXPECT_TRUE(consumer->health());

    const SpscRingHeader& header = shared_header(ring);
    EXPECT_EQ(header.magic, kSpscRingMagic);
    EXPECT_EQ(header.layout_version, kSpscRingLayoutVersion);
    EXPECT_EQ(header.capacity, 16U);
    EXPECT_EQ(header.head, 0U);
    EXPECT_EQ(header.tail, 0U);
    // Every slot reads "not yet written" for its first index s: s + 1 - capacity, modulo 2^64.
    for (std::uint64_t s = 0; s < 16; ++s) EXPECT_EQ(slot_word(ring, s), s + 1 - 16) << "slot " << s;
}

TEST_F(SpscRingTest, ConsumerHandsSlotsBackThroughTailAndNeverWritesTheSlots) {
    SpscRing ring = make("handback", 8);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    for (Item i = 0; i < 3; ++i) ASSERT_TRUE(producer->try_push(bytes_of(i)));
    Item out = 0;
    for (Item i = 0; i < 3; ++i) ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
    // The words are still the producer's "written" marks (i + 1): the consumer's hand-back is
    // tail alone, so the slots' lines are written by the producer only.
    for (std::uint64_t s = 0; s < 3; ++s) EXPECT_EQ(slot_word(ring, s), s + 1) << "slot " << s;
    EXPECT_EQ(layout::atomic(shared_header(ring).tail).load(std::memory_order_relaxed), 3U);
    EXPECT_EQ(layout::atomic(shared_header(ring).head).load(std::memory_order_relaxed), 3U);
}

TEST_F(SpscRingTest, ProducerReadsTailOnlyWhenItsCachedCopySaysFullAndChecksIt) {
    SpscRing ring = make("cached.tail", 4);
    auto producer = ring.producer();
    ASSERT_TRUE(producer);
    for (Item i = 0; i < 2; ++i) ASSERT_TRUE(producer->try_push(bytes_of(i)));
    // A consumer index ahead of head: not a tail. The producer's cached copy (0) still shows
    // room for two, so it does not look yet...
    scribble(shared_header(ring).tail, 100);
    for (Item i = 2; i < 4; ++i) ASSERT_TRUE(producer->try_push(bytes_of(i)));
    EXPECT_FALSE(producer->corrupt());
    // ...and when it does, it stops instead of overwriting slots on its strength.
    const Item extra = 4;
    EXPECT_FALSE(producer->try_push(bytes_of(extra)));
    EXPECT_TRUE(producer->corrupt());
    auto health = producer->health();
    ASSERT_FALSE(health);
    EXPECT_NE(health.error().message.find("consumer index"), std::string::npos) << health.error().message;
    EXPECT_NE(health.error().message.find("100"), std::string::npos) << health.error().message;
    EXPECT_EQ(layout::atomic(shared_header(ring).head).load(std::memory_order_relaxed), 4U);  // nothing more
    EXPECT_EQ(slot_word(ring, 0), 1U);  // item 0's slot not overwritten
    // A new handle checks the tail it starts from, too.
    EXPECT_FALSE(ring.producer());
    scribble(shared_header(ring).tail, 0);
    EXPECT_TRUE(ring.producer());
}

TEST_F(SpscRingTest, FullRingRefusesPushUntilTheConsumerMakesRoom) {
    SpscRing ring = make("full", 4);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    for (Item i = 0; i < 4; ++i) ASSERT_TRUE(producer->try_push(bytes_of(i)));
    const Item extra = 99;
    EXPECT_FALSE(producer->try_push(bytes_of(extra)));
    EXPECT_FALSE(producer->try_push(bytes_of(extra)));
    EXPECT_FALSE(producer->corrupt());
    EXPECT_EQ(ring.size_approx(), 4U);
    EXPECT_EQ(shared_header(ring).full_count, 2U);

    Item out = 0;
    ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
    EXPECT_EQ(out, 0U);
    // Exactly one slot came back: one push fits, the next is refused again.
    EXPECT_TRUE(producer->try_push(bytes_of(extra)));
    EXPECT_FALSE(producer->try_push(bytes_of(extra)));
    EXPECT_EQ(shared_header(ring).full_count, 3U);
    EXPECT_EQ(ring.size_approx(), 4U);
    for (Item expected : {Item{1}, Item{2}, Item{3}, extra}) {
        ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
        EXPECT_EQ(out, expected);
    }
    EXPECT_FALSE(consumer->try_pop(bytes_of(out)));
}

TEST_F(SpscRingTest, WrapsAroundManyTimesAndKeepsOrder) {
    SpscRing ring = make("wrap", 8);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    Item next_in = 0, next_out = 0;
    for (int cycle = 0; cycle < 20000; ++cycle) {
        const int burst = cycle % 8 + 1;  // 1..8: every offset of the wrap point comes up
        for (int i = 0; i < burst; ++i) ASSERT_TRUE(producer->try_push(bytes_of(next_in++)));
        for (int i = 0; i < burst; ++i) {
            Item out = 0;
            ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
            ASSERT_EQ(out, next_out++);
        }
    }
    EXPECT_EQ(next_out, 90000U);  // the slots were reused more than 11000 times over
    EXPECT_EQ(ring.size_approx(), 0U);
}

TEST_F(SpscRingTest, BatchLargerThanTheFreeSpacePushesWhatFits) {
    SpscRing ring = make("batch.big", 8);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    for (Item i = 0; i < 5; ++i) ASSERT_TRUE(producer->try_push(bytes_of(i)));
    std::vector<Item> in(10);
    std::iota(in.begin(), in.end(), Item{5});
    EXPECT_EQ(producer->push_batch(std::as_bytes(std::span(in)), in.size()), 3U);
    EXPECT_EQ(producer->push_batch(std::as_bytes(std::span(in)), in.size()), 0U);  // full

    std::vector<Item> out(20, ~Item{0});
    ASSERT_EQ(consumer->pop_batch(std::as_writable_bytes(std::span(out)), out.size()), 8U);
    for (Item i = 0; i < 8; ++i) EXPECT_EQ(out[i], i);
    EXPECT_EQ(out[8], ~Item{0});  // nothing written past what was popped
    EXPECT_EQ(consumer->pop_batch(std::as_writable_bytes(std::span(out)), out.size()), 0U);  // empty
}

TEST_F(SpscRingTest, BatchCrossingTheWrapPointKeepsOrder) {
    SpscRing ring = make("batch.wrap", 8);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    Item next_in = 0, next_out = 0;
    // Every start offset, and batches of every length: each wraps for some offset.
    for (std::size_t start = 0; start < 8; ++start) {
        for (std::size_t length = 1; length <= 8; ++length) {
            std::vector<Item> in(length);
            std::iota(in.begin(), in.end(), next_in);
            ASSERT_EQ(producer->push_batch(std::as_bytes(std::span(in)), length), length);
            next_in += length;
            std::vector<Item> out(length);
            // Pop in two pieces so that the consumer's side crosses the wrap point on its own too.
            const std::size_t first = length / 2;
            ASSERT_EQ(consumer->pop_batch(std::as_writable_bytes(std::span(out)), first), first);
            ASSERT_EQ(consumer->pop_batch(std::as_writable_bytes(std::span(out).subspan(first)), length - first),
                      length - first);
            for (Item value : out) ASSERT_EQ(value, next_out++);
        }
        Item pad = next_in++;  // moves the start offset on by one
        ASSERT_TRUE(producer->try_push(bytes_of(pad)));
        Item out = 0;
        ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
        ASSERT_EQ(out, next_out++);
    }
}

TEST_F(SpscRingTest, BatchWithABufferTooSmallForItsCountIsRefused) {
    SpscRing ring = make("batch.short", 8);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    std::vector<Item> in(3, 7);
    EXPECT_EQ(producer->push_batch(std::as_bytes(std::span(in)), 4), 0U);
    EXPECT_EQ(ring.size_approx(), 0U);
    ASSERT_EQ(producer->push_batch(std::as_bytes(std::span(in)), 3), 3U);
    std::vector<Item> out(2);
    EXPECT_EQ(consumer->pop_batch(std::as_writable_bytes(std::span(out)), 3), 0U);
    EXPECT_EQ(ring.size_approx(), 3U);
    EXPECT_FALSE(producer->corrupt() || consumer->corrupt());
}

TEST_F(SpscRingTest, ItemOfTheWrongSizeIsRefused) {
    SpscRing ring = make("sized", 8);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    const std::uint32_t small = 1;
    EXPECT_FALSE(producer->try_push(std::as_bytes(std::span(&small, 1))));
    const std::uint64_t big[2] = {1, 2};
    EXPECT_FALSE(producer->try_push(std::as_bytes(std::span(big))));
    EXPECT_EQ(ring.size_approx(), 0U);
    const Item item = 5;
    ASSERT_TRUE(producer->try_push(bytes_of(item)));
    std::uint64_t out[2] = {};
    EXPECT_FALSE(consumer->try_pop(std::as_writable_bytes(std::span(out))));
    EXPECT_EQ(ring.size_approx(), 1U);
    EXPECT_FALSE(producer->corrupt() || consumer->corrupt());

    auto as_u32 = SpscRing::open(*rt_guest, "sized", sizeof(std::uint32_t));
    ASSERT_FALSE(as_u32);
    EXPECT_EQ(as_u32.error().code, make_error_code(RegionError::SizeConflict));
    EXPECT_NE(as_u32.error().message.find("8 bytes"), std::string::npos) << as_u32.error().message;
    EXPECT_TRUE(SpscRing::open(*rt_guest, "sized", kItem));
    EXPECT_TRUE(SpscRing::open(*rt_guest, "sized"));
}

TEST_F(SpscRingTest, CreateRefusesShapesTheRingCannotHave) {
    for (std::uint32_t capacity : {0U, 1U, 3U, 12U, 0x8000'0001U}) {
        auto made = SpscRing::create(*linux_guest, "shape", kItem, capacity, "rt");
        ASSERT_FALSE(made) << capacity;
        EXPECT_EQ(made.error().code, make_error_code(RegionError::InvalidArgument));
    }
    for (std::uint32_t item_size : {0U, detail::kMaxItemSize + 1}) {
        auto made = SpscRing::create(*linux_guest, "shape", item_size, 8, "rt");
        ASSERT_FALSE(made) << item_size;
        EXPECT_EQ(made.error().code, make_error_code(RegionError::InvalidArgument));
    }
    auto too_big = SpscRing::create(*linux_guest, "shape", 4096, 1024, "rt");  // 4 MiB in a 256 KiB link
    ASSERT_FALSE(too_big);
    EXPECT_EQ(too_big.error().code, make_error_code(RegionError::NoSpace));
    EXPECT_TRUE(SpscRing::create(*linux_guest, "shape", 3, 2, "rt"));  // smallest: two 3-byte items
}

TEST_F(SpscRingTest, RingInTheLinkCarriesItemsToThePeerGuest) {
    auto made = SpscRing::create(*linux_guest, "to.rt", kItem, 16, "rt");
    ASSERT_TRUE(made) << made.error().message;
    EXPECT_EQ(made->area_label(), "link.linux-rt");
    auto opened = SpscRing::open(*rt_guest, "to.rt", kItem);
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(opened->capacity(), 16U);
    EXPECT_EQ(opened->region_offset(), made->region_offset());

    auto producer = made->producer();           // linux's mapping
    auto consumer = opened->consumer();         // rt's mapping of the same memory
    ASSERT_TRUE(producer && consumer);
    Item next_out = 0;
    for (Item i = 0; i < 100; ++i) {
        ASSERT_TRUE(producer->try_push(bytes_of(i)));
        if (i % 3 == 2) {
            Item out = 0;
            while (consumer->try_pop(bytes_of(out))) ASSERT_EQ(out, next_out++);
        }
    }
    Item out = 0;
    while (consumer->try_pop(bytes_of(out))) ASSERT_EQ(out, next_out++);
    EXPECT_EQ(next_out, 100U);

    auto outsider = SpscRing::open(*mon_guest, "to.rt");
    ASSERT_FALSE(outsider);
    EXPECT_EQ(outsider.error().code, make_error_code(RegionError::NotFound));
}

TEST_F(SpscRingTest, OpeningNeedsReadWriteRightsAndTheRightKind) {
    ASSERT_TRUE(SpscRing::create(*linux_guest, "ro.ring", kItem, 8, "rt"));
    auto read_only = SpscRing::open(*rt_guest, "ro.ring");
    ASSERT_FALSE(read_only);
    EXPECT_EQ(read_only.error().code, make_error_code(RegionError::AccessDenied));

    ASSERT_TRUE(Segment::create(*linux_guest, "plain", 4096, "rt"));
    auto wrong_kind = SpscRing::open(*rt_guest, "plain");
    ASSERT_FALSE(wrong_kind);
    EXPECT_EQ(wrong_kind.error().code, make_error_code(RegionError::NotFound));
    EXPECT_NE(wrong_kind.error().message.find("is a segment, not a spsc-ring"), std::string::npos)
        << wrong_kind.error().message;
}

TEST_F(SpscRingTest, OnlyTheOwnerRemovesARing) {
    ASSERT_TRUE(SpscRing::create(*linux_guest, "owned", kItem, 8, "rt"));
    auto by_peer = SpscRing::remove(*rt_guest, "owned");
    ASSERT_FALSE(by_peer);
    EXPECT_EQ(by_peer.error().code, make_error_code(RegionError::AccessDenied));
    ASSERT_TRUE(SpscRing::remove(*linux_guest, "owned"));
    auto gone = SpscRing::open(*rt_guest, "owned");
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, make_error_code(RegionError::NotFound));
}

TEST_F(SpscRingTest, ConsumerDetectsAScribbledSlotSequence) {
    SpscRing ring = make("scribbled.slot", 8);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    for (Item i = 0; i < 3; ++i) ASSERT_TRUE(producer->try_push(bytes_of(i)));
    Item out = 0;
    for (Item i = 0; i < 3; ++i) ASSERT_TRUE(consumer->try_pop(bytes_of(out)));

    // Under tail 3 only 4 (written) or 3 + 1 - 8 (not yet) may stand; 12 would be index 11's item.
    scribble(slot_word(ring, 3), 12);
    EXPECT_FALSE(consumer->try_pop(bytes_of(out)));
    EXPECT_TRUE(consumer->corrupt());
    auto health = consumer->health();
    ASSERT_FALSE(health);
    EXPECT_EQ(health.error().code, make_error_code(RegionError::Corrupt));
    EXPECT_NE(health.error().message.find("slot sequence"), std::string::npos) << health.error().message;
    EXPECT_NE(health.error().message.find("12"), std::string::npos) << health.error().message;
    // Stopped for good, even once the word looks sane again.
    scribble(slot_word(ring, 3), 4);
    EXPECT_FALSE(consumer->try_pop(bytes_of(out)));
    std::vector<Item> many(8);
    EXPECT_EQ(consumer->pop_batch(std::as_writable_bytes(std::span(many)), many.size()), 0U);

    // A new handle checks the slot it starts from; the ring's count stays in range.
    scribble(slot_word(ring, 3), 20);
    auto fresh = ring.consumer();
    ASSERT_FALSE(fresh);
    EXPECT_EQ(fresh.error().code, make_error_code(RegionError::Corrupt));
    scribble(shared_header(ring).head, ~std::uint64_t{0});
    EXPECT_LE(ring.size_approx(), ring.capacity());
}

TEST_F(SpscRingTest, ConsumerRefusesAWordFromAnIndexItAlreadyRead) {
    SpscRing ring = make("scribbled.back", 8);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    for (Item i = 0; i < 6; ++i) ASSERT_TRUE(producer->try_push(bytes_of(i)));
    Item out = 0;
    for (Item i = 0; i < 6; ++i) ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
    scribble(slot_word(ring, 6), 3);  // "written, for index 2": behind the consumer
    EXPECT_FALSE(consumer->try_pop(bytes_of(out)));
    EXPECT_TRUE(consumer->corrupt());
}

TEST_F(SpscRingTest, ProducerHandleRefusesAScribbledSlotUnderHead) {
    SpscRing ring = make("scribbled.free", 4);
    {
        auto producer = ring.producer();
        ASSERT_TRUE(producer);
        for (Item i = 0; i < 2; ++i) ASSERT_TRUE(producer->try_push(bytes_of(i)));
    }
    // Under head 2 only 3 (written by a producer that died before publishing head) or
    // 2 + 1 - 4 (not yet) may stand; 6 would be index 5's item.
    scribble(slot_word(ring, 2), 6);
    auto producer = ring.producer();
    ASSERT_FALSE(producer);
    EXPECT_EQ(producer.error().code, make_error_code(RegionError::Corrupt));
    EXPECT_NE(producer.error().message.find("slot sequence"), std::string::npos) << producer.error().message;
    // Stepping over one unpublished item (3 under head 2), the next word is checked as well.
    scribble(slot_word(ring, 2), 3);
    scribble(slot_word(ring, 3), 9);
    EXPECT_FALSE(ring.producer());
    scribble(slot_word(ring, 3), 3 + 1 - 4);
    EXPECT_TRUE(ring.producer());
}

TEST_F(SpscRingTest, NewHandlesStepOverWhatADeadPredecessorDidNotPublish) {
    SpscRing ring = make("takeover", 8);
    {
        auto producer = ring.producer();
        ASSERT_TRUE(producer);
        for (Item i = 0; i < 3; ++i) ASSERT_TRUE(producer->try_push(bytes_of(i)));
    }
    // As if the producer died after writing item 2's word but before publishing head = 3.
    scribble(shared_header(ring).head, 2);
    auto next_producer = ring.producer();
    ASSERT_TRUE(next_producer) << next_producer.error().message;
    const Item three = 3;
    ASSERT_TRUE(next_producer->try_push(bytes_of(three)));
    {
        auto consumer = ring.consumer();
        ASSERT_TRUE(consumer);
        Item out = 0;
        ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
        ASSERT_EQ(out, 0U);
        ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
        ASSERT_EQ(out, 1U);
    }
    // And the consumer died after copying item 1 out but before publishing tail = 2, the store
    // that hands the slot back and returns the item: the next consumer reads item 1.
    scribble(shared_header(ring).tail, 1);
    auto next_consumer = ring.consumer();
    ASSERT_TRUE(next_consumer) << next_consumer.error().message;
    for (Item want = 1; want < 4; ++want) {
        Item out = 0;
        ASSERT_TRUE(next_consumer->try_pop(bytes_of(out)));
        EXPECT_EQ(out, want);
    }
    Item out = 0;
    EXPECT_FALSE(next_consumer->try_pop(bytes_of(out)));
    EXPECT_FALSE(next_consumer->corrupt());
}

TEST_F(SpscRingTest, NewHandlesStartRightWhenThePeerMovedOnAfterTheDeath) {
    SpscRing ring = make("takeover.moved", 2);  // the smallest ring: every word value is near another
    auto consumer = ring.consumer();
    ASSERT_TRUE(consumer);
    Item out = 0;
    {
        auto producer = ring.producer();
        ASSERT_TRUE(producer);
        const Item zero = 0;
        ASSERT_TRUE(producer->try_push(bytes_of(zero)));
    }
    // The producer died before publishing head = 1, and the consumer has read item 0 since.
    scribble(shared_header(ring).head, 0);
    ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
    auto producer = ring.producer();
    ASSERT_TRUE(producer) << producer.error().message;
    for (Item i = 1; i < 3; ++i) ASSERT_TRUE(producer->try_push(bytes_of(i)));
    ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
    ASSERT_EQ(out, 1U);
    // The consumer died after copying item 1 but before publishing tail = 2: item 1's slot was
    // not handed back, so the producer may not refill it, however long it tries.
    scribble(shared_header(ring).tail, 1);
    const Item three = 3;
    EXPECT_FALSE(producer->try_push(bytes_of(three)));
    EXPECT_FALSE(producer->try_push(bytes_of(three)));
    EXPECT_FALSE(producer->corrupt());
    EXPECT_EQ(slot_word(ring, 1), 2U);  // still item 1's
    auto next_consumer = ring.consumer();
    ASSERT_TRUE(next_consumer) << next_consumer.error().message;
    for (Item want = 1; want < 3; ++want) {  // item 1 once more (the dead one never returned it), then 2
        ASSERT_TRUE(next_consumer->try_pop(bytes_of(out)));
        EXPECT_EQ(out, want);
    }
    ASSERT_TRUE(producer->try_push(bytes_of(three)));
    ASSERT_TRUE(next_consumer->try_pop(bytes_of(out)));
    EXPECT_EQ(out, 3U);
    EXPECT_FALSE(next_consumer->try_pop(bytes_of(out)));
    EXPECT_FALSE(next_consumer->corrupt() || producer->corrupt());
}

TEST_F(SpscRingTest, ScribbledHeaderIsRefusedAtOpenAndIgnoredByOpenHandles) {
    SpscRing ring = make("scribbled.header", 8);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);
    SpscRingHeader& header = shared_header(ring);

    header.capacity = 1U << 30;  // would reach far past the object
    header.item_size = 4096;
    // The handles work from the copies they validated at open.
    for (Item i = 0; i < 20; ++i) {
        ASSERT_TRUE(producer->try_push(bytes_of(i)));
        Item out = 0;
        ASSERT_TRUE(consumer->try_pop(bytes_of(out)));
        ASSERT_EQ(out, i);
    }
    auto reopened = SpscRing::open(*rt_guest, "scribbled.header");
    ASSERT_FALSE(reopened);
    EXPECT_EQ(reopened.error().code, make_error_code(RegionError::Corrupt));

    header.capacity = 8;
    header.item_size = kItem;
    header.layout_version = kSpscRingLayoutVersion + 1;
    auto newer = SpscRing::open(*rt_guest, "scribbled.header");
    ASSERT_FALSE(newer);
    EXPECT_EQ(newer.error().code, make_error_code(RegionError::VersionMismatch));

    header.layout_version = kSpscRingLayoutVersion;
    layout::atomic(header.magic).store(0x1234, std::memory_order_relaxed);
    auto foreign = SpscRing::open(*rt_guest, "scribbled.header");
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().code, make_error_code(RegionError::BadMagic));

    layout::atomic(header.magic).store(0, std::memory_order_relaxed);  // as if the creator died mid-create
    auto unfinished = SpscRing::open(*rt_guest, "scribbled.header");
    ASSERT_FALSE(unfinished);
    EXPECT_EQ(unfinished.error().code, make_error_code(RegionError::Busy));
}

TEST_F(SpscRingTest, TwoThreadsPassAMillionItemsInOrder) {
    constexpr Item kCount = 1'000'000;
    // One mapping for both threads, so ThreadSanitizer sees both sides of every slot.
    SpscRing ring = make("stress", 1024);
    auto producer = ring.producer();
    auto consumer = ring.consumer();
    ASSERT_TRUE(producer && consumer);

    std::atomic<bool> consumer_gave_up{false};
    std::thread producing([&] {
        std::vector<Item> batch(32);
        Item next = 0;
        // relaxed: only stops the loop; nothing is read on its strength.
        while (next < kCount && !consumer_gave_up.load(std::memory_order_relaxed)) {
            if ((next / 4096) % 2 == 0) {  // alternate single pushes and batches
                if (producer->try_push(bytes_of(next))) ++next;
                else std::this_thread::yield();
                continue;
            }
            const std::size_t want = static_cast<std::size_t>(std::min<Item>(batch.size(), kCount - next));
            std::iota(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(want), next);
            const std::size_t pushed = producer->push_batch(std::as_bytes(std::span(batch)), want);
            next += pushed;
            if (pushed == 0) std::this_thread::yield();
        }
    });

    std::vector<Item> batch(48);
    Item expected = 0;
    bool in_order = true;
    while (expected < kCount && in_order) {
        std::size_t popped = 0;
        if ((expected / 1000) % 2 == 0) {
            Item out = 0;
            if (consumer->try_pop(bytes_of(out))) {
                popped = 1;
                in_order = out == expected;
            }
        } else {
            popped = consumer->pop_batch(std::as_writable_bytes(std::span(batch)), batch.size());
            for (std::size_t i = 0; i < popped && in_order; ++i) in_order = batch[i] == expected + i;
        }
        expected += popped;
        if (popped == 0) std::this_thread::yield();
    }
    consumer_gave_up.store(true, std::memory_order_relaxed);  // relaxed: see the producer's loop
    producing.join();
    ASSERT_TRUE(in_order) << "out of order near item " << expected;
    EXPECT_EQ(expected, kCount);
    EXPECT_EQ(ring.size_approx(), 0U);
    EXPECT_FALSE(producer->corrupt() || consumer->corrupt());
}

}  // namespace
}  // namespace nk::ipc
