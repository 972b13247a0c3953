/*
 * wharf_attach.c — the interactive commands: attach, exec, and the attached
 * part of run and start (docker's hijacked streams).
 *
 * One poll loop per stream: the hijacked socket's output goes to stdout and
 * stderr (demultiplexed unless the container has a TTY), stdin goes to the
 * socket (non-blocking, so a container that does not read its input never
 * stops its output from arriving), SIGWINCH resizes the remote terminal and,
 * without a TTY, the usual terminating signals are forwarded to the
 * container (docker's --sig-proxy). With a TTY and a terminal on stdin, the
 * local terminal is put in raw mode for the stream and the detach keys are
 * watched for here, as the docker CLI does.
 *
 * run and start -a send the wait request before the start, on a thread with
 * a client of its own, and only start once its response headers arrived:
 * the daemon then knows which exit to report even for a process that ends
 * at once.
 */
#include "wharf_cmds.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

/* ---------------------------------------------------------------- terminal */

static struct termios saved_termios;
static bool terminal_raw;

static void terminal_restore(void)
{
    if (terminal_raw) {
        tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios);
        terminal_raw = false;
    }
}

/* Raw mode on stdin (a terminal) for a TTY stream: keys go to the container
 * as typed, its terminal does the echo. */
static void terminal_make_raw(void)
{
    if (terminal_raw || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
        return;
    struct termios t = saved_termios;
    cfmakeraw(&t);
    if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) == 0) {
        terminal_raw = true;
        static bool registered;
        if (!registered)
            atexit(terminal_restore);
        registered = true;
    }
}

bool wcmd_check_tty(bool attach_stdin, bool tty)
{
    if (tty && attach_stdin && !isatty(STDIN_FILENO)) {
        fprintf(stderr, "the input device is not a TTY\n");
        return false;
    }
    return true;
}

static bool terminal_size(unsigned *rows, unsigned *cols)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
        return false;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return true;
}

json_t *wcmd_console_size(void)
{
    unsigned rows, cols;
    if (!isatty(STDOUT_FILENO) || !terminal_size(&rows, &cols))
        return NULL;
    return json_pack("[I, I]", (json_int_t)rows, (json_int_t)cols);
}

/* POST resize_path?h=&w= with the local terminal's size. */
static int resize_remote(struct client *c, const char *resize_path)
{
    unsigned rows, cols;
    if (!terminal_size(&rows, &cols))
        return 0;
    _cleanup_free_ char *path = xasprintf("%s?h=%u&w=%u", resize_path, rows, cols);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    int r = client_request(c, "POST", path, NULL, &resp, &err);
    long status = resp.status;
    client_response_release(&resp);
    return r < 0 ? r : status >= 400 ? -EIO : 0;
}

/* ---------------------------------------------------------------- wait */

/* A wait request on its own thread and client (for the same daemon). */
struct waiter {
    const char *host;
    char *path;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool ready; /* the response headers arrived (or the request is over) */
    int code;   /* the container's exit code; 125 when the wait failed */
    strbuf body;
};

