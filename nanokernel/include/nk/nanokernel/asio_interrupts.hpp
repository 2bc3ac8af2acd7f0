// nk::irq::AsioInterrupts: a guest's interrupt lines served on an Asio io_context.
//
// One helper thread sleeps in the guest's Dispatcher (one futex_waitv over the inbox and every
// link doorbell: all lines at once, no thread per line) and posts each interrupt to the
// io_context, where its handler runs. Header-only, so programs without Asio need not have it
// (Debian: libasio-dev).
//
//   asio::io_context io;
//   auto lines = nk::irq::AsioInterrupts::open(io, region);
//   lines->on(nk::irq::timer_line(0), [](const nk::irq::Interrupt& irq) { tick(irq.expirations); });
//   lines->start();
//   io.run();
//
// Register handlers before start(). While started the io_context has work (run() does not
// return); stop() (or the destructor) ends the helper thread. Destroy it before the io_context.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "nk/nanokernel/interrupts.hpp"

namespace nk::irq {

class AsioInterrupts {
public:
    [[nodiscard]] static Result<std::unique_ptr<AsioInterrupts>> open(asio::io_context& io, const Region& region,
                                                                      DispatcherOptions options = {}) {
        auto dispatcher = Dispatcher::open(region, options);
        if (!dispatcher) return fail(std::move(dispatcher.error()));
        return std::unique_ptr<AsioInterrupts>(new AsioInterrupts(io, std::move(*dispatcher)));
    }
    AsioInterrupts(const AsioInterrupts&) = delete;
    AsioInterrupts& operator=(const AsioInterrupts&) = delete;
    ~AsioInterrupts() { stop(); }

    // `handler` runs on the io_context for each interrupt of `line` (a number or a line's name).
    template <class Line>
    [[nodiscard]] Result<void> on(Line line, Dispatcher::Handler handler) {
        if (thread_.joinable()) return fail(RegionError::Busy, "add handlers before start()");
        return dispatcher_.on(line, [this, h = std::move(handler)](const Interrupt& irq) {
            asio::post(io_, [h, irq] { h(irq); });
        });
    }

    void start() {
        if (thread_.joinable()) return;
        stopping_.store(false, std::memory_order_relaxed);
        work_.emplace(asio::make_work_guard(io_));
        thread_ = std::thread([this] {
            // acquire: pairs with the release in stop().
            while (!stopping_.load(std::memory_order_acquire)) {
                if (auto waited = dispatcher_.wait(); !waited) {
                    asio::post(io_, [e = waited.error()] { throw std::runtime_error("nk interrupts: " + e.message); });
                    return;
                }
            }
        });
    }

    void stop() {
        if (!thread_.joinable()) return;
        stopping_.store(true, std::memory_order_release);
        dispatcher_.wake_up();
        thread_.join();
        work_.reset();
    }

    [[nodiscard]] Dispatcher::Counters counters() const { return dispatcher_.counters(); }

private:
    AsioInterrupts(asio::io_context& io, Dispatcher dispatcher) : io_(io), dispatcher_(std::move(dispatcher)) {}

    asio::io_context& io_;
    Dispatcher dispatcher_;
    std::atomic<bool> stopping_{false};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::thread thread_;
};

}  // namespace nk::irq
