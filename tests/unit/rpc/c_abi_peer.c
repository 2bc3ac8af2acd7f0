/* A C program on nk's C ABI (nk/nk_rpc.h), driven by rpc_test.cpp:
 *   nk_rpc_c_peer serve PORT                  serves /c.Text/Upper and /c.Text/Refuse, prints "ready"
 *   nk_rpc_c_peer call PORT METHOD TEXT       prints "<STATUS> <response or error>" */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nk/nk_rpc.h"

static nk_rpc_status upper(void* user, const void* request, size_t request_size, void* response,
                            size_t response_capacity, size_t* response_size) {
    (void)user;
    if (request_size > response_capacity) return NK_RPC_RESOURCE_EXHAUSTED;
    const unsigned char* in = request;
    unsigned char* out = response;
    for (size_t i = 0; i < request_size; ++i) out[i] = (unsigned char)toupper(in[i]);
    *response_size = request_size;
    return NK_RPC_OK;
}

static nk_rpc_status refuse(void* user, const void* request, size_t request_size, void* response,
                             size_t response_capacity, size_t* response_size) {
    (void)user, (void)request, (void)request_size, (void)response, (void)response_capacity, (void)response_size;
    return NK_RPC_PERMISSION_DENIED;
}

int main(int argc, char** argv) {
    char error[256] = "";
    if (argc == 3 && strcmp(argv[1], "serve") == 0) {
        nk_rpc_server_options options;
        nk_rpc_server_options_init(&options);
        options.threads = 2;
        nk_rpc_server* server = NULL;
        if (nk_rpc_server_create(argv[2], &options, &server, error, sizeof error) != NK_RPC_OK ||
            nk_rpc_server_add_method(server, "/c.Text/Upper", upper, NULL, error, sizeof error) != NK_RPC_OK ||
            nk_rpc_server_add_method(server, "/c.Text/Refuse", refuse, NULL, error, sizeof error) != NK_RPC_OK ||
            nk_rpc_server_start(server, error, sizeof error) != NK_RPC_OK) {
            fprintf(stderr, "nk_rpc_c_peer: %s\n", error);
            return 1;
        }
        printf("ready\n");
        fflush(stdout);
        for (;;) pause(); /* until killed */
    }
    if (argc == 5 && strcmp(argv[1], "call") == 0) {
        nk_rpc_channel* channel = NULL;
        if (nk_rpc_channel_open(argv[2], NULL, &channel, error, sizeof error) != NK_RPC_OK) {
            printf("open failed: %s\n", error);
            return 1;
        }
        char response[64];
        size_t size = 0;
        const nk_rpc_status code = nk_rpc_call(channel, argv[3], argv[4], strlen(argv[4]), response, sizeof response,
                                                &size, 2000000000, error, sizeof error);
        if (code == NK_RPC_OK) printf("%s %.*s\n", nk_rpc_status_name(code), (int)size, response);
        else printf("%s %s\n", nk_rpc_status_name(code), error);
        nk_rpc_channel_close(channel);
        return 0;
    }
    fprintf(stderr, "usage: nk_rpc_c_peer serve PORT | call PORT METHOD TEXT\n");
    return 2;
}
