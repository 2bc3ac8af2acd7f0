// The HTTP/1.1 of nk-watchdog's health page: parsing one request head and writing one response.
// Pure functions over bytes (no sockets), so a hostile request is tested without a network.
//
//   auto request = nk::wd::http::parse_head(bytes);        // bytes up to and with "\r\n\r\n"
//   if (request.status != 0) send(response(request.status, "text/plain", reason));
//
// Only what one small read-only page needs: GET and HEAD of an origin-form target, HTTP/1.0 and
// 1.1, every connection closed after its answer (no keep-alive, no request bodies).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace nk::wd::http {

// The longest request head served; a longer one is answered 431 and the connection closed.
inline constexpr std::size_t kMaxHead = 8192;
// The longest request target (path and query).
inline constexpr std::size_t kMaxTarget = 1024;

struct Request {
    int status = 0;          // 0: well-formed; else the status to answer (400, 414, 501, 505)
    std::string method;      // "GET", "HEAD", ...
    std::string path;        // the target without its query, e.g. "/health.json"
};

// Parses a request head: the request line and header lines, each ended by CRLF, then an empty
// line. `head` must end with "\r\n\r\n" (what the reader waits for).
[[nodiscard]] Request parse_head(std::string_view head);

// A complete response with Content-Type, Content-Length and Connection: close; `with_body`
// false for HEAD. `allow` adds an Allow header (405).
[[nodiscard]] std::string response(int status, std::string_view content_type, std::string_view body,
                                   bool with_body = true, std::string_view allow = {});

// "OK", "Not Found", ... for the statuses used here.
[[nodiscard]] std::string_view reason_phrase(int status);

}  // namespace nk::wd::http
