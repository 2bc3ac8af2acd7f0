// nk_event_* and nk_port_*: event variables, ports and their senders.
#include <cstddef>
#include <span>
#include <string>

#include "c_support.hpp"

namespace {

using nk::c::guarded;
using nk::c::invalid;

// The outcome of a wait: plain timeouts leave the last error alone (nk.h).
nk_result_t wait_result(const nk::Result<nk::ipc::WaitResult>& waited) {
    if (!waited) return nk::c::from_error(waited.error());
    return *waited == nk::ipc::WaitResult::Signaled ? NK_OK : NK_E_TIMED_OUT;
}

nk_result_t done(const nk::Result<void>& result) { return result ? NK_OK : nk::c::from_error(result.error()); }

// A receive's outcome. Port::receive reports a buffer too small for the next message as
// InvalidArgument, its only use of that code once the arguments were checked here.
nk_result_t received(const nk::Result<std::optional<std::size_t>>& got, size_t* length, nk_result_t none) {
    if (!got) {
        if (got.error().code == make_error_code(nk::RegionError::InvalidArgument))
            return nk::c::from_error_as(NK_E_BUFFER_TOO_SMALL, got.error());
        return nk::c::from_error(got.error());
    }
    if (!*got) return none;
    *length = **got;
    return NK_OK;
}

}  // namespace

