/* A producer and a consumer in C over an nk port (nk/nk.h, linked with nk::c only).
 *
 * The consumer owns the port and receives; the producer, in another guest, sends readings to
 * it. Each runs as a guest process (started by nkd, or by `nkctl exec GUEST --`), so
 * nk_region_attach() finds its region:
 *
 *   nkctl exec rt -- nk_example_c_port_pair receive linux     # port "c.readings" in link(rt, linux)
 *   nkctl exec linux -- nk_example_c_port_pair send 100        # 100 readings, then "end"
 *
 * The receiver prints each reading and exits 0 after "end", or 1 when nothing arrives for 5 s.
 * The sender waits up to 1 s for room per message (back-pressure) and exits 1 if the receiver's
 * guest is down (NK_E_NOT_RUNNING).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nk/nk.h"

#define PORT_NAME "c.readings"

struct reading {
    uint32_t sequence;
    int32_t millidegrees;
};

static int fail(const char* what, nk_result_t result) {
    fprintf(stderr, "nk_example_c_port_pair: %s: %s (%s)\n", what, nk_last_error(), nk_result_str(result));
    return 1;
}

static int receive_readings(nk_region_t* region, const char* peer) {
    nk_port_options_t options;
    nk_port_t* port = NULL;
    nk_result_t r;
    unsigned long count = 0;

    nk_port_options_init(&options);
    options.capacity = 16 * 1024;
    options.max_message = 64;
    options.where = peer;
    r = nk_port_create(region, PORT_NAME, &options, &port);
    if (r != NK_OK) return fail("create port " PORT_NAME, r);
    printf("receiving on %s\n", PORT_NAME);
    fflush(stdout);
    for (;;) {
        char message[64];
        size_t length = 0;
        struct reading reading;
        r = nk_port_receive(port, message, sizeof message, &length, 5 * NK_SECOND);
        if (r == NK_E_TIMED_OUT) {
            fprintf(stderr, "nk_example_c_port_pair: nothing for 5 s after %lu readings\n", count);
            break;
        }
        if (r != NK_OK) {
            fail("receive", r);
            break;
        }
        if (length == 3 && memcmp(message, "end", 3) == 0) {
            printf("end after %lu readings\n", count);
            nk_port_close(port);
            (void)nk_port_remove(region, PORT_NAME);
            return 0;
        }
        if (length != sizeof reading) {
            fprintf(stderr, "nk_example_c_port_pair: a message of %zu bytes is not a reading\n", length);
            continue;
        }
        memcpy(&reading, message, sizeof reading);
        printf("reading %" PRIu32 ": %.3f C\n", reading.sequence, reading.millidegrees / 1000.0);
        ++count;
    }
    nk_port_close(port);
    (void)nk_port_remove(region, PORT_NAME);
    return 1;
}

static int send_readings(nk_region_t* region, unsigned long count) {
    nk_port_sender_t* sender = NULL;
    nk_result_t r = nk_port_sender_open(region, PORT_NAME, &sender);
    if (r != NK_OK) return fail("open port " PORT_NAME " (is the receiver running?)", r);
    for (unsigned long i = 0; i < count; ++i) {
        struct reading reading;
        reading.sequence = (uint32_t)i;
        reading.millidegrees = 21000 + (int32_t)(i % 100) * 10;
        r = nk_port_send(sender, &reading, sizeof reading, NK_SECOND);
        if (r != NK_OK) {
            nk_port_sender_close(sender);
            return fail("send", r);
        }
    }
    r = nk_port_send(sender, "end", 3, NK_SECOND);
    nk_port_sender_close(sender);
    if (r != NK_OK) return fail("send end", r);
    printf("sent %lu readings\n", count);
    return 0;
}

int main(int argc, char** argv) {
    nk_region_t* region = NULL;
    nk_result_t r;
    int status;

    if (argc != 3 || (strcmp(argv[1], "receive") != 0 && strcmp(argv[1], "send") != 0)) {
        fprintf(stderr, "usage: nk_example_c_port_pair receive PEER-GUEST | send COUNT\n");
        return 2;
    }
    r = nk_region_attach(&region);
    if (r != NK_OK) return fail("attach", r);
    if (strcmp(argv[1], "receive") == 0) status = receive_readings(region, argv[2]);
    else status = send_readings(region, strtoul(argv[2], NULL, 10));
    nk_region_close(region);
    return status;
}
