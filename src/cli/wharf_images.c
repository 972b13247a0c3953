/* Image commands: images, image inspect, load, save, tag, rmi, history,
 * import and image prune. */
#include "wharf_cmds.h"
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct option help_only[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};

/* Splits "repo:tag" at the colon after the last '/' (a registry port is
 * not a tag). *tag is NULL when there is none. Returns the repo, caller frees. */
static char *split_ref(const char *ref, const char **tag)
{
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(slash ? slash : ref, ':');
    *tag = colon ? colon + 1 : NULL;
    return colon ? xasprintf("%.*s", (int)(colon - ref), ref) : xstrdup(ref);
}

static void add_since(json_t *row, const char *key, int64_t created)
{
    _cleanup_strbuf_ strbuf sb = STRBUF_INIT;
    wcmd_human_duration((int64_t)time(NULL) - created, &sb);
    strbuf_addstr(&sb, " ago");
    json_object_set_new(row, key, json_string(sb.buf));
}

static void add_size(json_t *row, const char *key, json_t *v)
{
    _cleanup_strbuf_ strbuf sb = STRBUF_INIT;
    wcmd_human_size(json_is_number(v) ? json_number_value(v) : 0, &sb);
    json_object_set_new(row, key, json_string(sb.buf));
}

static void add_created_at(json_t *row, int64_t created)
{
    char buf[64];
    time_t t = (time_t)created;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z %Z", &tm);
    json_object_set_new(row, "CreatedAt", json_string(buf));
}

/* Prints rows with the user's --format, or the command's default table. */
static int render(const char *fmt, const char *def, json_t *rows, const format_header *headers)
{
    wharf_error err = {0};
    _cleanup_format_template_ format_template *t = format_compile(fmt ? fmt : def, &err);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_USAGE;
    }
    _cleanup_strbuf_ strbuf out = STRBUF_INIT;
    int r = format_render(t, rows, headers, &out, &err);
    fputs(strbuf_str(&out), stdout);
    if (r < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    return 0;
}

