/*
 * exec.c — exec instances (POST /containers/{id}/exec, /exec/{id}/start,
 * /exec/{id}/json, /exec/{id}/resize), attach (POST /containers/{id}/attach)
 * and POST /containers/{id}/resize.
 *
 * Both hand the hijacked connection to a thread. Without a TTY, output is
 * framed in Docker's 8-byte multiplexed format: the process writes into two
 * pipes and a muxer thread frames what arrives.
 *
 * Attach output is read from the container's log rather than the shim's live
 * socket, because the docker CLI attaches before it starts the container and
 * a short-lived process would otherwise finish before the socket is
 * connected; the shim writes an unterminated line to the log after a short
 * pause, so prompts and terminal echo show. Attach input goes the other way,
 * live: a pump thread reads the client (watching for the detach keys when
 * there is a TTY) into a pipe, and once the container runs a feeder thread
 * copies that pipe into the shim's attach socket (cri_container_attach).
 * What the client's EOF means is Docker's: with StdinOnce (docker run -i)
 * it closes the container's stdin and output goes on until the exit;
 * otherwise it ends the attach and leaves stdin open for the next one.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>

/* ---------------------------------------------------------------- shared */

static int send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_frame(int fd, int stream, const void *buf, size_t len)
{
    unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                          (unsigned char)len};
    int r = send_all(fd, h, 8);
    return r < 0 ? r : send_all(fd, buf, len);
}

/* The client hung up completely (a half-close only ends its input). */
static bool client_gone(int fd)
{
    struct pollfd p = {fd, 0, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

enum pump_end { PUMP_EOF, PUMP_DETACH };

/* Copies the client's input (sock) into a pipe until EOF or the detach keys;
 * then calls on_end and closes the pipe (EOF for whoever reads it). A pipe
 * nobody reads any more (the process is gone) swallows the rest. */
struct pump {
    int sock;
    int out; /* the pipe's write end; the pump closes it */
    struct wharf_detach_keys keys;
    bool use_keys;
    void (*on_end)(struct pump *p, enum pump_end how);
    void *owner;
};

static void *pump_thread(void *arg)
{
    struct pump *p = arg;
    struct wharf_escape esc = {p->use_keys ? &p->keys : NULL, 0};
    _cleanup_free_ char *buf = xmalloc(32768);
    strbuf pass = STRBUF_INIT;
    enum pump_end how = PUMP_EOF;
    for (;;) {
        ssize_t n = recv(p->sock, buf, 32768, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        strbuf_reset(&pass);
        bool detach = wharf_escape_filter(&esc, buf, (size_t)n, &pass);
        if (p->out >= 0 && pass.len && wharf_write_all(p->out, pass.buf, pass.len) < 0) {
            close(p->out);
            p->out = -1;
        }
        if (detach) {
            how = PUMP_DETACH;
            break;
        }
    }
    strbuf_release(&pass);
    /* First say why, then close: the pipe's reader acts on both. */
    if (p->on_end)
        p->on_end(p, how);
    if (p->out >= 0)
        close(p->out);
    p->out = -1;
    return NULL;
}

/* Docker's 400 for ?h= and ?w= (strconv.ParseUint's words). */
static http_response *parse_size(http_request *req, unsigned *rows, unsigned *cols)
{
    static const struct {
        const char *key, *what;
    } keys[] = {{"h", "height"}, {"w", "width"}};
    unsigned *out[] = {rows, cols};
    for (int i = 0; i < 2; i++) {
        const char *v = http_request_query(req, keys[i].key);
        const char *text = v ? v : "";
        char *end;
        errno = 0;
        unsigned long long n = strtoull(text, &end, 10);
        if (!*text || *end || text[0] == '-' || text[0] == '+')
            return http_response_error(400, "invalid resize %s \"%s\": invalid syntax",
                                       keys[i].what, text);
        if (errno == ERANGE || n > UINT32_MAX)
            return http_response_error(400, "invalid resize %s \"%s\": value out of range",
                                       keys[i].what, text);
        *out[i] = (unsigned)n;
    }
    return NULL;
}

static void set_winsize(int master, unsigned rows, unsigned cols)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    ioctl(master, TIOCSWINSZ, &ws);
}

/* ---------------------------------------------------------------- exec */

struct dockerapi_exec {
    char id[65];
    char container[65];
    json_t *config; /* the create request */
    bool running, done;
    int exit_code;
    int master; /* the PTY master while a tty exec runs, else -1 */
    struct dockerapi_exec *next;
};

static pthread_mutex_t execs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t execs_changed = PTHREAD_COND_INITIALIZER;
static struct dockerapi_exec *execs; /* one daemon per process */

static struct dockerapi_exec *find_exec(const char *id)
{
    for (struct dockerapi_exec *e = execs; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

struct muxer {
    int sock;
    int out, err; /* pipe read ends */
};

/* Frames both pipes onto the socket until both reach EOF. */
static void *mux_thread(void *p)
{
    struct muxer *m = p;
    struct pollfd fds[2] = {{m->out, POLLIN, 0}, {m->err, POLLIN, 0}};
    int open = 2;
    char buf[32768];
    while (open > 0) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof(buf));
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open--;
            } else {
                send_frame(m->sock, i + 1, buf, (size_t)n);
            }
        }
    }
    return NULL;
}

