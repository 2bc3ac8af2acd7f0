/* nk.h: the C ABI of nk (link nk::c, or `pkg-config --cflags --libs nk-c`).
 *
 * C programs (the usual language of real-time code) use nk's named shared objects through this
 * header: segments, pseudo-nonvolatile (PNV) memory, SPSC rings, MPMC queues, message rings,
 * event variables and ports. Every object is an opaque handle made by a *_create or *_open
 * function and given back with *_close; every call that can fail returns an nk_result_t.
 *
 *   nk_region_t* region;
 *   if (nk_region_attach(&region) != NK_OK) {            // the region this process was given
 *       fprintf(stderr, "attach: %s\n", nk_last_error());
 *       return 1;
 *   }
 *   nk_port_options_t options;
 *   nk_port_options_init(&options);                      // defaults; then change what you need
 *   options.where = "linux";                             // in the link between us and "linux"
 *   nk_port_t* inbox;
 *   nk_result_t r = nk_port_create(region, "rt.commands", &options, &inbox);
 *   char buffer[4096];
 *   size_t length;
 *   r = nk_port_receive(inbox, buffer, sizeof buffer, &length, 10 * NK_MILLISECOND);
 *   if (r == NK_E_TIMED_OUT) { ... }
 *   nk_port_close(inbox);
 *   nk_region_close(region);
 *
 * Conventions, for every function:
 * - Timeouts are in nanoseconds (uint64_t, named *_ns); NK_MILLISECOND and NK_MICROSECOND help
 *   to write them; NK_FOREVER waits without a deadline.
 * - Sizes are size_t, in bytes; item sizes and capacities are checked against what the object
 *   supports (a value that does not fit gives NK_E_INVALID).
 * - A NULL handle, a NULL name or out-pointer, or an option struct that nk_*_options_init() did
 *   not fill gives NK_E_INVALID; nothing aborts and no C++ exception leaves the library (an
 *   unexpected one is NK_E_INTERNAL, an allocation failure NK_E_NO_MEMORY).
 * - Option pointers may be NULL for the defaults. Each option struct starts with struct_size,
 *   which its _init() sets: a later version of nk can grow the struct and still tell old callers
 *   apart.
 * - On an error, nk_last_error() gives a sentence for a person (what failed, on which object,
 *   what to do). The plain outcomes of non-blocking and timed calls (NK_E_FULL, NK_E_EMPTY,
 *   NK_E_TIMED_OUT) do not set it, so that the hot path never allocates.
 * - Handles are views of objects in the region, not the objects: closing one frees only this
 *   process's handle; *_remove deletes the object. A handle keeps its region's mapping alive, so
 *   nk_region_close() may come before the handles are closed.
 * - Concurrency: a handle is used by one thread at a time, except an nk_mpmc_t, which any number
 *   of threads may use at once, and nk_region_t, whose calls are safe from any thread. Different
 *   handles may be used from different threads freely.
 *
 * Exported symbols all start with nk_ and carry the version NK_1.0 (bindings/nk.map), or NK_1.1
 * for the functions added since (the nk_watchdog_* of critical processes).
 */
#ifndef NK_NK_H
#define NK_NK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NK_MICROSECOND ((uint64_t)1000)
#define NK_MILLISECOND ((uint64_t)1000000)
#define NK_SECOND ((uint64_t)1000000000)
/* A timeout without a deadline (any timeout above about 100 years is taken as this). */
#define NK_FOREVER UINT64_MAX

/* Enums: each ends in a *_FORCE_INT32_ member, which is no value to use. It keeps the type 32 bits
 * wide whatever the compiler, and makes every non-negative int a valid value of it on the C++ side,
 * so that a caller's out-of-range value is refused (NK_E_INVALID), not undefined behaviour. */

