// MessageRing: the ordering contract between the producers and the consumer. The whole argument,
// with the crash windows, is in docs/message-ring.md.
//
//   producer (MessageRingProducer)                 consumer (MessageRingConsumer)
//   ---------------------------------------------  ---------------------------------------------
//   [P1] load tail (acquire), only when the cached [C1] load head (acquire), only when the cached
//        copy says there is no room                     copy says the ring is empty
//   [P2] CAS head -> head + total (relaxed)        [C2] load the word at tail (acquire); a tag of
//   [P3] write padding header, store its word           another lap or state 0: not written yet
//        (release); write the record header, store [C3] Committed: read the payload in place
//        its word Reserved (release)                    Reserved: wait, or judge the writer dead
//   [P4] write the payload                              and CAS Reserved -> Abandoned (relaxed)
//   [P5] commit: CAS Reserved -> Committed         [C4] release: store tail + stride (release)
//        (release)
//
// P3/P5 -> C2: a consumer that sees a word with this lap's tag sees the header fields written
//              before it (P3), and with Committed the whole payload (P5).
// C4 -> P1:    a producer that sees tail = t knows the consumer is done with every byte below t,
//              so it may reserve and overwrite them.
// P2 orders nothing by itself: a producer writes only bytes it has claimed, and the consumer reads
// a record only through its word. The head CAS is a ticket, not a publication.
//
// Trust: head, tail, words and lengths live in memory every peer can write. The consumer checks
// head (aligned, never behind what it saw, at most capacity ahead of tail), each word's state and
// each record's length (at most max_record_size, inside the contiguous space and below head). A
// producer checks tail against a head that did not move while it loaded tail (tail <= head <=
// tail + capacity). A value outside these ranges stops the handle. Addresses are always
// position & mask plus a checked length, so nothing can point outside the buffer.
#include "nk/ipc/message_ring.hpp"

#include <bit>
#include <chrono>
#include <cstring>
#include <utility>

#include "nk/ipc/detail/copy_item.hpp"
#include "queue_support.hpp"
#include "tsan_cross_process.hpp"
#include "writer_identity.hpp"

namespace nk::ipc {
namespace {

constexpr layout::ObjectKind kKind = layout::ObjectKind::MessageRing;
constexpr std::uint64_t kAlign = kMessageRecordAlign;
constexpr std::uint64_t kRecordHeader = sizeof(MessageRecordHeader);
// A producer that loses this many head CASes in a row (a storm of producers, or a peer that keeps
// scribbling head) reports Full rather than spin on: the caller's back-pressure path handles it.
constexpr int kMaxReserveAttempts = 256;
// peek() asks whether the writer of a Reserved record at the tail is alive on the 8th time it
// finds that record, then every 64th time: a live writer is normally done long before.
constexpr std::uint32_t kStallFirstCheck = 8;
constexpr std::uint32_t kStallCheckEvery = 64;

std::uint8_t state_byte(RecordState s) { return static_cast<std::uint8_t>(s); }

std::optional<std::string> shape_problem(std::uint32_t capacity, std::uint32_t max_record_size) {
    if (capacity < detail::kMinMessageRingCapacity || capacity > detail::kMaxMessageRingCapacity ||
        !std::has_single_bit(capacity))
        return "capacity " + std::to_string(capacity) + " is not a power of two in " +
               std::to_string(detail::kMinMessageRingCapacity) + ".." + std::to_string(detail::kMaxMessageRingCapacity);
    if (max_record_size == 0 || detail::record_stride(max_record_size) > capacity / 2)
        return "max record size " + std::to_string(max_record_size) + " is not in 1.." +
               std::to_string(capacity / 2 - kRecordHeader) + " (a record with its " + std::to_string(kRecordHeader) +
               "-byte header must fit in half of the " + std::to_string(capacity) + "-byte buffer)";
    return std::nullopt;
}

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % detail::kCacheLine == 0; }

MessageRecordHeader* record_at(std::byte* data, std::uint64_t offset) {
    return reinterpret_cast<MessageRecordHeader*>(data + offset);
}

}  // namespace

