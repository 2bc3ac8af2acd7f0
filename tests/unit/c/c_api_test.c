/* The C ABI (nk/nk.h) from C: every function family against a real platform.
 *
 * Compiled as C99. tests/unit/c/c_api_test.cpp (CApi.CProgramPassesEveryCheck) creates a small
 * platform (tests/support/test_platform.hpp: guests linux=1, rt=2, mon=3, a link linux-rt, rt may
 * not touch "secret.*") and runs this program with:
 *   NK_REGION_FDS / NK_REGION_ROLE   guest linux's descriptors (for nk_region_attach()),
 *   NK_C_TEST_RT_FDS                 guest rt's descriptors (for nk_region_attach_fds()).
 * It prints one line per failed check and exits 0 only when every check passed.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nk/nk.h"

static int checks;
static int failures;

#define CHECK(cond)                                                                                  \
    do {                                                                                             \
        ++checks;                                                                                    \
        if (!(cond)) {                                                                               \
            ++failures;                                                                              \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, __LINE__, #cond, \
                    nk_last_error());                                                                \
        }                                                                                            \
    } while (0)

#define CHECK_RESULT(expr, expected)                                                                       \
    do {                                                                                                   \
        const nk_result_t got_ = (expr);                                                                   \
        ++checks;                                                                                          \
        if (got_ != (expected)) {                                                                          \
            ++failures;                                                                                    \
            fprintf(stderr, "%s:%d: %s gave %s, expected %s (last error: %s)\n", __FILE__, __LINE__, #expr, \
                    nk_result_str(got_), nk_result_str(expected), nk_last_error());                        \
        }                                                                                                  \
    } while (0)

/* Parses "3,4,5" into fds; returns how many. */
static size_t parse_fds(const char* text, int* fds, size_t max) {
    size_t n = 0;
    while (text != NULL && *text != '\0' && n < max) {
        char* end = NULL;
        const long fd = strtol(text, &end, 10);
        if (end == text) break;
        fds[n++] = (int)fd;
        text = *end == ',' ? end + 1 : end;
    }
    return n;
}

static void test_results(void) {
    CHECK(strcmp(nk_result_str(NK_OK), "NK_OK") == 0);
    CHECK(strcmp(nk_result_str(NK_E_NOT_RUNNING), "NK_E_NOT_RUNNING") == 0);
    CHECK(strcmp(nk_result_str(NK_E_TIMED_OUT), "NK_E_TIMED_OUT") == 0);
    CHECK(strcmp(nk_result_str((nk_result_t)999), "NK_E_UNKNOWN") == 0);
    CHECK(nk_last_error() != NULL);
}

static void test_region(nk_region_t* linux_guest, nk_region_t* rt) {
    nk_region_t* again = NULL;
    uint16_t id = 0;
    nk_attach_options_t options;
    int bad_fd = -1;

    CHECK(nk_region_guest_id(linux_guest) == 1);
    CHECK(nk_region_guest_id(rt) == 2);
    CHECK(nk_region_role(rt) == NK_ROLE_GUEST);
    CHECK(strlen(nk_region_platform(linux_guest)) > 0);
    CHECK(strcmp(nk_region_platform(linux_guest), nk_region_platform(rt)) == 0);
    CHECK_RESULT(nk_region_guest_by_name(rt, "mon", &id), NK_OK);
    CHECK(id == 3);
    CHECK_RESULT(nk_region_guest_by_name(rt, "nobody", &id), NK_E_NOT_FOUND);
    CHECK(strstr(nk_last_error(), "nobody") != NULL);

    /* A second nk_region_attach() gives a new handle to the same region. */
    CHECK_RESULT(nk_region_attach(&again), NK_OK);
    CHECK(nk_region_guest_id(again) == 1);
    nk_region_close(again);

    nk_attach_options_init(&options);
    options.guest_id = 2;
    CHECK_RESULT(nk_region_attach_fds(&bad_fd, 1, &options, &again), NK_E_INVALID);
    options.guest_id = 0;
    CHECK_RESULT(nk_region_attach_fds(&bad_fd, 1, &options, &again), NK_E_INVALID);
    options.role = (nk_role_t)99;
    CHECK_RESULT(nk_region_attach_fds(&bad_fd, 1, &options, &again), NK_E_INVALID);
    CHECK(strstr(nk_last_error(), "unknown role") != NULL);
    options.role = NK_ROLE_GUEST;
    options.struct_size = 0;
    CHECK_RESULT(nk_region_attach_fds(&bad_fd, 1, &options, &again), NK_E_INVALID);
    CHECK(strstr(nk_last_error(), "nk_attach_options_init") != NULL);
    /* Nobody serves this platform name (the run directory is the test's own, empty). */
    CHECK_RESULT(nk_region_attach_by_name("no-such-platform", NULL, &again), NK_E_INVALID);  /* guest, no id */
    nk_attach_options_init(&options);
    options.role = NK_ROLE_OBSERVER;
    CHECK_RESULT(nk_region_attach_by_name("no-such-platform", &options, &again), NK_E_NOT_RUNNING);
}