/* [height, width] of ConsoleSize; false when absent or malformed. */
static bool console_size(json_t *v, unsigned short *rows, unsigned short *cols)
{
    json_t *h = json_array_get(v, 0), *w = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(h) ||
        !json_is_integer(w) || json_integer_value(h) <= 0 || json_integer_value(w) <= 0 ||
        json_integer_value(h) > UINT16_MAX || json_integer_value(w) > UINT16_MAX)
        return false;
    *rows = (unsigned short)json_integer_value(h);
    *cols = (unsigned short)json_integer_value(w);
    return true;
}

/* exec_create/exec_start name the command after a colon, as dockerd's do. */
static void exec_event(struct dockerapi *api, const struct dockerapi_exec *e,
                       const struct cri_container_status *st, const char *action, json_t *extra)
{
    strbuf name = STRBUF_INIT;
    strbuf_addstr(&name, action);
    if (!extra) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(e->config, "Cmd"), i, a)
            strbuf_addf(&name, "%s%s", i ? " " : ": ", json_string_value(a));
        extra = json_object();
    }
    json_object_set_new(extra, "execID", json_string(e->id));
    dockerapi_container_event(api, e->container, st, strbuf_str(&name), extra);
    strbuf_release(&name);
}

static http_response *exec_create(struct dockerapi *api, http_request *req,
                                  const struct cri_container_status *st)
{
    const char *cid = st->id;
    wharf_error err = {0};
    json_t *body = http_request_body_json(req, &err);
    if (!body)
        return http_response_error(400, "%s", err.msg);
    json_t *cmd = json_object_get(body, "Cmd");
    if (!json_is_array(cmd) || json_array_size(cmd) == 0) {
        json_decref(body);
        return http_response_error(400, "No exec command specified");
    }
    const char *keys = json_string_value(json_object_get(body, "DetachKeys"));
    struct wharf_detach_keys parsed;
    if (keys && *keys && wharf_detach_keys_parse(keys, &parsed) < 0) {
        http_response *resp = http_response_error(400, "Invalid escape keys (%s) provided", keys);
        json_decref(body);
        return resp;
    }
    if (st->state != CRI_STATE_RUNNING) {
        json_decref(body);
        return http_response_error(409, "Container %s is not running", cid);
    }
    struct dockerapi_exec *e = xcalloc(1, sizeof(*e));
    unsigned char b[32];
    if (getrandom(b, sizeof(b), 0) != sizeof(b))
        memset(b, 0x33, sizeof(b));
    for (int i = 0; i < 32; i++)
        snprintf(e->id + 2 * i, 3, "%02x", b[i]);
    snprintf(e->container, sizeof(e->container), "%s", cid);
    e->config = body;
    e->master = -1;
    pthread_mutex_lock(&execs_lock);
    e->next = execs;
    execs = e;
    pthread_mutex_unlock(&execs_lock);
    exec_event(api, e, st, "exec_create", NULL);
    return http_response_json(201, json_pack("{s:s}", "Id", e->id));
}

struct exec_job {
    struct dockerapi *api;
    struct dockerapi_exec *e;
    bool tty;
    unsigned short rows, cols; /* ConsoleSize of the start request */
};

static void on_exec_terminal(int master, void *ud)
{
    struct dockerapi_exec *e = ud;
    pthread_mutex_lock(&execs_lock);
    e->master = master;
    pthread_cond_broadcast(&execs_changed);
    pthread_mutex_unlock(&execs_lock);
}

