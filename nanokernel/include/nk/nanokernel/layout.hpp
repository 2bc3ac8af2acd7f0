// The region's binary layout: every struct that lives in shared memory.
//
// This file is an ABI between processes of different guests, and between builds. Every struct is
// standard-layout with fixed-width fields, explicit reserved space and offsets (never pointers);
// its size, alignment and field offsets are pinned by the static_asserts at the end. Changing a
// field's width, order or meaning bumps kLayoutVersion.
//
// The region is a set of areas, each its own memfd, placed at fixed logical offsets of one
// address range (docs/ARCHITECTURE.md, "Region"):
//
//   management   ManagementTables: RegionHeader, area table, guest table, links, access rules.
//                Written only by the creator (nkd); every guest maps it read-only.
//   control      one page per guest (ControlPage): the only management memory a guest writes.
//   private      per guest: AreaHeader + that guest's objects. No other guest maps it.
//   pnv          per guest: AreaHeader + pseudo-nonvolatile allocations, kept across restarts.
//   link         per allowed pair of guests: AreaHeader + objects shared by the two.
//   common       one: AreaHeader + objects shared by more than two guests.
//
// Fields marked "atomic" are accessed only through nk::layout::atomic() (std::atomic_ref).
//
// Everything here is also untrusted input: a crashed guest may have scribbled on any area it
// could write. Readers validate (region_validate.hpp) before they follow an index or offset.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace nk::layout {

inline constexpr std::uint64_t kRegionMagic = 0x4e4b'5245'4749'4f4eULL;  // "NKREGION"
inline constexpr std::uint64_t kAreaMagic = 0x4e4b'4152'4541'0001ULL;    // "NKAREA" 0001
inline constexpr std::uint64_t kControlMagic = 0x4e4b'4354'524c'0001ULL; // "NKCTRL" 0001
// 2: guest runtime fields; 3: interrupt lines, doorbells, virtual timers; 4: GuestEntry::pnv_readers
inline constexpr std::uint32_t kLayoutVersion = 5;

inline constexpr std::uint32_t kMaxGuests = 16;
inline constexpr std::uint32_t kMaxLinks = 32;
inline constexpr std::uint32_t kMaxAccessRules = 64;
inline constexpr std::uint32_t kMaxInterruptLines = 64;  // configured lines, all guests together
// management + common + (control, private, pnv) per guest + one per link
inline constexpr std::uint32_t kMaxAreas = 2 + 3 * kMaxGuests + kMaxLinks;
inline constexpr std::uint32_t kDirectoryEntries = 128;

inline constexpr std::size_t kNameCapacity = 32;        // platform, guest and area labels, NUL included
inline constexpr std::size_t kObjectNameCapacity = 48;  // named objects, NUL included
inline constexpr std::size_t kRulePatternCapacity = 48;
inline constexpr std::size_t kSourceFileCapacity = 64;

inline constexpr std::uint64_t kSmallPage = 4096;
inline constexpr std::uint64_t kHugePage = 2ULL * 1024 * 1024;
inline constexpr std::uint32_t kNoGuest = 0;  // guest ids start at 1

// The one way to touch a shared field that another process may change concurrently.
template <class T>
[[nodiscard]] inline std::atomic_ref<T> atomic(T& field) noexcept {
    return std::atomic_ref<T>(field);
}