/* Results. Values 1..14 are those of nk::RegionError in the C++ API; they never change. */
typedef enum nk_result {
    NK_OK = 0,
    NK_E_BAD_MAGIC = 1,         /* the memory is not an nk region, or not an object of that kind */
    NK_E_VERSION_MISMATCH = 2,  /* made by a build with another layout version */
    NK_E_SIZE_MISMATCH = 3,     /* sizes in a header disagree with the files or each other */
    NK_E_CORRUPT = 4,           /* a value in shared memory is out of range; the handle stopped */
    NK_E_NOT_FOUND = 5,         /* no such object, area, guest or platform */
    NK_E_ACCESS_DENIED = 6,     /* the config's access rules or the partition refuse it */
    NK_E_NOT_MAPPED = 7,        /* the object is in an area this process was not given */
    NK_E_EXISTS = 8,            /* an object of that name exists already */
    NK_E_NO_SPACE = 9,          /* the area has no free extent large enough */
    NK_E_DIRECTORY_FULL = 10,   /* the area's directory has no free entry */
    NK_E_BUSY = 11,             /* a lock was held longer than its timeout */
    NK_E_INVALID = 12,          /* bad argument: NULL, bad name, size out of range, wrong role */
    NK_E_SIZE_CONFLICT = 13,    /* an existing object has another size than the one asked for */
    NK_E_NOT_RUNNING = 14,      /* nobody serves it: no such platform process, or a port's owner
                                   guest is down or was restarted since it made the port */
    /* Outcomes of the ipc calls. */
    NK_E_FULL = 32,             /* no room now (back-pressure): try again later */
    NK_E_EMPTY = 33,            /* nothing to take now */
    NK_E_TIMED_OUT = 34,        /* the timeout passed first */
    NK_E_TOO_LARGE = 35,        /* the message is larger than the port's or ring's maximum */
    NK_E_BUFFER_TOO_SMALL = 36, /* the next message does not fit the buffer; it stays queued */
    NK_E_LOST = 37,             /* the reader declared this writer dead meanwhile: not delivered */
    /* Failures outside nk's own. */
    NK_E_SYSTEM = 64,           /* a system call failed; nk_last_error() names it and errno's text */
    NK_E_NO_MEMORY = 65,        /* the process ran out of memory */
    NK_E_INTERNAL = 66,         /* a bug in nk: please report nk_last_error() */
    NK_RESULT_FORCE_INT32_ = 0x7fffffff  /* not a result: see "Enums" above */
} nk_result_t;

/* The result's name ("NK_E_FULL"); never NULL, also for values not listed above. */
const char* nk_result_str(nk_result_t result);

/* This thread's last error message ("" before the first); valid until the next failing nk call
 * on this thread. */
const char* nk_last_error(void);

/* Opaque handles. */
typedef struct nk_region nk_region_t;
typedef struct nk_segment nk_segment_t;
typedef struct nk_pnv nk_pnv_t;
typedef struct nk_spsc nk_spsc_t;
typedef struct nk_mpmc nk_mpmc_t;
typedef struct nk_msgring nk_msgring_t;
typedef struct nk_event nk_event_t;
typedef struct nk_port nk_port_t;
typedef struct nk_port_sender nk_port_sender_t;

/* ---- Region ------------------------------------------------------------------------------- */

typedef enum nk_role {
    NK_ROLE_OPERATOR = 2, /* a tool acting for a person: every area but the management tables writable */
    NK_ROLE_OBSERVER = 3, /* every area read-only */
    NK_ROLE_GUEST = 4,    /* one guest's process: its own areas, its links and the common area */
    NK_ROLE_FORCE_INT32_ = 0x7fffffff
} nk_role_t;

typedef struct nk_attach_options {
    uint32_t struct_size;
    nk_role_t role;         /* default NK_ROLE_GUEST */
    uint16_t guest_id;      /* for NK_ROLE_GUEST: the guest's id (1..254), or 0 to use guest_name */
    const char* guest_name; /* for NK_ROLE_GUEST by name (nk_region_attach_by_name only) */
} nk_attach_options_t;

