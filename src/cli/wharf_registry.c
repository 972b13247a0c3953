/* Registry commands: pull, push, login, logout, and the pull `run` and
 * `create` do for a missing image.
 *
 * Pull and push go through the daemon (POST /images/create, POST
 * /images/{name}/push) with the credentials of the image's registry in
 * X-Registry-Auth, and draw its JSON progress messages the way the docker
 * CLI does: one line per layer updated in place on a terminal, plain
 * "id: status" lines otherwise. Login asks the daemon to check the
 * credentials (POST /auth) and files them in ~/.wharf/config.json. */
#include "registry.h"
#include "wharf_cmds.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* ---------------------------------------------------------------- progress */

struct display {
    FILE *out;
    bool tty, quiet;
    int width;
    json_t *ids;    /* id -> line number, for the lines being updated */
    strbuf pending; /* bytes of an unfinished message */
    char *error;    /* the stream's errorDetail, once seen */
};

/* go-units HumanSize: 4 significant digits, decimal units. */
static void human(double size, char *buf, size_t len)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    size_t i = 0;
    while (size >= 1000 && i + 1 < sizeof(units) / sizeof(units[0])) {
        size /= 1000;
        i++;
    }
    snprintf(buf, len, "%.4g%s", size, units[i]);
}

/* JSONProgress.String() of the docker CLI: a bar when the terminal is wide
 * enough, then "current/total". */
static void progress_string(struct display *d, json_t *detail, strbuf *out)
{
    json_int_t cur = json_integer_value(json_object_get(detail, "current"));
    json_int_t total = json_integer_value(json_object_get(detail, "total"));
    char c[32], t[32];
    if (cur <= 0 && total <= 0)
        return;
    human((double)cur, c, sizeof(c));
    if (total <= 0) {
        strbuf_addf(out, "%8s", c);
        return;
    }
    int pct = (int)((double)cur / (double)total * 100) / 2;
    if (pct > 50)
        pct = 50;
    if (d->width > 110) {
        strbuf_addch(out, '[');
        for (int i = 0; i < pct; i++)
            strbuf_addch(out, '=');
        strbuf_addch(out, '>');
        for (int i = pct; i < 50; i++)
            strbuf_addch(out, ' ');
        strbuf_addstr(out, "] ");
    }
    human((double)total, t, sizeof(t));
    if (cur > total)
        strbuf_addf(out, "%8s", c);
    else
        strbuf_addf(out, "%8s/%s", c, t);
}

/* One message, as the docker CLI's DisplayJSONMessagesStream shows it. */
static void display_message(struct display *d, json_t *m)
{
    json_t *err = json_object_get(m, "errorDetail");
    if (err || json_object_get(m, "error")) {
        const char *msg = json_string_value(json_object_get(err, "message"));
        if (!msg)
            msg = json_string_value(json_object_get(m, "error"));
        free(d->error);
        d->error = xstrdup(msg ? msg : "unknown error");
        return;
    }
    if (json_object_get(m, "aux"))
        return;
    const char *id = json_string_value(json_object_get(m, "id"));
    const char *status = json_string_value(json_object_get(m, "status"));
    json_t *detail = json_object_get(m, "progressDetail");
    _cleanup_strbuf_ strbuf prog = STRBUF_INIT;
    if (detail)
        progress_string(d, detail, &prog);
    if (!d->tty) {
        /* no progress bars off a terminal: only the status changes */
        if (prog.len)
            return;
        if (id)
            fprintf(d->out, "%s: ", id);
        fprintf(d->out, "%s\n", status ? status : "");
        fflush(d->out);
        return;
    }
    size_t diff = 0;
    if (id && detail) {
        json_t *line = json_object_get(d->ids, id);
        if (!line) {
            line = json_integer((json_int_t)json_object_size(d->ids));
            json_object_set_new(d->ids, id, line);
            fputc('\n', d->out);
        }
        diff = json_object_size(d->ids) - (size_t)json_integer_value(line);
        fprintf(d->out, "\033[%zuA", diff);
    } else {
        json_object_clear(d->ids);
    }
    const char *endl = "\n";
    if (detail) {
        fputs("\033[2K\r", d->out);
        endl = "\r";
    }
    if (id)
        fprintf(d->out, "%s: ", id);
    if (detail)
        fprintf(d->out, "%s %s%s", status ? status : "", strbuf_str(&prog), endl);
    else
        fprintf(d->out, "%s%s", status ? status : "", endl);
    if (id && detail)
        fprintf(d->out, "\033[%zuB", diff);
    fflush(d->out);
}

