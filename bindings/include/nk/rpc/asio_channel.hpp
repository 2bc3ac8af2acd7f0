// nk::rpc::AsioChannel: asynchronous unary and server-streaming calls on an Asio io_context, no
// thread per call.
//
// It reads its channel's reply port through its own ipc::PortWaiter (asio_port.hpp: one helper
// thread sleeping in futex_waitv) and a steady_timer that looks at deadlines and the server
// guest's state every kLivenessSlice while calls are pending. Handlers run on the io_context.
// Header-only, so programs that do not use Asio need not have it (Debian: libasio-dev).
//
//   asio::io_context io;
//   auto channel = nk::rpc::AsioChannel::open(io, region, "svc.telemetry");
//   telemetry::TelemetryAsyncClient client(**channel);
//   client.Read(request, std::chrono::milliseconds(20), [](nk::rpc::Status status, telemetry::Reading reading) { ... });
//   client.Subscribe(request, std::chrono::seconds(10),
//                    [](const telemetry::Reading& reading) { ... },   // each message, in order
//                    [](nk::rpc::Status status) { ... });            // then how the stream ended
//   io.run();   // returns when no call is pending
//
// Statuses are those of Channel::call and StreamCall (channel.hpp), except that a full server
// port is RESOURCE_EXHAUSTED at once (an event loop does not wait for room). A stream message
// that does not parse ends its stream with INTERNAL (the server is told).
//
// Concurrency: call async_call(), async_stream() and cancel() from the io_context's thread. Destroy the
// AsioChannel only after its io_context has stopped running its handlers.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "nk/ipc/asio_port.hpp"
#include "nk/rpc/channel.hpp"

namespace nk::rpc {

class AsioChannel {
public:
    [[nodiscard]] static Result<std::unique_ptr<AsioChannel>> open(asio::io_context& io, const Region& region,
                                                                   std::string_view service_port,
                                                                   const ChannelOptions& options = {}) {
        auto channel = Channel::open(region, service_port, options);
        if (!channel) return fail(std::move(channel.error()));
        return std::unique_ptr<AsioChannel>(new AsioChannel(io, std::move(*channel)));
    }
    AsioChannel(const AsioChannel&) = delete;
    AsioChannel& operator=(const AsioChannel&) = delete;
    ~AsioChannel() { waiter_.cancel_all(); }

