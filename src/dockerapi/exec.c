/*
 * exec.c — exec instances (POST /containers/{id}/exec, /exec/{id}/start,
 * /exec/{id}/json) and attach (POST /containers/{id}/attach).
 *
 * Both hand the hijacked connection to a thread. Without a TTY, output is
 * framed in Docker's 8-byte multiplexed format: the process writes into two
 * pipes and a muxer thread frames what arrives. Attach output is read from
 * the container's log rather than the shim's live socket, because the docker
 * CLI attaches before it starts the container and a short-lived process
 * would otherwise finish before the socket is connected.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

struct dockerapi_exec {
    char id[65];
    char container[65];
    json_t *config; /* the create request */
    bool running, done;
    int exit_code;
    struct dockerapi_exec *next;
};

static pthread_mutex_t execs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dockerapi_exec *execs; /* one daemon per process */


static struct dockerapi_exec *find_exec(const char *id)
{
    for (struct dockerapi_exec *e = execs; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

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
};

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
    };
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    pthread_t mux;
    bool muxing = false;
    struct muxer m = {sock, -1, -1};
    if (sock >= 0 && job->tty) {
        o.out_fd = sock;
    } else if (sock >= 0 && pipe2(outp, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0) {
        o.out_fd = outp[1];
        o.err_fd = errp[1];
        m.out = outp[0];
        m.err = errp[0];
        muxing = pthread_create(&mux, NULL, mux_thread, &m) == 0;
    }
    pthread_mutex_lock(&execs_lock);
    job->e->running = true;
    pthread_mutex_unlock(&execs_lock);
    exec_event(job->api, job->e, NULL, "exec_start", NULL);
    int code = 126;
    wharf_error err = {0};
    if (cri_container_exec(job->api->cri, job->e->container, &o, &code, &err) < 0) {
        const char *msg = err.msg;
        if (sock >= 0) {
            if (job->tty)
                send_all(sock, msg, strlen(msg));
            else
                send_frame(sock, 2, msg, strlen(msg));
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
    pthread_mutex_lock(&execs_lock);
    job->e->running = false;
    job->e->done = true;
    job->e->exit_code = code;
    pthread_mutex_unlock(&execs_lock);
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
    pthread_mutex_lock(&execs_lock);
    struct dockerapi_exec *e = find_exec(id);
    bool started = e && (e->running || e->done);
    pthread_mutex_unlock(&execs_lock);
    if (!e)
        return http_response_error(404, "No such exec instance: %s", id);
    if (started)
        return http_response_error(409, "exec %s has already been started", id);
    wharf_error err = {0};
    size_t len = 0;
    json_t *body = http_request_body(req, &len) && len ? http_request_body_json(req, &err) : NULL;
    struct exec_job *job = xcalloc(1, sizeof(*job));
    job->api = api;
    job->e = e;
    job->tty = json_is_true(json_object_get(body, "Tty")) ||
               json_is_true(json_object_get(e->config, "Tty"));
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
    if (e)
        j = json_pack("{s:s, s:s, s:b, s:o, s:b, s:b, s:b, s:O}", "ID", e->id, "ContainerID",
                      e->container, "Running", e->running, "ExitCode",
                      e->done ? json_integer(e->exit_code) : json_null(), "OpenStdin",
                      json_is_true(json_object_get(e->config, "AttachStdin")), "OpenStdout", 1,
                      "OpenStderr", 1, "ProcessConfig", e->config);
    pthread_mutex_unlock(&execs_lock);
    return j ? http_response_json(200, j)
             : http_response_error(404, "No such exec instance: %s", id);
}

/* ---------------------------------------------------------------- attach */

struct attach_job {
    struct dockerapi *api;
    char id[65];
    bool tty, out, err, logs_before;
    int sock;
};

/* The job is a log reader (dockerapi_monitor_log_reader) from the request
 * until the hijack ends or never happens. */
static void attach_job_free(void *p)
{
    struct attach_job *job = p;
    dockerapi_monitor_log_reader(job->api, job->id, false);
    free(job);
}

static int attach_record(const struct cri_log_record *rec, void *ud)
{
    struct attach_job *job = ud;
    if ((rec->stream == CRI_STREAM_STDOUT && !job->out) ||
        (rec->stream == CRI_STREAM_STDERR && !job->err))
        return 0;
    strbuf line = STRBUF_INIT;
    strbuf_add(&line, rec->content, rec->len);
    if (!rec->partial)
        strbuf_addstr(&line, job->tty ? "\r\n" : "\n");
    int r = job->tty ? send_all(job->sock, line.buf, line.len)
                     : send_frame(job->sock, rec->stream, line.buf, line.len);
    strbuf_release(&line);
    return r < 0 ? 1 : 0;
}

static void attach_hijacked(int fd, void *ud)
{
    struct attach_job *job = ud;
    job->sock = fd;
    /* Wait for the start that follows the attach (docker run), up to a minute. */
    struct timespec started = {0, 0};
    for (int i = 0; i < 3000; i++) {
        struct cri_container_status st;
        wharf_error err = {0};
        if (cri_container_status(job->api->cri, job->id, &st, &err) < 0)
            break;
        bool ready = st.state != CRI_STATE_CREATED;
        started = st.started_at;
        cri_container_status_release(&st);
        if (ready)
            break;
        struct pollfd p = {fd, POLLRDHUP, 0};
        if (poll(&p, 1, 20) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            break; /* the client went away */
    }
    struct cri_log_opts o = {.tail = -1, .follow = true, .poll_ms = 20};
    if (!job->logs_before)
        o.since = started;
    wharf_error err = {0};
    cri_container_logs(job->api->cri, job->id, &o, attach_record, job, &err);
    shutdown(fd, SHUT_RDWR);
    close(fd);
}

static http_response *attach(struct dockerapi *api, http_request *req,
                             const struct cri_container_status *st)
{
    const char *id = st->id;
    bool tty = json_is_true(json_object_get(st->config, "tty"));
    struct attach_job *job = xcalloc(1, sizeof(*job));
    job->api = api;
    snprintf(job->id, sizeof(job->id), "%s", id);
    job->tty = tty;
    job->out = http_request_query_bool(req, "stdout", false);
    job->err = http_request_query_bool(req, "stderr", false);
    job->logs_before = http_request_query_bool(req, "logs", false);
    dockerapi_container_event(api, id, st, "attach", NULL);
    dockerapi_monitor_log_reader(api, id, true);
    http_response *resp = http_response_hijack(attach_hijacked, job, attach_job_free);
    if (!tty)
        http_response_set_header(resp, "Content-Type", "application/vnd.docker.multiplexed-stream");
    return resp;
}

int dockerapi_register_exec(struct dockerapi *api, http_router *r, wharf_error *err)
{
    int rc;
    if ((rc = dockerapi_add_container_route(api, r, "POST", "/containers/{id}/exec", exec_create,
                                            err)) < 0 ||
        (rc = http_router_add(r, "POST", "/exec/{id}/start", exec_start, api, err)) < 0 ||
        (rc = http_router_add(r, "GET", "/exec/{id}/json", exec_inspect, api, err)) < 0 ||
        (rc = dockerapi_add_container_route(api, r, "POST", "/containers/{id}/attach", attach,
                                            err)) < 0)
        return rc;
    return 0;
}
