#include "nk/nanokernel/ip_prefix.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

namespace nk {
namespace {

bool prefix_bits_equal(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
    const unsigned whole = bits / 8, rest = bits % 8;
    if (!std::equal(a, a + whole, b)) return false;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFFU << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
    const auto slash = text.find('/');
    const std::string address(text.substr(0, slash));
    IpPrefix p;
    if (::inet_pton(AF_INET, address.c_str(), p.bytes.data()) == 1) {
        p.family = AF_INET;
    } else if (::inet_pton(AF_INET6, address.c_str(), p.bytes.data()) == 1) {
        p.family = AF_INET6;
    } else {
        return std::nullopt;
    }
    const unsigned max = p.is_v4() ? 32 : 128;
    unsigned length = max;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
        if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() || length > max)
            return std::nullopt;
    }
    p.length = static_cast<std::uint8_t>(length);
    return p;
}

bool IpPrefix::is_v4() const { return family == AF_INET; }

bool IpPrefix::contains(std::span<const std::uint8_t> address) const {
    if (address.size() != (is_v4() ? 4U : 16U)) return false;
    return prefix_bits_equal(bytes.data(), address.data(), length);
}

bool IpPrefix::overlaps(const IpPrefix& other) const {
    if (family != other.family) return false;
    return prefix_bits_equal(bytes.data(), other.bytes.data(), std::min(length, other.length));
}

bool IpPrefix::host_part_zero() const {
    const unsigned max = is_v4() ? 32 : 128;
    for (unsigned bit = length; bit < max; ++bit)
        if ((bytes[bit / 8] >> (7 - bit % 8)) & 1U) return false;
    return true;
}

std::string IpPrefix::address_text() const {
    char out[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(family, bytes.data(), out, sizeof out);
    return out;
}

std::string IpPrefix::text() const { return address_text() + "/" + std::to_string(length); }

std::string IpPrefix::network_text() const {
    IpPrefix network = *this;
    const unsigned max = is_v4() ? 32 : 128;
    for (unsigned bit = length; bit < max; ++bit) network.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80U >> (bit % 8)));
    return network.text();
}

}  // namespace nk
