// Checks of region memory before anything in it is followed (DESIGN.md section 3: a crashed
// guest may have scribbled on any area it could write; the creator's tables are checked too, so
// a region from another build or a damaged file is refused rather than trusted).
//
// All functions work on copies or on raw bytes with explicit sizes, never on pointers found in
// the region, and never read outside the span they are given. The fuzz target
// (tests/fuzz/region_fuzz.cpp) drives them with arbitrary bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/result.hpp"

namespace nk {

// A NUL-terminated name within its fixed field, non-empty, printable. Returns the view or nothing.
[[nodiscard]] std::string_view bounded_name(const char* field, std::size_t capacity);

// Checks a snapshot of the management tables that came from a file of `file_size` bytes:
// magic, version, sizes, and every table index, offset and name.
[[nodiscard]] Result<void> validate_tables(const layout::ManagementTables& tables, std::uint64_t file_size);

// Checks the header of a data area (private, pnv, link, common) against its descriptor.
[[nodiscard]] Result<void> validate_area_header(const layout::AreaHeader& header,
                                                const layout::AreaDescriptor& descriptor,
                                                std::uint16_t area_index, std::uint64_t page_size);

// Checks one directory entry snapshot of an area of `area_size` bytes whose objects start at
// `data_offset`. Free entries are not checked.
[[nodiscard]] Result<void> validate_entry(const layout::DirectoryEntry& entry, std::uint64_t area_size,
                                          std::uint64_t data_offset, std::uint64_t page_size);

}  // namespace nk
