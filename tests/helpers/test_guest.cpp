// nk_test_guest: a real guest process for the integration tests. It attaches the region it was
// started with (NK_REGION_FDS, or NK_PLATFORM + NK_GUEST) and does one thing, reporting on stdout.
// Commands that are expected to fault do so for real: the test checks the signal.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <algorithm>
#include <vector>
#include <thread>
#include <string>

#include "nk/ipc/event.hpp"
#include "nk/ipc/pnv.hpp"
#include "nk/ipc/port.hpp"
#include "nk/ipc/spsc_ring.hpp"
#include "nk/ipc/segment.hpp"
#include "nk/nanokernel/directory.hpp"
#include "nk/nanokernel/guest.hpp"
#include "nk/nanokernel/heartbeat.hpp"
#include "nk/nanokernel/interrupts.hpp"
#include "nk/nanokernel/vtimer.hpp"
#include "nk/nanokernel/watchdog_client.hpp"
#include "nk/nanokernel/panic.hpp"

namespace {

int fail_with(const nk::Error& error) {
    std::printf("error: %s\n", error.message.c_str());
    std::fflush(stdout);
    return 1;
}

void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

[[noreturn]] void wait_to_be_killed() {
    for (;;) ::pause();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: nk_test_guest COMMAND ARGS...\n");
        return 2;
    }
    auto attached = nk::guest::attach();
    if (!attached) return fail_with(attached.error());
    nk::Region& region = attached->get();
    const std::string command = argv[1];
    auto arg = [&](int i) { return i < argc ? std::string(argv[i]) : std::string(); };