static void waiter_headers(void *data, long status)
{
    (void)status;
    struct waiter *w = data;
    pthread_mutex_lock(&w->lock);
    w->ready = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static int waiter_data(void *data, const char *buf, size_t len)
{
    struct waiter *w = data;
    strbuf_add(&w->body, buf, len);
    return 0;
}

static void *waiter_thread(void *p)
{
    struct waiter *w = p;
    wharf_error err = {0};
    struct client_response resp = CLIENT_RESPONSE_INIT;
    struct client *c = client_new(w->host, &err);
    w->code = 125;
    if (!c) {
        fprintf(stderr, "error waiting for container: %s\n", err.msg);
    } else if (client_stream_notify(c, "POST", w->path, NULL, waiter_headers, waiter_data, w, &resp,
                                    &err) < 0) {
        fprintf(stderr, "error waiting for container: %s\n", err.msg);
    } else if (resp.status >= 400) {
        fprintf(stderr, "error waiting for container: %s\n", client_error_message(&resp));
    } else {
        json_error_t je;
        json_t *j = json_loadb(w->body.buf, w->body.len, 0, &je);
        const char *msg =
            json_string_value(json_object_get(json_object_get(j, "Error"), "Message"));
        if (msg && *msg)
            fprintf(stderr, "error waiting for container: %s\n", msg);
        else if (json_is_integer(json_object_get(j, "StatusCode")))
            w->code = (int)json_integer_value(json_object_get(j, "StatusCode"));
        else
            fprintf(stderr, "error waiting for container: unexpected EOF\n");
        if (j)
            json_decref(j);
    }
    client_response_release(&resp);
    client_free(c);
    waiter_headers(w, 0); /* never leave the starter waiting */
    return NULL;
}

/* Sends POST /containers/ID/wait?condition=COND and returns once the daemon
 * has taken it (its headers arrived). */
static int waiter_start(struct waiter *w, struct client *c, const char *id, const char *cond)
{
    *w = (struct waiter){.host = client_host(c), .body = STRBUF_INIT};
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    _cleanup_free_ char *eid = wcmd_escape(id);
    w->path = xasprintf("/containers/%s/wait?condition=%s", eid, cond);
    /* Signals are for the main thread (the stream forwards them). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&w->thread, NULL, waiter_thread, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        free(w->path);
        fprintf(stderr, "error waiting for container: cannot create a thread\n");
        return -1;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->ready)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

/* The exit code (125 after printing why the wait failed). */
static int waiter_finish(struct waiter *w)
{
    pthread_join(w->thread, NULL);
    free(w->path);
    strbuf_release(&w->body);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    return w->code;
}

/* ---------------------------------------------------------------- stream */

struct stream {
    struct client *c;        /* for resizes and forwarded signals */
    int sock;                /* the hijacked connection */
    strbuf *pending;         /* output that came with the response headers */
    bool tty;                /* raw output; else Docker's multiplexed frames */
    bool input;              /* our stdin goes to the stream */
    const char *detach_keys; /* NULL: docker's default */
    const char *resize_path; /* "/containers/ID/resize"; NULL: no resizing */
    const char *kill_path;   /* "/containers/ID/kill": forward signals; NULL: no */
};

enum stream_end { STREAM_DONE, STREAM_DETACHED, STREAM_FAILED };

static int write_frame(void *data, int stream, const char *buf, size_t len)
{
    (void)data;
    return wcmd_write_all(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, buf, len) < 0 ? -1 : 0;
}

static int deliver(const struct stream *s, struct client_demux *demux, const char *buf, size_t len)
{
    if (s->tty)
        return wcmd_write_all(STDOUT_FILENO, buf, len) < 0 ? -1 : 0;
    return client_demux_feed(demux, buf, len, write_frame, NULL);
}

static const int proxied_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static enum stream_end stream_run(const struct stream *s)
{
    struct client_demux demux = {0};
    enum stream_end end = STREAM_DONE;
    if (s->pending->len && deliver(s, &demux, s->pending->buf, s->pending->len) < 0)
        return STREAM_FAILED;
    bool keys_here = s->input && s->tty && isatty(STDIN_FILENO);
    struct wharf_detach_keys keys = {0};
    if (keys_here &&
        wharf_detach_keys_parse(s->detach_keys && *s->detach_keys ? s->detach_keys
                                                                  : WHARF_DETACH_KEYS_DEFAULT,
                                &keys) < 0)
        wharf_detach_keys_parse(WHARF_DETACH_KEYS_DEFAULT, &keys);
    struct wharf_escape esc = {keys_here ? &keys : NULL, 0};
    if (keys_here)
        terminal_make_raw();

    sigset_t mask, old;
    sigemptyset(&mask);
    if (s->resize_path && s->tty && isatty(STDOUT_FILENO))
        sigaddset(&mask, SIGWINCH);
    if (s->kill_path && !s->tty)
        for (size_t i = 0; i < sizeof(proxied_signals) / sizeof(proxied_signals[0]); i++)
            sigaddset(&mask, proxied_signals[i]);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    bool stdin_open = s->input;
    if (!stdin_open)
        shutdown(s->sock, SHUT_WR); /* no input: the daemon reads EOF at once */
    fcntl(s->sock, F_SETFL, fcntl(s->sock, F_GETFL) | O_NONBLOCK);
    strbuf out = STRBUF_INIT; /* typed input not sent yet */
    size_t out_off = 0;
    char buf[32768];
    for (;;) {
        bool backlog = out.len > out_off;
        struct pollfd p[3] = {
            {s->sock, POLLIN | (backlog ? POLLOUT : 0), 0},
            {stdin_open && !backlog ? STDIN_FILENO : -1, POLLIN, 0},
            {sig_fd, POLLIN, 0},
        };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            end = STREAM_FAILED;
            break;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(s->sock, buf, sizeof(buf), 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                goto input;
            if (n <= 0)
                break; /* the output ended: so does the stream */
            if (deliver(s, &demux, buf, (size_t)n) < 0) {
                end = STREAM_FAILED;
                break;
            }
        }
    input:
        if (backlog && (p[0].revents & POLLOUT)) {
            ssize_t n =
                send(s->sock, out.buf + out_off, out.len - out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                out_off += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                stdin_open = false; /* the daemon stopped reading; output goes on */
            if (out_off == out.len) {
                strbuf_reset(&out);
                out_off = 0;
                if (!stdin_open)
                    shutdown(s->sock, SHUT_WR);
            }
        }
        if (p[1].fd >= 0 && p[1].revents) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n <= 0) {
                /* EOF: the daemon sees the half-close; output goes on. */
                stdin_open = false;
                if (out.len == out_off)
                    shutdown(s->sock, SHUT_WR);
            } else if (wharf_escape_filter(&esc, buf, (size_t)n, &out)) {
                end = STREAM_DETACHED;
                break;
            }
        }
        if (sig_fd >= 0 && (p[2].revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGWINCH) {
                    resize_remote(s->c, s->resize_path);
                } else if (s->kill_path) {
                    _cleanup_free_ char *path =
                        xasprintf("%s?signal=%u", s->kill_path, si.ssi_signo);
                    struct client_response resp = CLIENT_RESPONSE_INIT;
                    wharf_error err = {0};
                    client_request(s->c, "POST", path, NULL, &resp, &err);
                    client_response_release(&resp);
                }
            }
        }
    }
    strbuf_release(&out);
    if (sig_fd >= 0)
        close(sig_fd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    terminal_restore();
    return end;
}

/* The first resize after a start, retried while the daemon gets the terminal
 * ready (docker's initTtySize). */
static void initial_resize(struct client *c, const char *resize_path)
{
    for (int i = 0; i < 10; i++) {
        if (resize_remote(c, resize_path) == 0)
            return;
        usleep((useconds_t)(10000 * (i + 1)));
    }
}

/* Hijacks method path: 0 with *fd set, or -1 after printing the error. */
static int hijack(struct client *c, const char *path, json_t *body, int *fd, strbuf *pending)
{
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    int r = client_hijack(c, "POST", path, body, fd, pending, &resp, &err);
    if (r < 0)
        fprintf(stderr, "%s\n", err.msg);
    else if (*fd < 0)
        wcmd_daemon_error(&resp);
    client_response_release(&resp);
    return *fd >= 0 ? 0 : -1;
}

/* ------------------------------------------------- run and start -a */

/* docker's runStartContainerErr: the exit code for a start that failed. */
int wcmd_start_error_code(const char *msg)
{
    if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory") ||
        strstr(msg, "system cannot find the file specified"))
        return 127;
    if (strstr(msg, "permission denied") || strstr(msg, "is a directory"))
        return 126;
    return WCMD_EXIT_USAGE;
}

