/* Helpers shared by the wharf client commands: connecting, daemon errors,
 * and docker's human-readable sizes, durations and ids. */
#include "wharf_cmds.h"
#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

struct client *wcmd_client(struct wcmd_ctx *ctx)
{
    wharf_error err = {0};
    _cleanup_free_ char *local = NULL;
    const char *host = ctx->host;
    if ((!host || !*host) && !env_set("WHARF_HOST") && !env_set("DOCKER_HOST"))
        host = local = wcmd_local_daemon();
    struct client *c = client_new(host, &err);
    if (!c)
        fprintf(stderr, "%s\n", err.msg);
    return c;
}

void wcmd_daemon_error(const struct client_response *resp)
{
    const char *msg = client_error_message(resp);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        n--;
    fprintf(stderr, "Error response from daemon: %.*s\n", (int)n, msg);
}

int wcmd_call(struct client *c, const char *method, const char *path, json_t *body,
              struct client_response *resp, bool quiet_status)
{
    wharf_error err = {0};
    if (client_request(c, method, path, body, resp, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    if (resp->status >= 400 && !quiet_status) {
        wcmd_daemon_error(resp);
        return -1;
    }
    return 0;
}

char *wcmd_escape(const char *s)
{
    strbuf sb = STRBUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        /* Unreserved characters plus ':' and '/': image references go in
         * the path as they are, as the docker CLI sends them. */
        if (isalnum(*p) || strchr("-._~:@/", *p))
            strbuf_addch(&sb, (char)*p);
        else
            strbuf_addf(&sb, "%%%02X", *p);
    }
    strbuf_addstr(&sb, "");
    return strbuf_detach(&sb);
}

int wcmd_usage_error(struct wcmd_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wharf: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nSee 'wharf %s --help'.\n", ctx->name);
    return code;
}

void wcmd_getopt_reset(void)
{
    optind = 0; /* 0 also re-initialises glibc's internal state */
    opterr = 0; /* wcmd_bad_flag words the message the way docker does */
}

int wcmd_bad_flag(struct wcmd_ctx *ctx, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    if (arg[0] == '-' && arg[1] != '-' && optopt)
        return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                "unknown shorthand flag or missing value: '%c' in %s", optopt, arg);
    return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "unknown flag or missing value: %s", arg);
}

void wcmd_human_duration(int64_t seconds, strbuf *out)
{
    wharf_human_duration(seconds, out);
}

void wcmd_human_size_prec(double size, int precision, strbuf *out)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    size_t i = 0;
    while (size >= 1000 && i < sizeof(units) / sizeof(units[0]) - 1) {
        size /= 1000;
        i++;
    }
    strbuf_addf(out, "%.*g%s", precision, size, units[i]);
}

void wcmd_human_size(double size, strbuf *out)
{
    wcmd_human_size_prec(size, 3, out);
}

char *wcmd_short_id(const char *id, bool trunc)
{
    if (!id)
        return xstrdup("");
    const char *colon = strchr(id, ':');
    if (colon)
        id = colon + 1;
    if (trunc && strlen(id) > 12)
        return xasprintf("%.12s", id);
    return xstrdup(id);
}

static void indent_newline(strbuf *out, int depth)
{
    strbuf_addch(out, '\n');
    for (int i = 0; i < depth; i++)
        strbuf_addstr(out, "    ");
}