void nk_attach_options_init(nk_attach_options_t* options);

/* The region of this process (nk::guest::attach()): from the descriptors it inherited
 * (NK_REGION_FDS, NK_REGION_ROLE, as nkd starts a guest), else by NK_PLATFORM and NK_GUEST through
 * the platform's socket. The first call attaches; later calls give new handles to the same
 * region. NK_E_NOT_FOUND when the process has neither. */
nk_result_t nk_region_attach(nk_region_t** region);

/* Attaches with `count` area descriptors this process holds, as options->role (for a guest,
 * options->guest_id must be set). The descriptors are duplicated: the caller still owns and
 * closes its own. */
nk_result_t nk_region_attach_fds(const int* fds, size_t count, const nk_attach_options_t* options,
                                 nk_region_t** region);

/* Attaches by the platform's name, asking the process that serves it (nkd) for the descriptors,
 * over <run dir>/<platform>.sock ($NK_RUN_DIR, else /run/nk). A guest may be named by
 * options->guest_name. */
nk_result_t nk_region_attach_by_name(const char* platform, const nk_attach_options_t* options,
                                     nk_region_t** region);

/* Frees this handle; the mapping goes once every object handle made from it is closed too.
 * NULL is ignored. */
void nk_region_close(nk_region_t* region);

/* Who this process is on the region: its guest id (0 unless attached as a guest), its role. */
uint16_t nk_region_guest_id(const nk_region_t* region);
nk_role_t nk_region_role(const nk_region_t* region);
/* The platform's name; valid while the handle is open. "" for NULL. */
const char* nk_region_platform(const nk_region_t* region);

/* The id of the guest named `name` (NK_E_NOT_FOUND when there is none). */
nk_result_t nk_region_guest_by_name(const nk_region_t* region, const char* name, uint16_t* guest_id);

/* Where objects go, in every *_options_t below: NULL, "" or "common" for the common area, a
 * guest's name for the link between this process's guest and that guest, or an area label such
 * as "link.linux-rt" (operator use). */

/* ---- Segments: named shared memory -------------------------------------------------------- */

typedef enum nk_rights { NK_RIGHTS_READ = 1, NK_RIGHTS_READ_WRITE = 3, NK_RIGHTS_FORCE_INT32_ = 0x7fffffff } nk_rights_t;

typedef struct nk_segment_options {
    uint32_t struct_size;
    const char* where;  /* default: the common area */
} nk_segment_options_t;

void nk_segment_options_init(nk_segment_options_t* options);

/* Creates a zero-filled segment of `size` bytes (rounded up to the page size). */
nk_result_t nk_segment_create(nk_region_t* region, const char* name, size_t size, const nk_segment_options_t* options,
                              nk_segment_t** segment);
/* Opens an existing segment; NK_RIGHTS_READ maps it read-only (a write faults). */
nk_result_t nk_segment_open(nk_region_t* region, const char* name, nk_rights_t rights, nk_segment_t** segment);
/* The segment's bytes and their number; NULL and 0 for a NULL handle. */
void* nk_segment_data(const nk_segment_t* segment);
size_t nk_segment_size(const nk_segment_t* segment);
/* 1 when mapped writable, else 0. */
int nk_segment_writable(const nk_segment_t* segment);
void nk_segment_close(nk_segment_t* segment);
/* Deletes the object: its owner guest, the operator or the creator may. */
nk_result_t nk_segment_remove(nk_region_t* region, const char* name);

/* ---- PNV: memory that survives a restart of the process or of its guest ------------------- */

/* In the calling guest's PNV area, under the stable `id`: the first call allocates `size` zero
 * bytes, every later one (after restarts too) gets the same bytes. The region must be attached
 * as a guest. */
