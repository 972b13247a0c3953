/*
 * client — the Docker Engine API client that the wharf CLI (and compose)
 * speak to a daemon with: ours, or any dockerd.
 *
 * Owns: where the daemon is (-H, WHARF_HOST, DOCKER_HOST: unix:///path,
 * tcp://host:port or a bare socket path), API version negotiation through
 * /_ping, JSON requests, response headers, responses streamed as they
 * arrive (logs --follow, events, pull progress), uploads from an fd (load,
 * import, cp), hijacked raw
 * connections (attach, exec start), and decoding Docker's 8-byte
 * multiplexed stdout/stderr stream.
 *
 * Must not: know what any command means or how its output is printed.
 */
#ifndef WHARF_CLIENT_H
#define WHARF_CLIENT_H

#include "base.h"

#define CLIENT_API_VERSION_MAX "1.47"
#define CLIENT_DEFAULT_HOST "unix:///run/wharf/wharf.sock"

struct client;

/* host: NULL picks WHARF_HOST, then DOCKER_HOST, then CLIENT_DEFAULT_HOST.
 * Returns a new client (client_free) or NULL with *err set for a bad host. */
struct client *client_new(const char *host, wharf_error *err);
void client_free(struct client *c);
/* The unix socket path, or NULL for TCP. Borrowed. */
const char *client_socket_path(const struct client *c);
/* The daemon address as given (or picked from the environment): a second
 * client for the same daemon is client_new(client_host(c)). Borrowed. */
const char *client_host(const struct client *c);

/* One more header line ("X-Registry-Auth: ...") sent with every later
 * request; NULL drops it. Copied. */
void client_set_header(struct client *c, const char *line);

/* GET /_ping: checks the daemon answers and settles the API version to the
 * lower of the server's and ours. Called implicitly by the first request. */
int client_ping(struct client *c, wharf_error *err);
/* The negotiated version ("1.43"); CLIENT_API_VERSION_MAX before a ping. */
const char *client_api_version(const struct client *c);

struct client_response {
    long status;
    strbuf body;  /* raw body */
    json_t *json; /* parsed body when it is JSON, else NULL; owned */
    strbuf headers; /* the response's header lines, as received */
};
#define CLIENT_RESPONSE_INIT {0, STRBUF_INIT, NULL, STRBUF_INIT}
void client_response_release(struct client_response *r);
/* The value of a response header (case-insensitive name), or NULL. Caller
 * frees. Available from on_headers and on_data on, during streams too. */
char *client_response_header(const struct client_response *r, const char *name);
/* The daemon's {"message": ...} of an error response, else its body text. */
const char *client_error_message(const struct client_response *r);

/*
 * path is the API path with its query string, without the version prefix
 * ("/containers/json?all=1"); body (borrowed) is sent as JSON when not NULL.
 * Returns 0 when a response arrived, whatever its status; negative when the
 * daemon could not be reached ("cannot connect to the wharf daemon at ...").
 */
int client_request(struct client *c, const char *method, const char *path, json_t *body,
                   struct client_response *resp, wharf_error *err);

/* Like client_request, but the body goes to on_data chunk by chunk as it
 * arrives (return non-zero from on_data to stop). Error bodies (status >= 400)
 * are collected into resp->body instead. */
typedef int (*client_data_fn)(void *data, const char *buf, size_t len);
int client_stream(struct client *c, const char *method, const char *path, json_t *body,
                  client_data_fn on_data, void *data, struct client_response *resp,
                  wharf_error *err);

/* Like client_stream; on_headers (may be NULL) runs once the status line and
 * headers have arrived, before the body: for a request that must be in place
 * on the daemon before the next one is sent (docker run's wait before start).
 * It runs on the calling thread, inside the transfer. */
typedef void (*client_headers_fn)(void *data, long status);
int client_stream_notify(struct client *c, const char *method, const char *path, json_t *body,
                         client_headers_fn on_headers, client_data_fn on_data, void *data,
                         struct client_response *resp, wharf_error *err);

/* Sends the request body from fd (a tar for load/import) with content_type. */
int client_upload(struct client *c, const char *method, const char *path,
                  const char *content_type, int fd, struct client_response *resp,
                  wharf_error *err);
/* Both: the body from fd, the answer to on_data as it arrives (build). */
int client_upload_stream(struct client *c, const char *method, const char *path,
                         const char *content_type, int fd, client_data_fn on_data, void *data,
                         struct client_response *resp, wharf_error *err);

/*
 * Attach-style hijack: sends the request with "Connection: Upgrade" and
 * "Upgrade: tcp"; on 101 (or 200 from older servers) *fd is the raw
 * connection (caller closes) and *pending holds bytes that already followed
 * the headers. Any other status fills resp and returns 0 with *fd = -1.
 */
int client_hijack(struct client *c, const char *method, const char *path, json_t *body,
                  int *fd, strbuf *pending, struct client_response *resp, wharf_error *err);

/* Docker's multiplexed stream: frames of [stream, 0, 0, 0, size (big-endian
 * u32)] + payload. Feed bytes in any split; on_frame gets each payload
 * (stream 0 stdin, 1 stdout, 2 stderr), possibly in several pieces. */
struct client_demux {
    unsigned char header[8];
    size_t have;      /* header bytes collected */
    size_t remaining; /* payload bytes left in the current frame */
    int stream;
};
typedef int (*client_frame_fn)(void *data, int stream, const char *buf, size_t len);
int client_demux_feed(struct client_demux *d, const char *buf, size_t len,
                      client_frame_fn on_frame, void *data);

#endif
