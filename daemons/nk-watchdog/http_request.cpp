// One HTTP/1.x request head parsed, one response written (http_request.hpp). RFC 9112 section 3
// (request line) and 5 (field lines), strictly: what this page does not need is refused, not
// guessed at.
#include "http_request.hpp"

namespace nk::wd::http {
namespace {

// RFC 9110 tchar: what a method (a token) may hold.
bool token_char(char c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Visible ASCII: what a request target may hold (no spaces, controls or bytes above 0x7e).
bool target_char(char c) { return c > 0x20 && c < 0x7f; }

Request refused(int status) {
    Request r;
    r.status = status;
    return r;
}

}  // namespace

Request parse_head(std::string_view head) {
    if (head.size() > kMaxHead) return refused(431);
    if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") return refused(400);
    const auto line_end = head.find("\r\n");
    const std::string_view line = head.substr(0, line_end);
    // method SP request-target SP HTTP-version, single spaces only.
    const auto first = line.find(' ');
    if (first == std::string_view::npos || first == 0) return refused(400);
    const auto second = line.find(' ', first + 1);
    if (second == std::string_view::npos || second == first + 1) return refused(400);
    const std::string_view method = line.substr(0, first);
    const std::string_view target = line.substr(first + 1, second - first - 1);
    const std::string_view version = line.substr(second + 1);
    for (char c : method)
        if (!token_char(c)) return refused(400);
    if (target.size() > kMaxTarget) return refused(414);
    for (char c : target)
        if (!target_char(c)) return refused(400);
    // Origin form only ("/path?query"); "*" and absolute URLs are for proxies.
    if (target.front() != '/') return refused(400);
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
        version[5] > '9' || version[7] < '0' || version[7] > '9')
        return refused(400);
    if (version[5] != '1') return refused(505);

    // Field lines: "name: value", the name a token; no obsolete line folding, no bare CR or LF.
    std::string_view fields = head.substr(line_end + 2, head.size() - 4 - line_end);
    bool has_body = false;
    while (!fields.empty()) {
        const auto end = fields.find("\r\n");
        const std::string_view field = fields.substr(0, end);
        fields = end == std::string_view::npos ? std::string_view() : fields.substr(end + 2);
        if (field.empty()) continue;  // the final CRLF of the last field
        const auto colon = field.find(':');
        if (colon == std::string_view::npos || colon == 0) return refused(400);
        for (char c : field.substr(0, colon))
            if (!token_char(c)) return refused(400);
        for (char c : field.substr(colon + 1))
            if (c == '\r' || c == '\n' || c == '\0') return refused(400);
        std::string name(field.substr(0, colon));
        for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        if (name == "transfer-encoding") has_body = true;
        if (name == "content-length" && field.substr(colon + 1).find_first_not_of(" \t0") != std::string_view::npos)
            has_body = true;
    }
    // This server reads no bodies; one sent with a request would be taken for the next request.
    if (has_body) return refused(400);

    Request r;
    r.method = std::string(method);
    r.path = std::string(target.substr(0, target.find('?')));
    if (r.method != "GET" && r.method != "HEAD") {
        // A method this server does not know at all is 501; a known one on these resources is 405
        // (the caller decides that by path).
        static constexpr std::string_view known[] = {"POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
        bool is_known = false;
        for (auto k : known) is_known = is_known || k == r.method;
        if (!is_known) r.status = 501;
    }
    return r;
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 414: return "URI Too Long";
        case 431: return "Request Header Fields Too Large";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Error";
    }
}

std::string response(int status, std::string_view content_type, std::string_view body, bool with_body,
                     std::string_view allow) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
    out += "Content-Type: " + std::string(content_type) + "\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (!allow.empty()) out += "Allow: " + std::string(allow) + "\r\n";
    // The page is the platform's state now: never from a cache.
    out += "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
    if (with_body) out += body;
    return out;
}

}  // namespace nk::wd::http