std::string_view to_string(WriteStatus status) {
    switch (status) {
        case WriteStatus::Ok: return "ok";
        case WriteStatus::Full: return "full";
        case WriteStatus::TooLarge: return "too large";
        case WriteStatus::Pending: return "reservation pending";
        case WriteStatus::Lost: return "lost";
        case WriteStatus::Stopped: return "stopped";
    }
    return "?";
}

// ---- MessageRingView ------------------------------------------------------------------------

MessageRingView::MessageRingView(MessageRingHeader* header, std::uint32_t capacity, std::uint32_t max_record_size,
                                 std::string name)
    : header_(header), capacity_(capacity), max_record_size_(max_record_size), name_(std::move(name)) {}

Result<void> MessageRingView::check_shape(std::uint32_t capacity, std::uint32_t max_record_size,
                                          std::string_view name) {
    if (auto problem = shape_problem(capacity, max_record_size))
        return fail(RegionError::InvalidArgument, "create " + detail::describe(kKind, name) + ": " + *problem);
    return {};
}

Result<MessageRingView> MessageRingView::format(std::span<std::byte> memory, std::uint32_t capacity,
                                                std::uint32_t max_record_size, std::string_view name) {
    if (auto ok = check_shape(capacity, max_record_size, name); !ok) return fail(std::move(ok.error()));
    if (!aligned(memory.data()) || memory.size() < bytes_for(capacity))
        return fail(RegionError::InvalidArgument, "format " + detail::describe(kKind, name) + ": needs " +
                                                      std::to_string(bytes_for(capacity)) +
                                                      " bytes aligned to 64, got " + std::to_string(memory.size()));
    auto* header = reinterpret_cast<MessageRingHeader*>(memory.data());
    // relaxed: nobody may use the ring before the magic is published below; clearing it first
    // makes a reader that raced an earlier ring here see "not initialised".
    layout::atomic(header->magic).store(0, std::memory_order_relaxed);
    // Zero words everywhere: no stale record of an earlier use can carry a valid tag.
    std::memset(memory.data() + sizeof(MessageRingHeader), 0, capacity);
    std::memset(reinterpret_cast<std::byte*>(header) + sizeof(header->magic), 0,
                sizeof(MessageRingHeader) - sizeof(header->magic));
    header->layout_version = kMessageRingLayoutVersion;
    header->header_size = static_cast<std::uint32_t>(sizeof(MessageRingHeader));
    header->capacity = capacity;
    header->max_record_size = max_record_size;
    header->data_offset = sizeof(MessageRingHeader);
    // release: publishes the fields above and the zeroed buffer; pairs with the acquire in attach().
    layout::atomic(header->magic).store(kMessageRingMagic, std::memory_order_release);
    return MessageRingView(header, capacity, max_record_size, std::string(name));
}

Result<MessageRingView> MessageRingView::attach(std::span<std::byte> memory, std::string_view name) {
    const std::string what = detail::describe(kKind, name);
    if (!aligned(memory.data()))
        return fail(RegionError::InvalidArgument, "attach " + what + ": the memory is not aligned to 64 bytes");
    if (memory.size() < sizeof(MessageRingHeader))
        return fail(RegionError::Corrupt, what + " has " + std::to_string(memory.size()) +
                                              " bytes, less than its header");
    auto* shared = reinterpret_cast<MessageRingHeader*>(memory.data());
    // acquire: pairs with the release in format(); the other fields of line 0 are set.
    const std::uint64_t magic = layout::atomic(shared->magic).load(std::memory_order_acquire);
    if (magic == 0)
        return fail(RegionError::Busy, what + " is not initialised: its creator is still setting it up, or died "
                                              "doing so (then remove it and create it again)");
    if (magic != kMessageRingMagic) return fail(RegionError::BadMagic, what + " does not start with a message ring header");
    MessageRingHeader copy{};
    std::memcpy(static_cast<void*>(&copy), shared, detail::kCacheLine);  // line 0 only: read once, then checked
    if (copy.layout_version != kMessageRingLayoutVersion)
        return fail(RegionError::VersionMismatch, what + " has layout version " + std::to_string(copy.layout_version) +
                                                      "; this build reads version " +
                                                      std::to_string(kMessageRingLayoutVersion));
    if (copy.header_size != sizeof(MessageRingHeader) || copy.data_offset != sizeof(MessageRingHeader))
        return fail(RegionError::SizeMismatch, what + " has a header of " + std::to_string(copy.header_size) +
                                                   " bytes with data at " + std::to_string(copy.data_offset) +
                                                   "; this build expects " + std::to_string(sizeof(MessageRingHeader)));
    if (auto problem = shape_problem(copy.capacity, copy.max_record_size))
        return fail(RegionError::Corrupt, what + " is corrupt: " + *problem);
    if (bytes_for(copy.capacity) > memory.size())
        return fail(RegionError::Corrupt, what + ": a buffer of " + std::to_string(copy.capacity) +
                                              " bytes does not fit in its " + std::to_string(memory.size()) + " bytes");
    return MessageRingView(shared, copy.capacity, copy.max_record_size, std::string(name));
}