extern "C" {

// ---- Events --------------------------------------------------------------------------------

void nk_event_options_init(nk_event_options_t* options) {
    if (options == nullptr) return;
    *options = nk_event_options_t{};
    options->struct_size = sizeof *options;
    options->mode = NK_EVENT_AUTO_RESET;
    options->spin_ns = 20 * NK_MICROSECOND;
}

nk_result_t nk_event_create(nk_region_t* region, const char* name, const nk_event_options_t* options,
                            nk_event_t** event) {
    if (region == nullptr || name == nullptr || event == nullptr)
        return invalid("nk_event_create: region, name and event must not be NULL");
    if (!nk::c::options_ok(options)) return nk::c::bad_options("nk_event_options_init");
    return guarded([&] {
        nk_event_options_t o;
        nk_event_options_init(&o);
        if (options != nullptr) o = *options;
        if (o.mode != NK_EVENT_AUTO_RESET && o.mode != NK_EVENT_MANUAL_RESET)
            return invalid("nk_event_create: mode must be NK_EVENT_AUTO_RESET or NK_EVENT_MANUAL_RESET");
        // The C++ side refuses spin times above 10 ms; timeout_of only keeps the value in range.
        auto made = nk::ipc::Event::create(*region->region, name, static_cast<nk::ipc::EventMode>(o.mode),
                                           nk::c::where_of(o.where), nk::c::timeout_of(o.spin_ns));
        if (!made) return nk::c::from_error(made.error());
        return nk::c::emit(event, region->region, std::move(*made));
    });
}

nk_result_t nk_event_open(nk_region_t* region, const char* name, nk_event_t** event) {
    if (region == nullptr || name == nullptr || event == nullptr)
        return invalid("nk_event_open: region, name and event must not be NULL");
    return guarded([&] {
        auto opened = nk::ipc::Event::open(*region->region, name);
        if (!opened) return nk::c::from_error(opened.error());
        return nk::c::emit(event, region->region, std::move(*opened));
    });
}

nk_result_t nk_event_wait(nk_event_t* event) {
    if (event == nullptr) return invalid("nk_event_wait: event is NULL");
    return guarded([&] { return done(event->event.wait()); });
}

nk_result_t nk_event_wait_for(nk_event_t* event, uint64_t timeout_ns) {
    if (event == nullptr) return invalid("nk_event_wait_for: event is NULL");
    return guarded([&] { return wait_result(event->event.wait_for(nk::c::timeout_of(timeout_ns))); });
}

nk_result_t nk_event_poll_for(nk_event_t* event, uint64_t timeout_ns) {
    if (event == nullptr) return invalid("nk_event_poll_for: event is NULL");
    return guarded([&] {
        return wait_result(event->event.wait_for(nk::c::timeout_of(timeout_ns), nk::ipc::WaitStyle::Polling));
    });
}

nk_result_t nk_event_signal(nk_event_t* event) {
    if (event == nullptr) return invalid("nk_event_signal: event is NULL");
    return guarded([&] { return done(event->event.signal()); });
}

nk_result_t nk_event_broadcast(nk_event_t* event) {
    if (event == nullptr) return invalid("nk_event_broadcast: event is NULL");
    return guarded([&] { return done(event->event.broadcast()); });
}

nk_result_t nk_event_reset(nk_event_t* event) {
    if (event == nullptr) return invalid("nk_event_reset: event is NULL");
    return guarded([&] { return done(event->event.reset()); });
}

void nk_event_close(nk_event_t* event) { delete event; }

nk_result_t nk_event_remove(nk_region_t* region, const char* name) {
    if (region == nullptr || name == nullptr) return invalid("nk_event_remove: region and name must not be NULL");
    return guarded([&] { return done(nk::ipc::Event::remove(*region->region, name)); });
}

// ---- Ports ---------------------------------------------------------------------------------

void nk_port_options_init(nk_port_options_t* options) {
    if (options == nullptr) return;
    *options = nk_port_options_t{};
    options->struct_size = sizeof *options;
    const nk::ipc::PortOptions defaults;
    options->capacity = defaults.capacity;
    options->max_message = defaults.max_message;
}

nk_result_t nk_port_create(nk_region_t* region, const char* name, const nk_port_options_t* options, nk_port_t** port) {
    if (region == nullptr || name == nullptr || port == nullptr)
        return invalid("nk_port_create: region, name and port must not be NULL");
    if (!nk::c::options_ok(options)) return nk::c::bad_options("nk_port_options_init");
    return guarded([&] {
        nk_port_options_t o;
        nk_port_options_init(&o);
        if (options != nullptr) o = *options;
        nk::ipc::PortOptions cpp;
        cpp.capacity = o.capacity;
        cpp.max_message = o.max_message;
        cpp.where = nk::c::where_of(o.where);
        auto made = nk::ipc::Port::create(*region->region, name, cpp);
        if (!made) return nk::c::from_error(made.error());
        return nk::c::emit(port, region->region, std::move(*made));
    });
}

nk_result_t nk_port_receive(nk_port_t* port, void* out, size_t capacity, size_t* length, uint64_t timeout_ns) {
    if (port == nullptr || length == nullptr || (out == nullptr && capacity != 0))
        return invalid("nk_port_receive: port and length must not be NULL, nor out unless capacity is 0");
    return guarded([&] {
        return received(port->port.receive({static_cast<std::byte*>(out), capacity}, nk::c::timeout_of(timeout_ns)),
                        length, NK_E_TIMED_OUT);
    });
}

nk_result_t nk_port_try_receive(nk_port_t* port, void* out, size_t capacity, size_t* length) {
    if (port == nullptr || length == nullptr || (out == nullptr && capacity != 0))
        return invalid("nk_port_try_receive: port and length must not be NULL, nor out unless capacity is 0");
    return guarded(
        [&] { return received(port->port.try_receive({static_cast<std::byte*>(out), capacity}), length, NK_E_EMPTY); });
}

size_t nk_port_max_message(const nk_port_t* port) { return port == nullptr ? 0 : port->port.max_message(); }

void nk_port_close(nk_port_t* port) { delete port; }

nk_result_t nk_port_remove(nk_region_t* region, const char* name) {
    if (region == nullptr || name == nullptr) return invalid("nk_port_remove: region and name must not be NULL");
    return guarded([&] { return done(nk::ipc::Port::remove(*region->region, name)); });
}

nk_result_t nk_port_sender_open(nk_region_t* region, const char* name, nk_port_sender_t** sender) {
    if (region == nullptr || name == nullptr || sender == nullptr)
        return invalid("nk_port_sender_open: region, name and sender must not be NULL");
    return guarded([&] {
        auto opened = nk::ipc::PortSender::open(*region->region, name);
        if (!opened) return nk::c::from_error(opened.error());
        return nk::c::emit(sender, region->region, std::move(*opened), std::string(name));
    });
}

nk_result_t nk_port_try_send(nk_port_sender_t* sender, const void* message, size_t size) {
    if (sender == nullptr || (message == nullptr && size != 0))
        return invalid("nk_port_try_send: sender must not be NULL, nor message unless size is 0");
    return guarded([&] {
        switch (sender->sender.try_send({static_cast<const std::byte*>(message), size})) {
            case nk::ipc::SendStatus::Ok: return NK_OK;
            case nk::ipc::SendStatus::Full: return NK_E_FULL;
            case nk::ipc::SendStatus::TooLarge:
                return nk::c::set_error(NK_E_TOO_LARGE,
                                        "a message of " + std::to_string(size) + " bytes is larger than port '",
                                        sender->name + "''s maximum");
            case nk::ipc::SendStatus::OwnerDown:
                return nk::c::set_error(NK_E_NOT_RUNNING, "port '" + sender->name + "' belongs to a guest that is ",
                                        "down or was restarted since it made the port; nothing was sent");
            case nk::ipc::SendStatus::Stopped: break;
        }
        return nk::c::set_error(NK_E_CORRUPT, "port '" + sender->name + "' stopped: ",
                                "a value in its shared memory was out of range");
    });
}

nk_result_t nk_port_send(nk_port_sender_t* sender, const void* message, size_t size, uint64_t timeout_ns) {
    if (sender == nullptr || (message == nullptr && size != 0))
        return invalid("nk_port_send: sender must not be NULL, nor message unless size is 0");
    return guarded([&] {
        auto sent = sender->sender.send({static_cast<const std::byte*>(message), size}, nk::c::timeout_of(timeout_ns));
        if (sent) return NK_OK;
        // PortSender::send's codes (port.hpp): NoSpace means still full at the timeout, and
        // InvalidArgument a message larger than the port's maximum.
        const std::error_code& code = sent.error().code;
        if (code == make_error_code(nk::RegionError::NoSpace)) return NK_E_TIMED_OUT;
        if (code == make_error_code(nk::RegionError::InvalidArgument))
            return nk::c::from_error_as(NK_E_TOO_LARGE, sent.error());
        return nk::c::from_error(sent.error());
    });
}

void nk_port_sender_close(nk_port_sender_t* sender) { delete sender; }

}  // extern "C"
