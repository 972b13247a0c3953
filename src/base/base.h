/*
 * base — the helpers every Wharf module shares, and nothing else.
 *
 * Owns: the error object (wharf_error), cleanup attributes, the string
 * buffer (strbuf), file helpers (atomic writes, mkdir -p, whole-file reads),
 * symlink-safe path resolution inside a root directory, typed JSON field
 * access with errors that name the field, the runc-compatible logger,
 * times as text (RFC 3339, and Docker's "5 minutes" durations), and the
 * detach-key sequence of an interactive stream (daemon and client).
 *
 * Must not: know about containers, cgroups, images or any other module.
 * Every other module may include this header; this one includes no other.
 */
#ifndef WHARF_BASE_H
#define WHARF_BASE_H

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* ---------------------------------------------------------------- errors */

/*
 * One error type for the whole code base. Functions return 0 or a negative
 * errno (or a pointer, NULL on failure) and fill *err with a message that
 * names the object and the cause. The top level prints it once. The message
 * lives inside the struct, so there is nothing to free.
 */
typedef struct wharf_error {
    int code; /* negative errno; 0 when no error is recorded */
    char msg[1024];
} wharf_error;

#define WHARF_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Records code (a negative errno, or a positive one which is negated) and
 * the message; returns the negative code so callers can `return wharf_error_set(...)`. */
int wharf_error_set(wharf_error *err, int code, const char *fmt, ...) WHARF_PRINTF(3, 4);
/* Same, with ": strerror(errnum)" appended; errnum is a positive errno. */
int wharf_error_errno(wharf_error *err, int errnum, const char *fmt, ...) WHARF_PRINTF(3, 4);
/* Puts "context: " in front of an already recorded message; returns err->code. */
int wharf_error_prefix(wharf_error *err, const char *fmt, ...) WHARF_PRINTF(2, 3);
void wharf_error_clear(wharf_error *err);

/* ---------------------------------------------------------------- cleanup */

void wharf_freep(void *p);
void wharf_closep(int *fd);
void wharf_fclosep(FILE **f);
#define _cleanup_free_ __attribute__((cleanup(wharf_freep)))
#define _cleanup_close_ __attribute__((cleanup(wharf_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(wharf_fclosep)))

/* Hand ownership out of a cleanup variable: `return steal_ptr(p);` */
#define steal_ptr(p)                                                                               \
    ({                                                                                             \
        __typeof__(p) _tmp = (p);                                                                  \
        (p) = NULL;                                                                                \
        _tmp;                                                                                      \
    })
#define steal_fd(fd)                                                                               \
    ({                                                                                             \
        int _tmp = (fd);                                                                           \
        (fd) = -1;                                                                                 \
        _tmp;                                                                                      \
    })

/* Allocation failure is not recoverable in this code base: these abort. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) WHARF_PRINTF(1, 2);

/* ---------------------------------------------------------------- strbuf */

/* A growable, always NUL-terminated byte string. STRBUF_INIT is valid empty. */
typedef struct strbuf {
    char *buf;
    size_t len;
    size_t alloc;
} strbuf;

#define STRBUF_INIT {NULL, 0, 0}
void strbuf_add(strbuf *sb, const void *data, size_t len);
/* Makes room for extra more bytes at once (a large body about to be built). */
void strbuf_reserve(strbuf *sb, size_t extra);
void strbuf_addstr(strbuf *sb, const char *s);
void strbuf_addch(strbuf *sb, char c);
void strbuf_addf(strbuf *sb, const char *fmt, ...) WHARF_PRINTF(2, 3);
void strbuf_vaddf(strbuf *sb, const char *fmt, va_list ap);
void strbuf_reset(strbuf *sb);
/* Never NULL: "" for an empty buffer. */
const char *strbuf_str(const strbuf *sb);
/* Returns the malloc'd string (caller frees) and leaves sb empty. */
char *strbuf_detach(strbuf *sb);
void strbuf_release(strbuf *sb);
#define _cleanup_strbuf_ __attribute__((cleanup(strbuf_release)))

/* ---------------------------------------------------------------- files */