static void test_segments(nk_region_t* linux_guest, nk_region_t* rt) {
    nk_segment_t* made = NULL;
    nk_segment_t* seen = NULL;
    nk_segment_t* other = NULL;
    nk_segment_options_t options;

    nk_segment_options_init(&options);
    options.where = "rt";  /* the link linux-rt */
    CHECK_RESULT(nk_segment_create(linux_guest, "c.frame", 5000, &options, &made), NK_OK);
    CHECK(nk_segment_size(made) >= 5000);
    CHECK(nk_segment_writable(made) == 1);
    memcpy(nk_segment_data(made), "hello from C", 13);

    CHECK_RESULT(nk_segment_open(rt, "c.frame", NK_RIGHTS_READ, &seen), NK_OK);
    CHECK(nk_segment_writable(seen) == 0);
    CHECK(nk_segment_size(seen) == nk_segment_size(made));
    CHECK(memcmp(nk_segment_data(seen), "hello from C", 13) == 0);

    CHECK_RESULT(nk_segment_create(linux_guest, "c.frame", 4096, &options, &other), NK_E_EXISTS);
    CHECK_RESULT(nk_segment_create(rt, "secret.plan", 4096, NULL, &other), NK_E_ACCESS_DENIED);
    CHECK_RESULT(nk_segment_open(rt, "c.frame", (nk_rights_t)7, &other), NK_E_INVALID);
    CHECK_RESULT(nk_segment_create(linux_guest, "", 4096, NULL, &other), NK_E_INVALID);

    nk_segment_close(seen);
    nk_segment_close(made);
    CHECK_RESULT(nk_segment_remove(linux_guest, "c.frame"), NK_OK);
    CHECK_RESULT(nk_segment_open(rt, "c.frame", NK_RIGHTS_READ_WRITE, &other), NK_E_NOT_FOUND);
    CHECK_RESULT(nk_segment_remove(linux_guest, "c.frame"), NK_E_NOT_FOUND);
}

static void test_pnv(nk_region_t* rt) {
    nk_pnv_t* first = NULL;
    nk_pnv_t* second = NULL;
    uint64_t offset;

    CHECK_RESULT(nk_pnv_attach(rt, "c.state", 100, &first), NK_OK);
    CHECK(nk_pnv_fresh(first) == 1);
    CHECK(nk_pnv_size(first) >= 100);
    CHECK(((const unsigned char*)nk_pnv_data(first))[0] == 0);
    offset = nk_pnv_offset(first);
    CHECK(offset != 0);
    memcpy(nk_pnv_data(first), "kept", 5);
    nk_pnv_close(first);

    CHECK_RESULT(nk_pnv_attach(rt, "c.state", 100, &second), NK_OK);
    CHECK(nk_pnv_fresh(second) == 0);
    CHECK(nk_pnv_offset(second) == offset);
    CHECK(memcmp(nk_pnv_data(second), "kept", 5) == 0);
    nk_pnv_close(second);

    CHECK_RESULT(nk_pnv_free(rt, "c.state"), NK_OK);
    CHECK_RESULT(nk_pnv_attach(rt, "c.state", 100, &second), NK_OK);
    CHECK(nk_pnv_fresh(second) == 1);
    CHECK(((const unsigned char*)nk_pnv_data(second))[0] == 0);
    nk_pnv_close(second);
    CHECK_RESULT(nk_pnv_free(rt, "c.state"), NK_OK);
    CHECK_RESULT(nk_pnv_free(rt, "c.state"), NK_E_NOT_FOUND);
}

