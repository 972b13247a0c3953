/*
 * registry — the client side of the OCI distribution API (Docker's registry
 * API v2): pulls images into the image store, pushes them out of it, checks
 * credentials, and keeps the credentials file.
 *
 * Owns: HTTP to registries (libcurl; plain HTTP for loopback registries and
 * the caller's insecure list, HTTPS otherwise), the /v2/ probe, Basic and
 * Bearer authentication (WWW-Authenticate challenges, anonymous or
 * credentialed tokens cached per scope), manifest content negotiation (OCI
 * index, Docker manifest list, OCI manifest, Docker schema 2), platform
 * selection, parallel verified blob downloads (digest and size), uploads
 * (existence checks, monolithic, chunked, cross-repository mounts, manifest
 * PUT), docker.io mirrors, and the client credentials file
 * (~/.wharf/config.json in Docker's "auths" format, ~/.docker/config.json
 * read as a fallback) with the X-Registry-Auth header encoding.
 *
 * Must not: know the store's layout (image.h only), know about containers,
 * print anything (progress goes to the caller's callback), or read the
 * daemon's configuration (the caller passes insecure registries and mirrors).
 *
 * Three libraries, so that what must not map libcurl does not:
 *   libwharf_registry        the client (libcurl, the image store)
 *   libwharf_registry_creds  credentials and X-Registry-Auth (the CLI)
 *   libwharf_registry_exec   the client run as a helper process,
 *                            wharf-registry (the daemon, wharfd)
 *
 * Errors name the reference and the cause, in Docker's words where the
 * docker CLI shows them ("manifest for x:1 not found: manifest unknown: ...").
 */
#ifndef WHARF_REGISTRY_H
#define WHARF_REGISTRY_H

#include "base.h"
#include "image.h"

/* Docker Hub: its API host and its key in credential files. */
#define REGISTRY_HUB_HOST "registry-1.docker.io"
#define REGISTRY_HUB_KEY "https://index.docker.io/v1/"

/* ---------------------------------------------------------------- options */

/* Credentials for one registry; every field may be NULL. */
struct registry_auth {
    const char *username;
    const char *password;
    const char *registry_token; /* a bearer token to send as it is */
};

enum registry_event {
    /* pull */
    REGISTRY_LAYER_WAITING,     /* "Pulling fs layer" */
    REGISTRY_LAYER_EXISTS,      /* "Already exists" (blob stored before) */
    REGISTRY_LAYER_DOWNLOADING, /* current/total bytes */
    REGISTRY_LAYER_VERIFYING,   /* "Verifying Checksum" */
    REGISTRY_LAYER_DOWNLOADED,  /* "Download complete" */
    REGISTRY_LAYER_EXTRACTING,  /* current/total bytes */
    REGISTRY_LAYER_COMPLETE,    /* "Pull complete" */
    /* push */
    REGISTRY_LAYER_PREPARING, /* "Preparing" */
    REGISTRY_LAYER_PUSHING,   /* current/total bytes */
    REGISTRY_LAYER_PUSHED,    /* "Pushed" */
    REGISTRY_LAYER_PRESENT,   /* "Layer already exists" */
    REGISTRY_LAYER_MOUNTED,   /* "Mounted from <from>" */
};

struct registry_progress {
    enum registry_event event;
    const char *digest; /* the blob: a layer (or, on push, the config) */
    uint64_t current, total;
    const char *from; /* REGISTRY_LAYER_MOUNTED: the source repository */
};
/* Runs on the calling thread of registry_pull_fetch / registry_push. */
typedef void (*registry_progress_fn)(const struct registry_progress *p, void *ctx);

struct registry_options {
    /* Registries spoken to over plain HTTP as well as HTTPS without
     * certificate checks (daemon.json "insecure-registries"): "host:port",
     * "host" or an IPv4 CIDR. Loopback registries always are. */
    const char *const *insecure;
    size_t n_insecure;
    /* Mirrors tried in order for docker.io pulls before Docker Hub itself
     * (daemon.json "registry-mirrors"): "https://host[:port]". */
    const char *const *mirrors;
    size_t n_mirrors;
    const struct registry_auth *auth; /* NULL: anonymous */
    registry_progress_fn progress;    /* may be NULL */
    void *progress_ctx;
    unsigned parallel;   /* blobs downloaded at once; 0: 3 (Docker's default) */
    uint64_t chunk_size; /* pushes: blobs above go up in PATCH chunks of this
                          * size; 0: 32 MiB */
};