    // Calls `method_id` and later `handler(Status, Response)` on the io_context; returns the
    // call's id for cancel(), or 0 when the call ended at once (the handler is posted anyway).
    template <class Response, class Handler>
    std::uint64_t async_call(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                             std::chrono::nanoseconds timeout, Handler&& handler) {
        auto complete = [handler = std::forward<Handler>(handler)](Status status, std::span<const std::byte> bytes) mutable {
            Response response;
            if (status.ok() && !response.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
                status = Status(StatusCode::Internal, "the reply of " + std::to_string(bytes.size()) +
                                                          " bytes does not parse as " + response.GetTypeName());
            handler(std::move(status), std::move(response));
        };
        std::uint64_t id = 0;
        Status started = channel_->start_unary(method_id, request, std::chrono::steady_clock::now() + timeout, &id);
        return track(std::move(started), id, {std::move(complete), {}});
    }

    // Starts the server-streaming call `method_id`: `on_item(const Item&)` runs for each of its
    // messages in order, then `on_done(Status)` once, on the io_context. Returns the call's id for
    // cancel(), or 0 when the call ended at once (on_done is posted anyway).
    template <class Item, class OnItem, class OnDone>
    std::uint64_t async_stream(std::uint32_t method_id, const google::protobuf::MessageLite& request,
                               std::chrono::nanoseconds timeout, OnItem&& on_item, OnDone&& on_done) {
        auto item = [on_item = std::forward<OnItem>(on_item)](std::span<const std::byte> bytes) mutable -> Status {
            Item message;
            if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
                return Status(StatusCode::Internal, "a stream message of " + std::to_string(bytes.size()) +
                                                        " bytes does not parse as " + message.GetTypeName());
            on_item(std::as_const(message));
            return {};
        };
        auto done = [on_done = std::forward<OnDone>(on_done)](Status status, std::span<const std::byte>) mutable {
            on_done(std::move(status));
        };
        std::uint64_t id = 0;
        Status started = channel_->start_server_stream(method_id, request, std::chrono::steady_clock::now() + timeout, &id);
        return track(std::move(started), id, {std::move(done), std::move(item)});
    }

    // Ends a pending call with CANCELLED (its handler runs on the io_context) and tells the server.
    void cancel(std::uint64_t id) {
        channel_->cancel(id);
        asio::post(io_, [this] { complete(); });
    }

    [[nodiscard]] Channel& channel() { return *channel_; }
    [[nodiscard]] std::size_t pending() const { return handlers_.size(); }

private:
    using Completion = std::function<void(Status, std::span<const std::byte>)>;
    using ItemHandler = std::function<Status(std::span<const std::byte>)>;  // not OK: the message is bad
    struct Handlers {
        Completion done;
        ItemHandler item;  // streams only
    };

    // Keeps a started call's handlers, or posts the end of one that could not start.
    std::uint64_t track(Status started, std::uint64_t id, Handlers handlers) {
        if (!started.ok()) {
            asio::post(io_, [done = std::move(handlers.done), started = std::move(started)]() mutable {
                done(std::move(started), {});
            });
            return 0;
        }
        handlers_.emplace(id, std::move(handlers));
        arm();
        return id;
    }

    AsioChannel(asio::io_context& io, std::shared_ptr<Channel> channel)
        : io_(io), channel_(std::move(channel)), waiter_(io), timer_(io),
          buffer_(channel_->reply_port_for_loop().max_message()) {}

    // Keeps one receive and one liveness tick pending while any call is.
    void arm() {
        if (handlers_.empty()) return;
        if (!receiving_) {
            receiving_ = true;
            waiter_.async_receive(channel_->reply_port_for_loop(), buffer_, [this](Result<std::size_t> got) {
                receiving_ = false;
                if (got) channel_->deliver(std::span(buffer_).first(*got));
                complete();
            });
        }
        if (!ticking_) {
            ticking_ = true;
            timer_.expires_after(kLivenessSlice);
            timer_.async_wait([this](const std::error_code&) {
                ticking_ = false;
                complete();
            });
        }
    }

    // Hands out the stream messages that came, then runs the handlers of every ended call; stops
    // waiting when none is left.
    void complete() {
        for (auto& batch : channel_->take_stream_items()) {
            for (const auto& bytes : batch.items) {
                auto it = handlers_.find(batch.id);  // again each time: a handler may start calls
                if (it == handlers_.end() || !it->second.item) break;
                if (Status bad = it->second.item(bytes); !bad.ok()) {
                    channel_->end(batch.id, std::move(bad));
                    break;
                }
            }
        }
        for (auto& done : channel_->take_completed()) {
            auto it = handlers_.find(done.id);
            if (it == handlers_.end()) continue;
            Completion handler = std::move(it->second.done);
            handlers_.erase(it);
            handler(std::move(done.status), done.reply);
        }
        if (handlers_.empty()) {
            // Nothing pending: no work left for the io_context (run() may return).
            if (receiving_) waiter_.cancel_all();  // its handler still runs once, with Busy
            if (ticking_) timer_.cancel();
            return;
        }
        arm();
    }

    asio::io_context& io_;
    std::shared_ptr<Channel> channel_;
    ipc::PortWaiter waiter_;
    asio::steady_timer timer_;
    std::vector<std::byte> buffer_;
    std::map<std::uint64_t, Handlers> handlers_;
    bool receiving_ = false;
    bool ticking_ = false;
};

}  // namespace nk::rpc