static void test_spsc(nk_region_t* linux_guest, nk_region_t* rt) {
    nk_spsc_t* tx = NULL;
    nk_spsc_t* rx = NULL;
    nk_spsc_t* other = NULL;
    nk_queue_options_t options;
    uint64_t item;
    uint32_t small = 0;

    nk_queue_options_init(&options);
    options.where = "rt";
    CHECK_RESULT(nk_spsc_create(linux_guest, "c.samples", sizeof item, 3, &options, &other), NK_E_INVALID);  /* not 2^n */
    CHECK_RESULT(nk_spsc_create(linux_guest, "c.samples", sizeof item, 4, &options, &tx), NK_OK);
    CHECK(nk_spsc_item_size(tx) == sizeof item);
    CHECK(nk_spsc_capacity(tx) == 4);
    for (item = 1; item <= 4; ++item) CHECK_RESULT(nk_spsc_try_push(tx, &item, sizeof item), NK_OK);
    CHECK_RESULT(nk_spsc_try_push(tx, &item, sizeof item), NK_E_FULL);
    CHECK_RESULT(nk_spsc_try_push(tx, &small, sizeof small), NK_E_INVALID);
    CHECK(nk_spsc_size_approx(tx) == 4);

    CHECK_RESULT(nk_spsc_open(rt, "c.samples", 16, &other), NK_E_SIZE_CONFLICT);
    CHECK_RESULT(nk_spsc_open(rt, "c.samples", sizeof item, &rx), NK_OK);
    for (uint64_t expected = 1; expected <= 4; ++expected) {
        item = 0;
        CHECK_RESULT(nk_spsc_try_pop(rx, &item, sizeof item), NK_OK);
        CHECK(item == expected);
    }
    CHECK_RESULT(nk_spsc_try_pop(rx, &item, sizeof item), NK_E_EMPTY);
    CHECK_RESULT(nk_spsc_try_pop(rx, &small, sizeof small), NK_E_INVALID);
    /* Round the ring several times: the indices wrap over the slots. */
    for (uint64_t i = 0; i < 20; ++i) {
        uint64_t out = 0;
        CHECK_RESULT(nk_spsc_try_push(tx, &i, sizeof i), NK_OK);
        CHECK_RESULT(nk_spsc_try_pop(rx, &out, sizeof out), NK_OK);
        CHECK(out == i);
    }
    nk_spsc_close(rx);
    nk_spsc_close(tx);
    CHECK_RESULT(nk_spsc_remove(linux_guest, "c.samples"), NK_OK);
    CHECK_RESULT(nk_spsc_open(rt, "c.samples", 0, &other), NK_E_NOT_FOUND);
}

static void test_mpmc(nk_region_t* linux_guest, nk_region_t* rt) {
    nk_mpmc_t* a = NULL;
    nk_mpmc_t* b = NULL;
    nk_mpmc_t* other = NULL;
    uint32_t job;
    uint64_t wrong = 0;

    CHECK_RESULT(nk_mpmc_create(linux_guest, "c.jobs", sizeof job, 1, NULL, &other), NK_E_INVALID);  /* < 2 */
    CHECK_RESULT(nk_mpmc_create(linux_guest, "c.jobs", sizeof job, 8, NULL, &a), NK_OK);  /* common area */
    CHECK_RESULT(nk_mpmc_open(rt, "c.jobs", sizeof job, &b), NK_OK);
    CHECK(nk_mpmc_capacity(b) == 8 && nk_mpmc_item_size(b) == sizeof job);
    for (job = 0; job < 8; ++job) CHECK_RESULT(nk_mpmc_try_push(job % 2 ? a : b, &job, sizeof job), NK_OK);
    CHECK_RESULT(nk_mpmc_try_push(a, &job, sizeof job), NK_E_FULL);
    CHECK_RESULT(nk_mpmc_try_push(a, &wrong, sizeof wrong), NK_E_INVALID);
    CHECK(nk_mpmc_size_approx(a) == 8);
    for (uint32_t expected = 0; expected < 8; ++expected) {
        CHECK_RESULT(nk_mpmc_try_pop(expected % 3 ? a : b, &job, sizeof job), NK_OK);
        CHECK(job == expected);
    }
    CHECK_RESULT(nk_mpmc_try_pop(b, &job, sizeof job), NK_E_EMPTY);
    nk_mpmc_close(a);
    nk_mpmc_close(b);
    CHECK_RESULT(nk_mpmc_remove(rt, "c.jobs"), NK_E_ACCESS_DENIED);  /* linux owns it */
    CHECK_RESULT(nk_mpmc_remove(linux_guest, "c.jobs"), NK_OK);
}

/* One nk_mpmc_t used by several threads at once: every item arrives exactly once. */
enum { kThreads = 2, kItemsPerThread = 20000 };

struct mpmc_worker {
    nk_mpmc_t* queue;
    uint32_t first;      /* producers: the first item they push */
    uint64_t sum;        /* consumers: the sum of what they popped */
    uint32_t popped;
    int failed;
};

static void* mpmc_produce(void* arg) {
    struct mpmc_worker* w = (struct mpmc_worker*)arg;
    for (uint32_t i = 0; i < kItemsPerThread; ++i) {
        const uint32_t item = w->first + i;
        nk_result_t r;
        while ((r = nk_mpmc_try_push(w->queue, &item, sizeof item)) == NK_E_FULL) sched_yield();
        if (r != NK_OK) w->failed = 1;
    }
    return NULL;
}