/* ---------------------------------------------------------------- platforms */

struct registry_platform {
    char os[32];
    char architecture[32];
    char variant[16]; /* "" when none */
};
/* "os/arch[/variant]" normalised as Docker does (x86_64 -> amd64, aarch64
 * -> arm64, arm64 without a variant is v8, ...). -EINVAL naming s. */
int registry_platform_parse(const char *s, struct registry_platform *out, wharf_error *err);
/* The machine's platform (linux/amd64 here). */
void registry_platform_host(struct registry_platform *out);
/* Does an index entry's platform (os, architecture, variant strings; NULL
 * variant for none) satisfy want? */
bool registry_platform_match(const struct registry_platform *want, const char *os, const char *arch,
                             const char *variant);
/* "linux/arm64/v8"; buf >= 96 bytes. */
const char *registry_platform_format(const struct registry_platform *p, char *buf, size_t len);

/* ---------------------------------------------------------------- pull */

typedef struct registry_pull registry_pull;

/*
 * First half of a pull, which stores nothing: parses ref, probes the
 * registry (or the docker.io mirrors), authenticates, fetches the manifest
 * (following an index to the entry for platform, NULL meaning the host's)
 * and the config, verifying both. A bad reference, an unknown repository or
 * tag, refused credentials, an unreachable registry or a malformed manifest
 * fails here with one line naming the reference. Returns a new pull
 * (registry_pull_free) or NULL.
 */
registry_pull *registry_pull_resolve(const char *ref, const char *platform,
                                     const struct registry_options *opts, wharf_error *err);
/* The normalised reference ("127.0.0.1:5000/x:1", "docker.io/library/x:1"). */
const char *registry_pull_reference(const registry_pull *p);
/* The repository path ("library/x") and the tag, or the digest when pulled
 * by digest. */
const char *registry_pull_path(const registry_pull *p);
const char *registry_pull_tag(const registry_pull *p);
/* The digest the reference resolved to (the index's for a list). */
const char *registry_pull_digest(const registry_pull *p);

struct registry_pull_result {
    char id[72];     /* the image ID */
    char digest[72]; /* what the reference resolved to */
    bool updated;    /* false: the tag named this image already */
};

/*
 * Second half: downloads the missing blobs (opts->parallel at a time, each
 * checked against its digest and size) into store, unpacks the layers and
 * commits the image with its tag (none when pulled by digest) and its
 * repository digest. Progress goes to opts->progress. A failure leaves no
 * tag and no image; the blobs already verified stay for a retry.
 */
int registry_pull_fetch(registry_pull *p, image_store *store, struct registry_pull_result *out,
                        wharf_error *err);
void registry_pull_free(registry_pull *p);

/* Both halves. */
int registry_pull_image(image_store *store, const char *ref, const char *platform,
                        const struct registry_options *opts, struct registry_pull_result *out,
                        wharf_error *err);

/* ---------------------------------------------------------------- push */

struct registry_push_result {
    char digest[72]; /* the manifest's digest */
    uint64_t size;   /* the manifest's size */
    char tag[129];
};

/*
 * Pushes the local image ref ("127.0.0.1:5000/x:1") to the repository and
 * tag it names: each blob is checked with HEAD, mounted from another
 * repository of the same registry the image is known in (its repository
 * digests), or uploaded (monolithic, or PATCH chunks above
 * opts->chunk_size); then the manifest is PUT and its digest recorded among
 * the image's repository digests.
 */
int registry_push(image_store *store, const char *ref, const struct registry_options *opts,
                  struct registry_push_result *out, wharf_error *err);

/* ---------------------------------------------------------------- login */

/*
 * Checks auth against server ("127.0.0.1:5000", "https://host/v2/", NULL or
 * "docker.io" for Docker Hub): probes /v2/ with the credentials, through the
 * token service when the registry has one. 0 when accepted; -EACCES with
 * Docker's "login attempt to <url> failed with status: 401 Unauthorized" or
 * the token service's message; -EHOSTUNREACH when unreachable.
 */
int registry_login(const char *server, const struct registry_auth *auth,
                   const struct registry_options *opts, wharf_error *err);

/* ---------------------------------------------------------------- credentials
 * (libwharf_registry_creds) */

/* The key credentials of server are filed under: "127.0.0.1:5000" for
 * "http://127.0.0.1:5000/v2/", REGISTRY_HUB_KEY for Docker Hub (NULL,
 * "docker.io", "index.docker.io", ...). Caller frees. */