nk_result_t nk_pnv_attach(nk_region_t* region, const char* id, size_t size, nk_pnv_t** pnv);
void* nk_pnv_data(const nk_pnv_t* pnv);
size_t nk_pnv_size(const nk_pnv_t* pnv);
/* 1 when this attach allocated it (its bytes are zero), 0 when it found it. */
int nk_pnv_fresh(const nk_pnv_t* pnv);
/* Its offset in the region: the same after every restart. */
uint64_t nk_pnv_offset(const nk_pnv_t* pnv);
/* Frees the handle only: the memory stays allocated. */
void nk_pnv_close(nk_pnv_t* pnv);
/* Frees the calling guest's allocation `id`. */
nk_result_t nk_pnv_free(nk_region_t* region, const char* id);

/* ---- SPSC rings and MPMC queues of fixed-size items --------------------------------------- */

typedef struct nk_queue_options {
    uint32_t struct_size;
    const char* where;  /* default: the common area */
} nk_queue_options_t;

void nk_queue_options_init(nk_queue_options_t* options);

/* A single-producer, single-consumer ring of `capacity` items (a power of two) of `item_size`
 * bytes. On one handle, the first nk_spsc_try_push() makes it the ring's producer and the first
 * nk_spsc_try_pop() its consumer; across all processes there must be at most one producer and
 * one consumer at a time (the ring cannot check this). */
nk_result_t nk_spsc_create(nk_region_t* region, const char* name, size_t item_size, size_t capacity,
                           const nk_queue_options_t* options, nk_spsc_t** ring);
/* With expected_item_size non-zero, a ring of another item size gives NK_E_SIZE_CONFLICT. */
nk_result_t nk_spsc_open(nk_region_t* region, const char* name, size_t expected_item_size, nk_spsc_t** ring);
/* Copies `size` bytes (exactly the item size, else NK_E_INVALID) into the ring: NK_OK, NK_E_FULL,
 * or NK_E_CORRUPT once the ring's shared indices were found out of range. Never blocks. */
nk_result_t nk_spsc_try_push(nk_spsc_t* ring, const void* item, size_t size);
/* Moves the oldest item into `out` (`size` must be the item size): NK_OK, NK_E_EMPTY, NK_E_CORRUPT. */
nk_result_t nk_spsc_try_pop(nk_spsc_t* ring, void* out, size_t size);
size_t nk_spsc_item_size(const nk_spsc_t* ring);
size_t nk_spsc_capacity(const nk_spsc_t* ring);
/* Items in the ring at about now; for monitoring. */
size_t nk_spsc_size_approx(const nk_spsc_t* ring);
void nk_spsc_close(nk_spsc_t* ring);
nk_result_t nk_spsc_remove(nk_region_t* region, const char* name);

/* A multi-producer, multi-consumer queue of `capacity` items (a power of two, at least 2) of
 * `item_size` bytes; any number of threads may push and pop through one handle at once. */
nk_result_t nk_mpmc_create(nk_region_t* region, const char* name, size_t item_size, size_t capacity,
                           const nk_queue_options_t* options, nk_mpmc_t** queue);
nk_result_t nk_mpmc_open(nk_region_t* region, const char* name, size_t expected_item_size, nk_mpmc_t** queue);
/* As for SPSC. NK_E_FULL also after a bounded number of lost races for a slot: retry later. */
nk_result_t nk_mpmc_try_push(nk_mpmc_t* queue, const void* item, size_t size);
nk_result_t nk_mpmc_try_pop(nk_mpmc_t* queue, void* out, size_t size);
size_t nk_mpmc_item_size(const nk_mpmc_t* queue);
size_t nk_mpmc_capacity(const nk_mpmc_t* queue);
size_t nk_mpmc_size_approx(const nk_mpmc_t* queue);
void nk_mpmc_close(nk_mpmc_t* queue);
nk_result_t nk_mpmc_remove(nk_region_t* region, const char* name);

/* ---- Message rings: variable-length records, many writers, one reader --------------------- */