static void* mpmc_consume(void* arg) {
    struct mpmc_worker* w = (struct mpmc_worker*)arg;
    while (w->popped < kItemsPerThread) {
        uint32_t item = 0;
        const nk_result_t r = nk_mpmc_try_pop(w->queue, &item, sizeof item);
        if (r == NK_E_EMPTY) {
            sched_yield();
            continue;
        }
        if (r != NK_OK) {
            w->failed = 1;
            break;
        }
        w->sum += item;
        ++w->popped;
    }
    return NULL;
}

static void test_mpmc_threads(nk_region_t* linux_guest) {
    nk_mpmc_t* queue = NULL;
    struct mpmc_worker producers[kThreads], consumers[kThreads];
    pthread_t threads[2 * kThreads];
    uint64_t total = 0;
    const uint64_t n = (uint64_t)kThreads * kItemsPerThread;

    CHECK_RESULT(nk_mpmc_create(linux_guest, "c.busy", sizeof(uint32_t), 64, NULL, &queue), NK_OK);
    if (queue == NULL) return;
    for (int i = 0; i < kThreads; ++i) {
        memset(&producers[i], 0, sizeof producers[i]);
        memset(&consumers[i], 0, sizeof consumers[i]);
        producers[i].queue = consumers[i].queue = queue;
        producers[i].first = (uint32_t)i * kItemsPerThread;
        CHECK(pthread_create(&threads[i], NULL, mpmc_consume, &consumers[i]) == 0);
        CHECK(pthread_create(&threads[kThreads + i], NULL, mpmc_produce, &producers[i]) == 0);
    }
    for (int i = 0; i < 2 * kThreads; ++i) CHECK(pthread_join(threads[i], NULL) == 0);
    for (int i = 0; i < kThreads; ++i) {
        CHECK(!producers[i].failed && !consumers[i].failed);
        total += consumers[i].sum;
    }
    CHECK(total == n * (n - 1) / 2);  /* 0 + 1 + ... + n-1: each item once */
    nk_mpmc_close(queue);
    CHECK_RESULT(nk_mpmc_remove(linux_guest, "c.busy"), NK_OK);
}

/* nk_last_error() is per thread: another thread's failure leaves this thread's message alone. */
static void* fail_elsewhere(void* arg) {
    nk_region_t* region = (nk_region_t*)arg;
    uint16_t id = 0;
    (void)nk_region_guest_by_name(region, "someone-else", &id);
    return strstr(nk_last_error(), "someone-else") != NULL ? region : NULL;
}

static void test_last_error_per_thread(nk_region_t* region) {
    uint16_t id = 0;
    pthread_t thread;
    void* seen = NULL;

    CHECK_RESULT(nk_region_guest_by_name(region, "this-thread", &id), NK_E_NOT_FOUND);
    CHECK(pthread_create(&thread, NULL, fail_elsewhere, region) == 0);
    CHECK(pthread_join(thread, &seen) == 0);
    CHECK(seen == region);  /* the other thread saw its own message */
    CHECK(strstr(nk_last_error(), "this-thread") != NULL);
}

static void test_msgring(nk_region_t* linux_guest, nk_region_t* rt) {
    nk_msgring_t* writer = NULL;
    nk_msgring_t* reader = NULL;
    nk_msgring_options_t options;
    char buffer[256];
    char tiny[4];
    size_t length = 0;
    int written = 0;

    nk_msgring_options_init(&options);
    options.capacity = 1024;
    options.max_record_size = 200;
    options.where = "linux";  /* from rt: the same link */
    CHECK_RESULT(nk_msgring_create(rt, "c.log", &options, &writer), NK_OK);
    CHECK(nk_msgring_max_record_size(writer) == 200);
    CHECK_RESULT(nk_msgring_open(linux_guest, "c.log", &reader), NK_OK);
    CHECK_RESULT(nk_msgring_try_read(reader, buffer, sizeof buffer, &length), NK_E_EMPTY);

    CHECK_RESULT(nk_msgring_try_write(writer, "first", 5), NK_OK);
    CHECK_RESULT(nk_msgring_try_write(writer, NULL, 0), NK_OK);
    CHECK_RESULT(nk_msgring_try_write(writer, buffer, 201), NK_E_TOO_LARGE);
    CHECK(strstr(nk_last_error(), "201") != NULL);

    CHECK_RESULT(nk_msgring_try_read(reader, tiny, sizeof tiny, &length), NK_E_BUFFER_TOO_SMALL);
    CHECK(length == 5);
    CHECK_RESULT(nk_msgring_try_read(reader, buffer, sizeof buffer, &length), NK_OK);
    CHECK(length == 5 && memcmp(buffer, "first", 5) == 0);
    CHECK_RESULT(nk_msgring_try_read(reader, buffer, sizeof buffer, &length), NK_OK);
    CHECK(length == 0);

    /* Fill it: back-pressure, then everything written comes out in order. */
    for (;;) {
        char record[100];
        nk_result_t r;
        memset(record, 'a' + written % 26, sizeof record);
        r = nk_msgring_try_write(writer, record, sizeof record);
        if (r == NK_E_FULL) break;
        CHECK_RESULT(r, NK_OK);
        if (r != NK_OK || ++written > 100) break;
    }
    CHECK(written > 2 && written < 11);
    for (int i = 0; i < written; ++i) {
        CHECK_RESULT(nk_msgring_try_read(reader, buffer, sizeof buffer, &length), NK_OK);
        CHECK(length == 100 && buffer[0] == 'a' + i % 26 && buffer[99] == 'a' + i % 26);
    }
    CHECK_RESULT(nk_msgring_try_read(reader, buffer, sizeof buffer, &length), NK_E_EMPTY);
    nk_msgring_close(reader);
    nk_msgring_close(writer);
    CHECK_RESULT(nk_msgring_remove(rt, "c.log"), NK_OK);
}

