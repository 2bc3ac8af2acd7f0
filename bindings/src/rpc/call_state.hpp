// nk::rpc::detail::CallState: what the server's receiver thread and a call's handler share while
// the call is queued or runs. Private to the server (server.cpp).
//
// The receiver sets `cancelled` on a Cancel frame (or at stop()), and for client and
// bidirectional streams hands the client's items, its end and its credits to the handler through
// the rest, under `mutex`. Lock order: the server's mutex_, then a call's `mutex`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "nk/rpc/frame.hpp"
#include "nk/rpc/server.hpp"

namespace nk::rpc::detail {

struct CallState {
    CallState(RpcKind call_kind, std::uint32_t call_method_id) : kind(call_kind), method_id(call_method_id) {}
    const RpcKind kind;
    const std::uint32_t method_id;  // frames for this call must name the same method
    // relaxed everywhere: a flag polled by the handler; what it guards is read under `mutex`.
    std::atomic<bool> cancelled{false};

    std::mutex mutex;
    std::condition_variable changed;               // an item, the client's end, a credit, or cancelled
    std::deque<std::vector<std::byte>> inbound;    // client items not yet read
    std::uint32_t uncredited = 0;                  // items read and not yet credited back
    // (inbound + uncredited: what the client sent beyond its credit; at most kStreamWindow)
    bool client_done = false;                      // ClientDone arrived: no items follow
    std::string violation;                         // the client broke the stream's rules: why
    std::uint32_t send_credit = kStreamWindow;     // bidi: stream items the handler may still send

    void cancel() {
        cancelled.store(true, std::memory_order_relaxed);
        std::lock_guard lock(mutex);
        changed.notify_all();
    }
};

}  // namespace nk::rpc::detail