void wcmd_json_indent(const char *raw, size_t len, strbuf *out)
{
    /* Mirrors Go's json.Indent: whitespace between tokens is dropped, empty
     * objects and arrays stay "{}" and "[]", strings are copied verbatim. */
    int depth = 0;
    bool need_indent = false; /* an opener was just written */
    for (size_t i = 0; i < len; i++) {
        char ch = raw[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
            continue;
        if (need_indent && ch != ']' && ch != '}') {
            need_indent = false;
            depth++;
            indent_newline(out, depth);
        }
        if (ch == '"') {
            size_t j = i + 1;
            while (j < len && raw[j] != '"') {
                if (raw[j] == '\\')
                    j++;
                j++;
            }
            if (j >= len)
                j = len - 1;
            strbuf_add(out, raw + i, j - i + 1);
            i = j;
            continue;
        }
        switch (ch) {
        case '{':
        case '[':
            strbuf_addch(out, ch);
            need_indent = true;
            break;
        case '}':
        case ']':
            if (need_indent)
                need_indent = false; /* empty: "{}" */
            else {
                depth--;
                indent_newline(out, depth);
            }
            strbuf_addch(out, ch);
            break;
        case ',':
            strbuf_addch(out, ch);
            indent_newline(out, depth);
            break;
        case ':':
            strbuf_addstr(out, ": ");
            break;
        default:
            strbuf_addch(out, ch);
        }
    }
}

int wcmd_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

void wcmd_inspect_init(struct wcmd_inspect *in, size_t capacity)
{
    in->elems = xcalloc(capacity, sizeof(*in->elems));
    in->raws = xcalloc(capacity, sizeof(*in->raws));
    in->n = 0;
    in->errors = (strbuf)STRBUF_INIT;
}

void wcmd_inspect_add(struct wcmd_inspect *in, struct client_response *resp)
{
    in->elems[in->n] = json_incref(resp->json);
    in->raws[in->n] = resp->body;
    resp->body = (strbuf)STRBUF_INIT;
    in->n++;
}

static int print_inspect(json_t **elems, const strbuf *raws, size_t n, const char *fmt)
{
    if (fmt && *fmt) {
        wharf_error err = {0};
        _cleanup_format_template_ format_template *t = format_compile_plain(fmt, &err);
        if (!t) {
            fprintf(stderr, "%s\n", err.msg);
            return WCMD_EXIT_ERROR;
        }
        for (size_t i = 0; i < n; i++) {
            _cleanup_strbuf_ strbuf out = STRBUF_INIT;
            if (format_execute(t, elems[i], &out, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return WCMD_EXIT_ERROR;
            }
            printf("%s\n", strbuf_str(&out));
        }
        return 0;
    }
    if (n == 0) {
        printf("[]\n");
        return 0;
    }
    _cleanup_strbuf_ strbuf all = STRBUF_INIT;
    strbuf_addch(&all, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addch(&all, ',');
        strbuf_add(&all, raws[i].buf, raws[i].len);
    }
    strbuf_addch(&all, ']');
    _cleanup_strbuf_ strbuf out = STRBUF_INIT;
    wcmd_json_indent(all.buf, all.len, &out);
    printf("%s\n", strbuf_str(&out));
    return 0;
}

int wcmd_inspect_finish(struct wcmd_inspect *in, const char *fmt)
{
    int rc = print_inspect(in->elems, in->raws, in->n, fmt);
    fflush(stdout);
    fputs(strbuf_str(&in->errors), stderr);
    for (size_t i = 0; i < in->n; i++) {
        json_decref(in->elems[i]);
        strbuf_release(&in->raws[i]);
    }
    free(in->elems);
    free(in->raws);
    strbuf_release(&in->errors);
    return rc;
}

char *wcmd_ellipsis(const char *s, size_t max)
{
    /* docker's formatter.Ellipsis: width counted in characters; a cut
     * string keeps max-1 characters and ends with "…". */
    size_t chars = 0;
    for (const char *p = s; *p; p++)
        if (((unsigned char)*p & 0xC0) != 0x80)
            chars++;
    if (chars <= max || max == 0)
        return xstrdup(s);
    size_t keep = 0, seen = 0;
    for (const char *p = s; *p; p++) {
        if (((unsigned char)*p & 0xC0) != 0x80) {
            if (seen == max - 1)
                break;
            seen++;
        }
        keep++;
    }
    return xasprintf("%.*s…", (int)keep, s);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *wcmd_join_sorted(json_t *strings, const char *sep)
{
    size_t n = json_array_size(strings);
    const char **v = xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(strings, i));
        v[i] = s ? s : "";
    }
    qsort(v, n, sizeof(*v), compare_strings);
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&sb, "%s%s", i ? sep : "", v[i]);
    free(v);
    json_t *out = json_string(strbuf_str(&sb));
    strbuf_release(&sb);
    return out;
}

/* docker's --filter K=V (repeatable) into the API's {"k": {"v": true}}. */
int wcmd_add_filter(struct wcmd_ctx *ctx, json_t *filters, const char *arg, const char *flag)
{
    if (!*arg)
        return 0; /* docker's FilterOpt ignores an empty one */
    const char *eq = strchr(arg, '=');
    if (!eq)
        return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                "invalid argument \"%s\" for \"%s\" flag: bad format of filter "
                                "(expected name=value)",
                                arg, flag);
    /* the name is lower-cased and both sides trimmed, as docker does */
    _cleanup_strbuf_ strbuf name = STRBUF_INIT;
    for (const char *p = arg; p < eq; p++)
        if (*p != ' ' && *p != '\t')
            strbuf_addch(&name, (char)tolower((unsigned char)*p));
    const char *v = eq + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vlen = strlen(v);
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    _cleanup_free_ char *value = xasprintf("%.*s", (int)vlen, v);
    json_t *set = json_object_get(filters, strbuf_str(&name));
    if (!set)
        json_object_set_new(filters, strbuf_str(&name), set = json_object());
    json_object_set_new(set, value, json_true());
    return 0;
}