/* The entry names of the open directory d, without "." and "..", sorted
 * bytewise, in a malloc'd array of malloc'd strings (free each, then the
 * array); closes d. Returns how many. */
size_t wharf_dir_names_sorted(DIR *d, char ***names);


/* Reads a whole file; *out is NUL-terminated and malloc'd (caller frees). */
int wharf_read_file(const char *path, char **out, size_t *len, wharf_error *err);
/* Writes to a temporary file in the same directory and renames it over path:
 * readers see the old content or the new, never a mix. No fsync: callers keep
 * state that does not outlive a reboot (runtime and shim state under /run). */
int wharf_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                            wharf_error *err);
/* open(O_WRONLY) + one write(): for /proc, /sys and cgroup files. */
int wharf_write_string(const char *path, const char *value, wharf_error *err);
int wharf_mkdir_p(const char *path, mode_t mode, wharf_error *err);
/* Removes a directory tree; a missing path is not an error. Does not cross
 * mount points (refuses with -EBUSY rather than deleting what a mount holds). */
int wharf_rm_rf(const char *path, wharf_error *err);
/* Writes all of buf, retrying on EINTR and short writes; -errno on failure. */
int wharf_write_all(int fd, const void *buf, size_t len);
/* Reads until EOF or len bytes; returns the count or -errno. */
ssize_t wharf_read_all(int fd, void *buf, size_t len);
/* Copies everything from in (from its offset) to out: copy_file_range where
 * the filesystems allow it (reflinks), else read/write. 0, or -errno with
 * *in_failed telling whether reading (true) or writing failed. */
int wharf_copy_fd(int in, int out, bool *in_failed);

/*
 * Symlink-safe resolution inside a root (CVE-class: paths from a bundle or an
 * image must never escape the rootfs). Uses openat2(RESOLVE_IN_ROOT), so "..",
 * absolute symlinks and relative symlinks all stay inside root_fd.
 */
/* Opens path inside root_fd with flags (O_PATH allowed); returns an fd or -errno. */
int wharf_open_in_root(int root_fd, const char *path, int flags, mode_t mode, wharf_error *err);
/* mkdir -p inside root_fd; returns an O_PATH|O_DIRECTORY fd of the last component. */
int wharf_mkdir_in_root(int root_fd, const char *path, mode_t mode, wharf_error *err);
/* Creates an empty regular file (and its parents) inside root_fd unless something
 * exists there; returns an O_PATH fd of it. */
int wharf_touch_in_root(int root_fd, const char *path, mode_t mode, wharf_error *err);
/* "/proc/self/fd/N" for mount(2) targets; buf must hold 32 bytes. */
const char *wharf_fd_path(int fd, char buf[32]);

/* ---------------------------------------------------------------- json */

/*
 * Typed access to JSON object fields (jansson) with errors that name the
 * field by its full path, e.g. "linux.resources.memory.limit: expected an
 * integer". `where` is the path of obj itself ("" for the document root).
 * A missing field leaves *out untouched and returns 0 unless required.
 * Declared with an opaque type so modules that do not use JSON need no
 * jansson headers.
 */
typedef struct json_t json_t;
int wjson_string(json_t *obj, const char *where, const char *key, bool required, const char **out,
                 wharf_error *err);
int wjson_bool(json_t *obj, const char *where, const char *key, bool *out, wharf_error *err);
int wjson_int64(json_t *obj, const char *where, const char *key, int64_t *out, bool *present,
                wharf_error *err);
int wjson_uint64(json_t *obj, const char *where, const char *key, uint64_t *out, bool *present,
                 wharf_error *err);
/* Object or array member: *out is a borrowed reference (NULL when absent). */
int wjson_object(json_t *obj, const char *where, const char *key, bool required, json_t **out,
                 wharf_error *err);
int wjson_array(json_t *obj, const char *where, const char *key, bool required, json_t **out,
                wharf_error *err);
/* Array of strings into a NULL-terminated malloc'd vector of borrowed strings
 * (free only the vector). */
int wjson_string_array(json_t *obj, const char *where, const char *key, bool required,
                       const char ***out, size_t *count, wharf_error *err);