Result<MessageRingProducer> MessageRingView::producer(WriterGuest writer) const {
    // acquire: pairs with the consumer's release store of tail (contract C4 -> P1).
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
    if (tail % kAlign != 0)
        return fail(detail::corruption_error(kKind, name_, {"consumer index", detail::kNoSlot, tail, 0, 0}));
    (void)detail::this_process();  // computed now, not on the first reserve()
    return MessageRingProducer(*this, writer, tail);
}

Result<MessageRingConsumer> MessageRingView::consumer(const Region* region) const {
    // acquire: takes over from an earlier consumer; pairs with its release store of tail.
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
    // acquire: the reservations below head happened; their words are read with acquire anyway.
    const std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_acquire);
    if (tail % kAlign != 0 || head % kAlign != 0 || head - tail > capacity_)
        return fail(detail::corruption_error(kKind, name_, {"producer index", detail::kNoSlot, head, tail,
                                                            tail + capacity_}));
    return MessageRingConsumer(*this, region, head, tail);
}

MessageRingStats MessageRingView::stats() const noexcept {
    MessageRingStats s;
    // relaxed: monitoring snapshots; nothing is read on their strength.
    s.records = layout::atomic(header_->records).load(std::memory_order_relaxed);
    s.bytes = layout::atomic(header_->bytes).load(std::memory_order_relaxed);
    s.full = layout::atomic(header_->full_count).load(std::memory_order_relaxed);
    s.abandoned = layout::atomic(header_->abandoned).load(std::memory_order_relaxed);
    const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_relaxed);
    const std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_relaxed);
    s.used_bytes = std::min<std::uint64_t>(head - tail, capacity_);  // clamped: untrusted
    return s;
}

// ---- MessageRingProducer --------------------------------------------------------------------

MessageRingProducer::MessageRingProducer(const MessageRingView& view, WriterGuest writer, std::uint64_t tail)
    : header_(view.header_),
      data_(reinterpret_cast<std::byte*>(view.header_) + sizeof(MessageRingHeader)),
      capacity_(view.capacity_),
      max_record_size_(view.max_record_size_),
      mask_(std::uint64_t{view.capacity_} - 1),
      cached_tail_(tail),
      writer_(writer),
      name_(view.name_) {
    detail::tsan_acquired_by_producer(header_);  // the tail it starts from frees bytes too
}

bool MessageRingProducer::reload_tail(std::uint64_t& head) noexcept {
    // Head is loaded on both sides of tail: only when it did not move in between is
    // tail <= head <= tail + capacity a fact the ring must satisfy, rather than a race.
    for (int attempt = 0; attempt < kMaxReserveAttempts; ++attempt) {
        // acquire (not relaxed): keeps the tail load below after this one. With relaxed, the
        // compiler or a weakly ordered CPU may read `before` after tail; then before == after
        // proves nothing about the moment tail was read, and a tail that was old by then would
        // look more than capacity behind head: a healthy ring reported corrupt.
        const std::uint64_t before = layout::atomic(header_->head).load(std::memory_order_acquire);
        // acquire: pairs with the release store of tail in MessageRingConsumer::advance()
        // (contract C4 -> P1): the consumer is done with every byte below `tail`.
        const std::uint64_t tail = layout::atomic(header_->tail).load(std::memory_order_acquire);
        // acquire (not relaxed) keeps this load after the tail load.
        const std::uint64_t after = layout::atomic(header_->head).load(std::memory_order_acquire);
        if (before != after) continue;
        if (tail % kAlign != 0 || after - tail > capacity_) {
            stop({"consumer index", detail::kNoSlot, tail, after - capacity_, after});
            return false;
        }
        cached_tail_ = tail;
        detail::tsan_acquired_by_producer(header_);
        head = after;
        return true;
    }
    head = layout::atomic(header_->head).load(std::memory_order_relaxed);  // relaxed: a fresh guess for the CAS
    return true;  // head kept moving: the caller's space check decides with the old tail
}

