// nk::ipc::PortWaiter: receive on many ports from one Asio io_context, without a thread per port.
//
// One PortWaiter per io_context owns one helper thread that sleeps in a single futex_waitv(2)
// on every port with a receive pending (up to 127) and posts the completion to the io_context
// when a message may have arrived. The receive itself, and the handler, run on the io_context.
// Header-only, so programs that do not use Asio need not have it (Debian: libasio-dev).
//
//   asio::io_context io;
//   nk::ipc::PortWaiter waiter(io);
//   waiter.async_receive(inbox, buffer, [&](nk::Result<std::size_t> got) { ... });
//   io.run();
//
// Each port may have one receive pending at a time; a handler is called once, with the message
// length or the port's error. cancel_all() ends every pending receive with RegionError::Busy.
// While a receive is pending the io_context has work (run() does not return). Destroy the
// PortWaiter only after its io_context has stopped running its handlers.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "nk/ipc/port.hpp"

namespace nk::ipc {

class PortWaiter {
public:
    using Handler = std::function<void(Result<std::size_t>)>;
    static constexpr std::size_t kMaxPending = 127;  // futex_waitv takes 128 words, one is ours

    explicit PortWaiter(asio::io_context& io) : io_(io), thread_([this] { run(); }) {}
    PortWaiter(const PortWaiter&) = delete;
    PortWaiter& operator=(const PortWaiter&) = delete;
    ~PortWaiter() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        kick();
        thread_.join();
        for (auto& p : pending_) p.port->count_arrival_waiter(false);  // no stale waiter counts left
    }

    // Receives the next message of `port` into `out` and calls `handler` on the io_context.
    // `port` and `out` must outlive the call of the handler. Call from the io_context's thread.
    void async_receive(Port& port, std::span<std::byte> out, Handler handler) {
        // The word first, then count ourselves a waiter, then the look (event.cpp's W1-W3): a
        // message that arrives after the look moves the word and, since we are counted, wakes it.
        const std::uint32_t seen = std::atomic_ref<std::uint32_t>(*port.arrival_word()).load(std::memory_order_seq_cst);
        port.count_arrival_waiter(true);
        auto got = port.try_receive(out);
        if (!got || *got) {
            port.count_arrival_waiter(false);
            asio::post(io_, [handler = std::move(handler), got = std::move(got)]() mutable {
                handler(got ? Result<std::size_t>(**got) : Result<std::size_t>(tl::unexpected(got.error())));
            });
            return;
        }
        {
            std::lock_guard lock(mutex_);
            if (pending_.size() >= kMaxPending) {
                port.count_arrival_waiter(false);
                asio::post(io_, [handler = std::move(handler)] {
                    handler(fail(RegionError::Busy, "a PortWaiter waits on at most 127 ports at once"));
                });
                return;
            }
            pending_.push_back({&port, out, std::move(handler), seen});
        }
        // A pending receive is work: io_context::run() does not return while one waits.
        if (io_work_.fetch_add(1, std::memory_order_relaxed) == 0) guard_.emplace(io_.get_executor());
        kick();
    }

    // Ends every pending receive with RegionError::Busy.
    void cancel_all() {
        std::vector<Pending> cancelled;
        {
            std::lock_guard lock(mutex_);
            cancelled.swap(pending_);
        }
        for (auto& p : cancelled) {
            p.port->count_arrival_waiter(false);
            asio::post(io_, [handler = std::move(p.handler)] { handler(fail(RegionError::Busy, "receive cancelled")); });
            io_work_.fetch_sub(1, std::memory_order_relaxed);
        }
        if (io_work_.load(std::memory_order_relaxed) == 0) guard_.reset();
        kick();
    }

    // Receives not yet completed.
    [[nodiscard]] std::size_t pending() const { return io_work_.load(std::memory_order_relaxed); }

private:
    struct Pending {
        Port* port;
        std::span<std::byte> out;
        Handler handler;
        std::uint32_t seen;
    };

    // Wakes the helper thread so it re-reads the pending list.
    void kick() {
        std::atomic_ref<std::uint32_t>(kick_word_).fetch_add(1, std::memory_order_seq_cst);
        ::syscall(SYS_futex, &kick_word_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }

    void run() {
        std::vector<futex_waitv> words;
        for (;;) {
            const std::uint32_t kick_seen = std::atomic_ref<std::uint32_t>(kick_word_).load(std::memory_order_seq_cst);
            std::vector<Pending> ready;
            words.clear();
            {
                std::lock_guard lock(mutex_);
                if (stopping_) return;
                words.push_back({kick_seen, reinterpret_cast<std::uint64_t>(&kick_word_), FUTEX_32 | FUTEX_PRIVATE_FLAG, 0});
                for (auto it = pending_.begin(); it != pending_.end();) {
                    const std::uint32_t now =
                        std::atomic_ref<std::uint32_t>(*it->port->arrival_word()).load(std::memory_order_seq_cst);
                    if (now != it->seen) {  // something arrived since the look: let the io_context look again
                        ready.push_back(std::move(*it));
                        it = pending_.erase(it);
                        continue;
                    }
                    words.push_back({it->seen, reinterpret_cast<std::uint64_t>(it->port->arrival_word()), FUTEX_32, 0});
                    ++it;
                }
            }
            for (auto& p : ready) {
                asio::post(io_, [this, p = std::move(p)]() mutable {
                    io_work_.fetch_sub(1, std::memory_order_relaxed);
                    p.port->count_arrival_waiter(false);
                    async_receive(*p.port, p.out, std::move(p.handler));  // looks again; re-arms if it was not for us
                    if (io_work_.load(std::memory_order_relaxed) == 0) guard_.reset();
                });
            }
            if (!ready.empty()) continue;
            // Sleeps until any word moves (EAGAIN: one already had).
            (void)::syscall(SYS_futex_waitv, words.data(), static_cast<unsigned>(words.size()), 0, nullptr, CLOCK_MONOTONIC);
        }
    }

    asio::io_context& io_;
    std::mutex mutex_;
    std::vector<Pending> pending_;
    bool stopping_ = false;
    std::uint32_t kick_word_ = 0;  // atomic; moved by kick()
    std::atomic<std::size_t> io_work_{0};  // pending receives; touched on the io_context's thread
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
    std::thread thread_;  // last: starts after the members above exist
};

}  // namespace nk::ipc