int wcmd_images(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, 0, 'q'},        {"all", no_argument, 0, 'a'},
        {"format", required_argument, 0, 'M'}, {"no-trunc", no_argument, 0, 'T'},
        {"digests", no_argument, 0, 'D'},      {"filter", required_argument, 0, 'f'},
        {0, 0, 0, 0},
    };
    bool quiet = false, all = false, trunc = true;
    const char *fmt = NULL;
    _cleanup_json_ json_t *filters = json_object();
    int ch, r;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "qaf:", opts, NULL)) != -1) {
        switch (ch) {
        case 'q':
            quiet = true;
            break;
        case 'a':
            all = true;
            break;
        case 'M':
            fmt = optarg;
            break;
        case 'f':
            if ((r = wcmd_add_filter(ctx, filters, optarg, "-f, --filter")))
                return r;
            break;
        case 'T':
            trunc = false;
            break;
        case 'D':
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (optind < argc) {
        if (argc - optind > 1)
            return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "\"images\" requires at most 1 argument");
        /* as the docker CLI: the argument is a reference filter */
        json_t *set = json_object_get(filters, "reference");
        if (!set)
            json_object_set_new(filters, "reference", set = json_object());
        json_object_set_new(set, argv[optind], json_true());
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    _cleanup_json_ json_t *rows = json_array();
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, all ? "/images/json?all=1" : "/images/json");
    wcmd_add_filters_query(filters, &path);
    if (wcmd_call(c, "GET", path.buf, NULL, &resp, false) < 0)
        goto out;
    size_t i;
    json_t *img;
    json_array_foreach(resp.json, i, img)
    {
        const char *id = json_string_value(json_object_get(img, "Id"));
        json_t *tags = json_object_get(img, "RepoTags");
        size_t ntags = json_is_array(tags) ? json_array_size(tags) : 0;
        for (size_t k = 0; k < (ntags ? ntags : 1); k++) {
            const char *ref = ntags ? json_string_value(json_array_get(tags, k)) : NULL;
            const char *tag = NULL;
            _cleanup_free_ char *repo = ref ? split_ref(ref, &tag) : xstrdup("<none>");
            if (!tag)
                tag = "<none>";
            json_t *row = json_object();
            _cleanup_free_ char *sid = wcmd_short_id(id, trunc);
            json_object_set_new(row, "ID", json_string(trunc ? sid : id ? id : ""));
            json_object_set_new(row, "Repository", json_string(repo));
            json_object_set_new(row, "Tag", json_string(tag));
            json_object_set_new(row, "Digest", json_string("<none>"));
            int64_t created = json_integer_value(json_object_get(img, "Created"));
            add_since(row, "CreatedSince", created);
            add_created_at(row, created);
            add_size(row, "Size", json_object_get(img, "Size"));
            add_size(row, "VirtualSize", json_object_get(img, "Size"));
            json_object_set_new(row, "Containers", json_string("N/A"));
            json_object_set_new(row, "SharedSize", json_string("N/A"));
            json_object_set_new(row, "UniqueSize", json_string("N/A"));
            json_array_append_new(rows, row);
        }
    }
    if (quiet) {
        /* One line per image, not per tag, as docker prints it. */
        _cleanup_json_ json_t *seen = json_object();
        json_array_foreach(rows, i, img)
        {
            const char *id = json_string_value(json_object_get(img, "ID"));
            if (json_object_get(seen, id))
                continue;
            json_object_set_new(seen, id, json_true());
            printf("%s\n", id);
        }
        rc = 0;
        goto out;
    }
    static const format_header headers[] = {
        {"ID", "IMAGE ID"}, {"CreatedSince", "CREATED"}, {NULL, NULL}};
    rc = render(fmt, "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}", rows,
                headers);
out:
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* Prints a JSON-lines progress stream (load, import): "stream" text and
 * "status" lines to stdout, "error" to stderr. Returns 0 or 1 when the stream carried an error. */
static int print_json_stream(const strbuf *body)
{
    int rc = 0;
    size_t off = 0;
    while (off < body->len) {
        json_error_t jerr;
        json_t *msg = json_loadb(body->buf + off, body->len - off, JSON_DISABLE_EOF_CHECK, &jerr);
        if (!msg) {
            /* Not JSON: an old-style plain-text answer; print it as it is. */
            fwrite(body->buf + off, 1, body->len - off, stdout);
            break;
        }
        off += jerr.position;
        const char *err = json_string_value(json_object_get(msg, "error"));
        const char *stream = json_string_value(json_object_get(msg, "stream"));
        const char *status = json_string_value(json_object_get(msg, "status"));
        const char *id = json_string_value(json_object_get(msg, "id"));
        if (err) {
            fprintf(stderr, "%s\n", err);
            rc = WCMD_EXIT_ERROR;
        } else if (stream) {
            fputs(stream, stdout);
        } else if (status) {
            /* jsonmessage: "ID: status" lines (import prints the new id) */
            printf("%s%s%s\n", id && *id ? id : "", id && *id ? ": " : "", status);
        }
        json_decref(msg);
        while (off < body->len &&
               (body->buf[off] == '\n' || body->buf[off] == '\r' || body->buf[off] == ' '))
            off++;
    }
    return rc;
}

int wcmd_load(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'}, {"quiet", no_argument, 0, 'q'}, {0, 0, 0, 0}};
    const char *input = NULL;
    bool quiet = false;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "i:q", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            input = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (optind < argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "\"load\" accepts no arguments");
    _cleanup_close_ int fd = -1;
    if (input) {
        fd = open(input, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "open %s: %s\n", input, strerror(errno));
            return WCMD_EXIT_ERROR;
        }
    } else {
        if (isatty(STDIN_FILENO)) {
            fprintf(stderr, "requested load from stdin, but stdin is empty\n");
            return WCMD_EXIT_ERROR;
        }
        fd = dup(STDIN_FILENO);
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    int rc = WCMD_EXIT_ERROR;
    if (client_upload(c, "POST", quiet ? "/images/load?quiet=1" : "/images/load?quiet=0",
                      "application/x-tar", fd, &resp, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        goto out;
    }
    if (resp.status >= 400) {
        wcmd_daemon_error(&resp);
        goto out;
    }
    rc = print_json_stream(&resp.body);
out:
    client_response_release(&resp);
    client_free(c);
    return rc;
}

static int write_chunk(void *data, const char *buf, size_t len)
{
    return wcmd_write_all(*(int *)data, buf, len) < 0 ? -1 : 0;
}

int wcmd_save(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    const char *output = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            output = optarg;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (optind >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "\"save\" requires at least 1 argument");
    if (!output && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "cowardly refusing to save to a terminal. Use the -o flag or redirect\n");
        return WCMD_EXIT_ERROR;
    }
    _cleanup_free_ char *tmp = output ? xasprintf("%s.wharf-tmp", output) : NULL;
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, "/images/get?");
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *n = wcmd_escape(argv[i]);
        strbuf_addf(&path, "%snames=%s", i > optind ? "&" : "", n);
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int fd = STDOUT_FILENO, rc = WCMD_EXIT_ERROR;
    if (output) {
        /* Written beside the target and renamed, so a failed save leaves
         * no half archive under the requested name. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "failed to save image: open %s: %s\n", tmp, strerror(errno));
            goto out;
        }
    }
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    int r = client_stream(c, "GET", path.buf, NULL, write_chunk, &fd, &resp, &err);
    if (r < 0)
        fprintf(stderr, "%s\n", err.msg);
    else if (resp.status >= 400)
        wcmd_daemon_error(&resp);
    else
        rc = 0;
    client_response_release(&resp);
    if (output) {
        if (close(fd) < 0 && rc == 0) {
            fprintf(stderr, "failed to save image: %s: %s\n", tmp, strerror(errno));
            rc = WCMD_EXIT_ERROR;
        }
        if (rc == 0 && rename(tmp, output) < 0) {
            fprintf(stderr, "failed to save image: rename to %s: %s\n", output, strerror(errno));
            rc = WCMD_EXIT_ERROR;
        }
        if (rc != 0)
            unlink(tmp);
    }
out:
    client_free(c);
    return rc;
}

int wcmd_tag(struct wcmd_ctx *ctx, int argc, char **argv)
{
    wcmd_getopt_reset();
    if (getopt_long(argc, argv, "", help_only, NULL) != -1)
        return wcmd_bad_flag(ctx, argv);
    if (argc - optind != 2)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "\"tag\" requires exactly 2 arguments");
    const char *tag = NULL;
    _cleanup_free_ char *repo = split_ref(argv[optind + 1], &tag);
    _cleanup_free_ char *src = wcmd_escape(argv[optind]);
    _cleanup_free_ char *erepo = wcmd_escape(repo);
    _cleanup_free_ char *etag = wcmd_escape(tag ? tag : "latest");
    _cleanup_free_ char *path = xasprintf("/images/%s/tag?repo=%s&tag=%s", src, erepo, etag);
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = wcmd_call(c, "POST", path, NULL, &resp, false) < 0 ? WCMD_EXIT_ERROR : 0;
    client_response_release(&resp);
    client_free(c);
    return rc;
}

int wcmd_rmi(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, 0, 'f'}, {"no-prune", no_argument, 0, 'P'}, {0, 0, 0, 0}};
    bool force = false, noprune = false;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            force = true;
            break;
        case 'P':
            noprune = true;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (optind >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "\"rmi\" requires at least 1 argument");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *name = wcmd_escape(argv[i]);
        _cleanup_free_ char *path =
            xasprintf("/images/%s?force=%d&noprune=%d", name, force, noprune);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        if (wcmd_call(c, "DELETE", path, NULL, &resp, false) < 0) {
            rc = WCMD_EXIT_ERROR;
        } else {
            size_t k;
            json_t *item;
            json_array_foreach(resp.json, k, item)
            {
                const char *u = json_string_value(json_object_get(item, "Untagged"));
                const char *d = json_string_value(json_object_get(item, "Deleted"));
                if (u)
                    printf("Untagged: %s\n", u);
                if (d)
                    printf("Deleted: %s\n", d);
            }
        }
        client_response_release(&resp);
    }
    client_free(c);
    return rc;
}

int wcmd_history(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"quiet", no_argument, 0, 'q'},
                                         {"no-trunc", no_argument, 0, 'T'},
                                         {"format", required_argument, 0, 'f'},
                                         {"human", required_argument, 0, 'H'},
                                         {0, 0, 0, 0}};
    bool quiet = false, trunc = true;
    const char *fmt = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "qH:", opts, NULL)) != -1) {
        switch (ch) {
        case 'q':
            quiet = true;
            break;
        case 'T':
            trunc = false;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'H':
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind != 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "\"history\" requires exactly 1 argument");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    _cleanup_free_ char *name = wcmd_escape(argv[optind]);
    _cleanup_free_ char *path = xasprintf("/images/%s/history", name);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    _cleanup_json_ json_t *rows = json_array();
    if (wcmd_call(c, "GET", path, NULL, &resp, false) < 0)
        goto out;
    size_t i;
    json_t *h;
    json_array_foreach(resp.json, i, h)
    {
        json_t *row = json_object();
        const char *id = json_string_value(json_object_get(h, "Id"));
        _cleanup_free_ char *sid =
            !id || strcmp(id, "<missing>") == 0 ? xstrdup("<missing>") : wcmd_short_id(id, trunc);
        json_object_set_new(row, "ID", json_string(trunc || !id ? sid : id));
        int64_t created = json_integer_value(json_object_get(h, "Created"));
        add_since(row, "CreatedSince", created);
        add_created_at(row, created);
        const char *by = json_string_value(json_object_get(h, "CreatedBy"));
        _cleanup_strbuf_ strbuf flat = STRBUF_INIT;
        for (const char *p = by ? by : ""; *p; p++)
            strbuf_addch(&flat, *p == '\t' ? ' ' : *p);
        _cleanup_free_ char *cut =
            trunc ? wcmd_ellipsis(strbuf_str(&flat), 45) : xstrdup(strbuf_str(&flat));
        json_object_set_new(row, "CreatedBy", json_string(cut));
        add_size(row, "Size", json_object_get(h, "Size"));
        const char *comment = json_string_value(json_object_get(h, "Comment"));
        json_object_set_new(row, "Comment", json_string(comment ? comment : ""));
        json_array_append_new(rows, row);
    }
    static const format_header headers[] = {
        {"ID", "IMAGE"}, {"CreatedSince", "CREATED"}, {"CreatedBy", "CREATED BY"}, {NULL, NULL}};
    rc = render(quiet ? "{{.ID}}" : fmt,
                "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}", rows,
                headers);
out:
    client_response_release(&resp);
    client_free(c);
    return rc;
}

int wcmd_import(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"change", required_argument, 0, 'c'},
                                         {"message", required_argument, 0, 'm'},
                                         {"platform", required_argument, 0, 'P'},
                                         {0, 0, 0, 0}};
    _cleanup_strbuf_ strbuf query = STRBUF_INIT;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "c:m:", opts, NULL)) != -1) {
        _cleanup_free_ char *e = NULL;
        switch (ch) {
        case 'c':
            e = wcmd_escape(optarg);
            strbuf_addf(&query, "&changes=%s", e);
            break;
        case 'm':
            e = wcmd_escape(optarg);
            strbuf_addf(&query, "&message=%s", e);
            break;
        case 'P':
            e = wcmd_escape(optarg);
            strbuf_addf(&query, "&platform=%s", e);
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind < 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires at least 1 argument",
                                ctx->name);
    if (argc - optind > 2)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires at most 2 arguments",
                                ctx->name);
    const char *source = argv[optind];
    const char *ref = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (strncmp(source, "http://", 7) == 0 || strncmp(source, "https://", 8) == 0) {
        fprintf(stderr, "importing from a URL is not supported: download %s and import the "
                        "file\n",
                source);
        return WCMD_EXIT_ERROR;
    }
    _cleanup_close_ int fd = -1;
    if (strcmp(source, "-") == 0) {
        fd = dup(STDIN_FILENO);
    } else {
        fd = open(source, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "open %s: %s\n", source, strerror(errno));
            return WCMD_EXIT_ERROR;
        }
    }
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, "/images/create?fromSrc=-");
    if (ref) {
        _cleanup_free_ char *e = wcmd_escape(ref);
        strbuf_addf(&path, "&repo=%s", e);
    }
    strbuf_addstr(&path, strbuf_str(&query));
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    wharf_error err = {0};
    int rc = WCMD_EXIT_ERROR;
    if (client_upload(c, "POST", path.buf, "application/x-tar", fd, &resp, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        goto out;
    }
    if (resp.status >= 400) {
        wcmd_daemon_error(&resp);
        goto out;
    }
    rc = print_json_stream(&resp.body);
out:
    client_response_release(&resp);
    client_free(c);
    return rc;
}

int wcmd_image_prune(struct wcmd_ctx *ctx, int argc, char **argv)
{
    struct wcmd_prune_opts o;
    int r = wcmd_prune_flags(ctx, argc, argv, WCMD_PRUNE_ALL, &o);
    if (r)
        return r;
    _cleanup_json_ json_t *filters = o.filters;
    bool all = o.all, force = o.force;
    if (!force && !wcmd_confirm(all ? "WARNING! This will remove all images without at least one "
                                      "container associated to them.\nAre you sure you want to "
                                      "continue?"
                                    : "WARNING! This will remove all dangling images.\nAre you "
                                      "sure you want to continue?"))
        return 0;
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    uint64_t reclaimed = 0;
    int rc = wcmd_prune_images(c, filters, all, &reclaimed) < 0 ? WCMD_EXIT_ERROR : 0;
    if (rc == 0) {
        _cleanup_strbuf_ strbuf sz = STRBUF_INIT;
        wcmd_human_size_prec((double)reclaimed, 4, &sz);
        printf("Total reclaimed space: %s\n", strbuf_str(&sz));
    }
    client_free(c);
    return rc;
}

int wcmd_prune_images(struct client *c, json_t *filters, bool all, uint64_t *reclaimed)
{
    /* docker always says which: dangling=true, or false with -a */
    _cleanup_json_ json_t *f = json_deep_copy(filters);
    json_object_set_new(f, "dangling", json_pack("{s:b}", all ? "false" : "true", 1));
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, "/images/prune");
    wcmd_add_filters_query(f, &path);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int r = wcmd_call(c, "POST", path.buf, NULL, &resp, false);
    if (r == 0)
        *reclaimed += wcmd_print_prune_report(resp.json, "ImagesDeleted", "Deleted Images");
    client_response_release(&resp);
    return r;
}
