// The health page's HTTP server on Asio (health_server.hpp). Everything below runs on the one
// serving thread (the io_context's), so connection counts and the report need no locks.
#include "health_server.hpp"

#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include <asio.hpp>

#include "health_page.hpp"
#include "health_report.hpp"
#include "http_request.hpp"

// glibc's <netinet/in.h> lacks it; the value is Linux's ABI (linux/in6.h), which clashes with glibc's header.
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

namespace nk::wd {

using asio::ip::tcp;

struct HealthServer::Impl {
    explicit Impl(const Region& region, std::string served_by) : report(region, std::move(served_by)) {}

    // Before io: connections still pending when io is destroyed count themselves out of it.
    std::size_t open_connections = 0;
    asio::io_context io;
    tcp::acceptor acceptor{io};
    asio::steady_timer poll_timer{io};
    HealthReport report;
    std::thread thread;

    void accept();
    void poll();
    [[nodiscard]] std::string answer(std::string_view head);
};

namespace {

// One client: read its request head, answer, close. Held alive by its pending handlers.
class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(tcp::socket socket, HealthServer::Impl& server)
        : socket_(std::move(socket)), deadline_(socket_.get_executor()), server_(server) {
        ++server_.open_connections;
    }
    ~Connection() { --server_.open_connections; }

    void start() {
        // The whole exchange, slow reader or slow writer, ends by the deadline.
        deadline_.expires_after(HealthServer::kDeadline);
        deadline_.async_wait([self = shared_from_this()](const asio::error_code& error) {
            if (!error) self->close();
        });
        asio::async_read_until(socket_, asio::dynamic_buffer(buffer_, http::kMaxHead), "\r\n\r\n",
                               [self = shared_from_this()](const asio::error_code& error, std::size_t length) {
                                   self->on_head(error, length);
                               });
    }

private:
    void on_head(const asio::error_code& error, std::size_t length) {
        if (error == asio::error::not_found) {
            // kMaxHead bytes without the end of a head.
            send(http::response(431, "text/plain", "request head too large\n"));
            return;
        }
        if (error) {
            close();  // the client went away, or the deadline closed it
            return;
        }
        send(server_.answer(std::string_view(buffer_).substr(0, length)));
    }

    void send(std::string text) {
        out_ = std::move(text);
        asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](const asio::error_code&, std::size_t) {
            self->close();
        });
    }

    void close() {
        asio::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        deadline_.cancel();
    }

    tcp::socket socket_;
    asio::steady_timer deadline_;
    HealthServer::Impl& server_;
    std::string buffer_, out_;
};

}  // namespace

std::string HealthServer::Impl::answer(std::string_view head) {
    const http::Request request = http::parse_head(head);
    if (request.status != 0)
        return http::response(request.status, "text/plain", std::string(http::reason_phrase(request.status)) + "\n");
    const bool page = request.path == "/" || request.path == "/index.html";
    const bool data = request.path == "/health.json";
    if (!page && !data) return http::response(404, "text/plain", "no such page: try / or /health.json\n");
    if (request.method != "GET" && request.method != "HEAD")
        return http::response(405, "text/plain", "only GET and HEAD\n", true, "GET, HEAD");
    const bool with_body = request.method == "GET";
    if (page) return http::response(200, "text/html; charset=utf-8", kHealthPage, with_body);
    // Guest-written text (a panic reason) may not be UTF-8: replaced, never thrown over.
    const std::string json = report.json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    return http::response(200, "application/json", json, with_body);
}

void HealthServer::Impl::accept() {
    acceptor.async_accept([this](const asio::error_code& error, tcp::socket socket) {
        if (error == asio::error::operation_aborted) return;
        if (!error) {
            if (open_connections >= kMaxConnections) {
                asio::error_code ignored;
                socket.close(ignored);  // full: refused at once rather than queued behind slow clients
            } else {
                std::make_shared<Connection>(std::move(socket), *this)->start();
            }
        }
        accept();
    });
}

void HealthServer::Impl::poll() {
    report.poll();
    poll_timer.expires_after(kPollEvery);
    poll_timer.async_wait([this](const asio::error_code& error) {
        if (!error) poll();
    });
}

HealthServer::HealthServer(const Region& region, std::string served_by)
    : impl_(std::make_unique<Impl>(region, std::move(served_by))) {}

HealthServer::~HealthServer() {
    if (!impl_->thread.joinable()) return;
    impl_->io.stop();
    impl_->thread.join();
}

std::string HealthServer::start(const std::string& address, std::uint16_t port) {
    asio::error_code error;
    const auto ip = asio::ip::make_address(address, error);
    if (error) return "'" + address + "' is not an IP address";
    const tcp::endpoint at(ip, port);
    const std::string where = at.address().to_string() + ":" + std::to_string(port);
    auto& acceptor = impl_->acceptor;
    if (acceptor.open(at.protocol(), error)) return "socket for " + where + ": " + error.message();
    (void)acceptor.set_option(tcp::acceptor::reuse_address(true), error);
    if (ip.is_v4())
        (void)acceptor.set_option(asio::detail::socket_option::boolean<IPPROTO_IP, IP_FREEBIND>(true), error);
    else
        (void)acceptor.set_option(asio::detail::socket_option::boolean<IPPROTO_IPV6, IPV6_FREEBIND>(true), error);
    if (acceptor.bind(at, error)) return "bind " + where + ": " + error.message();
    if (acceptor.listen(asio::socket_base::max_listen_connections, error)) return "listen on " + where + ": " + error.message();
    impl_->accept();
    impl_->poll();
    impl_->thread = std::thread([this] {
        // Threads inherit the creator's class: this one must not compete with the heartbeat.
        sched_param normal{};
        (void)pthread_setschedparam(pthread_self(), SCHED_OTHER, &normal);
        (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 0);
        impl_->io.run();
    });
    return {};
}

}  // namespace nk::wd
