/* A C program on nk's C ABI (nk/nk_rpc.h), driven by rpc_test.cpp:
 *   nk_rpc_c_peer serve PORT                  serves /c.Text/Upper, /c.Text/Refuse and the stream
 *                                             /c.Text/Spell, prints "ready"
 *   nk_rpc_c_peer call PORT METHOD TEXT       prints "<STATUS> <response or error>"
 *   nk_rpc_c_peer stream PORT METHOD TEXT CAP reads a server stream into a CAP-byte buffer: one line
 *                                             per message, then "END <STATUS> <error>"
 *   nk_rpc_c_peer upload PORT METHOD WORD...  a client stream of the WORDs, prints "<STATUS> <reply or error>"
 *   nk_rpc_c_peer chat PORT METHOD CAP WORD... a bidi stream: writes each WORD and reads one answer into
 *                                             a CAP-byte buffer (a line each; "TOO-BIG <size>" when it
 *                                             did not fit, then read again with room), then
 *                                             "END <STATUS> <error>"
 *   The server's /c.Text/Join joins a client stream's words with '+' (RESOURCE_EXHAUSTED past 64
 *   bytes; "deny" -> PERMISSION_DENIED); /c.Text/Shout answers each word of a bidi stream in upper
 *   case ("twice" -> the word twice in one message, "stop" -> ends with ABORTED). */
#include <stdlib.h>
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

/* One message per letter of the request; a request that starts with "deny" ends the stream with
 * PERMISSION_DENIED after its first letter, one of "long" sends a 100-byte message first. */
static nk_rpc_status spell(void* user, const void* request, size_t request_size, nk_rpc_writer* writer) {
    (void)user;
    const char* text = request;
    if (request_size >= 4 && memcmp(text, "long", 4) == 0) {
        char big[100];
        memset(big, 'L', sizeof big);
        nk_rpc_status sent = nk_rpc_writer_write(writer, big, sizeof big);
        if (sent != NK_RPC_OK) return sent;
    }
    for (size_t i = 0; i < request_size; ++i) {
        nk_rpc_status sent = nk_rpc_writer_write(writer, text + i, 1);
        if (sent != NK_RPC_OK) return sent;
        if (request_size >= 4 && memcmp(text, "deny", 4) == 0) return NK_RPC_PERMISSION_DENIED;
    }
    return NK_RPC_OK;
}

static nk_rpc_status join(void* user, nk_rpc_server_stream* stream, void* response, size_t response_capacity,
                          size_t* response_size) {
    (void)user;
    char* out = response;
    size_t used = 0;
    char word[32];
    size_t size = 0;
    int more = 1;
    nk_rpc_status code;
    while ((code = nk_rpc_server_stream_read(stream, word, sizeof word, &size, &more)) == NK_RPC_OK && more) {
        if (size == 4 && memcmp(word, "deny", 4) == 0) return NK_RPC_PERMISSION_DENIED;
        if (used + size + 1 > 64 || used + size + 1 > response_capacity) return NK_RPC_RESOURCE_EXHAUSTED;
        if (used > 0) out[used++] = '+';
        memcpy(out + used, word, size);
        used += size;
    }
    if (code != NK_RPC_OK) return code;
    *response_size = used;
    return NK_RPC_OK;
}

static nk_rpc_status shout(void* user, nk_rpc_server_stream* stream) {
    (void)user;
    char word[32];
    size_t size = 0;
    int more = 1;
    nk_rpc_status code;
    while ((code = nk_rpc_server_stream_read(stream, word, sizeof word, &size, &more)) == NK_RPC_OK && more) {
        if (size == 4 && memcmp(word, "stop", 4) == 0) return NK_RPC_ABORTED;
        char answer[64];
        size_t length = size;
        for (size_t i = 0; i < size; ++i) answer[i] = (char)toupper((unsigned char)word[i]);
        if (size == 5 && memcmp(word, "twice", 5) == 0) {
            memcpy(answer + size, answer, size);
            length = 2 * size;
        }
        if ((code = nk_rpc_server_stream_write(stream, answer, length)) != NK_RPC_OK) return code;
    }
    return code;
}

/* Opens the channel to `port`, or prints why it could not and returns NULL. */
static nk_rpc_channel* open_channel(const char* port) {
    char error[256] = "";
    nk_rpc_channel* channel = NULL;
    if (nk_rpc_channel_open(port, NULL, &channel, error, sizeof error) != NK_RPC_OK) {
        printf("open failed: %s\n", error);
        return NULL;
    }
    return channel;
}

static int upload(const char* port, const char* method, int words, char** word) {
    char error[256] = "";
    nk_rpc_channel* channel = open_channel(port);
    if (channel == NULL) return 1;
    nk_rpc_duplex* call = NULL;
    nk_rpc_status code = nk_rpc_client_stream_start(channel, method, 2000000000, &call, error, sizeof error);
    char reply[64];
    size_t size = 0;
    if (code == NK_RPC_OK) {
        for (int i = 0; i < words && code == NK_RPC_OK; ++i)
            code = nk_rpc_duplex_write(call, word[i], strlen(word[i]), error, sizeof error);
        /* A write that failed said how the call ended; finish says the same. */
        code = nk_rpc_duplex_finish(call, reply, sizeof reply, &size, error, sizeof error);
        nk_rpc_duplex_close(call);
    }
    if (code == NK_RPC_OK) printf("%s %.*s\n", nk_rpc_status_name(code), (int)size, reply);
    else printf("%s %s\n", nk_rpc_status_name(code), error);
    nk_rpc_channel_close(channel);
    return 0;
}