typedef struct nk_msgring_options {
    uint32_t struct_size;
    uint32_t capacity;        /* buffer bytes, a power of two, 256..2^30; default 65536 */
    uint32_t max_record_size; /* largest record; default 4096 */
    const char* where;        /* default: the common area */
} nk_msgring_options_t;

void nk_msgring_options_init(nk_msgring_options_t* options);

nk_result_t nk_msgring_create(nk_region_t* region, const char* name, const nk_msgring_options_t* options,
                              nk_msgring_t** ring);
nk_result_t nk_msgring_open(nk_region_t* region, const char* name, nk_msgring_t** ring);
/* Writes one record: NK_OK, NK_E_FULL, NK_E_TOO_LARGE, NK_E_LOST, NK_E_CORRUPT. The first write
 * on a handle makes it a writer (any number of writers per ring). */
nk_result_t nk_msgring_try_write(nk_msgring_t* ring, const void* record, size_t size);
/* Copies the oldest record into `out` and sets *length: NK_OK, NK_E_EMPTY, NK_E_BUFFER_TOO_SMALL
 * (*length says how long it is; it stays queued), NK_E_CORRUPT. The first read on a handle makes
 * it the ring's one reader. */
nk_result_t nk_msgring_try_read(nk_msgring_t* ring, void* out, size_t capacity, size_t* length);
size_t nk_msgring_max_record_size(const nk_msgring_t* ring);
void nk_msgring_close(nk_msgring_t* ring);
nk_result_t nk_msgring_remove(nk_region_t* region, const char* name);

/* ---- Event variables ---------------------------------------------------------------------- */

typedef enum nk_event_mode {
    NK_EVENT_AUTO_RESET = 1,  /* a signal releases one waiter, or stays set for the next wait */
    NK_EVENT_MANUAL_RESET = 2, /* a signal sets the event and releases every waiter until reset */
    NK_EVENT_MODE_FORCE_INT32_ = 0x7fffffff
} nk_event_mode_t;

typedef struct nk_event_options {
    uint32_t struct_size;
    nk_event_mode_t mode; /* default NK_EVENT_AUTO_RESET */
    uint64_t spin_ns;     /* how long a waiter spins before it sleeps, 0..10 ms; default 20 us */
    const char* where;    /* default: the common area */
} nk_event_options_t;

void nk_event_options_init(nk_event_options_t* options);

nk_result_t nk_event_create(nk_region_t* region, const char* name, const nk_event_options_t* options,
                            nk_event_t** event);
nk_result_t nk_event_open(nk_region_t* region, const char* name, nk_event_t** event);
/* Waits until signalled (spins, then sleeps on a futex). */
nk_result_t nk_event_wait(nk_event_t* event);
/* NK_OK when signalled, NK_E_TIMED_OUT when `timeout_ns` passed first. */
nk_result_t nk_event_wait_for(nk_event_t* event, uint64_t timeout_ns);
/* As nk_event_wait_for, but spins until the deadline and never sleeps (for real-time loops
 * that own their CPU). */
nk_result_t nk_event_poll_for(nk_event_t* event, uint64_t timeout_ns);
/* Auto-reset: releases one waiter or leaves the event set. Manual-reset: sets the event. */
nk_result_t nk_event_signal(nk_event_t* event);
/* Releases every waiter present; the event is left as it was. */
nk_result_t nk_event_broadcast(nk_event_t* event);
/* Clears the event (a manual-reset event, or an auto-reset event's pending signal). */
nk_result_t nk_event_reset(nk_event_t* event);
void nk_event_close(nk_event_t* event);
nk_result_t nk_event_remove(nk_region_t* region, const char* name);

/* ---- Ports: messages to a guest ----------------------------------------------------------- */

typedef struct nk_port_options {
    uint32_t struct_size;
    uint32_t capacity;    /* ring bytes, a power of two; default 65536 */
    uint32_t max_message; /* largest message; default 4096 */
    const char* where;    /* default: the common area */
} nk_port_options_t;