struct waiter {
    nk_event_t* event;
    nk_result_t result;
};

static void* wait_forever(void* arg) {
    struct waiter* w = (struct waiter*)arg;
    w->result = nk_event_wait(w->event);
    return NULL;
}

static void test_events(nk_region_t* linux_guest, nk_region_t* rt) {
    nk_event_t* tx = NULL;
    nk_event_t* rx = NULL;
    nk_event_t* manual = NULL;
    nk_event_t* other = NULL;
    nk_event_options_t options;
    struct waiter w;
    pthread_t thread;

    nk_event_options_init(&options);
    CHECK(options.mode == NK_EVENT_AUTO_RESET && options.spin_ns == 20 * NK_MICROSECOND);
    options.where = "rt";
    CHECK_RESULT(nk_event_create(linux_guest, "c.ready", &options, &tx), NK_OK);
    CHECK_RESULT(nk_event_open(rt, "c.ready", &rx), NK_OK);

    CHECK_RESULT(nk_event_wait_for(rx, 2 * NK_MILLISECOND), NK_E_TIMED_OUT);
    CHECK_RESULT(nk_event_signal(tx), NK_OK);
    CHECK_RESULT(nk_event_wait_for(rx, 0), NK_OK);  /* the signal waited for us */
    CHECK_RESULT(nk_event_wait_for(rx, NK_MILLISECOND), NK_E_TIMED_OUT);  /* and was consumed */
    CHECK_RESULT(nk_event_signal(tx), NK_OK);
    CHECK_RESULT(nk_event_poll_for(rx, NK_MILLISECOND), NK_OK);
    CHECK_RESULT(nk_event_poll_for(rx, NK_MILLISECOND), NK_E_TIMED_OUT);
    CHECK_RESULT(nk_event_signal(tx), NK_OK);
    CHECK_RESULT(nk_event_reset(rx), NK_OK);  /* a pending signal is cleared */
    CHECK_RESULT(nk_event_wait_for(rx, NK_MILLISECOND), NK_E_TIMED_OUT);
    CHECK_RESULT(nk_event_broadcast(tx), NK_OK);  /* nobody waits: nothing is left set */
    CHECK_RESULT(nk_event_wait_for(rx, NK_MILLISECOND), NK_E_TIMED_OUT);

    /* nk_event_wait() without a deadline, woken from another thread. */
    w.event = rx;
    w.result = NK_E_INTERNAL;
    CHECK(pthread_create(&thread, NULL, wait_forever, &w) == 0);
    CHECK_RESULT(nk_event_signal(tx), NK_OK);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK_RESULT(w.result, NK_OK);

    options.mode = NK_EVENT_MANUAL_RESET;
    options.spin_ns = 0;
    options.where = "linux";  /* from rt: the same link */
    CHECK_RESULT(nk_event_create(rt, "c.gate", &options, &manual), NK_OK);
    CHECK_RESULT(nk_event_signal(manual), NK_OK);
    CHECK_RESULT(nk_event_wait_for(manual, 0), NK_OK);
    CHECK_RESULT(nk_event_wait(manual), NK_OK);  /* stays set */
    CHECK_RESULT(nk_event_reset(manual), NK_OK);
    CHECK_RESULT(nk_event_wait_for(manual, NK_MILLISECOND), NK_E_TIMED_OUT);

    options.spin_ns = 11 * NK_MILLISECOND;
    CHECK_RESULT(nk_event_create(rt, "c.slow", &options, &other), NK_E_INVALID);
    options.spin_ns = 0;
    options.mode = (nk_event_mode_t)9;
    CHECK_RESULT(nk_event_create(rt, "c.odd", &options, &other), NK_E_INVALID);

    nk_event_close(manual);
    nk_event_close(rx);
    nk_event_close(tx);
    CHECK_RESULT(nk_event_remove(rt, "c.gate"), NK_OK);
    CHECK_RESULT(nk_event_remove(linux_guest, "c.ready"), NK_OK);
    CHECK_RESULT(nk_event_open(rt, "c.ready", &other), NK_E_NOT_FOUND);
}