static int chat(const char* port, const char* method, size_t capacity, int words, char** word) {
    char error[256] = "";
    nk_rpc_channel* channel = open_channel(port);
    if (channel == NULL) return 1;
    nk_rpc_duplex* call = NULL;
    nk_rpc_status code = nk_rpc_bidi_stream_start(channel, method, 2000000000, &call, error, sizeof error);
    char answer[64];
    if (capacity > sizeof answer) capacity = sizeof answer;
    int more = 1;
    for (int i = 0; i < words && code == NK_RPC_OK && more; ++i) {
        if ((code = nk_rpc_duplex_write(call, word[i], strlen(word[i]), error, sizeof error)) != NK_RPC_OK) break;
        size_t size = 0;
        code = nk_rpc_duplex_read(call, answer, capacity, &size, &more, error, sizeof error);
        if (code == NK_RPC_RESOURCE_EXHAUSTED) { /* kept: read it again with room enough */
            printf("TOO-BIG %zu\n", size);
            code = nk_rpc_duplex_read(call, answer, sizeof answer, &size, &more, error, sizeof error);
        }
        if (code == NK_RPC_OK && more) printf("%.*s\n", (int)size, answer);
    }
    if (call != NULL) {
        if (code == NK_RPC_OK) code = nk_rpc_duplex_finish(call, NULL, 0, NULL, error, sizeof error);
        nk_rpc_duplex_close(call);
    }
    printf("END %s %s\n", nk_rpc_status_name(code), code == NK_RPC_OK ? "" : error);
    nk_rpc_channel_close(channel);
    return 0;
}

int main(int argc, char** argv) {
    char error[256] = "";
    if (argc == 3 && strcmp(argv[1], "serve") == 0) {
        nk_rpc_server_options options;
        nk_rpc_server_options_init(&options);
        options.threads = 2;
        options.stream_threads = 2;
        nk_rpc_server* server = NULL;
        if (nk_rpc_server_create(argv[2], &options, &server, error, sizeof error) != NK_RPC_OK ||
            nk_rpc_server_add_method(server, "/c.Text/Upper", upper, NULL, error, sizeof error) != NK_RPC_OK ||
            nk_rpc_server_add_method(server, "/c.Text/Refuse", refuse, NULL, error, sizeof error) != NK_RPC_OK ||
            nk_rpc_server_add_stream_method(server, "/c.Text/Spell", spell, NULL, error, sizeof error) != NK_RPC_OK ||
            nk_rpc_server_add_client_stream_method(server, "/c.Text/Join", join, NULL, error, sizeof error) != NK_RPC_OK ||
            nk_rpc_server_add_bidi_method(server, "/c.Text/Shout", shout, NULL, error, sizeof error) != NK_RPC_OK ||
            nk_rpc_server_start(server, error, sizeof error) != NK_RPC_OK) {
            fprintf(stderr, "nk_rpc_c_peer: %s\n", error);
            return 1;
        }
        printf("ready\n");
        fflush(stdout);
        for (;;) pause(); /* until killed */
    }
    if (argc == 5 && strcmp(argv[1], "call") == 0) {
        nk_rpc_channel* channel = open_channel(argv[2]);
        if (channel == NULL) return 1;
        char response[64];
        size_t size = 0;
        const nk_rpc_status code = nk_rpc_call(channel, argv[3], argv[4], strlen(argv[4]), response, sizeof response,
                                                &size, 2000000000, error, sizeof error);
        if (code == NK_RPC_OK) printf("%s %.*s\n", nk_rpc_status_name(code), (int)size, response);
        else printf("%s %s\n", nk_rpc_status_name(code), error);
        nk_rpc_channel_close(channel);
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "stream") == 0) {
        nk_rpc_channel* channel = open_channel(argv[2]);
        if (channel == NULL) return 1;
        nk_rpc_stream* stream = NULL;
        nk_rpc_status code = nk_rpc_stream_start(channel, argv[3], argv[4], strlen(argv[4]), 2000000000, &stream, error,
                                                 sizeof error);
        if (code == NK_RPC_OK) {
            char item[64];
            const size_t capacity = (size_t)atoi(argv[5]) < sizeof item ? (size_t)atoi(argv[5]) : sizeof item;
            size_t size = 0;
            int more = 1;
            error[0] = '\0';
            while ((code = nk_rpc_stream_read(stream, item, capacity, &size, &more, error, sizeof error)) == NK_RPC_OK && more)
                printf("%.*s\n", (int)size, item);
            nk_rpc_stream_close(stream);
        }
        printf("END %s %s\n", nk_rpc_status_name(code), code == NK_RPC_OK ? "" : error);
        nk_rpc_channel_close(channel);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "upload") == 0) return upload(argv[2], argv[3], argc - 4, argv + 4);
    if (argc >= 5 && strcmp(argv[1], "chat") == 0) return chat(argv[2], argv[3], (size_t)atoi(argv[4]), argc - 5, argv + 5);
    fprintf(stderr, "usage: nk_rpc_c_peer serve PORT | call PORT METHOD TEXT | stream PORT METHOD TEXT CAP | "
                    "upload PORT METHOD WORD... | chat PORT METHOD CAP WORD...\n");
    return 2;
}