    if (command == "heartbeat") {  // PERIOD_MS MISSES BEATS: arms, beats BEATS times, then hangs (no beats)
        const auto period = std::chrono::milliseconds(std::stoi(arg(2)));
        if (auto armed = nk::heartbeat::arm(region, period, static_cast<std::uint32_t>(std::stoul(arg(3)))); !armed)
            return fail_with(armed.error());
        const int beats = std::stoi(arg(4));
        say("armed");
        for (int i = 0; i < beats || beats < 0; ++i) {
            std::this_thread::sleep_for(period);
            if (auto beat = nk::heartbeat::beat(region, static_cast<std::uint64_t>(i)); !beat) return fail_with(beat.error());
        }
        say("stopped beating");
        wait_to_be_killed();
    }
    if (command == "ipc-objects") {  // PEER: an event (signalled once), a port and an SPSC ring holding one item each
        auto event = nk::ipc::Event::create(region, "demo.event", nk::ipc::EventMode::ManualReset, arg(2));
        if (!event) return fail_with(event.error());
        if (auto signalled = event->signal(); !signalled) return fail_with(signalled.error());
        auto port = nk::ipc::Port::create(region, "demo.port", {4096, 128, arg(2)});
        if (!port) return fail_with(port.error());
        auto sender = nk::ipc::PortSender::open(region, "demo.port");
        if (!sender) return fail_with(sender.error());
        const std::string text = "hello";
        if (auto sent = sender->send(std::as_bytes(std::span(text.data(), text.size())), std::chrono::seconds(1)); !sent)
            return fail_with(sent.error());
        auto ring = nk::ipc::SpscRing::create(region, "demo.ring", 8, 16, arg(2));
        if (!ring) return fail_with(ring.error());
        auto producer = ring->producer();
        const std::uint64_t value = 42;
        if (!producer || !producer->try_push(std::as_bytes(std::span(&value, 1)))) return 1;
        say("made demo.event, demo.port and demo.ring");
        return 0;
    }
    if (command == "timer") {  // PERIOD_US SECONDS [TIMER]: a periodic virtual timer (default 0), counted
        const auto period = std::chrono::microseconds(std::stoll(arg(2)));
        const auto run_for = std::chrono::duration<double>(std::stod(arg(3)));
        const unsigned timer = arg(4).empty() ? 0U : static_cast<unsigned>(std::stoul(arg(4)));
        auto dispatcher = nk::irq::Dispatcher::open(region);
        if (!dispatcher) return fail_with(dispatcher.error());
        std::uint64_t deliveries = 0, expirations = 0;
        std::vector<std::int64_t> late_ns;
        auto last = std::chrono::steady_clock::now();
        if (auto on = dispatcher->on(nk::irq::timer_line(timer), [&](const nk::irq::Interrupt& irq) {
                ++deliveries;
                expirations += irq.expirations;
                last = std::chrono::steady_clock::now();
                if (auto state = nk::vtimer::read(region, region.identity().guest_id, timer))
                    late_ns.push_back(static_cast<std::int64_t>(
                        std::chrono::steady_clock::now().time_since_epoch().count() - state->last_fire_ns));
            });
            !on)
            return fail_with(on.error());
        const auto start = std::chrono::steady_clock::now();
        if (auto armed = nk::vtimer::arm(region, timer, period, period); !armed) return fail_with(armed.error());
        const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(run_for);
        while (std::chrono::steady_clock::now() < end)
            if (auto waited = dispatcher->wait_until(end); !waited) return fail_with(waited.error());
        (void)nk::vtimer::disarm(region, timer);
        std::sort(late_ns.begin(), late_ns.end());
        const auto p99 = late_ns.empty() ? 0 : late_ns[late_ns.size() * 99 / 100];
        // The periods that passed between the arm and the last delivery: what the count must match.
        const auto periods = static_cast<std::uint64_t>(std::chrono::duration<double>(last - start) /
                                                        std::chrono::duration<double>(period));
        say("expirations " + std::to_string(expirations) + " deliveries " + std::to_string(deliveries) +
            " wake_p99_us " + std::to_string(p99 / 1000) + " periods " + std::to_string(periods));
        return 0;
    }
    if (command == "peer-watch") {  // EVENTS: prints "down NAME" / "up NAME" for EVENTS peer changes (10 s at most)
        auto dispatcher = nk::irq::Dispatcher::open(region);
        if (!dispatcher) return fail_with(dispatcher.error());
        int left = std::stoi(arg(2));
        bool reporting = false;
        auto report = [&](const char* what) {
            return [&, what](const nk::irq::Interrupt& irq) {
                if (!reporting) return;
                auto peer = region.guest(irq.peer);
                say(std::string(what) + " " + (peer ? peer->name : "?"));
                --left;
            };
        };
        if (auto on = dispatcher->on(nk::irq::kPeerDownLine, report("down")); !on) return fail_with(on.error());
        if (auto on = dispatcher->on(nk::irq::kPeerUpLine, report("up")); !on) return fail_with(on.error());
        // Lines still pending from the platform's start (every guest's first peer-up) are taken
        // unreported: the watch is about what happens from now on.
        (void)dispatcher->poll();
        reporting = true;
        say("watching");
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (left > 0 && std::chrono::steady_clock::now() < end)
            if (auto waited = dispatcher->wait_until(end); !waited) return fail_with(waited.error());
        if (left > 0) say("timed out");
        return left > 0 ? 1 : 0;
    }
    if (command == "critical") {  // PERIOD_MS: registers with the guest's watchdog, kicks three times a period
        const auto period = std::chrono::milliseconds(std::stoi(arg(2)));
        // The watchdog may still be starting: try for a second.
        nk::Result<void> registered = nk::watchdog::register_critical(period, "test-critical");
        for (int i = 0; i < 100 && !registered; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            registered = nk::watchdog::register_critical(period, "test-critical");
        }
        if (!registered) return fail_with(registered.error());
        say("registered");
        for (;;) {
            std::this_thread::sleep_for(period / 3);
            (void)nk::watchdog::kick();
        }
    }
    if (command == "irq-raise") {  // LINE_NAME
        if (auto raised = nk::irq::raise(region, arg(2)); !raised) return fail_with(raised.error());
        say("raised");
        return 0;
    }
    if (command == "panic") {  // REASON: the guest's panic trap
        nk::panic(region, arg(2));
    }
    if (command == "whoami") {
        say(std::string(nk::to_string(region.identity().role)) + " " + std::to_string(region.identity().guest_id));
        return 0;
    }
    if (command == "segment-create") {  // NAME SIZE WHERE TEXT
        auto segment = nk::ipc::Segment::create(region, arg(2), std::stoull(arg(3)), arg(4));
        if (!segment) return fail_with(segment.error());
        const std::string text = arg(5);
        std::memcpy(segment->bytes().data(), text.c_str(), text.size() + 1);
        say("created " + segment->info().area_label);
        return 0;
    }
    if (command == "segment-read") {  // NAME
        auto segment = nk::ipc::Segment::open(region, arg(2), nk::Rights::Read);
        if (!segment) return fail_with(segment.error());
        say(reinterpret_cast<const char*>(segment->bytes().data()));
        return 0;
    }
    if (command == "segment-open") {  // NAME r|rw
        auto segment = nk::ipc::Segment::open(region, arg(2), arg(3) == "r" ? nk::Rights::Read : nk::Rights::ReadWrite);
        if (!segment) return fail_with(segment.error());
        say("opened");
        return 0;
    }
    if (command == "segment-write-readonly") {  // NAME: opens read-only, then writes anyway
        auto segment = nk::ipc::Segment::open(region, arg(2), nk::Rights::Read);
        if (!segment) return fail_with(segment.error());
        say("writing");
        *reinterpret_cast<volatile char*>(segment->bytes().data()) = 'x';
        say("wrote");
        return 0;
    }
    if (command == "touch-area") {  // LABEL: reads the area's first byte, bypassing every check
        for (const auto& area : region.areas()) {
            if (area.label != arg(2)) continue;
            say("touching");
            const volatile char byte = *reinterpret_cast<volatile char*>(region.base() + area.offset);
            say("read " + std::to_string(static_cast<int>(byte)));
            return 0;
        }
        say("no such area");
        return 1;
    }
    if (command == "write-tables") {  // writes into the management tables through the mapping
        say("writing");
        *reinterpret_cast<volatile std::uint64_t*>(region.base()) = 0;
        say("wrote");
        return 0;
    }
    if (command == "pnv-write") {  // ID SIZE TEXT: writes, reports, then waits to be killed
        auto allocation = nk::pnv::attach(region, arg(2), std::stoull(arg(3)));
        if (!allocation) return fail_with(allocation.error());
        const std::string text = arg(4);
        std::memcpy(allocation->bytes.data(), text.c_str(), text.size() + 1);
        say("offset " + std::to_string(allocation->offset) + " fresh " + std::to_string(allocation->fresh));
        wait_to_be_killed();
    }
    if (command == "pnv-read") {  // ID SIZE
        auto allocation = nk::pnv::attach(region, arg(2), std::stoull(arg(3)));
        if (!allocation) return fail_with(allocation.error());
        say("offset " + std::to_string(allocation->offset) + " fresh " + std::to_string(allocation->fresh) + " text " +
            reinterpret_cast<const char*>(allocation->bytes.data()));
        return 0;
    }
    if (command == "lock-and-die") {  // AREA_LABEL NAME: dies holding the lock mid-change
        for (const auto& area : region.areas()) {
            if (area.label != arg(2)) continue;
            auto held = nk::Directory(region, area.index).with_exclusive([&](nk::AreaDirectory& directory) {
                auto reserved = directory.reserve_and_abandon_for_test(arg(3), 4096);
                if (!reserved) return reserved;
                say("holding");
                wait_to_be_killed();
            });
            if (!held) return fail_with(held.error());
        }
        say("no such area");
        return 1;
    }
    std::fprintf(stderr, "nk_test_guest: unknown command '%s'\n", command.c_str());
    return 2;
}