Reservation MessageRingProducer::reserve(std::size_t length) noexcept {
    if (fault_) return {{}, WriteStatus::Stopped};
    if (pending_word_ != 0) return {{}, WriteStatus::Pending};
    if (length > max_record_size_) return {{}, WriteStatus::TooLarge};
    const std::uint64_t need = detail::record_stride(length);
    // relaxed: a guess for the CAS below, which checks it.
    std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_relaxed);
    bool tail_is_fresh = false;  // tail was reloaded against the head we are checking
    for (int attempt = 0; attempt < kMaxReserveAttempts; ++attempt) {
        if (head % kAlign != 0) {
            stop({"producer index (alignment)", detail::kNoSlot, head, 0, 0});
            return {{}, WriteStatus::Stopped};
        }
        const std::uint64_t contiguous = capacity_ - (head & mask_);
        const std::uint64_t total = need <= contiguous ? need : contiguous + need;
        // cached_tail_ is never ahead of the real tail, so this errs towards "full".
        if (head - cached_tail_ > capacity_ || head - cached_tail_ + total > capacity_) {
            if (!tail_is_fresh) {
                tail_is_fresh = true;
                if (!reload_tail(head)) return {{}, WriteStatus::Stopped};
                continue;
            }
            // relaxed: a statistic; orders nothing.
            layout::atomic(header_->full_count).fetch_add(1, std::memory_order_relaxed);
            return {{}, WriteStatus::Full};
        }
        // relaxed on both outcomes: the CAS hands out the bytes [head, head + total) and publishes
        // nothing (P2); on failure `head` is the current value to try again with.
        if (!layout::atomic(header_->head)
                 .compare_exchange_weak(head, head + total, std::memory_order_relaxed, std::memory_order_relaxed)) {
            tail_is_fresh = false;  // others moved head on: the consumer may have moved tail too
            continue;
        }
        const detail::ProcessIdentity& me = detail::this_process();
        std::uint64_t position = head;
        if (total != need) {  // the record does not fit before the end: pad to it, start at 0
            MessageRecordHeader* pad = record_at(data_, head & mask_);
            pad->length = static_cast<std::uint32_t>(contiguous - kRecordHeader);
            pad->pid = me.pid;
            pad->pid_ns = me.pid_ns;
            pad->incarnation = writer_.incarnation;
            pad->start_time = me.start_time;
            // release: publishes the padding header; pairs with the acquire in peek() (P3 -> C2).
            layout::atomic(pad->word).store(detail::record_word(RecordState::Padding, writer_.guest_id, head),
                                            std::memory_order_release);
            position = head + contiguous;
        }
        MessageRecordHeader* record = record_at(data_, position & mask_);
        record->length = static_cast<std::uint32_t>(length);
        record->pid = me.pid;
        record->pid_ns = me.pid_ns;
        record->incarnation = writer_.incarnation;
        record->start_time = me.start_time;
        const std::uint64_t word = detail::record_word(RecordState::Reserved, writer_.guest_id, position);
        // release: publishes the record header (length, writer); pairs with the acquire in peek()
        // (P3 -> C2), which may judge this writer by it.
        layout::atomic(record->word).store(word, std::memory_order_release);
        pending_position_ = position;
        pending_word_ = word;
        return {std::span<std::byte>(reinterpret_cast<std::byte*>(record) + kRecordHeader, length), WriteStatus::Ok};
    }
    return {{}, WriteStatus::Full};  // head kept moving under us: back-pressure of another kind
}