/* Loads a JSON document from a file; returns a new reference. */
json_t *wjson_load_file(const char *path, wharf_error *err);
void wjson_decrefp(json_t **j);
#define _cleanup_json_ __attribute__((cleanup(wjson_decrefp)))

/* ---------------------------------------------------------------- log */

/*
 * The runc-compatible logger: `--log FILE --log-format text|json`. Text lines
 * look like logrus's (time="..." level=error msg="..."), JSON lines like
 * {"level":"error","msg":"...","time":"..."}; containerd and podman parse
 * the JSON form to show a runtime's error. Without a file, errors go to stderr.
 */
enum wharf_log_level { WHARF_LOG_ERROR, WHARF_LOG_WARN, WHARF_LOG_INFO, WHARF_LOG_DEBUG };
enum wharf_log_format { WHARF_LOG_TEXT, WHARF_LOG_JSON };
int wharf_log_open(const char *path, enum wharf_log_format fmt, bool debug, wharf_error *err);
/* Use an already open fd (e.g. a pipe from a parent); the logger owns it. */
void wharf_log_set_fd(int fd, enum wharf_log_format fmt, bool debug);
int wharf_log_fd(void);
void wharf_log(enum wharf_log_level level, const char *fmt, ...) WHARF_PRINTF(2, 3);
#define wlog_error(...) wharf_log(WHARF_LOG_ERROR, __VA_ARGS__)
#define wlog_warn(...) wharf_log(WHARF_LOG_WARN, __VA_ARGS__)
#define wlog_info(...) wharf_log(WHARF_LOG_INFO, __VA_ARGS__)
#define wlog_debug(...) wharf_log(WHARF_LOG_DEBUG, __VA_ARGS__)

/* Milliseconds on the monotonic clock, for --debug timings. */
double wharf_now_ms(void);

/* RFC 3339 UTC with nanoseconds: "2026-11-22T05:12:03.123456789Z"; buf >= 40. */
const char *wharf_time_rfc3339(char *buf, size_t len);

/* A span of seconds the way Docker prints ages and uptimes (go-units'
 * HumanDuration): "Less than a second", "1 second", "About a minute",
 * "3 hours", "2 weeks". Appended to out. */
void wharf_human_duration(int64_t seconds, strbuf *out);
/* Go's time.ParseDuration ("1h30m", "2.5s", "-100ms", "0"): 0 and the
 * nanoseconds in *ns, or -EINVAL (-ERANGE beyond 290 years). */
int wharf_parse_go_duration(const char *s, int64_t *ns);
/* Go's Duration.String() ("1m30s", "500ms", "1.5µs", "0s"), appended. */
void wharf_format_go_duration(int64_t ns, strbuf *out);
/* go-units' RAMInBytes, as docker parses -m and size options: "512m",
 * "1.5g", "100 KiB", "1024" (binary units). -1 when s is not one. */
int64_t wharf_parse_ram(const char *s);

/* ---------------------------------------------------------------- detach keys */

/* The keys that leave an interactive stream (docker's --detach-keys). */
#define WHARF_DETACH_KEYS_DEFAULT "ctrl-p,ctrl-q"
#define WHARF_DETACH_KEYS_MAX 32
struct wharf_detach_keys {
    unsigned char seq[WHARF_DETACH_KEYS_MAX];
    size_t len;
};
/* Docker's syntax: comma-separated single characters, "ctrl-@" to "ctrl-_"
 * (ctrl-a is 1, ctrl-[ 27, ...) and "DEL". -EINVAL on anything else. */
int wharf_detach_keys_parse(const char *text, struct wharf_detach_keys *out);

/* Watches a byte stream, split anywhere, for the sequence: keys typed so far
 * are held back and given back if the sequence breaks off. */
struct wharf_escape {
    const struct wharf_detach_keys *keys; /* NULL or empty: never detaches */
    size_t matched;
};
/* Appends to out what passes through buf; true once the whole sequence has
 * come (the rest of buf is dropped). */
bool wharf_escape_filter(struct wharf_escape *e, const char *buf, size_t len, strbuf *out);

#endif
