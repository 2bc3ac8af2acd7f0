// AreaDirectory: the named-object directory and allocator of one area, on raw area bytes.
//
// Each private, pnv, link and common area starts with an AreaHeader holding a fixed table of
// DirectoryEntry (name -> kind, owner guest, owner incarnation, offset, size). Objects are
// page-aligned extents after the header; allocation is first-fit over the gaps between live
// entries, so freeing an entry returns its extent with nothing else to update.
//
// This class does no locking: callers hold the area's AreaLock (directory.hpp does). It trusts
// nothing in the area: every entry is copied, then validated, before use; an entry found corrupt
// is quarantined (exclusive holders) or skipped (shared holders), never followed. The fuzz
// target drives it with arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nk/nanokernel/layout.hpp"
#include "nk/nanokernel/result.hpp"

namespace nk {

struct ObjectInfo {
    std::string name;
    layout::ObjectKind kind{};
    layout::EntryState state{};
    std::uint16_t owner_guest = 0;
    std::uint32_t owner_incarnation = 0;
    std::uint16_t area = 0;
    std::uint64_t area_offset = 0;  // from the start of the area
    std::uint64_t size = 0;
    std::uint64_t created_unix_ns = 0;
    std::uint64_t last_attach_unix_ns = 0;
    std::uint32_t attach_count = 0;
    bool created_now = false;       // attach_or_create made it in this call
};

struct AreaUsage {
    std::uint64_t data_bytes = 0;        // allocatable bytes after the header
    std::uint64_t used_bytes = 0;
    std::uint64_t largest_free = 0;
    std::uint32_t entries_used = 0;
    std::uint32_t entries_quarantined = 0;
    std::uint64_t recoveries = 0;
};

class AreaDirectory {
public:
    // `bytes` is the whole area as mapped (area_size bytes); `writable` says whether this process
    // may change it. Nothing is read until a method is called.
    AreaDirectory(std::byte* bytes, std::uint64_t area_size, std::uint16_t area_index,
                  const layout::AreaDescriptor& descriptor, std::uint64_t page_size, bool writable);

    // Checks the header; with a writable area, runs recovery if the last holder died mid-change.
    // Call first, under the lock.
    [[nodiscard]] Result<void> open();

    [[nodiscard]] Result<ObjectInfo> find(std::string_view name) const;
    [[nodiscard]] std::vector<ObjectInfo> list() const;
    [[nodiscard]] AreaUsage usage() const;

    // Makes a new object of `size` bytes (rounded up to the page size), zero-filled.
    [[nodiscard]] Result<ObjectInfo> create(std::string_view name, layout::ObjectKind kind, std::uint64_t size,
                                            std::uint16_t owner_guest, std::uint32_t owner_incarnation);

    // PNV semantics: the existing object of that name if there is one (its size must match, the
    // attach is counted), else a new one.
    [[nodiscard]] Result<ObjectInfo> attach_or_create(std::string_view name, layout::ObjectKind kind,
                                                      std::uint64_t size, std::uint16_t owner_guest,
                                                      std::uint32_t owner_incarnation);

    [[nodiscard]] Result<void> remove(std::string_view name);

    // Test hook for crash windows: runs create() but stops after the entry is reserved and the
    // directory marked dirty, as if the holder died there.
    [[nodiscard]] Result<void> reserve_and_abandon_for_test(std::string_view name, std::uint64_t size);

private:
    [[nodiscard]] layout::AreaHeader& header() const;
    [[nodiscard]] bool entry_snapshot(std::uint32_t index, layout::DirectoryEntry& out) const;
    [[nodiscard]] ObjectInfo info_of(const layout::DirectoryEntry& entry) const;
    [[nodiscard]] Result<std::uint64_t> find_gap(std::uint64_t size) const;
    [[nodiscard]] Result<std::uint32_t> free_slot() const;
    [[nodiscard]] Result<std::uint32_t> reserve(std::string_view name, layout::ObjectKind kind, std::uint64_t size,
                                                std::uint16_t owner_guest, std::uint32_t owner_incarnation);
    void recover();
    void begin_change();
    void end_change();

    std::byte* bytes_;
    std::uint64_t area_size_;
    std::uint16_t area_index_;
    layout::AreaDescriptor descriptor_;
    std::uint64_t page_size_;
    bool writable_;
    std::uint64_t data_offset_ = 0;  // validated copy, set by open()
};

// Object names: 1..47 printable characters, no '/' (they appear in paths and JSON).
[[nodiscard]] Result<void> validate_object_name(std::string_view name);

[[nodiscard]] std::string_view to_string(layout::ObjectKind kind);
[[nodiscard]] std::string_view to_string(layout::EntryState state);

}  // namespace nk