/* docker exec -it: a detach ends the client's connection; the process runs
 * on (its output then has nowhere to go). */
static void exec_pump_end(struct pump *p, enum pump_end how)
{
    if (how == PUMP_DETACH)
        shutdown(p->sock, SHUT_RDWR);
}

static void run_exec(struct exec_job *job, int sock)
{
    json_t *cfg = job->e->config;
    json_t *cmd = json_object_get(cfg, "Cmd");
    size_t n = json_array_size(cmd);
    const char **argv = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        argv[i] = json_string_value(json_array_get(cmd, i));
    json_t *env = json_object_get(cfg, "Env");
    size_t ne = json_array_size(env);
    const char **envp = xcalloc(ne + 1, sizeof(char *));
    for (size_t i = 0; i < ne; i++)
        envp[i] = json_string_value(json_array_get(env, i));
    const char *cwd = json_string_value(json_object_get(cfg, "WorkingDir"));
    const char *user = json_string_value(json_object_get(cfg, "User"));
    bool in = json_is_true(json_object_get(cfg, "AttachStdin"));
    struct cri_exec_opts o = {
        .argv = argv,
        .env = envp,
        .cwd = cwd && *cwd ? cwd : NULL,
        .user = user && *user ? user : NULL,
        .tty = job->tty,
        .in_fd = in && sock >= 0 ? sock : -1,
        .out_fd = -1,
        .err_fd = -1,
        .on_terminal = on_exec_terminal,
        .userdata = job->e,
    };
    if (job->tty && !(job->rows && job->cols))
        console_size(json_object_get(cfg, "ConsoleSize"), &o.rows, &o.cols);
    else if (job->tty) {
        o.rows = job->rows;
        o.cols = job->cols;
    }
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, inp[2] = {-1, -1};
    pthread_t mux, pump_t;
    bool muxing = false, pumping = false;
    struct muxer m = {sock, -1, -1};
    struct pump pump = {.sock = sock, .out = -1, .on_end = exec_pump_end};
    if (sock >= 0 && job->tty) {
        o.out_fd = sock;
        /* Input goes through the pump, which watches for the detach keys. */
        const char *keys = json_string_value(json_object_get(cfg, "DetachKeys"));
        if (in && pipe2(inp, O_CLOEXEC) == 0) {
            pump.out = inp[1];
            pump.use_keys = wharf_detach_keys_parse(
                                keys && *keys ? keys : WHARF_DETACH_KEYS_DEFAULT, &pump.keys) == 0;
            o.in_fd = inp[0];
            pumping = pthread_create(&pump_t, NULL, pump_thread, &pump) == 0;
            if (!pumping) {
                close(inp[1]);
                o.in_fd = -1;
            }
        }
    } else if (sock >= 0 && pipe2(outp, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0) {
        o.out_fd = outp[1];
        o.err_fd = errp[1];
        m.out = outp[0];
        m.err = errp[0];
        muxing = pthread_create(&mux, NULL, mux_thread, &m) == 0;
    }
    pthread_mutex_lock(&execs_lock);
    job->e->running = true;
    pthread_cond_broadcast(&execs_changed);
    pthread_mutex_unlock(&execs_lock);
    exec_event(job->api, job->e, NULL, "exec_start", NULL);
    int code = 126;
    wharf_error err = {0};
    if (cri_container_exec(job->api->cri, job->e->container, &o, &code, &err) < 0) {
        /* Like dockerd: the reason goes to the client's stdout, and a
         * process that could not be started exits 126. */
        if (sock >= 0) {
            _cleanup_free_ char *msg = xasprintf("%s\r\n", err.msg);
            if (job->tty)
                send_all(sock, msg, strlen(msg));
            else if (muxing)
                wharf_write_all(outp[1], msg, strlen(msg));
            else
                send_frame(sock, 1, msg, strlen(msg));
        }
        code = 126;
    }
    if (outp[1] >= 0)
        close(outp[1]);
    if (errp[1] >= 0)
        close(errp[1]);
    if (muxing) {
        pthread_join(mux, NULL);
    } else {
        if (outp[0] >= 0)
            close(outp[0]);
        if (errp[0] >= 0)
            close(errp[0]);
    }
    /* The exit code first: the client asks for it once its stream ends. */
    pthread_mutex_lock(&execs_lock);
    job->e->running = false;
    job->e->done = true;
    job->e->exit_code = code;
    pthread_cond_broadcast(&execs_changed);
    pthread_mutex_unlock(&execs_lock);
    if (pumping) {
        /* The process is done: stop reading the client. */
        shutdown(sock, SHUT_RDWR);
        pthread_join(pump_t, NULL);
    }
    if (inp[0] >= 0)
        close(inp[0]);
    char text[16];
    snprintf(text, sizeof(text), "%d", code);
    exec_event(job->api, job->e, NULL, "exec_die", json_pack("{s:s}", "exitCode", text));
    free(argv);
    free(envp);
}

static void exec_hijacked(int fd, void *ud)
{
    run_exec(ud, fd);
    shutdown(fd, SHUT_RDWR);
    close(fd);
}

static void *exec_detached(void *p)
{
    run_exec(p, -1);
    free(p);
    return NULL;
}

static http_response *exec_start(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    const char *id = http_request_param(req, "id");
    wharf_error err = {0};
    size_t len = 0;
    json_t *body = http_request_body(req, &len) && len ? http_request_body_json(req, &err) : NULL;
    if (len && !body)
        return http_response_error(400, "%s", err.msg);
    pthread_mutex_lock(&execs_lock);
    struct dockerapi_exec *e = find_exec(id);
    http_response *refused = NULL;
    if (!e)
        refused = http_response_error(404, "No such exec instance: %s", id);
    else if (e->done)
        refused = http_response_error(409, "Error: Exec command %s has already run", id);
    else if (e->running)
        refused = http_response_error(409, "Error: Exec command %s is already running", id);
    else
        e->running = true; /* taken: a second start is refused */
    pthread_mutex_unlock(&execs_lock);
    if (refused) {
        if (body)
            json_decref(body);
        return refused;
    }
    struct exec_job *job = xcalloc(1, sizeof(*job));
    job->api = api;
    job->e = e;
    job->tty = json_is_true(json_object_get(body, "Tty")) ||
               json_is_true(json_object_get(e->config, "Tty"));
    console_size(json_object_get(body, "ConsoleSize"), &job->rows, &job->cols);
    bool detach = json_is_true(json_object_get(body, "Detach"));
    if (body)
        json_decref(body);
    if (detach) {
        if (dockerapi_start_thread(exec_detached, job) < 0) {
            free(job);
            return http_response_error(500, "cannot start the exec");
        }
        return http_response_empty(200);
    }
    http_response *resp = http_response_hijack(exec_hijacked, job, free);
    if (!job->tty)
        http_response_set_header(resp, "Content-Type", "application/vnd.docker.multiplexed-stream");
    return resp;
}

static http_response *exec_inspect(http_request *req, void *ud)
{
    (void)ud;
    const char *id = http_request_param(req, "id");
    pthread_mutex_lock(&execs_lock);
    struct dockerapi_exec *e = find_exec(id);
    json_t *j = NULL;
    if (e) {
        /* dockerd's ProcessConfig: the command split into entrypoint and
         * arguments (dockerpty, under docker-compose exec, reads "tty") */
        json_t *cmd = json_object_get(e->config, "Cmd");
        json_t *args = json_array();
        for (size_t i = 1; i < json_array_size(cmd); i++)
            json_array_append(args, json_array_get(cmd, i));
        const char *user = json_string_value(json_object_get(e->config, "User"));
        json_t *pc = json_pack(
            "{s:b, s:s, s:b, s:s, s:o}", "privileged",
            json_is_true(json_object_get(e->config, "Privileged")), "user", user ? user : "", "tty",
            json_is_true(json_object_get(e->config, "Tty")), "entrypoint",
            json_string_value(json_array_get(cmd, 0)) ? json_string_value(json_array_get(cmd, 0))
                                                      : "",
            "arguments", args);
        j = json_pack("{s:s, s:s, s:b, s:o, s:b, s:b, s:b, s:o}", "ID", e->id, "ContainerID",
                      e->container, "Running", e->running, "ExitCode",
                      e->done ? json_integer(e->exit_code) : json_null(), "OpenStdin",
                      json_is_true(json_object_get(e->config, "AttachStdin")), "OpenStdout", 1,
                      "OpenStderr", 1, "ProcessConfig", pc);
    }
    pthread_mutex_unlock(&execs_lock);
    return j ? http_response_json(200, j)
             : http_response_error(404, "No such exec instance: %s", id);
}

/* POST /exec/{id}/resize: like dockerd, waits up to 10 s for the session's
 * terminal (the docker CLI resizes right after the start). */
static http_response *exec_resize(http_request *req, void *ud)
{
    (void)ud;
    const char *id = http_request_param(req, "id");
    unsigned rows = 0, cols = 0;
    pthread_mutex_lock(&execs_lock);
    bool known = find_exec(id) != NULL;
    pthread_mutex_unlock(&execs_lock);
    if (!known)
        return http_response_error(404, "No such exec instance: %s", id);
    http_response *bad = parse_size(req, &rows, &cols);
    if (bad)
        return bad;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    http_response *resp = NULL;
    pthread_mutex_lock(&execs_lock);
    struct dockerapi_exec *e = find_exec(id);
    for (;;) {
        if (e->master >= 0) {
            set_winsize(e->master, rows, cols);
            resp = http_response_empty(200);
        } else if (e->done || (e->running && !json_is_true(json_object_get(e->config, "Tty")))) {
            /* Without a terminal there is nothing to size (containerd: a no-op). */
            resp = e->done ? http_response_error(409, "exec %s is not running", id)
                           : http_response_empty(200);
        } else if (pthread_cond_timedwait(&execs_changed, &execs_lock, &deadline) == ETIMEDOUT) {
            resp = http_response_error(500, "timeout waiting for exec session ready");
        }
        if (resp)
            break;
    }
    pthread_mutex_unlock(&execs_lock);
    return resp;
}

/* ---------------------------------------------------------------- attach */

/* Recent failed starts: an attach waiting for a start that failed ends, as
 * dockerd closes the streams of a container it could not start (the docker
 * CLI waits for its attach before it reports the error). */
#define FAILED_STARTS 64
static pthread_mutex_t failed_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char id[65];
    struct timespec at;
} failed_starts[FAILED_STARTS];
static unsigned failed_next;