bool MessageRingProducer::commit() noexcept {
    if (pending_word_ == 0) return false;
    std::uint64_t expected = pending_word_;
    const std::uint64_t committed = (expected & ~std::uint64_t{0xff}) | state_byte(RecordState::Committed);
    pending_word_ = 0;
    // release: publishes the payload; pairs with the acquire in peek() (P5 -> C2). Fails when the
    // consumer declared this writer dead and marked the record Abandoned (its tag is unique to
    // this lap, so a later record at the same place cannot be committed by mistake).
    detail::tsan_released_by_producer(header_);
    return layout::atomic(record_at(data_, pending_position_ & mask_)->word)
        .compare_exchange_strong(expected, committed, std::memory_order_release, std::memory_order_relaxed);
}

bool MessageRingProducer::abandon() noexcept {
    if (pending_word_ == 0) return false;
    std::uint64_t expected = pending_word_;
    const std::uint64_t abandoned = (expected & ~std::uint64_t{0xff}) | state_byte(RecordState::Abandoned);
    pending_word_ = 0;
    // release: the consumer reads nothing of an abandoned record but its length, which it read
    // before; release keeps our payload writes from drifting past the point we gave the space up.
    detail::tsan_released_by_producer(header_);
    return layout::atomic(record_at(data_, pending_position_ & mask_)->word)
        .compare_exchange_strong(expected, abandoned, std::memory_order_release, std::memory_order_relaxed);
}

WriteStatus MessageRingProducer::try_write(std::span<const std::byte> record) noexcept {
    Reservation slot = reserve(record.size());
    if (!slot) return slot.status;
    detail::copy_item(slot.data.data(), record.data(), record.size());
    return commit() ? WriteStatus::Ok : WriteStatus::Lost;
}

Error MessageRingProducer::error_of(WriteStatus status, std::size_t length) const {
    const std::string what = detail::describe(kKind, name_);
    switch (status) {
        case WriteStatus::Ok: break;
        case WriteStatus::Full:
            return Error{make_error_code(RegionError::NoSpace),
                         what + " is full (" + std::to_string(capacity_) + "-byte buffer): no room for a record of " +
                             std::to_string(length) + " bytes now; the consumer is behind, try again later"};
        case WriteStatus::TooLarge:
            return Error{make_error_code(RegionError::InvalidArgument),
                         "a record of " + std::to_string(length) + " bytes is larger than the " +
                             std::to_string(max_record_size_) + "-byte maximum of " + what};
        case WriteStatus::Pending:
            return Error{make_error_code(RegionError::InvalidArgument),
                         "this producer of " + what + " holds a reservation: commit or abandon it first"};
        case WriteStatus::Lost:
            return Error{make_error_code(RegionError::Busy),
                         "the record was not delivered: the consumer of " + what +
                             " declared this writer dead and skipped it"};
        case WriteStatus::Stopped:
            if (fault_) return detail::corruption_error(kKind, name_, *fault_);
            return Error{make_error_code(RegionError::Corrupt), "this producer of " + what + " has stopped"};
    }
    return Error{make_error_code(RegionError::InvalidArgument), "not an error"};
}

Result<void> MessageRingProducer::health() const {
    if (fault_) return fail(detail::corruption_error(kKind, name_, *fault_));
    return {};
}

// ---- MessageRingConsumer --------------------------------------------------------------------

MessageRingConsumer::MessageRingConsumer(const MessageRingView& view, const Region* region, std::uint64_t head,
                                         std::uint64_t tail)
    : header_(view.header_),
      data_(reinterpret_cast<std::byte*>(view.header_) + sizeof(MessageRingHeader)),
      region_(region),
      capacity_(view.capacity_),
      max_record_size_(view.max_record_size_),
      mask_(std::uint64_t{view.capacity_} - 1),
      tail_(tail),
      cached_head_(head),
      // relaxed: this handle becomes the counters' only writer; earlier values carry on.
      records_(layout::atomic(view.header_->records).load(std::memory_order_relaxed)),
      bytes_(layout::atomic(view.header_->bytes).load(std::memory_order_relaxed)),
      abandoned_(layout::atomic(view.header_->abandoned).load(std::memory_order_relaxed)),
      name_(view.name_) {}