// A snapshot of one shared status word for a person or a tool (nkctl, status readers): relaxed,
// because each such word stands on its own and nothing else is read on its strength.
template <class T>
[[nodiscard]] inline T snapshot(const T& field) noexcept {
    return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

enum class AreaKind : std::uint16_t {
    Management = 1,
    Control = 2,
    Private = 3,
    Pnv = 4,
    Link = 5,
    Common = 6,
};

enum class GuestState : std::uint32_t {
    Configured = 0,  // in the config, never started
    Starting = 1,
    Running = 2,
    Down = 3,        // failed; nkd restarts it per its policy, or has given up
    Restarting = 4,  // failed; a restart is scheduled (back-off)
    Stopped = 5,     // stopped on purpose (nkctl stop, nkd shutting down)
};
inline constexpr std::uint32_t kLastGuestState = 5;

// Why a guest last ended (GuestEntry::last_failure).
enum class FailureKind : std::uint32_t {
    None = 0,
    Exited = 1,     // its init exited with a non-zero status
    Killed = 2,     // its init was killed by a signal
    Panic = 3,      // nk::panic() in the guest
    Heartbeat = 4,  // its heartbeat went stale
    CleanExit = 5,  // its init exited with status 0
    Stopped = 6,    // stopped by the operator
};
inline constexpr std::uint32_t kLastFailureKind = 6;

enum class EntryState : std::uint32_t {
    Free = 0,
    Reserved = 1,     // being created by a lock holder; rolled back if the holder dies
    Live = 2,
    Quarantined = 3,  // found corrupt; never handed out, space not reused until the operator clears it
};

enum class ObjectKind : std::uint16_t {
    Segment = 1,
    Pnv = 2,
    SpscRing = 3,
    MpmcQueue = 4,
    MessageRing = 5,
    Event = 6,
    Port = 7,
};
inline constexpr std::uint16_t kLastObjectKind = 7;

inline constexpr std::uint32_t kRegionFlagHugepages = 1U << 0;
inline constexpr std::uint32_t kRegionFlagLocked = 1U << 1;

// First bytes of the management area.
struct RegionHeader {
    std::uint64_t magic;            // kRegionMagic
    std::uint32_t layout_version;   // kLayoutVersion
    std::uint32_t header_size;      // sizeof(ManagementTables), so a reader of another build notices
    std::uint64_t region_size;      // the logical address range all areas live in
    std::uint64_t page_size;        // kSmallPage, or kHugePage with hugepages
    std::uint64_t created_unix_ns;  // CLOCK_REALTIME at creation
    std::uint64_t generation;  // atomic (atomic_ref); bumped by the creator on every change of the tables
    std::uint32_t flags;            // kRegionFlag*
    std::uint32_t area_count;
    std::uint32_t guest_count;
    std::uint32_t link_count;
    std::uint32_t rule_count;
    std::uint32_t line_count;       // configured interrupt lines (ManagementTables::lines)
    char platform_name[kNameCapacity];
    char config_file[kSourceFileCapacity];  // basename of the config, for messages that cite rules
    std::uint8_t reserved[88];
};

// One entry of the partition map.
struct AreaDescriptor {
    std::uint64_t offset;       // logical offset in the region, page-aligned
    std::uint64_t size;         // page multiple; equals the memfd's size
    AreaKind kind;
    std::uint16_t owner_guest;  // guest id for control/private/pnv, first guest of a link, else 0
    std::uint16_t peer_guest;   // second guest of a link, else 0
    std::uint16_t reserved0;
    std::uint32_t reserved1;
    std::uint32_t reserved2;
    char label[kNameCapacity];  // "linux.private", "link.linux-rt", "common"
};

struct GuestEntry {
    std::uint16_t id;
    std::uint8_t kind;          // nk::GuestKind
    std::uint8_t sched;         // nk::SchedClass
    std::int32_t priority;
    std::uint32_t state;        // atomic; GuestState; written by the creator only
    std::uint32_t incarnation;  // atomic; moves on at each (re)start of the guest
    std::uint64_t memory_size;
    std::uint64_t cpu_mask[4];  // CPUs 0..255
    std::uint16_t control_area; // indices into ManagementTables::areas
    std::uint16_t private_area;
    std::uint16_t pnv_area;
    std::uint16_t reserved0;
    char name[kNameCapacity];
    // Runtime, written by nkd as it starts, watches and restarts the guest (all atomic).
    std::uint32_t init_pid;              // the guest's init as the host sees it; 0 while not running
    std::uint32_t restarts;              // restarts after failures since nkd started it first
    std::uint64_t started_unix_ns;       // CLOCK_REALTIME of the current incarnation's start
    std::int32_t last_exit_status;       // wait(2) status of the last end; -1: none yet
    std::uint32_t last_failure;          // FailureKind of the last end
    std::uint64_t last_failure_unix_ns;  // CLOCK_REALTIME of the last end
    std::uint32_t missed_heartbeats;     // with last_failure Heartbeat: periods without a beat
    std::uint32_t detected_by;           // with last_failure Heartbeat: the guest whose watchdog reported it; 0: nkd
    // Static, set at creation: bit i lets guests[i] hold this guest's PNV area read-only. Its
    // watchers (the config's watchdog.watch lists) read the console tail of a failed peer there.
    std::uint16_t pnv_readers;
    std::uint8_t reserved[22];
};

struct LinkEntry {
    std::uint16_t first_guest;
    std::uint16_t second_guest;
    std::uint16_t area;
    std::uint16_t reserved;
};

struct AccessRule {
    char objects[kRulePatternCapacity];  // fnmatch(3) glob
    std::uint32_t guest_mask;            // bit i = guests[i]; ignored when all_guests
    std::uint8_t rights;                 // nk::Rights
    std::uint8_t all_guests;
    std::uint16_t reserved0;
    std::uint32_t source_line;           // line in RegionHeader::config_file
    std::uint32_t reserved1;
};

// One configured virtual interrupt line (interrupts.hpp): the static ownership table of the
// Nanokernel paper's interrupt routing. Lines 0..15 of every guest are the nanokernel's own
// (timers, peer-down, peer-up) and are not listed here.
struct InterruptLine {
    std::uint16_t owner_guest;   // guest id that receives it
    std::uint8_t line;           // 16..63
    std::uint8_t reserved0;
    std::uint32_t raiser_mask;   // bit i = guests[i] may raise it (the owner always may)
    std::uint32_t source_line;   // line in RegionHeader::config_file
    std::uint32_t reserved1;
    char name[kNameCapacity];    // "rt.command"
};

struct ManagementTables {
    RegionHeader header;
    AreaDescriptor areas[kMaxAreas];
    GuestEntry guests[kMaxGuests];
    LinkEntry links[kMaxLinks];
    AccessRule rules[kMaxAccessRules];
    InterruptLine lines[kMaxInterruptLines];
};

inline constexpr std::size_t kPanicReasonCapacity = 256;
inline constexpr std::size_t kPanicBacktraceCapacity = 1536;

// What nk::panic() leaves for nkd and the operator (nkctl crash-info). Written by a process of
// the guest in its own control page, so it is as untrusted as the rest: readers bound every
// string and accept a record only when `sequence` is even and the same before and after the copy
// (a seqlock; a writer that dies mid-record leaves it odd, and it is ignored).
struct FailureRecord {
    std::uint64_t sequence;   // atomic; odd while a writer fills the record, even when complete
    std::uint64_t unix_ns;    // CLOCK_REALTIME of the panic
    std::uint32_t pid;        // the panicking process, as the guest's PID namespace numbers it
    std::uint32_t incarnation;
    char reason[kPanicReasonCapacity];
    char backtrace[kPanicBacktraceCapacity];  // frames, one a line
    char program[64];
    std::uint8_t reserved[40];
};

// A guest's heartbeat (the software watchdog of the Nanokernel paper, 4.5 and 5.2(2)): its
// watchdog writes it every `period_ms`; nkd declares the guest hung once it is older than
// period_ms * misses. Written by the guest, so nkd bounds every field before it believes it.
struct Heartbeat {
    std::uint64_t sequence;      // atomic; beats so far in this incarnation; 0: not armed
    std::uint64_t monotonic_ns;  // atomic; CLOCK_MONOTONIC of the last beat (the host's clock: no time namespaces)
    std::uint64_t health;        // atomic; a word the guest's applications feed (0: healthy)
    std::uint32_t period_ms;     // atomic; 1..60000
    std::uint32_t misses;        // atomic; 1..100
    std::uint32_t incarnation;   // atomic; the incarnation that armed it (a stale one is ignored)
    std::uint32_t reserved0;
    std::uint8_t reserved[24];
};

// Pending virtual interrupts from one source to one guest (interrupts.hpp, and the protocol in
// docs/ARCHITECTURE.md, "Virtual interrupts"). The raiser sets a bit, bumps `wake` and wakes the
// sleepers; the owner's dispatcher takes bits with an atomic AND. Bits are untrusted: the
// dispatcher drops any its source may not raise.
struct Doorbell {
    std::uint64_t pending;  // atomic; bit n = line n raised and not yet taken
    std::uint32_t wake;     // atomic; futex word, bumped after every raise
    std::uint32_t waiters;  // atomic; dispatchers asleep (or about to sleep) on `wake`
    std::uint64_t raised;   // atomic; raises so far, for the operator
    std::uint64_t reserved;
};

inline constexpr std::uint32_t kVirtualTimers = 8;

// Virtual interrupt line numbers (interrupts.hpp). Each guest has 64 lines; 0..15 are raised only
// by the nanokernel, 16..63 are configured ([[interrupts]]).
inline constexpr std::uint32_t kLinesPerGuest = 64;
inline constexpr std::uint32_t kFirstTimerLine = 0;  // timer t raises line t (t < kVirtualTimers)
inline constexpr std::uint32_t kPeerDownLine = 8;    // a peer went down (ControlPage::peers_down names it)
inline constexpr std::uint32_t kPeerUpLine = 9;      // a peer runs again (ControlPage::peers_up)
inline constexpr std::uint32_t kFirstConfiguredLine = 16;
// Lines of ControlPage::to_nanokernel, raised by the guest toward nkd.
inline constexpr std::uint32_t kPanicLine = 0;        // nk::panic() left a failure record
inline constexpr std::uint32_t kTimerChangeLine = 1;  // a virtual timer was armed or disarmed
inline constexpr std::uint32_t kRecoverLine = 2;      // its watchdog asks to recover a peer (ControlPage::recovery)

// How a virtual timer's expiries reach its owner (VirtualTimer::delivery).
enum class TimerDelivery : std::uint32_t {
    Raise = 0,   // the timer core counts each expiry and raises the timer line
    Direct = 1,  // the owner's dispatcher sleeps until each deadline of the core's schedule and
                 // counts it itself; the core catches up (counts and raises) what it leaves
};

// VirtualTimer::expirations: the count in the low 48 bits, an epoch above them that the timer
// core bumps whenever it adopts a new schedule, so that a count computed from the old schedule
// can never be stored under the new one (its compare-and-swap fails).
inline constexpr unsigned kTimerEpochShift = 48;
inline constexpr std::uint64_t kTimerCountMask = (std::uint64_t{1} << kTimerEpochShift) - 1;

// One virtual timer of a guest (vtimer.hpp). The guest writes the request under `sequence` (a
// seqlock: odd while it rewrites it); nkd's timer core reads it, adopts it as its schedule
// (publishing `adopted_*` under `adoption`, its own seqlock) and counts the expiries, which are
// a function of time: `adopted_base` + the deadlines of the schedule passed so far. Both the core
// and, for Direct delivery, the owner advance `expirations` to that value with a compare-and-swap
// (never past it, never backwards). Both sides bound every value before use.
struct VirtualTimer {
    std::uint32_t sequence;      // atomic; odd while the guest rewrites the request
    std::uint32_t armed;         // atomic; 1: armed
    std::uint64_t first_ns;      // atomic; CLOCK_MONOTONIC of the first expiry
    std::uint64_t period_ns;     // atomic; 0: one-shot
    std::uint32_t incarnation;   // atomic; the incarnation that armed it (a stale one is ignored)
    std::uint32_t delivery;      // atomic; TimerDelivery, part of the request
    std::uint64_t expirations;   // atomic; epoch | count (kTimerEpochShift): expiries so far, overruns included
    std::uint64_t last_fire_ns;  // atomic; CLOCK_MONOTONIC of the last expiry counted
    std::uint32_t adoption;          // atomic; written by the timer core: odd while it rewrites the two below
    std::uint32_t adopted_sequence;  // atomic; the request `sequence` the core's schedule follows; 0: none
    std::uint64_t adopted_base;      // atomic; the count when the core adopted that request
};

// A guest's watchdog asking the nanokernel to recover a peer it found hung (recovery.hpp). The
// watchdog fills the fields, then bumps `sequence` (release) and rings kRecoverLine; nkd copies
// the request, checks it against the guest table, and writes `handled` = `sequence` when done.
struct RecoveryRequest {
    std::uint32_t sequence;            // atomic; written by the guest: one more per request
    std::uint32_t handled;             // atomic; written by nkd: the last sequence it took
    std::uint16_t target_guest;        // atomic
    std::uint16_t reserved0;
    std::uint32_t target_incarnation;  // atomic; the incarnation that stopped beating
    std::uint32_t missed;              // atomic; periods without a beat, as the watchdog counted
    std::uint32_t reserved1;
    std::uint64_t health;              // atomic; the target's last health word
};

// A guest's control page: the only management memory a guest may write.
struct ControlPage {
    std::uint64_t magic;  // kControlMagic
    std::uint16_t guest_id;
    std::uint16_t area;
    std::uint32_t reserved0;
    std::uint8_t reserved1[48];
    FailureRecord failure;  // the last nk::panic() of the guest
    Heartbeat heartbeat;    // its watchdog's beat
    Doorbell inbox;         // lines raised by the nanokernel (timers, peers) and by the guest itself
    Doorbell to_nanokernel; // lines the guest raises toward nkd (panic, timer changes)
    std::uint32_t peers_down;  // atomic; bit i = guests[i] went down (with the peer-down line)
    std::uint32_t peers_up;    // atomic; bit i = guests[i] is running again (with the peer-up line)
    RecoveryRequest recovery;  // its watchdog's request to recover a peer
    std::uint8_t reserved2[24];
    VirtualTimer timers[kVirtualTimers];
    std::uint8_t reserved[1408];
};

// One named object in an area's directory (see docs/ARCHITECTURE.md, "Directories").
struct DirectoryEntry {
    std::uint32_t state;  // atomic; EntryState; Live is published last (release)
    ObjectKind kind;
    std::uint16_t owner_guest;
    std::uint32_t owner_incarnation;
    std::uint32_t attach_count;        // PNV: how many times attach() found it
    std::uint64_t offset;              // from the start of the area; region-page aligned
    std::uint64_t size;
    std::uint64_t created_unix_ns;
    std::uint64_t last_attach_unix_ns;
    char name[kObjectNameCapacity];
    std::uint8_t reserved[8];
};

// First bytes of every private, pnv, link and common area.
struct AreaHeader {
    std::uint64_t magic;           // kAreaMagic
    std::uint32_t layout_version;
    std::uint16_t area;            // own index in ManagementTables::areas
    AreaKind kind;
    std::uint64_t area_size;
    std::uint64_t data_offset;     // first allocatable byte, page-aligned
    // Non-zero while a lock holder changes the directory. A holder that finds it set knows the
    // previous holder died mid-change and runs recovery first.
    std::uint32_t dirty;  // atomic
    std::uint32_t entry_capacity;  // kDirectoryEntries
    std::uint64_t change_count;   // atomic; bumped by every directory change
    std::uint64_t recoveries;       // how often recovery ran
    std::uint64_t quarantined;      // entries found corrupt so far
    // Link areas only: doorbells[0] rings the link's first guest, doorbells[1] its second (a guest
    // raises a peer's line here, in memory only the two share). Zero in other areas.
    Doorbell doorbells[2];
    DirectoryEntry entries[kDirectoryEntries];
};

// ---- pinned layout -------------------------------------------------------------------------

// Shared fields are plain integers read and written through std::atomic_ref (fields marked
// "atomic"), so every struct stays trivially copyable and its layout is the integers' layout.
template <class T>
inline constexpr bool kRegionSafe = std::is_standard_layout_v<T> && std::is_trivially_copyable_v<T>;

static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::required_alignment == alignof(std::uint64_t));