void dockerapi_note_failed_start(const char *id)
{
    pthread_mutex_lock(&failed_lock);
    unsigned i = failed_next++ % FAILED_STARTS;
    snprintf(failed_starts[i].id, sizeof(failed_starts[i].id), "%s", id);
    clock_gettime(CLOCK_REALTIME, &failed_starts[i].at);
    pthread_mutex_unlock(&failed_lock);
}

static bool start_failed_since(const char *id, struct timespec since)
{
    bool found = false;
    pthread_mutex_lock(&failed_lock);
    for (unsigned i = 0; i < FAILED_STARTS && !found; i++)
        found = strcmp(failed_starts[i].id, id) == 0 &&
                (failed_starts[i].at.tv_sec > since.tv_sec ||
                 (failed_starts[i].at.tv_sec == since.tv_sec &&
                  failed_starts[i].at.tv_nsec >= since.tv_nsec));
    pthread_mutex_unlock(&failed_lock);
    return found;
}

struct attach_job {
    struct dockerapi *api;
    char id[65];
    bool tty, out, err, logs, stream;
    bool in;          /* the client's input goes to the container's stdin */
    bool close_stdin; /* StdinOnce without a TTY: EOF closes it */
    struct wharf_detach_keys keys;
    bool was_up;           /* running when the request came */
    unsigned start_count;  /* starts before the request */
    struct timespec since; /* when the request came: output from then on */
    int sock;
    atomic_bool stop;        /* the attach ends: detach, or the input was delivered */
    atomic_bool input_ended; /* the client's EOF came */
};