void wcmd_add_query(strbuf *path, const char *key, const char *value)
{
    _cleanup_free_ char *e = wcmd_escape(value);
    strbuf_addf(path, "%s%s=%s", strchr(strbuf_str(path), '?') ? "&" : "?", key, e);
}

void wcmd_add_filters_query(json_t *filters, strbuf *path)
{
    if (json_object_size(filters) == 0)
        return;
    _cleanup_free_ char *text = json_dumps(filters, JSON_COMPACT | JSON_SORT_KEYS);
    wcmd_add_query(path, "filters", text);
}

json_t *wcmd_sort_keys(json_t *obj)
{
    size_t n = json_object_size(obj), i = 0;
    const char **keys = xcalloc(n + 1, sizeof(*keys));
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) keys[i++] = key;
    qsort(keys, n, sizeof(*keys), compare_strings);
    json_t *out = json_object();
    for (i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(obj, keys[i]));
    free(keys);
    return out;
}

bool wcmd_confirm(const char *message)
{
    printf("%s [y/N] ", message);
    fflush(stdout);
    char line[256];
    if (!fgets(line, sizeof(line), stdin))
        return false;
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strcspn(p, " \t\r\n");
    return n == 1 && (*p == 'y' || *p == 'Y');
}

int wcmd_prune_flags(struct wcmd_ctx *ctx, int argc, char **argv, unsigned accepts,
                     struct wcmd_prune_opts *o)
{
    enum { OPT_FILTER = 256, OPT_VOLUMES };
    static const struct option opts[] = {{"all", no_argument, 0, 'a'},
                                         {"force", no_argument, 0, 'f'},
                                         {"filter", required_argument, 0, OPT_FILTER},
                                         {"volumes", no_argument, 0, OPT_VOLUMES},
                                         {0, 0, 0, 0}};
    *o = (struct wcmd_prune_opts){.filters = json_object()};
    int ch, r;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, accepts & WCMD_PRUNE_ALL ? "af" : "f", opts, NULL)) !=
           -1) {
        if (ch == 'f') {
            o->force = true;
        } else if (ch == OPT_FILTER) {
            if ((r = wcmd_add_filter(ctx, o->filters, optarg, "--filter")))
                goto fail;
        } else if (ch == 'a' && (accepts & WCMD_PRUNE_ALL)) {
            o->all = true;
        } else if (ch == OPT_VOLUMES && (accepts & WCMD_PRUNE_VOLUMES)) {
            o->volumes = true;
        } else {
            r = wcmd_bad_flag(ctx, argv);
            goto fail;
        }
    }
    if (optind < argc) {
        r = wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' accepts no arguments", ctx->name);
        goto fail;
    }
    return 0;
fail:
    json_decref(o->filters);
    o->filters = NULL;
    return r;
}

uint64_t wcmd_print_prune_report(json_t *report, const char *list_key, const char *title)
{
    json_t *list = json_object_get(report, list_key);
    if (json_array_size(list)) {
        _cleanup_strbuf_ strbuf out = STRBUF_INIT;
        strbuf_addf(&out, "%s:\n", title);
        size_t i;
        json_t *item;
        json_array_foreach(list, i, item)
        {
            if (json_is_string(item)) {
                strbuf_addf(&out, "%s\n", json_string_value(item));
                continue;
            }
            /* ImagesDeleted: {"Untagged": ref} or {"Deleted": id} */
            const char *u = json_string_value(json_object_get(item, "Untagged"));
            const char *d = json_string_value(json_object_get(item, "Deleted"));
            if (u && *u)
                strbuf_addf(&out, "untagged: %s\n", u);
            else
                strbuf_addf(&out, "deleted: %s\n", d ? d : "");
        }
        /* docker prints the section with Println: one blank line follows */
        printf("%s\n", strbuf_str(&out));
    }
    return (uint64_t)json_integer_value(json_object_get(report, "SpaceReclaimed"));
}
