/* nk's C ABI: Protobuf service calls between guests for C programs, with serialized bytes.
 *
 * The process attaches to its platform on first use (nk::guest::attach(): the descriptors nkd
 * gave it, or NK_PLATFORM/NK_GUEST). Handles are opaque; option structs are filled by their
 * _init() function first, then changed; every call returns an nk_rpc_status (gRPC's numbering)
 * and, when it fails, writes a sentence for a person into `error` (when not NULL).
 *
 *   nk_rpc_channel* channel;
 *   char error[256];
 *   if (nk_rpc_channel_open("svc.telemetry", NULL, &channel, error, sizeof error) != NK_RPC_OK) { ... }
 *   size_t got;
 *   nk_rpc_status status = nk_rpc_call(channel, "/nk.examples.telemetry.Telemetry/Read", request, request_size,
 *                                       response, sizeof response, &got, 20000000, error, sizeof error);
 *   nk_rpc_channel_close(channel);
 *
 * A server registers C handlers for unary and server-streaming methods by full name; they run on
 * the server's handler threads, several at once, and must be thread-safe.
 *
 *   nk_rpc_stream* stream;
 *   if (nk_rpc_stream_start(channel, "/nk.examples.telemetry.Telemetry/Subscribe", request, request_size,
 *                           0, &stream, error, sizeof error) == NK_RPC_OK) {
 *       int more = 1;
 *       nk_rpc_status status;
 *       while ((status = nk_rpc_stream_read(stream, item, sizeof item, &item_size, &more, error, sizeof error))
 *                  == NK_RPC_OK && more)
 *           handle(item, item_size);
 *       nk_rpc_stream_close(stream);   // status: how the stream ended
 *   }
 *
 * Concurrency: a channel may be used by several threads at once; a server is set up by one thread. */
#ifndef NK_NK_RPC_H
#define NK_NK_RPC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nk_rpc_status {
    NK_RPC_OK = 0,
    NK_RPC_CANCELLED = 1,
    NK_RPC_UNKNOWN = 2,
    NK_RPC_INVALID_ARGUMENT = 3,
    NK_RPC_DEADLINE_EXCEEDED = 4,
    NK_RPC_NOT_FOUND = 5,
    NK_RPC_ALREADY_EXISTS = 6,
    NK_RPC_PERMISSION_DENIED = 7,
    NK_RPC_RESOURCE_EXHAUSTED = 8,
    NK_RPC_FAILED_PRECONDITION = 9,
    NK_RPC_ABORTED = 10,
    NK_RPC_OUT_OF_RANGE = 11,
    NK_RPC_UNIMPLEMENTED = 12,
    NK_RPC_INTERNAL = 13,
    NK_RPC_UNAVAILABLE = 14,
    NK_RPC_DATA_LOSS = 15,
    NK_RPC_UNAUTHENTICATED = 16
} nk_rpc_status;

/* "OK", "DEADLINE_EXCEEDED", ...; "UNKNOWN" for a value out of range. */
const char* nk_rpc_status_name(nk_rpc_status code);

/* ---- Client */
typedef struct nk_rpc_channel nk_rpc_channel;

typedef struct nk_rpc_channel_options {
    uint32_t struct_size;    /* sizeof(nk_rpc_channel_options), set by _init() */
    uint32_t reply_capacity; /* ring bytes of the channel's reply port, a power of two */
} nk_rpc_channel_options;

void nk_rpc_channel_options_init(nk_rpc_channel_options* options);

/* Opens the server's port `service_port`; `options` may be NULL (the defaults). */
nk_rpc_status nk_rpc_channel_open(const char* service_port, const nk_rpc_channel_options* options,
                                   nk_rpc_channel** channel, char* error, size_t error_size);
void nk_rpc_channel_close(nk_rpc_channel* channel);

/* A unary call of `method` ("/package.Service/Method") with a serialized request; the serialized
 * response goes to `response` (its size to *response_size). RESOURCE_EXHAUSTED when the response
 * is larger than `response_capacity` (*response_size then says how large it is). `timeout_ns` <= 0:
 * no deadline. */