static int on_stream(void *data, const char *buf, size_t len)
{
    struct display *d = data;
    strbuf_add(&d->pending, buf, len);
    size_t off = 0;
    for (;;) {
        char *nl = memchr(d->pending.buf + off, '\n', d->pending.len - off);
        if (!nl)
            break;
        size_t n = (size_t)(nl - (d->pending.buf + off));
        json_t *m = json_loadb(d->pending.buf + off, n, 0, NULL);
        if (m) {
            display_message(d, m);
            json_decref(m);
        }
        off += n + 1;
    }
    _cleanup_strbuf_ strbuf rest = STRBUF_INIT;
    strbuf_add(&rest, d->pending.buf + off, d->pending.len - off);
    strbuf_reset(&d->pending);
    strbuf_add(&d->pending, rest.buf ? rest.buf : "", rest.len);
    return 0;
}

/* quiet: nothing is shown, but an error in the stream is still seen */
static void display_init(struct display *d, FILE *out, bool quiet)
{
    memset(d, 0, sizeof(*d));
    d->out = quiet ? fopen("/dev/null", "we") : out;
    d->quiet = quiet && d->out;
    if (!d->out)
        d->out = out;
    d->tty = !quiet && isatty(fileno(out));
    struct winsize ws;
    d->width = ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 200;
    d->ids = json_object();
}

static void display_release(struct display *d)
{
    if (d->quiet)
        fclose(d->out);
    json_decref(d->ids);
    strbuf_release(&d->pending);
    free(d->error);
}

/* ---------------------------------------------------------------- credentials */

/* X-Registry-Auth for the registry of ref's domain, when we have its
 * credentials; sets the client's header (or clears it). */
static void set_registry_auth(struct client *c, const char *domain)
{
    _cleanup_free_ char *key = registry_server_key(domain);
    char *user = NULL, *pass = NULL;
    wharf_error err = {0};
    if (registry_creds_get(key, &user, &pass, &err) == 0) {
        _cleanup_free_ char *h = registry_auth_header(user, pass, key);
        _cleanup_free_ char *line = xasprintf("X-Registry-Auth: %s", h);
        client_set_header(c, line);
        explicit_bzero(pass, strlen(pass));
    } else {
        if (err.code != -ENOENT)
            fprintf(stderr, "WARNING: %s\n", err.msg);
        client_set_header(c, NULL);
    }
    free(user);
    free(pass);
}

/* Sends method path, drawing the progress stream to out. Returns 0 or 1
 * after printing the error. */