/* POST /containers/ID/start; 0, or the failed response's message in *msg
 * (caller frees) after printing it. */
static int start_container(struct client *c, const char *id, char **msg)
{
    _cleanup_free_ char *eid = wcmd_escape(id);
    _cleanup_free_ char *path = xasprintf("/containers/%s/start", eid);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    int r = 0;
    if (client_request(c, "POST", path, NULL, &resp, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        *msg = xstrdup(err.msg);
        r = -1;
    } else if (resp.status >= 400) {
        wcmd_daemon_error(&resp);
        *msg = xstrdup(client_error_message(&resp));
        r = -1;
    }
    client_response_release(&resp);
    return r;
}

int wcmd_attach_and_start(struct client *c, const char *id,
                          const struct wcmd_attach_opts *o)
{
    _cleanup_free_ char *eid = wcmd_escape(id);
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addf(&path, "/containers/%s/attach?stream=1&stdout=%d&stderr=%d%s", eid,
                !o->no_stdout, !o->no_stderr, o->input ? "&stdin=1" : "");
    if (o->detach_keys) {
        _cleanup_free_ char *k = wcmd_escape(o->detach_keys);
        strbuf_addf(&path, "&detachKeys=%s", k);
    }
    int fd = -1;
    _cleanup_strbuf_ strbuf pending = STRBUF_INIT;
    if (hijack(c, path.buf, NULL, &fd, &pending) < 0)
        return o->is_run ? WCMD_EXIT_USAGE : WCMD_EXIT_ERROR;
    struct waiter w;
    if (waiter_start(&w, c, id, o->auto_remove ? "removed" : "next-exit") < 0) {
        close(fd);
        return o->is_run ? WCMD_EXIT_USAGE : WCMD_EXIT_ERROR;
    }
    _cleanup_free_ char *msg = NULL;
    if (start_container(c, id, &msg) < 0) {
        close(fd);
        /* --rm: the daemon removes what it could not start; see it through. */
        if (o->auto_remove)
            waiter_finish(&w);
        else
            pthread_detach(w.thread);
        return o->is_run ? wcmd_start_error_code(msg) : WCMD_EXIT_ERROR;
    }
    _cleanup_free_ char *resize_path = xasprintf("/containers/%s/resize", eid);
    _cleanup_free_ char *kill_path = xasprintf("/containers/%s/kill", eid);
    if (o->tty && isatty(STDOUT_FILENO))
        initial_resize(c, resize_path);
    struct stream s = {.c = c,
                       .sock = fd,
                       .pending = &pending,
                       .tty = o->tty,
                       .input = o->input,
                       .detach_keys = o->detach_keys,
                       .resize_path = resize_path,
                       .kill_path = o->sig_proxy ? kill_path : NULL};
    enum stream_end end = stream_run(&s);
    close(fd);
    if (end == STREAM_DETACHED) {
        /* The container runs on; its wait is left behind. */
        pthread_detach(w.thread);
        return 0;
    }
    return waiter_finish(&w);
}

/* ---------------------------------------------------------------- attach */

/* GET /containers/ID/json into *out (caller releases); -1 after printing. */
static int inspect_container(struct client *c, const char *ref, struct client_response *out)
{
    _cleanup_free_ char *eid = wcmd_escape(ref);
    _cleanup_free_ char *path = xasprintf("/containers/%s/json", eid);
    return wcmd_call(c, "GET", path, NULL, out, false);
}

int wcmd_attach(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { OPT_DETACH_KEYS = 256, OPT_NO_STDIN, OPT_SIG_PROXY };
    static const struct option opts[] = {{"detach-keys", required_argument, 0, OPT_DETACH_KEYS},
                                         {"no-stdin", no_argument, 0, OPT_NO_STDIN},
                                         {"sig-proxy", optional_argument, 0, OPT_SIG_PROXY},
                                         {0, 0, 0, 0}};
    const char *keys = NULL;
    bool no_stdin = false, sig_proxy = true;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_DETACH_KEYS:
            keys = optarg;
            break;
        case OPT_NO_STDIN:
            no_stdin = true;
            break;
        case OPT_SIG_PROXY:
            sig_proxy = !optarg || strcmp(optarg, "false") != 0;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind != 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires exactly 1 argument",
                                ctx->name);
    const char *ref = argv[optind];
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int fd = -1;
    strbuf pending = STRBUF_INIT;
    _cleanup_free_ char *eid = NULL, *resize_path = NULL, *kill_path = NULL;
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    if (inspect_container(c, ref, &resp) < 0)
        goto out;
    json_t *state = json_object_get(resp.json, "State");
    json_t *config = json_object_get(resp.json, "Config");
    const char *id = json_string_value(json_object_get(resp.json, "Id"));
    if (!json_is_true(json_object_get(state, "Running"))) {
        fprintf(stderr, "You cannot attach to a stopped container, start it first\n");
        goto out;
    }
    if (json_is_true(json_object_get(state, "Paused"))) {
        fprintf(stderr, "You cannot attach to a paused container, unpause it first\n");
        goto out;
    }
    bool tty = json_is_true(json_object_get(config, "Tty"));
    bool in = !no_stdin && json_is_true(json_object_get(config, "OpenStdin"));
    if (!wcmd_check_tty(in, tty))
        goto out;
    eid = wcmd_escape(id ? id : ref);
    strbuf_addf(&path, "/containers/%s/attach?stream=1&stdout=1&stderr=1%s", eid,
                in ? "&stdin=1" : "");
    if (keys) {
        _cleanup_free_ char *k = wcmd_escape(keys);
        strbuf_addf(&path, "&detachKeys=%s", k);
    }
    if (hijack(c, path.buf, NULL, &fd, &pending) < 0)
        goto out;
    /* docker attach ends with the container's exit code. */
    struct waiter w;
    if (waiter_start(&w, c, id ? id : ref, "not-running") < 0)
        goto out;
    resize_path = xasprintf("/containers/%s/resize", eid);
    kill_path = xasprintf("/containers/%s/kill", eid);
    if (tty && isatty(STDOUT_FILENO))
        initial_resize(c, resize_path);
    struct stream s = {.c = c,
                       .sock = fd,
                       .pending = &pending,
                       .tty = tty,
                       .input = in,
                       .detach_keys = keys,
                       .resize_path = resize_path,
                       .kill_path = sig_proxy ? kill_path : NULL};
    enum stream_end end = stream_run(&s);
    close(fd);
    fd = -1;
    if (end == STREAM_DETACHED) {
        pthread_detach(w.thread);
        fprintf(stderr, "read escape sequence\n");
        goto out;
    }
    rc = waiter_finish(&w);
out:
    if (fd >= 0)
        close(fd);
    strbuf_release(&pending);
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- exec */

int wcmd_exec(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { OPT_DETACH_KEYS = 256, OPT_PRIVILEGED };
    static const struct option opts[] = {{"interactive", no_argument, 0, 'i'},
                                         {"tty", no_argument, 0, 't'},
                                         {"detach", no_argument, 0, 'd'},
                                         {"env", required_argument, 0, 'e'},
                                         {"user", required_argument, 0, 'u'},
                                         {"workdir", required_argument, 0, 'w'},
                                         {"detach-keys", required_argument, 0, OPT_DETACH_KEYS},
                                         {"privileged", no_argument, 0, OPT_PRIVILEGED},
                                         {0, 0, 0, 0}};
    bool interactive = false, tty = false, detach = false, privileged = false;
    const char *user = NULL, *workdir = NULL, *keys = NULL;
    _cleanup_json_ json_t *env = json_array();
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+itde:u:w:", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            interactive = true;
            break;
        case 't':
            tty = true;
            break;
        case 'd':
            detach = true;
            break;
        case 'e':
            if (!strchr(optarg, '=')) {
                /* "-e VAR" passes the caller's value, or nothing. */
                if (getenv(optarg))
                    json_array_append_new(env, json_sprintf("%s=%s", optarg, getenv(optarg)));
            } else {
                json_array_append_new(env, json_string(optarg));
            }
            break;
        case 'u':
            user = optarg;
            break;
        case 'w':
            workdir = optarg;
            break;
        case OPT_DETACH_KEYS:
            keys = optarg;
            break;
        case OPT_PRIVILEGED:
            privileged = true;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind < 2)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires at least 2 arguments",
                                ctx->name);
    const char *ref = argv[optind];
    if (!detach && !wcmd_check_tty(interactive, tty))
        return WCMD_EXIT_ERROR;
    _cleanup_json_ json_t *cmd = json_array();
    for (int i = optind + 1; i < argc; i++)
        json_array_append_new(cmd, json_string(argv[i]));
    _cleanup_json_ json_t *body = json_pack(
        "{s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:O, s:O}", "User", user ? user : "", "Privileged",
        privileged, "Tty", tty, "AttachStdin", interactive && !detach, "AttachStdout", !detach,
        "AttachStderr", !detach, "Detach", detach, "Env", env, "Cmd", cmd);
    if (workdir)
        json_object_set_new(body, "WorkingDir", json_string(workdir));
    if (keys)
        json_object_set_new(body, "DetachKeys", json_string(keys));
    json_t *size = tty ? wcmd_console_size() : NULL;
    if (size)
        json_object_set(body, "ConsoleSize", size);

    struct client *c = wcmd_client(ctx);
    if (!c) {
        if (size)
            json_decref(size);
        return WCMD_EXIT_ERROR;
    }
    int rc = WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int fd = -1;
    strbuf pending = STRBUF_INIT;
    _cleanup_free_ char *eref = wcmd_escape(ref);
    _cleanup_free_ char *cpath = xasprintf("/containers/%s/exec", eref);
    _cleanup_free_ char *exec_id = NULL, *spath = NULL, *resize_path = NULL, *ipath = NULL;
    _cleanup_json_ json_t *start = json_pack("{s:b, s:b}", "Detach", detach, "Tty", tty);
    if (wcmd_call(c, "POST", cpath, body, &resp, false) < 0)
        goto out;
    exec_id = xstrdup(json_string_value(json_object_get(resp.json, "Id")) ?: "");
    client_response_release(&resp);
    spath = xasprintf("/exec/%s/start", exec_id);
    if (size)
        json_object_set(start, "ConsoleSize", size);
    if (detach) {
        if (wcmd_call(c, "POST", spath, start, &resp, false) == 0)
            rc = 0;
        goto out;
    }
    if (hijack(c, spath, start, &fd, &pending) < 0)
        goto out;
    resize_path = xasprintf("/exec/%s/resize", exec_id);
    if (tty && isatty(STDOUT_FILENO))
        initial_resize(c, resize_path);
    struct stream s = {.c = c,
                       .sock = fd,
                       .pending = &pending,
                       .tty = tty,
                       .input = interactive,
                       .detach_keys = keys,
                       .resize_path = resize_path};
    enum stream_end end = stream_run(&s);
    close(fd);
    fd = -1;
    if (end == STREAM_DETACHED) {
        fprintf(stderr, "read escape sequence\n");
        goto out;
    }
    ipath = xasprintf("/exec/%s/json", exec_id);
    if (wcmd_call(c, "GET", ipath, NULL, &resp, false) < 0)
        goto out;
    rc = (int)json_integer_value(json_object_get(resp.json, "ExitCode"));
out:
    if (fd >= 0)
        close(fd);
    if (size)
        json_decref(size);
    strbuf_release(&pending);
    client_response_release(&resp);
    client_free(c);
    return rc;
}
