// The panic trap (panic.hpp).
#include "nk/nanokernel/panic.hpp"

#include <execinfo.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "nk/nanokernel/clock.hpp"
#include "nk/nanokernel/guest.hpp"
#include "control_page.hpp"
#include "doorbell.hpp"

namespace nk {
namespace {

using detail::control_page;

void copy_text(char* out, std::size_t capacity, std::string_view text) {
    const std::size_t n = std::min(text.size(), capacity - 1);
    std::memcpy(out, text.data(), n);
    out[n] = '\0';
}

// The record as 64-bit words (sequence first), so both sides touch it only atomically.
constexpr std::size_t kRecordWords = sizeof(layout::FailureRecord) / 8;
static_assert(sizeof(layout::FailureRecord) % 8 == 0 && offsetof(layout::FailureRecord, sequence) == 0);

std::uint64_t* words(layout::FailureRecord& r) { return reinterpret_cast<std::uint64_t*>(&r); }

// Seqlock writer. Odd while writing: a reader that sees it, or sees it change, drops its copy.
void store_record(layout::FailureRecord& shared, const layout::FailureRecord& local) {
    auto sequence = layout::atomic(shared.sequence);
    // odd; stays odd after a writer that died mid-record. acquire (on an RMW): the field stores
    // below cannot move before the odd mark.
    const std::uint64_t start = sequence.load(std::memory_order_relaxed) | 1U;
    sequence.exchange(start, std::memory_order_acquire);
    const std::uint64_t* from = reinterpret_cast<const std::uint64_t*>(&local);
    for (std::size_t i = 1; i < kRecordWords; ++i)
        layout::atomic(words(shared)[i]).store(from[i], std::memory_order_relaxed);  // ordered by the marks
    // release: publishes the fields; pairs with the acquire in read_failure_record().
    sequence.store(start + 1, std::memory_order_release);
}

std::string bounded(const char* text, std::size_t capacity) { return std::string(text, strnlen(text, capacity)); }

}  // namespace

int panic_signal() { return SIGRTMIN + 2; }

void panic(const Region& region, std::string_view reason) {
    const Identity& who = region.identity();
    if (who.role == Role::Guest) {
        if (auto* page = control_page(region, who.guest_id, true)) {
            // The record is filled locally, then published word by word under the seqlock.
            layout::FailureRecord local{};
            local.unix_ns = clock::unix_ns();
            local.pid = static_cast<std::uint32_t>(::getpid());
            auto info = region.guest(who.guest_id);
            local.incarnation = info ? info->incarnation : 0;
            copy_text(local.reason, sizeof local.reason, reason);
            std::string program;
            std::getline(std::ifstream("/proc/self/comm"), program);
            copy_text(local.program, sizeof local.program, program);
            void* frames[32];
            const int count = ::backtrace(frames, 32);
            std::string trace;
            if (char** names = ::backtrace_symbols(frames, count)) {
                for (int i = 1; i < count; ++i) trace += std::string(names[i]) + "\n";  // frame 0 is panic()
                std::free(names);
            }
            copy_text(local.backtrace, sizeof local.backtrace, trace);
            store_record(page->failure, local);
            // The panic line: nkd's timer core hears it at once and ends the guest, whatever its
            // init does next.
            detail::ring(page->to_nanokernel, layout::kPanicLine);
        }
    }
    // The guest's init takes it from here (nk-init ends the guest); an rt guest's PID 1 is us.
    if (::getpid() != 1) ::kill(1, panic_signal());
    ::_exit(kPanicExitStatus);
}

void panic(std::string_view reason) {
    auto region = guest::attach();
    if (region) panic(region->get(), reason);
    ::_exit(kPanicExitStatus);
}

std::optional<FailureReport> read_failure_record(const Region& region, std::uint16_t guest_id) {
    const auto* page = control_page(region, guest_id, false);
    if (page == nullptr) return std::nullopt;
    auto& shared = const_cast<layout::FailureRecord&>(page->failure);
    // acquire: pairs with the release that completed the record.
    const std::uint64_t before = layout::atomic(shared.sequence).load(std::memory_order_acquire);
    if (before == 0 || (before & 1U) != 0) return std::nullopt;
    layout::FailureRecord copy{};
    auto* to = reinterpret_cast<std::uint64_t*>(&copy);
    // acquire on each word: the re-check of the sequence below cannot move before the copy.
    for (std::size_t i = 1; i < kRecordWords; ++i) to[i] = layout::atomic(words(shared)[i]).load(std::memory_order_acquire);
    if (layout::atomic(shared.sequence).load(std::memory_order_relaxed) != before) return std::nullopt;
    FailureReport report;
    report.sequence = before;
    report.unix_ns = copy.unix_ns;
    report.pid = copy.pid;
    report.incarnation = copy.incarnation;
    report.reason = bounded(copy.reason, sizeof copy.reason);
    report.backtrace = bounded(copy.backtrace, sizeof copy.backtrace);
    report.program = bounded(copy.program, sizeof copy.program);
    return report;
}

}  // namespace nk