static_assert(kRegionSafe<RegionHeader>);
static_assert(sizeof(RegionHeader) == 256 && alignof(RegionHeader) == 8);
static_assert(offsetof(RegionHeader, layout_version) == 8);
static_assert(offsetof(RegionHeader, region_size) == 16);
static_assert(offsetof(RegionHeader, generation) == 40);
static_assert(offsetof(RegionHeader, flags) == 48);
static_assert(offsetof(RegionHeader, platform_name) == 72);
static_assert(offsetof(RegionHeader, config_file) == 104);

static_assert(kRegionSafe<AreaDescriptor>);
static_assert(sizeof(AreaDescriptor) == 64);
static_assert(offsetof(AreaDescriptor, kind) == 16 && offsetof(AreaDescriptor, label) == 32);

static_assert(kRegionSafe<GuestEntry>);
static_assert(sizeof(GuestEntry) == 160 && alignof(GuestEntry) == 8);
static_assert(offsetof(GuestEntry, state) == 8 && offsetof(GuestEntry, incarnation) == 12);
static_assert(offsetof(GuestEntry, cpu_mask) == 24 && offsetof(GuestEntry, control_area) == 56);
static_assert(offsetof(GuestEntry, name) == 64 && offsetof(GuestEntry, init_pid) == 96);
static_assert(offsetof(GuestEntry, started_unix_ns) == 104 && offsetof(GuestEntry, last_exit_status) == 112);
static_assert(offsetof(GuestEntry, last_failure_unix_ns) == 120 && offsetof(GuestEntry, missed_heartbeats) == 128);
static_assert(offsetof(GuestEntry, pnv_readers) == 136);

