// Plain-text helpers for nkctl's tables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nk/status/guest_status.hpp"

namespace nk::ctl {

[[nodiscard]] std::string human_size(std::uint64_t bytes);
[[nodiscard]] std::string hex_offset(std::uint64_t offset);
using status::iso_time;  // shared with nk-watchdog's health page

// A table printed with columns padded to their widest cell.
class Table {
public:
    explicit Table(std::vector<std::string> header);
    void add(std::vector<std::string> row);
    [[nodiscard]] std::string render() const;

private:
    std::vector<std::vector<std::string>> rows_;
};

}  // namespace nk::ctl
