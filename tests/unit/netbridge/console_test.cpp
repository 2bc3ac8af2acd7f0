// The console's shell and its telnet decoding, without a network.
#include <gtest/gtest.h>

#include "nk/netbridge/console.hpp"

namespace nk::netbridge {
namespace {

TEST(TelnetDecoder, RefusesOptionsAndPassesData) {
    TelnetDecoder telnet;
    std::string data, reply;
    telnet.feed("\xff\xfd\x01" "ab\xff\xfb\x1f" "c", data, reply);  // DO ECHO, WILL NAWS
    EXPECT_EQ(data, "abc");
    EXPECT_EQ(reply, "\xff\xfc\x01\xff\xfe\x1f");  // WONT ECHO, DONT NAWS
}

TEST(TelnetDecoder, AnswersNothingToWontAndDont) {
    TelnetDecoder telnet;
    std::string data, reply;
    telnet.feed("\xff\xfc\x01\xff\xfe\x03x", data, reply);
    EXPECT_EQ(data, "x");
    EXPECT_TRUE(reply.empty());
}

TEST(TelnetDecoder, SkipsSubnegotiationAndTwoByteCommandsAndKeepsEscapedIac) {
    TelnetDecoder telnet;
    std::string data, reply;
    telnet.feed(std::string("\xff\xfa\x18\x00" "xterm\xff\xf0" "a\xff\xf1" "b\xff\xff" "c", 18), data, reply);
    EXPECT_EQ(data, "ab\xff" "c");
    EXPECT_TRUE(reply.empty());
}

TEST(TelnetDecoder, SequenceSplitAcrossReads) {
    TelnetDecoder telnet;
    std::string data, reply;
    telnet.feed("x\xff", data, reply);
    telnet.feed("\xfd", data, reply);
    telnet.feed("\x18y", data, reply);
    EXPECT_EQ(data, "xy");
    EXPECT_EQ(reply, "\xff\xfc\x18");
}

TEST(Console, HelpListsRegisteredCommands) {
    Console console;
    console.add_command("load", "load: the load", [](std::string_view) { return std::string("7\n"); });
    bool quit = true;
    const std::string help = console.execute("help", quit);
    EXPECT_FALSE(quit);
    EXPECT_NE(help.find("load: the load"), std::string::npos);
    EXPECT_NE(help.find("quit"), std::string::npos);
}

TEST(Console, RunsCommandWithItsArguments) {
    Console console;
    std::string seen;
    console.add_command("set", "set X", [&seen](std::string_view args) {
        seen = args;
        return std::string("ok\n");
    });
    bool quit = false;
    EXPECT_EQ(console.execute("  set   a b  ", quit), "ok\n");
    EXPECT_EQ(seen, "a b");
    EXPECT_EQ(console.execute("", quit), "");
}

TEST(Console, ReplacesCommandButNotBuiltins) {
    Console console;
    console.add_command("x", "", [](std::string_view) { return std::string("one\n"); });
    console.add_command("x", "", [](std::string_view) { return std::string("two\n"); });
    console.add_command("quit", "", [](std::string_view) { return std::string("not quit\n"); });
    bool quit = false;
    EXPECT_EQ(console.execute("x", quit), "two\n");
    EXPECT_EQ(console.execute("quit", quit), "bye\n");
    EXPECT_TRUE(quit);
}

TEST(Console, UnknownCommandSaysSo) {
    Console console;
    bool quit = false;
    EXPECT_EQ(console.execute("frobnicate now", quit), "unknown command 'frobnicate' (try help)\n");
    EXPECT_FALSE(quit);
}

}  // namespace
}  // namespace nk::netbridge