static int attach_record(const struct cri_log_record *rec, void *ud)
{
    struct attach_job *job = ud;
    if (atomic_load(&job->stop))
        return 1;
    if ((rec->stream == CRI_STREAM_STDOUT && !job->out) ||
        (rec->stream == CRI_STREAM_STDERR && !job->err))
        return 0;
    strbuf line = STRBUF_INIT;
    strbuf_add(&line, rec->content, rec->len);
    /* A terminal's "\r\n" lost its '\r' in the log (shim_log_open's strip_cr). */
    if (!rec->partial)
        strbuf_addstr(&line, job->tty ? "\r\n" : "\n");
    int r = job->tty ? send_all(job->sock, line.buf, line.len)
                     : send_frame(job->sock, rec->stream, line.buf, line.len);
    strbuf_release(&line);
    return r < 0 ? 1 : 0;
}

static bool attach_keep_following(void *ud)
{
    struct attach_job *job = ud;
    return !atomic_load(&job->stop) && !client_gone(job->sock);
}

static void attach_pump_end(struct pump *p, enum pump_end how)
{
    struct attach_job *job = p->owner;
    atomic_store(&job->input_ended, true);
    if (how == PUMP_DETACH)
        atomic_store(&job->stop, true);
}

/* The feeder: the pipe the pump fills, into the shim's attach socket. With
 * close_stdin it relays until the container exits and may outlive the
 * attach, so it owns what it uses; without, it returns once the input has
 * been delivered, and that ends the attach (Docker: output stops with the
 * input unless StdinOnce). */