nk_rpc_status nk_rpc_call(nk_rpc_channel* channel, const char* method, const void* request, size_t request_size,
                           void* response, size_t response_capacity, size_t* response_size, int64_t timeout_ns,
                           char* error, size_t error_size);

/* A server-streaming call of `method` with a serialized request. `timeout_ns` <= 0: no deadline.
 * Read it with nk_rpc_stream_read(), then nk_rpc_stream_close(). */
typedef struct nk_rpc_stream nk_rpc_stream;
nk_rpc_status nk_rpc_stream_start(nk_rpc_channel* channel, const char* method, const void* request, size_t request_size,
                                   int64_t timeout_ns, nk_rpc_stream** stream, char* error, size_t error_size);
/* The stream's next message: NK_RPC_OK with *more = 1, its bytes in `message` and its size in
 * *message_size. At the end of the stream *more = 0 and the return value is how the call ended
 * (NK_RPC_OK for a clean end). A message larger than `capacity` ends the stream with
 * RESOURCE_EXHAUSTED (*message_size says how large it was) and tells the server to stop. */
nk_rpc_status nk_rpc_stream_read(nk_rpc_stream* stream, void* message, size_t capacity, size_t* message_size, int* more,
                                  char* error, size_t error_size);
/* Frees the stream; one that has not ended is cancelled (the server is told). */
void nk_rpc_stream_close(nk_rpc_stream* stream);

/* ---- Server */
typedef struct nk_rpc_server nk_rpc_server;

typedef struct nk_rpc_server_options {
    uint32_t struct_size;  /* sizeof(nk_rpc_server_options), set by _init() */
    uint32_t threads;      /* handlers running at once */
    uint32_t capacity;     /* ring bytes of the request port, a power of two */
    uint32_t max_message;  /* largest frame on the port */
    const char* where;     /* the port's area, as for nk::ipc::Port::create; NULL: the default */
} nk_rpc_server_options;

void nk_rpc_server_options_init(nk_rpc_server_options* options);

/* A handler writes the serialized response into `response` (at most `response_capacity` bytes),
 * sets *response_size and returns NK_RPC_OK, or returns another code (the response is then ignored). */
typedef nk_rpc_status (*nk_rpc_handler)(void* user, const void* request, size_t request_size, void* response,
                                         size_t response_capacity, size_t* response_size);

nk_rpc_status nk_rpc_server_create(const char* port, const nk_rpc_server_options* options, nk_rpc_server** server,
                                    char* error, size_t error_size);
/* Before nk_rpc_server_start(). `method` is "/package.Service/Method"; the string is copied. */
nk_rpc_status nk_rpc_server_add_method(nk_rpc_server* server, const char* method, nk_rpc_handler handler, void* user,
                                        char* error, size_t error_size);

/* A server-streaming handler writes its messages through `writer`, then returns how the call
 * ends (NK_RPC_OK: a clean end of the stream). */
typedef struct nk_rpc_writer nk_rpc_writer;
typedef nk_rpc_status (*nk_rpc_stream_handler)(void* user, const void* request, size_t request_size,
                                                nk_rpc_writer* writer);
/* Sends one message of the stream. Not NK_RPC_OK when the stream cannot go on (the client
 * cancelled or went away, the deadline passed, the message is larger than the client takes): the
 * handler should return then; the call ends with that status. */
nk_rpc_status nk_rpc_writer_write(nk_rpc_writer* writer, const void* message, size_t size);
/* As nk_rpc_server_add_method(), for a server-streaming method. */
nk_rpc_status nk_rpc_server_add_stream_method(nk_rpc_server* server, const char* method, nk_rpc_stream_handler handler,
                                               void* user, char* error, size_t error_size);
nk_rpc_status nk_rpc_server_start(nk_rpc_server* server, char* error, size_t error_size);
/* Stops serving, removes the port and frees the server. */
void nk_rpc_server_destroy(nk_rpc_server* server);

#ifdef __cplusplus
}
#endif

#endif /* NK_NK_RPC_H */
