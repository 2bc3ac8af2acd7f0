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
 * A server registers C handlers for every kind of method (unary, server-streaming,
 * client-streaming, bidirectional) by full name; they run on the server's threads, several at
 * once, and must be thread-safe.
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

/* Client-streaming and bidirectional calls. Write the client's messages with
 * nk_rpc_duplex_write(); a bidirectional call reads the server's with nk_rpc_duplex_read() in any
 * order from the same thread; nk_rpc_duplex_finish() ends the client's stream, waits for the call's
 * end and gives a client stream's reply; nk_rpc_duplex_close() frees the call (one that has not
 * finished is cancelled and the server told). Writes wait while the server has its window of this
 * call's messages unread (nk::rpc's flow control), so nothing is lost or piled up.
 *
 *   nk_rpc_duplex* upload;
 *   if (nk_rpc_client_stream_start(channel, "/pkg.Svc/Upload", 0, &upload, error, sizeof error) == NK_RPC_OK) {
 *       for (size_t i = 0; i < n && nk_rpc_duplex_write(upload, item[i], size[i], error, sizeof error) == NK_RPC_OK; ++i) {}
 *       status = nk_rpc_duplex_finish(upload, reply, sizeof reply, &reply_size, error, sizeof error);
 *       nk_rpc_duplex_close(upload);
 *   } */
typedef struct nk_rpc_duplex nk_rpc_duplex;
/* `timeout_ns` <= 0: no deadline. A call that could not start says so at its first write, read or finish. */
nk_rpc_status nk_rpc_client_stream_start(nk_rpc_channel* channel, const char* method, int64_t timeout_ns,
                                          nk_rpc_duplex** call, char* error, size_t error_size);
nk_rpc_status nk_rpc_bidi_stream_start(nk_rpc_channel* channel, const char* method, int64_t timeout_ns,
                                        nk_rpc_duplex** call, char* error, size_t error_size);
/* Sends one message of the client's stream. Not NK_RPC_OK once the call is over: the return value
 * is then how it ended (nk_rpc_duplex_finish() says the same), or FAILED_PRECONDITION after
 * nk_rpc_duplex_writes_done(). */
nk_rpc_status nk_rpc_duplex_write(nk_rpc_duplex* call, const void* message, size_t size, char* error, size_t error_size);
/* Ends the client's stream; the call stays open for reads. */
nk_rpc_status nk_rpc_duplex_writes_done(nk_rpc_duplex* call, char* error, size_t error_size);
/* Bidirectional calls: the server's next message, as nk_rpc_stream_read() (*more = 0 at the end of
 * its stream, the return value then how the call ended), except that a message larger than
 * `capacity` is kept: RESOURCE_EXHAUSTED with its size in *message_size, and the next read with
 * room enough returns it. */
nk_rpc_status nk_rpc_duplex_read(nk_rpc_duplex* call, void* message, size_t capacity, size_t* message_size, int* more,
                                  char* error, size_t error_size);
/* Ends the client's stream if still open and waits for the call's end; returns its status. A
 * client stream's reply goes to `response` (its size to *response_size; RESOURCE_EXHAUSTED with
 * the size when it does not fit); a bidirectional call may pass NULL, 0, NULL (unread messages of
 * its stream are dropped). */
nk_rpc_status nk_rpc_duplex_finish(nk_rpc_duplex* call, void* response, size_t response_capacity, size_t* response_size,
                                    char* error, size_t error_size);
void nk_rpc_duplex_close(nk_rpc_duplex* call);

/* ---- Server */
typedef struct nk_rpc_server nk_rpc_server;

typedef struct nk_rpc_server_options {
    uint32_t struct_size;  /* sizeof(nk_rpc_server_options), set by _init() */
    uint32_t threads;      /* handlers running at once */
    uint32_t capacity;     /* ring bytes of the request port, a power of two */
    uint32_t max_message;  /* largest frame on the port */
    const char* where;     /* the port's area, as for nk::ipc::Port::create; NULL: the default */
    uint32_t stream_threads; /* client-streaming and bidirectional calls served at once */
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

/* Client-streaming and bidirectional handlers read the client's messages through `stream` until
 * *more = 0; bidirectional ones also write through it. They run on the server's stream threads
 * (nk_rpc_server_options.stream_threads), one call each. */
typedef struct nk_rpc_server_stream nk_rpc_server_stream;
/* The client's next message: NK_RPC_OK with *more = 1 and its bytes, NK_RPC_OK with *more = 0 at
 * the end of the client's stream, another code when the call is over (CANCELLED, DEADLINE_EXCEEDED,
 * UNAVAILABLE when the client is gone, INVALID_ARGUMENT for a frame that breaks the protocol): the
 * handler should return then. A message larger than `capacity` is kept: RESOURCE_EXHAUSTED with its
 * size in *message_size, and the next read with room enough returns it. */
nk_rpc_status nk_rpc_server_stream_read(nk_rpc_server_stream* stream, void* message, size_t capacity,
                                         size_t* message_size, int* more);
/* Bidirectional handlers: one message back to the client, as nk_rpc_writer_write(). */
nk_rpc_status nk_rpc_server_stream_write(nk_rpc_server_stream* stream, const void* message, size_t size);

/* A client-streaming handler reads the stream, then writes the serialized reply into `response`
 * (at most `response_capacity` bytes), sets *response_size and returns NK_RPC_OK, or returns
 * another code. */
typedef nk_rpc_status (*nk_rpc_client_stream_handler)(void* user, nk_rpc_server_stream* stream, void* response,
                                                       size_t response_capacity, size_t* response_size);
/* A bidirectional handler reads and writes through `stream` in any order, then returns how the call ends. */
typedef nk_rpc_status (*nk_rpc_bidi_handler)(void* user, nk_rpc_server_stream* stream);
nk_rpc_status nk_rpc_server_add_client_stream_method(nk_rpc_server* server, const char* method,
                                                      nk_rpc_client_stream_handler handler, void* user, char* error,
                                                      size_t error_size);
nk_rpc_status nk_rpc_server_add_bidi_method(nk_rpc_server* server, const char* method, nk_rpc_bidi_handler handler,
                                             void* user, char* error, size_t error_size);

nk_rpc_status nk_rpc_server_start(nk_rpc_server* server, char* error, size_t error_size);
/* Stops serving, removes the port and frees the server. */
void nk_rpc_server_destroy(nk_rpc_server* server);

#ifdef __cplusplus
}
#endif

#endif /* NK_NK_RPC_H */