static int stream_progress(struct client *c, const char *path, FILE *out, bool quiet)
{
    struct display d;
    display_init(&d, out, quiet);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    int rc = 0;
    if (client_stream(c, "POST", path, NULL, on_stream, &d, &resp, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        rc = WCMD_EXIT_ERROR;
    } else if (resp.status >= 400) {
        wcmd_daemon_error(&resp);
        rc = WCMD_EXIT_ERROR;
    } else {
        on_stream(&d, "\n", 1); /* a last message without its newline */
        if (d.error) {
            fprintf(stderr, "%s\n", d.error);
            rc = WCMD_EXIT_ERROR;
        }
    }
    client_response_release(&resp);
    display_release(&d);
    return rc;
}

/* ---------------------------------------------------------------- pull */

int wcmd_pull_image(struct client *c, const char *name, const char *platform, bool quiet, FILE *out)
{
    image_ref r;
    wharf_error err = {0};
    if (image_ref_parse(name, &r, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    image_ref repo = {r.domain, r.path, NULL, NULL};
    _cleanup_free_ char *fam = image_ref_familiar(&repo);
    _cleanup_free_ char *efam = wcmd_escape(fam);
    _cleanup_free_ char *etag = wcmd_escape(r.digest ? r.digest : r.tag);
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addf(&path, "/images/create?fromImage=%s&tag=%s", efam, etag);
    if (platform && *platform) {
        _cleanup_free_ char *ep = wcmd_escape(platform);
        strbuf_addf(&path, "&platform=%s", ep);
    }
    set_registry_auth(c, r.domain);
    image_ref_free(&r);
    int rc = stream_progress(c, path.buf, out, quiet);
    client_set_header(c, NULL);
    return rc;
}

int wcmd_pull(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { OPT_PLATFORM = 256, OPT_TRUST };
    static const struct option opts[] = {
        {"platform", required_argument, 0, OPT_PLATFORM},
        {"quiet", no_argument, 0, 'q'},
        {"disable-content-trust", optional_argument, 0, OPT_TRUST},
        {0, 0, 0, 0},
    };
    const char *platform = NULL;
    bool quiet = false;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_PLATFORM:
            platform = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case OPT_TRUST:
            break; /* no content trust here; docker's default is off too */
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind != 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf pull' requires 1 argument");
    const char *name = argv[optind];
    image_ref r;
    wharf_error err = {0};
    if (image_ref_parse(name, &r, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    _cleanup_free_ char *full = image_ref_full(&r);
    image_ref_free(&r);
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = wcmd_pull_image(c, name, platform, quiet, stdout);
    client_free(c);
    if (rc == 0)
        printf("%s\n", full);
    return rc;
}

/* ---------------------------------------------------------------- push */

int wcmd_push(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { OPT_TRUST = 256, OPT_PLATFORM };
    static const struct option opts[] = {
        {"all-tags", no_argument, 0, 'a'},
        {"quiet", no_argument, 0, 'q'},
        {"disable-content-trust", optional_argument, 0, OPT_TRUST},
        {0, 0, 0, 0},
    };
    bool all = false, quiet = false;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "aq", opts, NULL)) != -1) {
        switch (ch) {
        case 'a':
            all = true;
            break;
        case 'q':
            quiet = true;
            break;
        case OPT_TRUST:
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind != 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf push' requires 1 argument");
    const char *name = argv[optind];
    image_ref r;
    wharf_error err = {0};
    if (image_ref_parse(name, &r, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    bool tagged = strchr(strrchr(name, '/') ? strrchr(name, '/') : name, ':') != NULL;
    if (r.digest || (all && tagged)) {
        fprintf(stderr, "%s\n",
                r.digest ? "cannot push a digest reference"
                         : "tag can't be used with --all-tags/-a");
        image_ref_free(&r);
        return WCMD_EXIT_ERROR;
    }
    image_ref repo = {r.domain, r.path, NULL, NULL};
    _cleanup_free_ char *fam = image_ref_familiar(&repo);
    _cleanup_free_ char *efam = wcmd_escape(fam);
    _cleanup_free_ char *etag = wcmd_escape(r.tag);
    _cleanup_free_ char *full = image_ref_full(&r);
    _cleanup_free_ char *path =
        all ? xasprintf("/images/%s/push", efam) : xasprintf("/images/%s/push?tag=%s", efam, etag);
    struct client *c = wcmd_client(ctx);
    if (!c) {
        image_ref_free(&r);
        return WCMD_EXIT_ERROR;
    }
    set_registry_auth(c, r.domain);
    image_ref_free(&r);
    int rc = stream_progress(c, path, stdout, quiet);
    client_free(c);
    if (rc == 0 && quiet)
        printf("%s\n", full);
    return rc;
}

/* ---------------------------------------------------------------- login */

/* A line from stdin without its newline; with echo off when hidden. */
static char *read_line(const char *prompt, bool hidden)
{
    struct termios old, quiet;
    bool restore = false;
    if (prompt) {
        fputs(prompt, stderr);
        fflush(stderr);
    }
    if (hidden && tcgetattr(0, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        restore = tcsetattr(0, TCSAFLUSH, &quiet) == 0;
    }
    char *line = NULL;
    size_t n = 0;
    ssize_t got = getline(&line, &n, stdin);
    if (restore) {
        tcsetattr(0, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (got < 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

int wcmd_login(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { OPT_STDIN = 256 };
    static const struct option opts[] = {
        {"username", required_argument, 0, 'u'},
        {"password", required_argument, 0, 'p'},
        {"password-stdin", no_argument, 0, OPT_STDIN},
        {0, 0, 0, 0},
    };
    _cleanup_free_ char *user = NULL, *pass = NULL;
    bool from_stdin = false, pass_flag = false;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "u:p:", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            free(user);
            user = xstrdup(optarg);
            break;
        case 'p':
            free(pass);
            pass = xstrdup(optarg);
            pass_flag = true;
            break;
        case OPT_STDIN:
            from_stdin = true;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind > 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf login' requires at most 1 argument");
    const char *server = optind < argc ? argv[optind] : NULL;
    _cleanup_free_ char *key = registry_server_key(server);
    if (from_stdin && pass_flag) {
        fprintf(stderr, "--password and --password-stdin are mutually exclusive\n");
        return WCMD_EXIT_ERROR;
    }
    if (from_stdin && !user) {
        fprintf(stderr, "Must provide --username with --password-stdin\n");
        return WCMD_EXIT_ERROR;
    }
    if (pass_flag)
        fprintf(stderr, "WARNING! Using --password via the CLI is insecure. Use "
                        "--password-stdin.\n");
    if (from_stdin) {
        pass = read_line(NULL, false);
        if (!pass) {
            fprintf(stderr, "Error: no password on standard input\n");
            return WCMD_EXIT_ERROR;
        }
    }
    wharf_error err = {0};
    if (!user && !pass) {
        /* logged in before: those credentials, checked again */
        if (registry_creds_get(key, &user, &pass, &err) < 0) {
            user = pass = NULL;
        }
    }
    if (!user || !pass) {
        if (!isatty(0)) {
            fprintf(stderr, "Error: Cannot perform an interactive login from a non TTY device\n");
            return WCMD_EXIT_ERROR;
        }
        if (!user) {
            user = read_line("Username: ", false);
            if (!user || !*user) {
                fprintf(stderr, "Error: Non-null Username Required\n");
                return WCMD_EXIT_ERROR;
            }
        }
        if (!pass) {
            pass = read_line("Password: ", true);
            if (!pass || !*pass) {
                fprintf(stderr, "Error: Non-null Password Required\n");
                return WCMD_EXIT_ERROR;
            }
        }
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    _cleanup_json_ json_t *body =
        json_pack("{s:s, s:s, s:s}", "username", user, "password", pass, "serveraddress", key);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = wcmd_call(c, "POST", "/auth", body, &resp, false) < 0 ? WCMD_EXIT_ERROR : 0;
    client_response_release(&resp);
    client_free(c);
    if (rc == 0) {
        if (registry_creds_store(key, user, pass, &err) < 0) {
            fprintf(stderr, "Error saving credentials: %s\n", err.msg);
            rc = WCMD_EXIT_ERROR;
        } else {
            _cleanup_free_ char *path = registry_config_path();
            fprintf(stderr, "WARNING! Your credentials are stored unencrypted in '%s'.\n", path);
            printf("Login Succeeded\n");
        }
    }
    if (pass)
        explicit_bzero(pass, strlen(pass));
    return rc;
}

int wcmd_logout(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{0, 0, 0, 0}};
    wcmd_getopt_reset();
    if (getopt_long(argc, argv, "", opts, NULL) != -1)
        return wcmd_bad_flag(ctx, argv);
    if (argc - optind > 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf logout' requires at most 1 argument");
    _cleanup_free_ char *key = registry_server_key(optind < argc ? argv[optind] : NULL);
    wharf_error err = {0};
    int r = registry_creds_erase(key, &err);
    if (r == -ENOENT) {
        printf("Not logged in to %s\n", key);
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    printf("Removing login credentials for %s\n", key);
    return 0;
}