static_assert(kRegionSafe<LinkEntry> && sizeof(LinkEntry) == 8);

static_assert(kRegionSafe<AccessRule> && sizeof(AccessRule) == 64);
static_assert(offsetof(AccessRule, guest_mask) == 48 && offsetof(AccessRule, source_line) == 56);

static_assert(kRegionSafe<InterruptLine> && sizeof(InterruptLine) == 48 && alignof(InterruptLine) == 4);
static_assert(offsetof(InterruptLine, raiser_mask) == 4 && offsetof(InterruptLine, name) == 16);

static_assert(kRegionSafe<ManagementTables>);
static_assert(offsetof(ManagementTables, areas) == 256);
static_assert(offsetof(ManagementTables, guests) == 256 + 64 * kMaxAreas);
static_assert(offsetof(ManagementTables, lines) ==
              256 + 64 * kMaxAreas + 160 * kMaxGuests + 8 * kMaxLinks + 64 * kMaxAccessRules);
static_assert(sizeof(ManagementTables) ==
              256 + 64 * kMaxAreas + 160 * kMaxGuests + 8 * kMaxLinks + 64 * kMaxAccessRules + 48 * kMaxInterruptLines);

static_assert(kRegionSafe<Doorbell> && sizeof(Doorbell) == 32 && alignof(Doorbell) == 8);
static_assert(offsetof(Doorbell, wake) == 8 && offsetof(Doorbell, waiters) == 12 && offsetof(Doorbell, raised) == 16);
static_assert(kRegionSafe<VirtualTimer> && sizeof(VirtualTimer) == 64 && alignof(VirtualTimer) == 8);
static_assert(offsetof(VirtualTimer, first_ns) == 8 && offsetof(VirtualTimer, period_ns) == 16);
static_assert(offsetof(VirtualTimer, incarnation) == 24 && offsetof(VirtualTimer, expirations) == 32);
static_assert(offsetof(VirtualTimer, last_fire_ns) == 40 && offsetof(VirtualTimer, delivery) == 28);
static_assert(offsetof(VirtualTimer, adoption) == 48 && offsetof(VirtualTimer, adopted_base) == 56);