static void test_ports(nk_region_t* linux_guest, nk_region_t* rt) {
    nk_port_t* inbox = NULL;
    nk_port_sender_t* out = NULL;
    nk_port_sender_t* other = NULL;
    nk_port_options_t options;
    char buffer[128];
    char message[64];
    char tiny[2];
    size_t length = 0;
    int sent = 0;

    nk_port_options_init(&options);
    CHECK(options.capacity == 65536 && options.max_message == 4096);
    options.capacity = 4096;
    options.max_message = 64;
    options.where = "linux";
    CHECK_RESULT(nk_port_create(rt, "c.commands", &options, &inbox), NK_OK);
    CHECK(nk_port_max_message(inbox) == 64);
    CHECK_RESULT(nk_port_sender_open(linux_guest, "c.commands", &out), NK_OK);
    CHECK_RESULT(nk_port_sender_open(linux_guest, "c.nothing", &other), NK_E_NOT_FOUND);

    CHECK_RESULT(nk_port_try_receive(inbox, buffer, sizeof buffer, &length), NK_E_EMPTY);
    CHECK_RESULT(nk_port_receive(inbox, buffer, sizeof buffer, &length, NK_MILLISECOND), NK_E_TIMED_OUT);

    CHECK_RESULT(nk_port_try_send(out, "start", 5), NK_OK);
    CHECK_RESULT(nk_port_send(out, "stop", 4, 10 * NK_MILLISECOND), NK_OK);
    CHECK_RESULT(nk_port_try_send(out, buffer, 65), NK_E_TOO_LARGE);
    CHECK_RESULT(nk_port_send(out, buffer, 100, NK_MILLISECOND), NK_E_TOO_LARGE);
    CHECK(strstr(nk_last_error(), "100 bytes") != NULL);

    CHECK_RESULT(nk_port_receive(inbox, tiny, sizeof tiny, &length, NK_SECOND), NK_E_BUFFER_TOO_SMALL);
    CHECK_RESULT(nk_port_receive(inbox, buffer, sizeof buffer, &length, NK_FOREVER), NK_OK);
    CHECK(length == 5 && memcmp(buffer, "start", 5) == 0);
    CHECK_RESULT(nk_port_try_receive(inbox, buffer, sizeof buffer, &length), NK_OK);
    CHECK(length == 4 && memcmp(buffer, "stop", 4) == 0);

    /* Back-pressure: try_send says full, send times out, a receive makes room. */
    memset(message, 'm', sizeof message);
    for (;;) {
        const nk_result_t r = nk_port_try_send(out, message, sizeof message);
        if (r == NK_E_FULL) break;
        CHECK_RESULT(r, NK_OK);
        if (r != NK_OK || ++sent > 1000) break;
    }
    CHECK(sent > 10 && sent < 64);
    CHECK_RESULT(nk_port_send(out, message, sizeof message, NK_MILLISECOND), NK_E_TIMED_OUT);
    CHECK_RESULT(nk_port_try_receive(inbox, buffer, sizeof buffer, &length), NK_OK);
    CHECK_RESULT(nk_port_send(out, message, sizeof message, NK_SECOND), NK_OK);
    for (int i = 0; i < sent; ++i) CHECK_RESULT(nk_port_try_receive(inbox, buffer, sizeof buffer, &length), NK_OK);
    CHECK_RESULT(nk_port_try_receive(inbox, buffer, sizeof buffer, &length), NK_E_EMPTY);

    nk_port_sender_close(out);
    nk_port_close(inbox);
    CHECK_RESULT(nk_port_remove(linux_guest, "c.commands"), NK_E_ACCESS_DENIED);  /* rt owns it */
    CHECK_RESULT(nk_port_remove(rt, "c.commands"), NK_OK);
    CHECK_RESULT(nk_port_sender_open(linux_guest, "c.commands", &other), NK_E_NOT_FOUND);
}

