// nk-watchdog's HTTP request parsing (daemons/nk-watchdog/http_request.hpp) on hand-made and
// hostile request heads, no network.
#include "http_request.hpp"

#include <string>

#include <gtest/gtest.h>

namespace nk::wd::http {
namespace {

TEST(HttpRequest, AWellFormedGetGivesItsMethodAndPathWithoutTheQuery) {
    auto r = parse_head("GET /health.json?pretty=1 HTTP/1.1\r\nHost: 10.77.1.1:8080\r\nAccept: */*\r\n\r\n");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.path, "/health.json");
    EXPECT_EQ(parse_head("HEAD / HTTP/1.0\r\n\r\n").status, 0);
}

TEST(HttpRequest, MalformedRequestLinesAreBadRequests) {
    for (const char* head : {"GARBAGE\r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 \r\n\r\n",
                             " GET / HTTP/1.1\r\n\r\n", "GET health.json HTTP/1.1\r\n\r\n", "GET http://x/ HTTP/1.1\r\n\r\n",
                             "GET / HTTP/11\r\n\r\n", "GET / http/1.1\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n",
                             "GET /\x01 HTTP/1.1\r\n\r\n", "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\n"})
        EXPECT_EQ(parse_head(head).status, 400) << head;
    EXPECT_EQ(parse_head(std::string("GET /\0 HTTP/1.1\r\n\r\n", 20)).status, 400);
}

TEST(HttpRequest, BadHeaderLinesAndBodiesAreRefused) {
    EXPECT_EQ(parse_head("GET / HTTP/1.1\r\nno colon here\r\n\r\n").status, 400);
    EXPECT_EQ(parse_head("GET / HTTP/1.1\r\n: empty name\r\n\r\n").status, 400);
    EXPECT_EQ(parse_head("GET / HTTP/1.1\r\nHost: x\r\n folded: line\r\n\r\n").status, 400);  // obsolete folding
    EXPECT_EQ(parse_head("GET / HTTP/1.1\r\nBad\nName: x\r\n\r\n").status, 400);
    EXPECT_EQ(parse_head("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").status, 400);
    EXPECT_EQ(parse_head("GET / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n").status, 400);
    EXPECT_EQ(parse_head("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").status, 0);  // no body: 405 by path
}

TEST(HttpRequest, SizesVersionsAndUnknownMethodsGetTheirOwnStatus) {
    EXPECT_EQ(parse_head("GET /" + std::string(kMaxTarget, 'a') + " HTTP/1.1\r\n\r\n").status, 414);
    EXPECT_EQ(parse_head("GET / HTTP/1.1\r\nX: " + std::string(kMaxHead, 'a') + "\r\n\r\n").status, 431);
    EXPECT_EQ(parse_head("GET / HTTP/2.0\r\n\r\n").status, 505);
    EXPECT_EQ(parse_head("BREW / HTTP/1.1\r\n\r\n").status, 501);
    EXPECT_EQ(parse_head("DELETE / HTTP/1.1\r\n\r\n").status, 0);
}

TEST(HttpRequest, ResponsesCarryLengthAndCloseAndHeadHasNoBody) {
    EXPECT_EQ(response(200, "text/plain", "hi\n"),
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nCache-Control: no-store\r\n"
              "Connection: close\r\n\r\nhi\n");
    const std::string head = response(405, "text/plain", "no\n", false, "GET, HEAD");
    EXPECT_NE(head.find("HTTP/1.1 405 Method Not Allowed\r\n"), std::string::npos);
    EXPECT_NE(head.find("Allow: GET, HEAD\r\n"), std::string::npos);
    EXPECT_NE(head.find("Content-Length: 3\r\n"), std::string::npos);
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

}  // namespace
}  // namespace nk::wd::http
