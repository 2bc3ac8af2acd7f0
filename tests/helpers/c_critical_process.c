/* A critical process written in C on nk.h's NK_1.1 functions, run as a linux guest's service by
 * the watchdog tests:
 *
 *   nk_test_c_critical PERIOD_MS
 *
 * registers with the guest's nk-watchdog as "c-critical" with that deadline and kicks three
 * times a period until it is killed (or stopped: then the watchdog must find the guest unhealthy).
 * SIGTERM unregisters (STOPPING=1) and exits 0. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nk/nk.h"

static volatile sig_atomic_t stop_requested = 0;

static void request_stop(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && !stop_requested) {
    }
}

int main(int argc, char** argv) {
    const long period_ms = argc > 1 ? atol(argv[1]) : 0;
    if (period_ms < 3) {
        fprintf(stderr, "usage: nk_test_c_critical PERIOD_MS (3 or more)\n");
        return 2;
    }
    struct sigaction action = {0};
    action.sa_handler = request_stop;
    sigaction(SIGTERM, &action, NULL);
    /* The guest's watchdog is a service started just before this one: it may not listen yet. */
    nk_result_t registered = NK_E_SYSTEM;
    for (int attempt = 0; attempt < 200 && registered != NK_OK; ++attempt) {
        registered = nk_watchdog_register_critical((uint64_t)period_ms * NK_MILLISECOND, "c-critical");
        if (registered == NK_E_SYSTEM) sleep_ms(10);
        else if (registered != NK_OK) break;
    }
    if (registered != NK_OK) {
        fprintf(stderr, "nk_test_c_critical: %s: %s\n", nk_result_str(registered), nk_last_error());
        return 1;
    }
    printf("registered\n");
    fflush(stdout);
    while (!stop_requested) {
        sleep_ms(period_ms / 3);
        (void)nk_watchdog_kick();
    }
    return nk_watchdog_stopping() == NK_OK ? 0 : 1;
}
