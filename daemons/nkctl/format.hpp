// Plain-text helpers for nkctl's tables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nk::ctl {

[[nodiscard]] std::string human_size(std::uint64_t bytes);
[[nodiscard]] std::string hex_offset(std::uint64_t offset);
[[nodiscard]] std::string iso_time(std::uint64_t unix_ns);

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