struct feeder {
    struct cri *cri;
    char id[65];
    int in;
    bool close_stdin;
    struct attach_job *job; /* NULL when detached (close_stdin) */
};

static void *feeder_thread(void *arg)
{
    struct feeder *f = arg;
    wharf_error err = {0};
    cri_container_attach(f->cri, f->id, f->in, -1, -1, f->close_stdin, &err);
    close(f->in);
    if (f->job && atomic_load(&f->job->input_ended))
        atomic_store(&f->job->stop, true);
    free(f);
    return NULL;
}

/* Waits for the start the request precedes (docker run, start -a). False
 * when the client left or ended the attach first. */
static bool wait_for_start(struct attach_job *job)
{
    for (;;) {
        struct cri_container_status st;
        wharf_error err = {0};
        if (cri_container_status(job->api->cri, job->id, &st, &err) < 0)
            return false;
        bool started = st.start_count > job->start_count || dockerapi_is_up(&st);
        cri_container_status_release(&st);
        if (started)
            return true;
        if (atomic_load(&job->stop) || client_gone(job->sock) ||
            start_failed_since(job->id, job->since))
            return false;
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static void attach_hijacked(int fd, void *ud)
{
    struct attach_job *job = ud;
    job->sock = fd;
    int pipefd[2] = {-1, -1};
    pthread_t pump_t;
    bool pumping = false;
    struct pump pump = {.sock = fd, .out = -1, .on_end = attach_pump_end, .owner = job};
    if (job->in && pipe2(pipefd, O_CLOEXEC) == 0) {
        pump.out = pipefd[1];
        /* dockerd watches for the keys only on a terminal. */
        pump.keys = job->keys;
        pump.use_keys = job->tty;
        pumping = pthread_create(&pump_t, NULL, pump_thread, &pump) == 0;
        if (!pumping)
            close(pipefd[1]);
    }
    bool go = job->was_up || !job->stream || wait_for_start(job);
    pthread_t feeder_t;
    bool feeding = false;
    if (go && pumping && job->stream) {
        struct feeder *f = xcalloc(1, sizeof(*f));
        f->cri = job->api->cri;
        snprintf(f->id, sizeof(f->id), "%s", job->id);
        f->in = pipefd[0];
        f->close_stdin = job->close_stdin;
        f->job = job->close_stdin ? NULL : job;
        if (pthread_create(&feeder_t, NULL, feeder_thread, f) == 0) {
            pipefd[0] = -1;
            feeding = true;
            if (job->close_stdin)
                pthread_detach(feeder_t);
        } else {
            free(f);
        }
    }
    if (go && (job->stream || job->logs)) {
        struct cri_log_opts o = {.tail = -1,
                                 .follow = job->stream,
                                 .poll_ms = 20,
                                 .keep_following = attach_keep_following};
        if (!job->logs)
            o.since = job->since;
        wharf_error err = {0};
        cri_container_logs(job->api->cri, job->id, &o, attach_record, job, &err);
    }
    atomic_store(&job->stop, true);
    shutdown(fd, SHUT_RDWR);
    if (pumping)
        pthread_join(pump_t, NULL);
    /* The pump closed the pipe: a feeder without close_stdin returns now. */
    if (feeding && !job->close_stdin)
        pthread_join(feeder_t, NULL);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    close(fd);
}

/* The job is a log reader (dockerapi_monitor_log_reader) from the request
 * until the hijack ends or never happens. */
static void attach_job_free(void *p)
{
    struct attach_job *job = p;
    dockerapi_monitor_log_reader(job->api, job->id, false);
    free(job);
}

static http_response *attach(struct dockerapi *api, http_request *req,
                             const struct cri_container_status *st)
{
    const char *ref = http_request_param(req, "id");
    const char *keys = http_request_query(req, "detachKeys");
    struct attach_job *job = xcalloc(1, sizeof(*job));
    if (wharf_detach_keys_parse(keys && *keys ? keys : WHARF_DETACH_KEYS_DEFAULT, &job->keys) < 0) {
        free(job);
        return http_response_error(400, "Invalid detach keys (%s) provided", keys);
    }
    if (st->state == CRI_STATE_PAUSED) {
        free(job);
        return http_response_error(
            409, "container %s is paused, unpause the container before attach", ref);
    }
    json_t *meta = dockerapi_meta(st);
    json_t *config = json_object_get(meta, "Config");
    bool tty = json_is_true(json_object_get(st->config, "tty"));
    job->api = api;
    snprintf(job->id, sizeof(job->id), "%s", st->id);
    job->tty = tty;
    job->out = http_request_query_bool(req, "stdout", false);
    job->err = http_request_query_bool(req, "stderr", false);
    job->logs = http_request_query_bool(req, "logs", false);
    job->stream = http_request_query_bool(req, "stream", false);
    /* Input only reaches a container created with OpenStdin. */
    job->in = http_request_query_bool(req, "stdin", false) &&
              json_is_true(json_object_get(st->config, "stdin"));
    job->close_stdin = json_is_true(json_object_get(config, "StdinOnce")) && !tty;
    job->was_up = dockerapi_is_up(st);
    job->start_count = st->start_count;
    clock_gettime(CLOCK_REALTIME, &job->since);
    if (meta)
        json_decref(meta);
    dockerapi_container_event(api, st->id, st, "attach", NULL);
    dockerapi_monitor_log_reader(api, st->id, true);
    http_response *resp = http_response_hijack(attach_hijacked, job, attach_job_free);
    http_response_set_header(resp, "Content-Type",
                             tty ? "application/vnd.docker.raw-stream"
                                 : "application/vnd.docker.multiplexed-stream");
    return resp;
}

/* POST /containers/{id}/resize */
static http_response *container_resize(struct dockerapi *api, http_request *req,
                                       const struct cri_container_status *st)
{
    unsigned rows = 0, cols = 0;
    http_response *bad = parse_size(req, &rows, &cols);
    if (bad)
        return bad;
    if (!dockerapi_is_up(st))
        return http_response_error(409, "Container %s is not running", st->id);
    wharf_error err = {0};
    if (cri_container_resize(api->cri, st->id, rows, cols, &err) < 0) {
        /* No terminal: nothing to size (containerd's answer is a no-op too). */
        if (err.code == -ENOTTY)
            return http_response_empty(200);
        if (err.code == -ESRCH)
            return http_response_error(409, "Container %s is not running", st->id);
        return http_response_error(500, "%s", err.msg);
    }
    return http_response_empty(200);
}

/* ---------------------------------------------------------------- failed starts */

static bool contains_nocase(const char *hay, const char *needle)
{
    return needle && *needle && strcasestr(hay, needle) != NULL;
}

int dockerapi_start_error_exit(const char *msg, const char *cmd)
{
    if (contains_nocase(msg, cmd) && (contains_nocase(msg, "executable file not found") ||
                                      contains_nocase(msg, "no such file or directory")))
        return 127;
    if (contains_nocase(msg, "permission denied") || contains_nocase(msg, "not a directory"))
        return 126;
    return 128;
}

int dockerapi_start_error_status(const char *msg, const char *cmd)
{
    return dockerapi_start_error_exit(msg, cmd) == 128 ? 500 : 400;
}

int dockerapi_register_exec(struct dockerapi *api, http_router *r, wharf_error *err)
{
    int rc;
    if ((rc = dockerapi_add_container_route(api, r, "POST", "/containers/{id}/exec", exec_create,
                                            err)) < 0 ||
        (rc = http_router_add(r, "POST", "/exec/{id}/start", exec_start, api, err)) < 0 ||
        (rc = http_router_add(r, "GET", "/exec/{id}/json", exec_inspect, api, err)) < 0 ||
        (rc = http_router_add(r, "POST", "/exec/{id}/resize", exec_resize, api, err)) < 0 ||
        (rc = dockerapi_add_container_route(api, r, "POST", "/containers/{id}/attach", attach,
                                            err)) < 0 ||
        (rc = dockerapi_add_container_route(api, r, "POST", "/containers/{id}/resize",
                                            container_resize, err)) < 0)
        return rc;
    return 0;
}