/* Every function given NULL handles or pointers: NK_E_INVALID or a harmless value, no crash. */
static void test_bad_input(nk_region_t* region) {
    nk_segment_t* segment = NULL;
    nk_spsc_t* spsc = NULL;
    nk_event_t* event = NULL;
    nk_port_t* port = NULL;
    nk_msgring_t* msgring = NULL;
    nk_segment_options_t segment_options;
    nk_queue_options_t queue_options;
    nk_event_options_t event_options;
    nk_port_options_t port_options;
    nk_msgring_options_t msgring_options;
    char byte = 0;
    size_t length = 0;
    uint16_t id = 0;

    CHECK_RESULT(nk_region_attach(NULL), NK_E_INVALID);
    CHECK_RESULT(nk_region_attach_fds(NULL, 0, NULL, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_region_attach_by_name(NULL, NULL, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_region_guest_by_name(NULL, "rt", &id), NK_E_INVALID);
    CHECK(nk_region_guest_id(NULL) == 0);
    CHECK(strcmp(nk_region_platform(NULL), "") == 0);
    nk_region_close(NULL);

    CHECK_RESULT(nk_segment_create(NULL, "x", 1, NULL, &segment), NK_E_INVALID);
    CHECK_RESULT(nk_segment_create(region, NULL, 1, NULL, &segment), NK_E_INVALID);
    CHECK_RESULT(nk_segment_create(region, "x", 1, NULL, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_segment_open(NULL, "x", NK_RIGHTS_READ, &segment), NK_E_INVALID);
    CHECK_RESULT(nk_segment_remove(region, NULL), NK_E_INVALID);
    CHECK(nk_segment_data(NULL) == NULL && nk_segment_size(NULL) == 0 && nk_segment_writable(NULL) == 0);
    nk_segment_close(NULL);

    CHECK_RESULT(nk_pnv_attach(region, NULL, 1, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_pnv_free(NULL, "x"), NK_E_INVALID);
    CHECK(nk_pnv_data(NULL) == NULL && nk_pnv_size(NULL) == 0 && nk_pnv_fresh(NULL) == 0 && nk_pnv_offset(NULL) == 0);
    nk_pnv_close(NULL);

    CHECK_RESULT(nk_spsc_create(region, "x", 1, 2, NULL, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_spsc_open(NULL, "x", 0, &spsc), NK_E_INVALID);
    CHECK_RESULT(nk_spsc_try_push(NULL, &byte, 1), NK_E_INVALID);
    CHECK_RESULT(nk_spsc_try_pop(NULL, &byte, 1), NK_E_INVALID);
    CHECK_RESULT(nk_spsc_remove(NULL, "x"), NK_E_INVALID);
    CHECK(nk_spsc_item_size(NULL) == 0 && nk_spsc_capacity(NULL) == 0 && nk_spsc_size_approx(NULL) == 0);
    nk_spsc_close(NULL);

    CHECK_RESULT(nk_mpmc_create(NULL, "x", 1, 2, NULL, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_mpmc_open(region, NULL, 0, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_mpmc_try_push(NULL, &byte, 1), NK_E_INVALID);
    CHECK_RESULT(nk_mpmc_try_pop(NULL, &byte, 1), NK_E_INVALID);
    CHECK_RESULT(nk_mpmc_remove(region, NULL), NK_E_INVALID);
    CHECK(nk_mpmc_item_size(NULL) == 0 && nk_mpmc_capacity(NULL) == 0 && nk_mpmc_size_approx(NULL) == 0);
    nk_mpmc_close(NULL);

    CHECK_RESULT(nk_msgring_create(NULL, "x", NULL, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_msgring_open(region, NULL, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_msgring_try_write(NULL, &byte, 1), NK_E_INVALID);
    CHECK_RESULT(nk_msgring_try_read(NULL, &byte, 1, &length), NK_E_INVALID);
    CHECK_RESULT(nk_msgring_remove(NULL, "x"), NK_E_INVALID);
    CHECK(nk_msgring_max_record_size(NULL) == 0);
    nk_msgring_close(NULL);

    CHECK_RESULT(nk_event_create(region, NULL, NULL, &event), NK_E_INVALID);
    CHECK_RESULT(nk_event_open(NULL, "x", &event), NK_E_INVALID);
    CHECK_RESULT(nk_event_wait(NULL), NK_E_INVALID);
    CHECK_RESULT(nk_event_wait_for(NULL, 0), NK_E_INVALID);
    CHECK_RESULT(nk_event_poll_for(NULL, 0), NK_E_INVALID);
    CHECK_RESULT(nk_event_signal(NULL), NK_E_INVALID);
    CHECK_RESULT(nk_event_broadcast(NULL), NK_E_INVALID);
    CHECK_RESULT(nk_event_reset(NULL), NK_E_INVALID);
    CHECK_RESULT(nk_event_remove(NULL, "x"), NK_E_INVALID);
    nk_event_close(NULL);

    CHECK_RESULT(nk_port_create(region, "x", NULL, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_port_receive(NULL, &byte, 1, &length, 0), NK_E_INVALID);
    CHECK_RESULT(nk_port_try_receive(NULL, &byte, 1, &length), NK_E_INVALID);
    CHECK_RESULT(nk_port_remove(NULL, "x"), NK_E_INVALID);
    CHECK_RESULT(nk_port_sender_open(region, NULL, NULL), NK_E_INVALID);
    CHECK_RESULT(nk_port_try_send(NULL, &byte, 1), NK_E_INVALID);
    CHECK_RESULT(nk_port_send(NULL, &byte, 1, 0), NK_E_INVALID);
    CHECK(nk_port_max_message(NULL) == 0);
    nk_port_close(NULL);
    nk_port_sender_close(NULL);

    /* Option structs that their _init() did not fill. */
    memset(&segment_options, 0, sizeof segment_options);
    memset(&queue_options, 0, sizeof queue_options);
    memset(&event_options, 0, sizeof event_options);
    memset(&port_options, 0, sizeof port_options);
    memset(&msgring_options, 0, sizeof msgring_options);
    CHECK_RESULT(nk_segment_create(region, "x", 1, &segment_options, &segment), NK_E_INVALID);
    CHECK_RESULT(nk_spsc_create(region, "x", 1, 2, &queue_options, &spsc), NK_E_INVALID);
    CHECK_RESULT(nk_event_create(region, "x", &event_options, &event), NK_E_INVALID);
    CHECK_RESULT(nk_port_create(region, "x", &port_options, &port), NK_E_INVALID);
    CHECK_RESULT(nk_msgring_create(region, "x", &msgring_options, &msgring), NK_E_INVALID);
    CHECK(strstr(nk_last_error(), "_init") != NULL);
    nk_segment_options_init(NULL);
    nk_queue_options_init(NULL);
    nk_event_options_init(NULL);
    nk_port_options_init(NULL);
    nk_msgring_options_init(NULL);
    nk_attach_options_init(NULL);
}

/* A handle outlives the region handle it came from: the mapping stays. */
static void test_handle_outlives_region(const int* fds, size_t count) {
    nk_region_t* region = NULL;
    nk_segment_t* segment = NULL;
    nk_attach_options_t options;

    nk_attach_options_init(&options);
    options.guest_id = 2;
    CHECK_RESULT(nk_region_attach_fds(fds, count, &options, &region), NK_OK);
    CHECK_RESULT(nk_segment_create(region, "c.outlives", 4096, NULL, &segment), NK_OK);
    CHECK_RESULT(nk_segment_remove(region, "c.outlives"), NK_OK);
    nk_region_close(region);
    memset(nk_segment_data(segment), 0x5a, nk_segment_size(segment));  /* still mapped */
    CHECK(((const unsigned char*)nk_segment_data(segment))[4095] == 0x5a);
    nk_segment_close(segment);
}

int main(void) {
    nk_region_t* linux_guest = NULL;
    nk_region_t* rt = NULL;
    nk_attach_options_t options;
    int rt_fds[16];
    const size_t rt_count = parse_fds(getenv("NK_C_TEST_RT_FDS"), rt_fds, 16);

    if (nk_region_attach(&linux_guest) != NK_OK) {
        fprintf(stderr, "c_api_test: nk_region_attach: %s\n", nk_last_error());
        return 1;
    }
    nk_attach_options_init(&options);
    options.guest_id = 2;
    if (nk_region_attach_fds(rt_fds, rt_count, &options, &rt) != NK_OK) {
        fprintf(stderr, "c_api_test: nk_region_attach_fds (rt, %zu descriptors): %s\n", rt_count, nk_last_error());
        return 1;
    }

    test_results();
    test_region(linux_guest, rt);
    test_segments(linux_guest, rt);
    test_pnv(rt);
    test_spsc(linux_guest, rt);
    test_mpmc(linux_guest, rt);
    test_mpmc_threads(linux_guest);
    test_msgring(linux_guest, rt);
    test_events(linux_guest, rt);
    test_ports(linux_guest, rt);
    test_bad_input(rt);
    test_last_error_per_thread(rt);
    test_handle_outlives_region(rt_fds, rt_count);

    nk_region_close(rt);
    nk_region_close(linux_guest);
    printf("c_api_test: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
