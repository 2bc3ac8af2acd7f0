// The panic trap (panic.hpp).
#include "nk/nanokernel/panic.hpp"

#include <execinfo.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "nk/nanokernel/guest.hpp"

namespace nk {
namespace {

layout::ControlPage* control_page(const Region& region, std::uint16_t guest_id, bool want_write) {
    auto info = region.guest(guest_id);
    if (!info) return nullptr;
    const AreaInfo* area = region.area(info->control_area);
    if (area == nullptr || area->kind != layout::AreaKind::Control || area->owner_guest != guest_id) return nullptr;
    auto bytes = region.bytes(area->offset, sizeof(layout::ControlPage), want_write);
    return bytes ? reinterpret_cast<layout::ControlPage*>(*bytes) : nullptr;
}

void copy_text(char* out, std::size_t capacity, std::string_view text) {
    const std::size_t n = std::min(text.size(), capacity - 1);
    std::memcpy(out, text.data(), n);
    out[n] = '\0';
}

std::string bounded(const char* text, std::size_t capacity) { return std::string(text, strnlen(text, capacity)); }

}  // namespace

int panic_signal() { return SIGRTMIN + 2; }

void panic(const Region& region, std::string_view reason) {
    const Identity& who = region.identity();
    if (who.role == Role::Guest) {
        if (auto* page = control_page(region, who.guest_id, true)) {
            layout::FailureRecord& r = page->failure;
            auto sequence = layout::atomic(r.sequence);
            // Odd while writing: a reader that sees it, or sees it change, drops its copy.
            const std::uint64_t start = sequence.load(std::memory_order_relaxed) | 1U;  // odd; stays odd after a writer that died
            sequence.store(start, std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_release);  // the odd mark before the fields
            timespec ts{};
            ::clock_gettime(CLOCK_REALTIME, &ts);
            r.unix_ns = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
            r.pid = static_cast<std::uint32_t>(::getpid());
            auto info = region.guest(who.guest_id);
            r.incarnation = info ? info->incarnation : 0;
            copy_text(r.reason, sizeof r.reason, reason);
            std::string program;
            std::getline(std::ifstream("/proc/self/comm"), program);
            copy_text(r.program, sizeof r.program, program);
            void* frames[32];
            const int count = ::backtrace(frames, 32);
            std::string trace;
            if (char** names = ::backtrace_symbols(frames, count)) {
                for (int i = 1; i < count; ++i) trace += std::string(names[i]) + "\n";  // frame 0 is panic()
                std::free(names);
            }
            copy_text(r.backtrace, sizeof r.backtrace, trace);
            // release: publishes the fields; pairs with the acquire in read_failure_record().
            sequence.store(start + 1, std::memory_order_release);
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
    layout::FailureRecord copy;
    std::memcpy(static_cast<void*>(&copy), &shared, sizeof copy);
    std::atomic_thread_fence(std::memory_order_acquire);  // the copy before the re-check
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