char *registry_server_key(const char *server);

/* The credentials file written: $WHARF_CONFIG/config.json, else
 * $HOME/.wharf/config.json. Caller frees. */
char *registry_config_path(void);

/*
 * Looks server's credentials up in the wharf file, then in Docker's
 * ($DOCKER_CONFIG/config.json, else $HOME/.docker/config.json). *user and
 * *pass are malloc'd; -ENOENT when neither has them, -EINVAL naming the
 * file when it is unreadable or malformed.
 */
int registry_creds_get(const char *server, char **user, char **pass, wharf_error *err);
/* Files them in the wharf file (mode 0600), keeping everything else in it. */
int registry_creds_store(const char *server, const char *user, const char *pass, wharf_error *err);
/* Removes them from the wharf file; -ENOENT when they were not there. */
int registry_creds_erase(const char *server, wharf_error *err);

/* The X-Registry-Auth header value: base64url of Docker's AuthConfig JSON
 * ({"username", "password", "serveraddress"}). Caller frees. */
char *registry_auth_header(const char *user, const char *pass, const char *server);

/* Credentials decoded from an X-Registry-Auth header (base64 or base64url,
 * padded or not); the strings are owned. */
struct registry_creds {
    char *username, *password, *server, *registry_token;
};
/* An empty header or "{}" gives empty creds; -EINVAL when undecodable. */
int registry_auth_decode(const char *header, struct registry_creds *out, wharf_error *err);
void registry_creds_release(struct registry_creds *c);
/* Points auth's fields at c's. */
void registry_creds_auth(const struct registry_creds *c, struct registry_auth *auth);

/* ---------------------------------------------------------------- in a helper process
 * (libwharf_registry_exec) */

/*
 * The daemon must not map libcurl (see wharfd), so it runs the client in a
 * helper process, `wharf-registry` (src/cli/registry_main.c): arguments
 * say what to do, the credentials come on its stdin as JSON, and it answers
 * with JSON lines on its stdout —
 *   {"resolved": {"reference", "path", "tag", "digest"}}    (pull)
 *   {"progress": {"event", "digest", "current", "total", "from"}}
 *   {"pulled": {"id", "digest", "updated"}} | {"pushed": {"digest", "size", "tag"}}
 *   | {"ok": true} (login) | {"error": {"code", "message"}}
 * The store is shared through the file system: the helper writes blobs,
 * snapshots and records under the same locks as the daemon.
 */
struct registry_exec_options {
    const char *helper;    /* the wharf-registry program: a path, or a name in PATH */
    const char *store_dir; /* the image store the helper opens */
    const char *const *insecure;
    size_t n_insecure;
    const char *const *mirrors;
    size_t n_mirrors;
    const struct registry_auth *auth; /* may be NULL */
};

typedef struct registry_exec registry_exec;

/* Starts a pull and waits until the helper has resolved ref (the first
 * half of a pull: registry_pull_resolve's errors come back here, with
 * their codes). Returns the running helper or NULL. */
registry_exec *registry_exec_pull(const struct registry_exec_options *o, const char *ref,
                                  const char *platform, wharf_error *err);
/* What the pull resolved (borrowed): like registry_pull_reference/path/tag. */
const char *registry_exec_reference(const registry_exec *x);
const char *registry_exec_path(const registry_exec *x);
const char *registry_exec_tag(const registry_exec *x);
/* Reads the helper's progress (to fn, may be NULL) until its result. */
int registry_exec_pull_finish(registry_exec *x, registry_progress_fn fn, void *ctx,
                              struct registry_pull_result *out, wharf_error *err);
/* Starts a push of the local image ref; its result with _finish. */
registry_exec *registry_exec_push(const struct registry_exec_options *o, const char *ref,
                                  wharf_error *err);
int registry_exec_push_finish(registry_exec *x, registry_progress_fn fn, void *ctx,
                              struct registry_push_result *out, wharf_error *err);
/* registry_login in the helper. */
int registry_exec_login(const struct registry_exec_options *o, const char *server,
                        wharf_error *err);
/* Ends the helper (killed if still running) and frees x; NULL is a no-op. */
void registry_exec_free(registry_exec *x);

/* The protocol's event names ("downloading", ...) and back (-1: unknown). */
const char *registry_event_name(enum registry_event e);
int registry_event_parse(const char *name);

#endif