static_assert(kRegionSafe<FailureRecord> && sizeof(FailureRecord) == 1920 && alignof(FailureRecord) == 8);
static_assert(offsetof(FailureRecord, reason) == 24 && offsetof(FailureRecord, backtrace) == 280);
static_assert(kRegionSafe<ControlPage> && sizeof(ControlPage) == kSmallPage);
static_assert(offsetof(ControlPage, failure) == 64 && offsetof(ControlPage, heartbeat) == 1984);
static_assert(offsetof(ControlPage, inbox) == 2048 && offsetof(ControlPage, to_nanokernel) == 2080);
static_assert(offsetof(ControlPage, peers_down) == 2112 && offsetof(ControlPage, peers_up) == 2116);
static_assert(offsetof(ControlPage, recovery) == 2120 && offsetof(ControlPage, timers) == 2176);
static_assert(kRegionSafe<RecoveryRequest> && sizeof(RecoveryRequest) == 32 && alignof(RecoveryRequest) == 8);
static_assert(offsetof(RecoveryRequest, target_guest) == 8 && offsetof(RecoveryRequest, target_incarnation) == 12);
static_assert(offsetof(RecoveryRequest, health) == 24);
static_assert(kRegionSafe<Heartbeat> && sizeof(Heartbeat) == 64);
static_assert(offsetof(Heartbeat, period_ms) == 24 && offsetof(Heartbeat, incarnation) == 32);

static_assert(kRegionSafe<DirectoryEntry>);
static_assert(sizeof(DirectoryEntry) == 104 && alignof(DirectoryEntry) == 8);
static_assert(offsetof(DirectoryEntry, kind) == 4 && offsetof(DirectoryEntry, offset) == 16);
static_assert(offsetof(DirectoryEntry, name) == 48);

static_assert(kRegionSafe<AreaHeader>);
static_assert(offsetof(AreaHeader, dirty) == 32 && offsetof(AreaHeader, change_count) == 40);
static_assert(offsetof(AreaHeader, doorbells) == 64 && offsetof(AreaHeader, entries) == 128);
static_assert(sizeof(AreaHeader) == 128 + 104 * kDirectoryEntries);

}  // namespace nk::layout