bool MessageRingConsumer::load_head() noexcept {
    // acquire: see MessageRingView::consumer(); the words are what publish records.
    const std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_acquire);
    // cached_head_ <= head <= tail_ + capacity (mod 2^64), on the record grid.
    if (head % kAlign != 0 || head - tail_ > capacity_ || head - tail_ < cached_head_ - tail_) {
        stop({"producer index", detail::kNoSlot, head, cached_head_, tail_ + capacity_});
        return false;
    }
    cached_head_ = head;
    return true;
}

void MessageRingConsumer::advance(std::uint64_t bytes) noexcept {
    tail_ += bytes;
    peeked_stride_ = 0;
    peeked_length_ = 0;
    // release: hands the bytes back; pairs with the acquire in MessageRingProducer::reload_tail()
    // (contract C4 -> P1).
    layout::atomic(header_->tail).store(tail_, std::memory_order_release);
}

bool MessageRingConsumer::writer_is_dead(const MessageRecordHeader& record) noexcept {
    return detail::claimer_is_dead({record.pid, record.pid_ns, record.start_time, detail::word_guest(record.word),
                                    record.incarnation},
                                   region_);
}

std::uint64_t MessageRingConsumer::headerless_claim() noexcept {
    // Normally the writer is between its head CAS and its header store, a few instructions: wait.
    // Look at the clock only every 64th time, and act only after the timeout.
    if (hole_position_ != tail_) {
        hole_position_ = tail_;
        hole_seen_ = 0;
        hole_since_ns_ = 0;
    }
    if (hole_seen_++ % 64 != 0) return 0;
    const auto now = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
    if (hole_seen_ == 1) hole_since_ns_ = now;
    if (now - hole_since_ns_ < headerless_timeout_ns_) return 0;
    // The claim ends where the next record (or padding) of this lap starts: the first position
    // after tail whose word carries that position's tag. Only the bytes up to it are skipped; with
    // no such record yet, keep waiting (the next writer's record will mark the end). The scan is
    // bounded by head, itself checked to lie within capacity of tail.
    if (!load_head()) return 0;
    for (std::uint64_t position = tail_ + kAlign; position - tail_ < cached_head_ - tail_; position += kAlign) {
        // acquire: pairs with the release stores of words in reserve()/commit(), as in peek().
        const std::uint64_t word =
            layout::atomic(record_at(data_, position & mask_)->word).load(std::memory_order_acquire);
        const std::uint8_t state = detail::word_state(word);
        if (detail::word_tag(word) == detail::record_tag(position) && state >= state_byte(RecordState::Reserved) &&
            state <= state_byte(RecordState::Padding))
            return position - tail_;
    }
    return 0;
}