void nk_port_options_init(nk_port_options_t* options);

/* Makes a port; the calling guest owns it and is its one receiver (attach as a guest). */
nk_result_t nk_port_create(nk_region_t* region, const char* name, const nk_port_options_t* options, nk_port_t** port);
/* The oldest message into `out`, its length in *length: NK_OK, NK_E_TIMED_OUT,
 * NK_E_BUFFER_TOO_SMALL (it stays queued; a buffer of nk_port_max_message() bytes always fits). */
nk_result_t nk_port_receive(nk_port_t* port, void* out, size_t capacity, size_t* length, uint64_t timeout_ns);
/* As nk_port_receive without waiting: NK_E_EMPTY when there is no message now. */
nk_result_t nk_port_try_receive(nk_port_t* port, void* out, size_t capacity, size_t* length);
size_t nk_port_max_message(const nk_port_t* port);
void nk_port_close(nk_port_t* port);
nk_result_t nk_port_remove(nk_region_t* region, const char* name);

nk_result_t nk_port_sender_open(nk_region_t* region, const char* name, nk_port_sender_t** sender);
/* Sends now: NK_OK, NK_E_FULL, NK_E_TOO_LARGE, NK_E_NOT_RUNNING (the owner guest is down or was
 * restarted since it made the port), NK_E_CORRUPT. */
nk_result_t nk_port_try_send(nk_port_sender_t* sender, const void* message, size_t size);
/* Sends, waiting up to `timeout_ns` for room: as nk_port_try_send, but NK_E_TIMED_OUT when the
 * port is still full at the timeout. */
nk_result_t nk_port_send(nk_port_sender_t* sender, const void* message, size_t size, uint64_t timeout_ns);
void nk_port_sender_close(nk_port_sender_t* sender);

/* ---- Critical processes (NK_1.1) ----------------------------------------------------------- *
 *
 * A process of a linux guest whose guest runs nk-watchdog (`watchdog = {...}` in the platform
 * config) registers as critical and then kicks at least once per period. One that stops kicking
 * (stuck, SIGSTOP) or dies without nk_watchdog_stopping() makes the whole guest unhealthy: its
 * watchdog stops beating the guest's heartbeat and the guest is recovered as hung.
 *
 *   if (nk_watchdog_register_critical(100 * NK_MILLISECOND, "controller") != NK_OK) { ... }
 *   for (;;) { control_step(); (void)nk_watchdog_kick(); }
 *   nk_watchdog_stopping();   // before a planned exit
 *
 * These are systemd's sd_notify datagrams (WATCHDOG_USEC=, WATCHDOG=1, STOPPING=1) sent to the
 * guest's watchdog at the abstract socket "@nk-watchdog" (NK_WATCHDOG_SOCKET overrides it); the
 * daemon knows the caller by its pid. No region handle is needed. Each call is one datagram and
 * is safe from any thread; NK_E_SYSTEM (nk_last_error() says more) when no watchdog listens. */

/* Registers the calling process as critical, or changes its period. `period_ns`: whole
 * milliseconds, 1 ms to 60 s (else NK_E_INVALID). `name`: for the watchdog's logs, up to 64
 * bytes without newline or '='; NULL: "pid N". The watchdog may still be starting when the
 * process does: retry on NK_E_SYSTEM for a moment. */
nk_result_t nk_watchdog_register_critical(uint64_t period_ns, const char* name);
/* One kick: the process is alive and keeping up. */
nk_result_t nk_watchdog_kick(void);
/* The guest's health word (0: healthy), carried by its heartbeat to the peers that watch it;
 * the guest's word is the largest of its critical processes'. */
nk_result_t nk_watchdog_set_health(uint64_t health);
/* The process stops on purpose: no longer critical (its exit then is no failure). */
nk_result_t nk_watchdog_stopping(void);

#ifdef __cplusplus
}
#endif

#endif /* NK_NK_H */