std::optional<std::span<const std::byte>> MessageRingConsumer::peek() noexcept {
    if (fault_) return std::nullopt;
    if (peeked_stride_ != 0)
        return std::span<const std::byte>(data_ + (tail_ & mask_) + kRecordHeader, peeked_length_);
    // Each pass either returns or moves tail_ forward by at least kAlign without passing head,
    // so the loop ends within capacity / kAlign passes whatever the memory holds.
    for (std::uint64_t pass = 0; pass <= capacity_ / kAlign; ++pass) {
        if (tail_ == cached_head_ && (!load_head() || tail_ == cached_head_)) return std::nullopt;
        const std::uint64_t offset = tail_ & mask_;
        const std::uint64_t contiguous = capacity_ - offset;
        const std::uint64_t available = cached_head_ - tail_;  // checked <= capacity by load_head()
        MessageRecordHeader* shared = record_at(data_, offset);
        // acquire: pairs with the release stores of the word in MessageRingProducer::reserve() and
        // commit() (P3/P5 -> C2): the header fields, and with Committed the payload, are written.
        const std::uint64_t word = layout::atomic(shared->word).load(std::memory_order_acquire);
        const std::uint8_t state = detail::word_state(word);
        // Another lap's tag, or nothing yet: the writer won its head CAS and has not stored its
        // header yet (see docs/message-ring.md for the writer that dies right there).
        if (detail::word_tag(word) != detail::record_tag(tail_) || state == 0) {
            const std::uint64_t hole = headerless_claim();
            if (hole == 0) return std::nullopt;
            // relaxed: a statistic; this handle is its only writer.
            layout::atomic(header_->abandoned).store(++abandoned_, std::memory_order_relaxed);
            advance(hole);
            continue;
        }
        MessageRecordHeader record{};
        record.word = word;
        // Read once, then checked: the fields after the word.
        std::memcpy(reinterpret_cast<std::byte*>(&record) + sizeof(record.word),
                    reinterpret_cast<const std::byte*>(shared) + sizeof(record.word),
                    sizeof(record) - sizeof(record.word));
        if (state == state_byte(RecordState::Padding)) {
            if (record.length != contiguous - kRecordHeader || contiguous > available) {
                stop({"padding length", offset, record.length, contiguous - kRecordHeader,
                      contiguous - kRecordHeader});
                return std::nullopt;
            }
            advance(contiguous);
            continue;
        }
        if (state < state_byte(RecordState::Reserved) || state > state_byte(RecordState::Abandoned)) {
            stop({"record state", offset, state, state_byte(RecordState::Reserved), state_byte(RecordState::Padding)});
            return std::nullopt;
        }
        const std::uint64_t stride = detail::record_stride(record.length);
        if (record.length > max_record_size_ || stride > contiguous || stride > available) {
            stop({"record length", offset, record.length, 0,
                  std::min<std::uint64_t>({max_record_size_, contiguous - kRecordHeader, available - kRecordHeader})});
            return std::nullopt;
        }
        if (state == state_byte(RecordState::Committed)) {
            peeked_stride_ = stride;
            peeked_length_ = record.length;
            return std::span<const std::byte>(reinterpret_cast<const std::byte*>(shared) + kRecordHeader,
                                              record.length);
        }
        if (state == state_byte(RecordState::Reserved)) {
            if (stall_position_ != tail_) {
                stall_position_ = tail_;
                stall_seen_ = 0;
            }
            ++stall_seen_;
            if (stall_seen_ < kStallFirstCheck || (stall_seen_ - kStallFirstCheck) % kStallCheckEvery != 0)
                return std::nullopt;
            if (!writer_is_dead(record)) return std::nullopt;
            std::uint64_t expected = word;
            const std::uint64_t abandoned = (word & ~std::uint64_t{0xff}) | state_byte(RecordState::Abandoned);
            // relaxed: we read nothing more of the record; on failure the writer committed just
            // now (or abandoned), and the next pass reloads the word with acquire.
            if (!layout::atomic(shared->word)
                     .compare_exchange_strong(expected, abandoned, std::memory_order_relaxed,
                                              std::memory_order_relaxed))
                continue;
        }
        // Abandoned, by its writer or just now by us.
        // relaxed: a statistic; this handle is its only writer.
        layout::atomic(header_->abandoned).store(++abandoned_, std::memory_order_relaxed);
        advance(stride);
    }
    return std::nullopt;
}

void MessageRingConsumer::release() noexcept {
    if (fault_ || peeked_stride_ == 0) return;
    // relaxed: statistics; this handle is their only writer.
    layout::atomic(header_->records).store(++records_, std::memory_order_relaxed);
    layout::atomic(header_->bytes).store(bytes_ += peeked_length_, std::memory_order_relaxed);
    advance(peeked_stride_);
}

ReadResult MessageRingConsumer::try_read(std::span<std::byte> out) noexcept {
    auto record = peek();
    if (!record) return {fault_ ? ReadStatus::Stopped : ReadStatus::Empty, 0};
    if (record->size() > out.size()) return {ReadStatus::BufferTooSmall, record->size()};
    detail::copy_item(out.data(), record->data(), record->size());
    const std::size_t length = record->size();
    release();
    return {ReadStatus::Ok, length};
}

MessageRingStats MessageRingConsumer::stats() const noexcept {
    MessageRingStats s;
    s.records = records_;
    s.bytes = bytes_;
    s.abandoned = abandoned_;
    // relaxed: monitoring snapshots.
    s.full = layout::atomic(header_->full_count).load(std::memory_order_relaxed);
    const std::uint64_t head = layout::atomic(header_->head).load(std::memory_order_relaxed);
    s.used_bytes = std::min<std::uint64_t>(head - tail_, capacity_);  // clamped: untrusted
    return s;
}

Result<void> MessageRingConsumer::health() const {
    if (fault_) return fail(detail::corruption_error(kKind, name_, *fault_));
    return {};
}

}  // namespace nk::ipc
