/* builder.c — runs a parsed Dockerfile: stages, arguments, the cache, and
 * one committed image per instruction, the way Docker's classic builder
 * does (same progress lines, history entries, config rules).
 *
 * A step is: the instruction's effect computed from the current image's
 * config (variables substituted, the new config or the command to run, the
 * history text), its cache key (the parent image ID, that text, and for
 * COPY/ADD a hash of the sources' content), then either the cached image
 * or the work: metadata instructions commit no layer; RUN mounts an overlay
 * of the current image (with an extra bottom layer holding the empty mount
 * targets /proc, /sys and /dev, so they never end up in the commit) and
 * runs the command as a container of its own through the container layer,
 * streaming its log; COPY/ADD write through such an overlay. The overlay's
 * upper directory is then committed by the image store, which moves it in
 * as the new snapshot.
 *
 * Stages are built in order, but only those the target needs (its FROM and
 * COPY --from sources, recursively). */
#include "build.h"

#include "cri.h"
#include "image.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>

#define DEFAULT_SHELL_0 "/bin/sh"
#define DEFAULT_SHELL_1 "-c"

/* ---------------------------------------------------------------- small helpers */

static void random_hex(char *out, size_t nbytes)
{
    unsigned char b[32];
    if (nbytes > sizeof(b))
        nbytes = sizeof(b);
    if (getrandom(b, nbytes, 0) != (ssize_t)nbytes)
        for (size_t i = 0; i < nbytes; i++)
            b[i] = (unsigned char)(rand() & 0xff);
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The 12 characters docker shows of an ID. */
static const char *short_id(const char *id, char out[13])
{
    const char *hex = strncmp(id, "sha256:", 7) == 0 ? id + 7 : id;
    snprintf(out, 13, "%s", hex);
    return out;
}

struct hasher {
    struct sha256_ctx ctx;
};

static void hasher_init(struct hasher *h)
{
    sha256_init(&h->ctx);
}

static void hasher_add(struct hasher *h, const void *data, size_t len)
{
    sha256_update(&h->ctx, len, data);
}

static void hasher_addstr(struct hasher *h, const char *s)
{
    hasher_add(h, s, strlen(s) + 1); /* with the NUL: fields cannot run together */
}

static void hasher_hex(struct hasher *h, char out[65])
{
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&h->ctx, sizeof(d), d);
    for (size_t i = 0; i < sizeof(d); i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Go's strconv.Quote, which %q uses in dockerd's history texts. */
static void go_quote(strbuf *sb, const char *s)
{
    strbuf_addch(sb, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            strbuf_addstr(sb, "\\\"");
            break;
        case '\\':
            strbuf_addstr(sb, "\\\\");
            break;
        case '\n':
            strbuf_addstr(sb, "\\n");
            break;
        case '\t':
            strbuf_addstr(sb, "\\t");
            break;
        case '\r':
            strbuf_addstr(sb, "\\r");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                strbuf_addf(sb, "\\x%02x", *p);
            else
                strbuf_addch(sb, (char)*p);
        }
    }
    strbuf_addch(sb, '"');
}

/* fmt's %q of a []string: ["a" "b"]. */
static void go_quote_list(strbuf *sb, json_t *arr)
{
    strbuf_addch(sb, '[');
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (i)
            strbuf_addch(sb, ' ');
        go_quote(sb, json_string_value(v));
    }
    strbuf_addch(sb, ']');
}

/* time.Duration's String(): "0s", "1.5s", "1m30s", "500ms". */
static void go_duration(strbuf *sb, int64_t ns)
{
    if (ns == 0) {
        strbuf_addstr(sb, "0s");
        return;
    }
    if (ns < 0) {
        strbuf_addch(sb, '-');
        ns = -ns;
    }
    char frac[32];
    if (ns < 1000000000) {
        const char *unit = ns < 1000 ? "ns" : ns < 1000000 ? "µs" : "ms";
        int64_t div = ns < 1000 ? 1 : ns < 1000000 ? 1000 : 1000000;
        int64_t whole = ns / div, rest = ns % div;
        strbuf_addf(sb, "%lld", (long long)whole);
        if (rest) {
            int digits = div == 1000 ? 3 : 6;
            snprintf(frac, sizeof(frac), "%0*lld", digits, (long long)rest);
            for (int i = digits - 1; i >= 0 && frac[i] == '0'; i--)
                frac[i] = '\0';
            strbuf_addf(sb, ".%s", frac);
        }
        strbuf_addstr(sb, unit);
        return;
    }
    int64_t h = ns / 3600000000000LL, m = (ns / 60000000000LL) % 60;
    int64_t s = (ns / 1000000000) % 60, rest = ns % 1000000000;
    if (h)
        strbuf_addf(sb, "%lldh", (long long)h);
    if (h || m)
        strbuf_addf(sb, "%lldm", (long long)m);
    strbuf_addf(sb, "%lld", (long long)s);
    if (rest) {
        snprintf(frac, sizeof(frac), "%09lld", (long long)rest);
        for (int i = 8; i >= 0 && frac[i] == '0'; i--)
            frac[i] = '\0';
        strbuf_addf(sb, ".%s", frac);
    }
    strbuf_addch(sb, 's');
}

static char *join_array(json_t *arr, const char *sep)
{
    strbuf sb = STRBUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (i)
            strbuf_addstr(&sb, sep);
        strbuf_addstr(&sb, json_string_value(v));
    }
    return sb.buf ? strbuf_detach(&sb) : xstrdup("");
}

/* "K=V" environment arrays. */
static const char *env_get(json_t *env, const char *key)
{
    size_t klen = strlen(key);
    const char *found = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(env, i, v)
    {
        const char *s = json_string_value(v);
        if (s && strncmp(s, key, klen) == 0 && s[klen] == '=')
            found = s + klen + 1;
    }
    return found;
}

static void env_set(json_t *config, const char *key, const char *value)
{
    json_t *env = json_object_get(config, "Env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(config, "Env", env);
    }
    _cleanup_free_ char *kv = xasprintf("%s=%s", key, value);
    size_t klen = strlen(key);
    size_t i;
    json_t *v;
    json_array_foreach(env, i, v)
    {
        const char *s = json_string_value(v);
        if (s && strncmp(s, key, klen) == 0 && s[klen] == '=') {
            json_array_set_new(env, i, json_string(kv));
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
}

/* Go's path.Clean of an absolute path. */
static char *clean_abs(const char *in)
{
    _cleanup_free_ char *copy = xstrdup(in);
    char **parts = xcalloc(strlen(in) + 1, sizeof(char *));
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0)
            continue;
        if (strcmp(t, "..") == 0) {
            if (n)
                n--;
            continue;
        }
        parts[n++] = t;
    }
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&sb, "/%s", parts[i]);
    free(parts);
    return sb.len ? strbuf_detach(&sb) : (strbuf_release(&sb), xstrdup("/"));
}

static const char *const proxy_args[] = {
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY",   "no_proxy",   "ALL_PROXY",   "all_proxy",   NULL,
};

static bool is_proxy_arg(const char *name)
{
    for (const char *const *p = proxy_args; *p; p++)
        if (strcmp(*p, name) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- the build */

struct stage {
    char *name; /* lower case, or NULL */
    const struct build_instruction *from;
    const struct build_instruction **inst;
    size_t n_inst;
    char *base;     /* FROM's image, expanded */
    int base_stage; /* index of the stage FROM names, or -1 */
    bool needed;
    bool built;
    char image[72]; /* the stage's result; "" for a FROM scratch stage without steps */
};

struct build {
    struct build_env env; /* env.state_dir points at state_dir */
    char *state_dir;
    char *context_dir;
    char *dockerfile; /* as given, for messages */
    json_t *build_args;
    json_t *labels;
    char **tags; /* full references */
    size_t n_tags;
    bool no_cache, pull, host_network;
    build_pull_fn pull_fn;
    void *pull_ud;
    json_t *pulled; /* references pulled by this build (each once) */
    build_emit_fn emit;
    void *emit_ud;
    bool cancelled;
    int exit_code; /* of the RUN that failed */

    struct build_dockerfile df;
    const struct build_instruction **meta;
    size_t n_meta;
    json_t *meta_values; /* global ARGs: name -> value or null */
    struct build_instruction label_inst;
    bool has_label_inst;
    struct stage *stages;
    size_t n_stages;
    size_t target;
    size_t total_steps, step;
    json_t *used_args; /* build-arg names some ARG consumed */

    char *hidden[3]; /* context files COPY must not see (NULL-terminated) */
    char *scratch;   /* STATE/tmp/build-XXXXXX */
    char *init_dir;  /* empty proc, sys, dev: RUN's bottom layer */
    char *empty_dir; /* a lower layer for images without layers */
};

/* The dispatch state of the stage being built. */
struct state {
    struct build *b;
    struct stage *stage;
    char image[72]; /* the current image; "" while nothing has been committed on scratch */
    json_t *config; /* the image config's "config" object being built (owned) */
    json_t *args;   /* ARGs declared in this stage: name -> value or null */
    bool cmd_set;
    char *author; /* MAINTAINER */
};

static int say(struct build *b, const char *fmt, ...) WHARF_PRINTF(2, 3);
static int say(struct build *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    int r = b->emit ? b->emit(b->emit_ud, BUILD_EVENT_STREAM, strbuf_str(&sb), sb.len) : 0;
    strbuf_release(&sb);
    if (r < 0)
        b->cancelled = true;
    return r < 0 ? -ECANCELED : 0;
}

static int cancelled(struct build *b, wharf_error *err)
{
    return wharf_error_set(err, -ECANCELED, "build cancelled: the client went away");
}

/* "Dockerfile:7" */
static char *where(struct build *b, const struct build_instruction *in)
{
    return xasprintf("%s:%d", b->df.name, in->line);
}

/* ---------------------------------------------------------------- cache */

static char *cache_path(struct build *b, const char *parent, const char *key)
{
    struct hasher h;
    hasher_init(&h);
    hasher_addstr(&h, "wharf build cache v1");
    hasher_addstr(&h, parent && *parent ? parent : "scratch");
    hasher_addstr(&h, key);
    char hex[65];
    hasher_hex(&h, hex);
    return xasprintf("%s/cache/%s", b->env.state_dir, hex);
}

/* The image a step made before, if it is still stored. */
static bool cache_get(struct build *b, const char *parent, const char *key, char id[72])
{
    if (b->no_cache)
        return false;
    _cleanup_free_ char *path = cache_path(b, parent, key);
    char *text = NULL;
    wharf_error e = {0};
    if (wharf_read_file(path, &text, NULL, &e) < 0)
        return false;
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    bool ok = image_digest_valid(text) && image_store_resolve(b->env.images, text, id, &e) == 0;
    if (!ok)
        unlink(path); /* the image is gone: the entry is stale */
    free(text);
    return ok;
}

static void cache_put(struct build *b, const char *parent, const char *key, const char *id)
{
    _cleanup_free_ char *path = cache_path(b, parent, key);
    wharf_error e = {0};
    _cleanup_free_ char *text = xasprintf("%s\n", id);
    if (wharf_write_file_atomic(path, text, strlen(text), 0600, &e) < 0)
        wlog_warn("build cache: %s", e.msg);
}

/* ---------------------------------------------------------------- overlays */

struct overlay {
    char *dir, *upper, *work, *merged;
    bool mounted;
};

static void overlay_release(struct overlay *o)
{
    if (o->mounted) {
        wharf_error e = {0};
        if (image_store_unmount_rootfs(o->merged, &e) < 0)
            wlog_warn("build: %s", e.msg);
        o->mounted = false;
    }
    if (o->dir) {
        wharf_error e = {0};
        wharf_rm_rf(o->dir, &e);
    }
    free(o->dir);
    free(o->upper);
    free(o->work);
    free(o->merged);
    memset(o, 0, sizeof(*o));
}

static int image_has_layers(struct build *b, const char *image, bool *has, wharf_error *err)
{
    *has = false;
    if (!image || !*image)
        return 0;
    _cleanup_json_ json_t *cfg = image_store_config(b->env.images, image, err);
    if (!cfg)
        return err->code;
    *has = json_array_size(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids")) > 0;
    return 0;
}

/* Mounts image (may be "": nothing) with a fresh upper directory; with
 * init, the mount targets of a container sit below everything. read_only:
 * no upper directory at all (a --from source). */
static int overlay_mount(struct build *b, const char *image, bool init, bool read_only,
                         struct overlay *o, wharf_error *err)
{
    memset(o, 0, sizeof(*o));
    o->dir = xasprintf("%s/step-XXXXXX", b->scratch);
    if (!mkdtemp(o->dir)) {
        int e = errno;
        free(o->dir);
        o->dir = NULL;
        return wharf_error_errno(err, e, "build: scratch directory in %s", b->scratch);
    }
    o->upper = xasprintf("%s/upper", o->dir);
    o->work = xasprintf("%s/work", o->dir);
    o->merged = xasprintf("%s/merged", o->dir);
    int r;
    if ((r = wharf_mkdir_p(o->upper, 0755, err)) < 0 ||
        (r = wharf_mkdir_p(o->work, 0700, err)) < 0 ||
        (r = wharf_mkdir_p(o->merged, 0755, err)) < 0)
        return r;
    bool layers;
    if ((r = image_has_layers(b, image, &layers, err)) < 0)
        return r;
    _cleanup_free_ char *lower = NULL;
    if (layers && !(lower = image_store_lowerdirs(b->env.images, image, err)))
        return err->code;
    strbuf lowers = STRBUF_INIT;
    if (lower)
        strbuf_addstr(&lowers, lower);
    if (init)
        strbuf_addf(&lowers, "%s%s", lowers.len ? ":" : "", b->init_dir);
    if (!lowers.len || (read_only && !strchr(strbuf_str(&lowers), ':')))
        strbuf_addf(&lowers, "%s%s", lowers.len ? ":" : "", b->empty_dir);
    _cleanup_free_ char *opts = read_only ? xasprintf("lowerdir=%s", strbuf_str(&lowers))
                                          : xasprintf("lowerdir=%s,upperdir=%s,workdir=%s",
                                                      strbuf_str(&lowers), o->upper, o->work);
    strbuf_release(&lowers);
    if (strlen(opts) >= (size_t)sysconf(_SC_PAGESIZE))
        return wharf_error_set(err, -E2BIG,
                               "image %s: too many layers for one overlay mount (%zu bytes of "
                               "options)",
                               image, strlen(opts));
    if (mount("overlay", o->merged, "overlay", read_only ? MS_RDONLY : 0, opts) < 0)
        return wharf_error_errno(err, errno, "build: mount an overlay of %s on %s",
                                 *image ? image : "scratch", o->merged);
    o->mounted = true;
    return 0;
}

static int overlay_unmount(struct overlay *o, wharf_error *err)
{
    if (!o->mounted)
        return 0;
    int r = image_store_unmount_rootfs(o->merged, err);
    if (r == 0)
        o->mounted = false;
    return r;
}

/* ---------------------------------------------------------------- users */

struct user {
    uid_t uid;
    gid_t gid;
    json_t *groups; /* supplementary gids (owned), may be NULL */
    char *home;
};

static void user_release(struct user *u)
{
    if (u->groups)
        json_decref(u->groups);
    free(u->home);
    memset(u, 0, sizeof(*u));
}

static char *read_in_root(int root, const char *path)
{
    wharf_error e = {0};
    _cleanup_close_ int fd = wharf_open_in_root(root, path, O_RDONLY, 0, &e);
    if (fd < 0)
        return NULL;
    strbuf sb = STRBUF_INIT;
    char buf[8192];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        strbuf_add(&sb, buf, (size_t)n);
    return sb.buf ? strbuf_detach(&sb) : xstrdup("");
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Finds a passwd or group line by name (field 0) or id (field 2). */
static bool find_entry(const char *text, const char *name, long id, char ***fields_out)
{
    if (!text)
        return false;
    _cleanup_free_ char *copy = xstrdup(text);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char **f = xcalloc(8, sizeof(char *));
        size_t n = 0;
        char *p = line;
        while (n < 7) {
            f[n++] = p;
            char *c = strchr(p, ':');
            if (!c)
                break;
            *c = '\0';
            p = c + 1;
        }
        bool hit = n >= 3 && (name ? strcmp(f[0], name) == 0 : strtol(f[2], NULL, 10) == id);
        if (hit) {
            for (size_t i = 0; i < n; i++)
                f[i] = xstrdup(f[i]);
            *fields_out = f;
            return true;
        }
        free(f);
    }
    return false;
}

static void free_fields(char **f)
{
    if (!f)
        return;
    for (size_t i = 0; i < 7 && f[i]; i++)
        free(f[i]);
    free(f);
}

/* "user[:group]" against the root's /etc/passwd and /etc/group, as
 * dockerd resolves a container's user. chown_rules: a missing group means
 * the same number as the user (COPY --chown's rule) and no supplementary
 * groups. */
static int resolve_user(int root, const char *spec, bool chown_rules, struct user *u,
                        wharf_error *err)
{
    memset(u, 0, sizeof(*u));
    _cleanup_free_ char *copy = xstrdup(spec && *spec ? spec : "0");
    char *group = strchr(copy, ':');
    if (group)
        *group++ = '\0';
    const char *user = *copy ? copy : "0";
    _cleanup_free_ char *passwd = read_in_root(root, "/etc/passwd");
    _cleanup_free_ char *groups = read_in_root(root, "/etc/group");
    char **pw = NULL;
    bool numeric = all_digits(user);
    if (numeric)
        find_entry(passwd, NULL, strtol(user, NULL, 10), &pw);
    else if (!find_entry(passwd, user, 0, &pw))
        return wharf_error_set(err, -EINVAL,
                               "unable to find user %s: no matching entries in passwd file", user);
    u->uid = numeric ? (uid_t)strtoul(user, NULL, 10) : (uid_t)strtoul(pw[2], NULL, 10);
    u->gid = chown_rules ? u->uid : (pw && pw[3] ? (gid_t)strtoul(pw[3], NULL, 10) : 0);
    u->home = xstrdup(pw && pw[5] && *pw[5] ? pw[5] : "/");
    const char *uname = pw ? pw[0] : NULL;
    free_fields(pw);
    if (group && *group) {
        if (all_digits(group)) {
            u->gid = (gid_t)strtoul(group, NULL, 10);
        } else {
            char **gr = NULL;
            if (!find_entry(groups, group, 0, &gr)) {
                user_release(u);
                return wharf_error_set(err, -EINVAL,
                                       "unable to find group %s: no matching entries in group file",
                                       group);
            }
            u->gid = (gid_t)strtoul(gr[2], NULL, 10);
            free_fields(gr);
        }
    } else if (!chown_rules && uname && groups) {
        /* supplementary groups: those listing the user */
        (void)uname;
    }
    if (!chown_rules && groups) {
        u->groups = json_array();
        _cleanup_free_ char *gcopy = xstrdup(groups);
        _cleanup_free_ char *me = NULL;
        char **self = NULL;
        if (numeric ? find_entry(passwd, NULL, (long)u->uid, &self)
                    : find_entry(passwd, user, 0, &self))
            me = xstrdup(self[0]);
        free_fields(self);
        char *save = NULL;
        for (char *line = strtok_r(gcopy, "\n", &save); me && line;
             line = strtok_r(NULL, "\n", &save)) {
            char *f[4] = {0};
            size_t n = 0;
            for (char *p = line; n < 4 && p; n++) {
                f[n] = p;
                p = strchr(p, ':');
                if (p)
                    *p++ = '\0';
            }
            if (n < 4 || !f[3])
                continue;
            char *s2 = NULL;
            for (char *m = strtok_r(f[3], ",", &s2); m; m = strtok_r(NULL, ",", &s2))
                if (strcmp(m, me) == 0)
                    json_array_append_new(u->groups, json_integer(strtol(f[2], NULL, 10)));
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- substitution */

static const char *stage_lookup(const char *name, void *ud)
{
    struct state *s = ud;
    const char *v = env_get(json_object_get(s->config, "Env"), name);
    if (v)
        return v;
    return json_string_value(json_object_get(s->args, name));
}

static const char *meta_lookup(const char *name, void *ud)
{
    struct build *b = ud;
    return json_string_value(json_object_get(b->meta_values, name));
}

static int expand(struct state *s, const struct build_instruction *in, const char *word, char **out,
                  wharf_error *err)
{
    int r = build_expand_word(word, s->b->df.escape, stage_lookup, s, out, err);
    if (r < 0) {
        _cleanup_free_ char *w = where(s->b, in);
        return wharf_error_prefix(err, "%s", w);
    }
    return 0;
}

/* ---------------------------------------------------------------- commits */

static json_t *shell_array(json_t *config)
{
    json_t *sh = json_object_get(config, "Shell");
    if (json_is_array(sh) && json_array_size(sh) > 0)
        return json_deep_copy(sh);
    return json_pack("[ss]", DEFAULT_SHELL_0, DEFAULT_SHELL_1);
}

/* dockerd's history text of a metadata step: the shell, "#(nop) ", the text. */
static char *nop_text(json_t *config, const char *text)
{
    _cleanup_json_ json_t *sh = shell_array(config);
    _cleanup_free_ char *shell = join_array(sh, " ");
    return xasprintf("%s #(nop)  %s", shell, text);
}

/* Makes the step's image: a cache hit, or commit(). Prints the outcome. */
static int finish_step(struct state *s, const char *image, wharf_error *err)
{
    snprintf(s->image, sizeof(s->image), "%s", image);
    json_t *cfg = image_store_config(s->b->env.images, image, err);
    if (!cfg)
        return err->code;
    json_t *c = json_object_get(cfg, "config");
    json_decref(s->config);
    s->config = json_is_object(c) ? json_deep_copy(c) : json_object();
    json_decref(cfg);
    char sid[13];
    return say(s->b, " ---> %s\n", short_id(image, sid));
}

static int cache_hit(struct state *s, const char *key, wharf_error *err)
{
    char id[72];
    if (!cache_get(s->b, s->image, key, id))
        return 0;
    if (say(s->b, " ---> Using cache\n") < 0)
        return cancelled(s->b, err);
    int r = finish_step(s, id, err);
    return r < 0 ? r : 1;
}

/* Commits config (and upper, may be NULL) on the current image. */
static int commit(struct state *s, const char *key, const char *created_by, const char *upper,
                  json_t *config, wharf_error *err)
{
    char id[72];
    const char *author = s->author;
    struct image_commit c = {.parent = s->image,
                             .upperdir = upper,
                             .consume_upperdir = true,
                             .config = config,
                             .created_by = created_by,
                             .author = author};
    int r = image_store_commit_layer(s->b->env.images, &c, id, err);
    if (r < 0)
        return r;
    cache_put(s->b, s->image, key, id);
    return finish_step(s, id, err);
}

/* A step that only changes the config. */
static int meta_step(struct state *s, const char *text, json_t *newcfg, wharf_error *err)
{
    _cleanup_free_ char *created_by = nop_text(newcfg, text);
    _cleanup_free_ char *key = xasprintf("nop\n%s", created_by);
    int r = cache_hit(s, key, err);
    if (r != 0)
        return r < 0 ? r : 0;
    return commit(s, key, created_by, NULL, newcfg, err);
}

/* ---------------------------------------------------------------- metadata instructions */

static int do_env_label(struct state *s, const struct build_instruction *in, bool label,
                        wharf_error *err)
{
    _cleanup_json_ json_t *cfg = json_deep_copy(s->config);
    strbuf text = STRBUF_INIT;
    strbuf_addstr(&text, label ? "LABEL" : "ENV");
    int r = 0;
    /* every value sees the environment from before the instruction */
    char **keys = xcalloc(in->n_args / 2 + 1, sizeof(char *));
    char **vals = xcalloc(in->n_args / 2 + 1, sizeof(char *));
    for (size_t i = 0; i + 1 < in->n_args && r == 0; i += 2) {
        if ((r = expand(s, in, in->args[i], &keys[i / 2], err)) == 0)
            r = expand(s, in, in->args[i + 1], &vals[i / 2], err);
    }
    for (size_t i = 0; i + 1 < in->n_args && r == 0; i += 2) {
        const char *k = keys[i / 2], *v = vals[i / 2];
        if (!*k) {
            _cleanup_free_ char *w = where(s->b, in);
            r = wharf_error_set(err, -EINVAL, "%s: %s names can not be blank", w,
                                label ? "LABEL" : "ENV");
            break;
        }
        strbuf_addf(&text, " %s=%s", k, v);
        if (label) {
            json_t *labels = json_object_get(cfg, "Labels");
            if (!json_is_object(labels)) {
                labels = json_object();
                json_object_set_new(cfg, "Labels", labels);
            }
            json_object_set_new(labels, k, json_string(v));
        } else {
            env_set(cfg, k, v);
        }
    }
    for (size_t i = 0; i < in->n_args / 2; i++) {
        free(keys[i]);
        free(vals[i]);
    }
    free(keys);
    free(vals);
    if (r == 0)
        r = meta_step(s, strbuf_str(&text), cfg, err);
    strbuf_release(&text);
    return r;
}

static int parse_port(const char *spec, json_t *ports, strbuf *text, wharf_error *err)
{
    _cleanup_free_ char *copy = xstrdup(spec);
    const char *proto = "tcp";
    char *slash = strchr(copy, '/');
    if (slash) {
        *slash = '\0';
        proto = slash + 1;
        for (char *p = slash + 1; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 && strcmp(proto, "sctp") != 0)
            return wharf_error_set(err, -EINVAL, "invalid proto: %s", proto);
    }
    char *dash = strchr(copy, '-');
    if (dash)
        *dash = '\0';
    const char *lo_s = copy, *hi_s = dash ? dash + 1 : copy;
    if (!all_digits(lo_s) || !all_digits(hi_s))
        return wharf_error_set(err, -EINVAL, "invalid containerPort: %s", spec);
    long lo = strtol(lo_s, NULL, 10), hi = strtol(hi_s, NULL, 10);
    if (lo < 0 || hi > 65535 || hi < lo)
        return wharf_error_set(err, -EINVAL, "invalid range specified for container port: %s",
                               spec);
    for (long p = lo; p <= hi; p++) {
        _cleanup_free_ char *key = xasprintf("%ld/%s", p, proto);
        json_object_set_new(ports, key, json_object());
        if (text)
            strbuf_addf(text, "%s%s", text->len ? " " : "", key);
    }
    return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_expose(struct state *s, const struct build_instruction *in, wharf_error *err)
{
    _cleanup_json_ json_t *cfg = json_deep_copy(s->config);
    json_t *ports = json_object_get(cfg, "ExposedPorts");
    if (!json_is_object(ports)) {
        ports = json_object();
        json_object_set_new(cfg, "ExposedPorts", ports);
    }
    _cleanup_json_ json_t *mine = json_object();
    int r = 0;
    for (size_t i = 0; i < in->n_args && r == 0; i++) {
        char **words = NULL;
        size_t n = 0;
        r = build_expand_words(in->args[i], s->b->df.escape, stage_lookup, s, &words, &n, err);
        for (size_t j = 0; j < n; j++) {
            if (r == 0)
                r = parse_port(words[j], mine, NULL, err);
            free(words[j]);
        }
        free(words);
    }
    if (r < 0) {
        _cleanup_free_ char *w = where(s->b, in);
        return wharf_error_prefix(err, "%s: EXPOSE", w);
    }
    /* "EXPOSE 443/tcp 80/tcp": this instruction's ports, sorted as strings */
    size_t n = json_object_size(mine), k = 0;
    const char **names = xcalloc(n + 1, sizeof(char *));
    const char *key;
    json_t *v;
    json_object_foreach(mine, key, v)
    {
        names[k++] = key;
        json_object_set_new(ports, key, json_object());
    }
    qsort(names, n, sizeof(char *), cmp_cstr);
    strbuf text = STRBUF_INIT;
    strbuf_addstr(&text, "EXPOSE");
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&text, " %s", names[i]);
    free(names);
    r = meta_step(s, strbuf_str(&text), cfg, err);
    strbuf_release(&text);
    return r;
}

static int do_volume(struct state *s, const struct build_instruction *in, wharf_error *err)
{
    _cleanup_json_ json_t *cfg = json_deep_copy(s->config);
    json_t *vols = json_object_get(cfg, "Volumes");
    if (!json_is_object(vols)) {
        vols = json_object();
        json_object_set_new(cfg, "Volumes", vols);
    }
    strbuf text = STRBUF_INIT;
    strbuf_addstr(&text, "VOLUME [");
    int r = 0;
    for (size_t i = 0; i < in->n_args && r == 0; i++) {
        _cleanup_free_ char *v = NULL;
        if ((r = expand(s, in, in->args[i], &v, err)) < 0)
            break;
        char *t = v;
        while (isspace((unsigned char)*t))
            t++;
        size_t l = strlen(t);
        while (l && isspace((unsigned char)t[l - 1]))
            t[--l] = '\0';
        if (!*t) {
            _cleanup_free_ char *w = where(s->b, in);
            r = wharf_error_set(err, -EINVAL, "%s: VOLUME specified can not be an empty string", w);
            break;
        }
        json_object_set_new(vols, t, json_object());
        strbuf_addf(&text, "%s%s", i ? " " : "", t);
    }
    strbuf_addch(&text, ']');
    if (r == 0)
        r = meta_step(s, strbuf_str(&text), cfg, err);
    strbuf_release(&text);
    return r;
}

/* USER, STOPSIGNAL: one expanded string into one field. */
static int do_simple(struct state *s, const struct build_instruction *in, const char *KW,
                     const char *field, wharf_error *err)
{
    _cleanup_free_ char *v = NULL;
    int r = expand(s, in, in->args[0], &v, err);
    if (r < 0)
        return r;
    if (strcmp(KW, "STOPSIGNAL") == 0 && cri_parse_signal(v) < 0) {
        _cleanup_free_ char *w = where(s->b, in);
        return wharf_error_set(err, -EINVAL, "%s: Invalid signal: %s", w, v);
    }
    _cleanup_json_ json_t *cfg = json_deep_copy(s->config);
    json_object_set_new(cfg, field, json_string(v));
    _cleanup_free_ char *text = xasprintf("%s %s", KW, v);
    return meta_step(s, text, cfg, err);
}

/* CMD, ENTRYPOINT, SHELL: exec form as is, shell form through the shell. */
static json_t *command_of(struct state *s, const struct build_instruction *in)
{
    if (in->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < in->n_args; i++)
            json_array_append_new(a, json_string(in->args[i]));
        return a;
    }
    json_t *a = shell_array(s->config);
    json_array_append_new(a, json_string(in->args[0]));
    return a;
}

static int do_command(struct state *s, const struct build_instruction *in, const char *KW,
                      const char *field, wharf_error *err)
{
    _cleanup_json_ json_t *cfg = json_deep_copy(s->config);
    json_t *cmd = command_of(s, in);
    strbuf text = STRBUF_INIT;
    strbuf_addf(&text, "%s ", KW);
    go_quote_list(&text, cmd);
    json_object_set_new(cfg, field, cmd);
    if (strcmp(field, "Entrypoint") == 0 && !s->cmd_set)
        json_object_set_new(cfg, "Cmd", json_null());
    if (strcmp(field, "Cmd") == 0)
        s->cmd_set = true;
    int r = meta_step(s, strbuf_str(&text), cfg, err);
    strbuf_release(&text);
    return r;
}

static int64_t health_flag(const struct build_instruction *in, const char *name)
{
    const char *v = build_instruction_flag(in, name);
    if (!v)
        return 0;
    /* the parser checked these already */
    double total = 0;
    const char *p = v;
    while (*p) {
        char *end;
        double n = strtod(p, &end);
        p = end;
        double mult = 1e9;
        if (strncmp(p, "ns", 2) == 0)
            mult = 1, p += 2;
        else if (strncmp(p, "us", 2) == 0)
            mult = 1e3, p += 2;
        else if (strncmp(p, "µs", strlen("µs")) == 0)
            mult = 1e3, p += strlen("µs");
        else if (strncmp(p, "ms", 2) == 0)
            mult = 1e6, p += 2;
        else if (*p == 's')
            mult = 1e9, p++;
        else if (*p == 'm')
            mult = 60e9, p++;
        else if (*p == 'h')
            mult = 3600e9, p++;
        else
            break;
        total += n * mult;
    }
    return (int64_t)total;
}

static int do_healthcheck(struct state *s, const struct build_instruction *in, wharf_error *err)
{
    _cleanup_json_ json_t *cfg = json_deep_copy(s->config);
    json_t *test = json_array();
    int64_t interval = 0, timeout = 0, start = 0, start_interval = 0, retries = 0;
    if (strcmp(in->args[0], "NONE") == 0) {
        json_array_append_new(test, json_string("NONE"));
    } else {
        json_array_append_new(test, json_string(in->json ? "CMD" : "CMD-SHELL"));
        for (size_t i = 1; i < in->n_args; i++)
            json_array_append_new(test, json_string(in->args[i]));
        interval = health_flag(in, "interval");
        timeout = health_flag(in, "timeout");
        start = health_flag(in, "start-period");
        start_interval = health_flag(in, "start-interval");
        const char *rv = build_instruction_flag(in, "retries");
        retries = rv ? strtol(rv, NULL, 10) : 0;
    }
    json_t *hc = json_pack("{s:o}", "Test", test);
    if (interval)
        json_object_set_new(hc, "Interval", json_integer(interval));
    if (timeout)
        json_object_set_new(hc, "Timeout", json_integer(timeout));
    if (start)
        json_object_set_new(hc, "StartPeriod", json_integer(start));
    if (start_interval)
        json_object_set_new(hc, "StartInterval", json_integer(start_interval));
    if (retries)
        json_object_set_new(hc, "Retries", json_integer(retries));
    json_object_set_new(cfg, "Healthcheck", hc);
    /* dockerd prints the struct with %q: &{["CMD-SHELL" "x"] "5s" "3s" "0s" "0s" '\x03'} */
    strbuf text = STRBUF_INIT;
    strbuf_addstr(&text, "HEALTHCHECK &{");
    go_quote_list(&text, test);
    int64_t d[4] = {interval, timeout, start, start_interval};
    for (int i = 0; i < 4; i++) {
        strbuf_addstr(&text, " \"");
        go_duration(&text, d[i]);
        strbuf_addch(&text, '"');
    }
    if (retries >= 0x20 && retries < 0x7f && retries != '\'' && retries != '\\')
        strbuf_addf(&text, " '%c'}", (char)retries);
    else if (retries < 0x100)
        strbuf_addf(&text, " '\\x%02x'}", (unsigned)retries);
    else
        strbuf_addf(&text, " '\\u%04x'}", (unsigned)retries);
    int r = meta_step(s, strbuf_str(&text), cfg, err);
    strbuf_release(&text);
    return r;
}

static int do_onbuild(struct state *s, const struct build_instruction *in, wharf_error *err)
{
    _cleanup_json_ json_t *cfg = json_deep_copy(s->config);
    json_t *ob = json_object_get(cfg, "OnBuild");
    if (!json_is_array(ob)) {
        ob = json_array();
        json_object_set_new(cfg, "OnBuild", ob);
    }
    json_array_append_new(ob, json_string(in->args[0]));
    _cleanup_free_ char *text = xasprintf("ONBUILD %s", in->args[0]);
    return meta_step(s, text, cfg, err);
}

static void use_arg(struct build *b, const char *name)
{
    if (b->build_args && json_object_get(b->build_args, name))
        json_object_set_new(b->used_args, name, json_true());
}

/* An ARG's value: --build-arg wins over the default. *value NULL: unset. */
static int arg_value(struct build *b, const char *word, build_lookup_fn lookup, void *ud,
                     char **name, char **value, bool *has_default, wharf_error *err)
{
    const char *eq = strchr(word, '=');
    *name = eq ? xasprintf("%.*s", (int)(eq - word), word) : xstrdup(word);
    *value = NULL;
    *has_default = eq != NULL;
    if (eq) {
        int r = build_expand_word(eq + 1, b->df.escape, lookup, ud, value, err);
        if (r < 0)
            return r;
    }
    json_t *given = b->build_args ? json_object_get(b->build_args, *name) : NULL;
    if (json_is_string(given)) {
        free(*value);
        *value = xstrdup(json_string_value(given));
    }
    use_arg(b, *name);
    return 0;
}

static int do_arg(struct state *s, const struct build_instruction *in, wharf_error *err)
{
    strbuf text = STRBUF_INIT;
    strbuf_addstr(&text, "ARG");
    int r = 0;
    for (size_t i = 0; i < in->n_args && r == 0; i++) {
        char *name = NULL, *value = NULL;
        bool has_default;
        r = arg_value(s->b, in->args[i], stage_lookup, s, &name, &value, &has_default, err);
        if (r == 0) {
            /* no default and no --build-arg: the global ARG's value, if any */
            if (!value && !has_default)
                value = json_string_value(json_object_get(s->b->meta_values, name))
                            ? xstrdup(json_string_value(json_object_get(s->b->meta_values, name)))
                            : NULL;
            const char *eq = strchr(in->args[i], '=');
            _cleanup_free_ char *dflt = NULL;
            if (eq)
                build_expand_word(eq + 1, s->b->df.escape, stage_lookup, s, &dflt, err);
            strbuf_addf(&text, " %s%s%s", name, eq ? "=" : "", dflt ? dflt : "");
            json_object_set_new(s->args, name, value ? json_string(value) : json_null());
        } else {
            _cleanup_free_ char *w = where(s->b, in);
            wharf_error_prefix(err, "%s", w);
        }
        free(name);
        free(value);
    }
    if (r == 0) {
        _cleanup_json_ json_t *cfg = json_deep_copy(s->config);
        r = meta_step(s, strbuf_str(&text), cfg, err);
    }
    strbuf_release(&text);
    return r;
}

/* ---------------------------------------------------------------- RUN */

/* The declared ARGs with a value that ENV does not override, sorted:
 * RUN's extra environment ("K=V"), also in its history text. */
static json_t *run_args(struct state *s)
{
    json_t *out = json_array();
    const char *key;
    json_t *v;
    size_t n = json_object_size(s->args), k = 0;
    const char **names = xcalloc(n + 1, sizeof(char *));
    json_object_foreach(s->args, key, v) if (json_is_string(v) &&
                                             !env_get(json_object_get(s->config, "Env"), key))
        names[k++] = key;
    qsort(names, k, sizeof(char *), cmp_cstr);
    for (size_t i = 0; i < k; i++) {
        _cleanup_free_ char *kv =
            xasprintf("%s=%s", names[i], json_string_value(json_object_get(s->args, names[i])));
        json_array_append_new(out, json_string(kv));
    }
    free(names);
    return out;
}

struct run_log {
    struct build *b;
    bool failed; /* the client went away */
};

static int on_log(const struct cri_log_record *rec, void *ud)
{
    struct run_log *l = ud;
    strbuf sb = STRBUF_INIT;
    strbuf_add(&sb, rec->content, rec->len);
    if (!rec->partial)
        strbuf_addch(&sb, '\n');
    int r = l->b->emit ? l->b->emit(l->b->emit_ud, BUILD_EVENT_STREAM, sb.buf, sb.len) : 0;
    strbuf_release(&sb);
    if (r < 0) {
        l->failed = true;
        l->b->cancelled = true;
        return 1;
    }
    return 0;
}

static bool keep_following(void *ud)
{
    struct run_log *l = ud;
    return !l->failed;
}

static int do_run(struct state *s, const struct build_instruction *in, wharf_error *err)
{
    struct build *b = s->b;
    _cleanup_json_ json_t *cmd = command_of(s, in);
    _cleanup_json_ json_t *args = run_args(s);
    _cleanup_free_ char *cmdline = join_array(cmd, " ");
    _cleanup_free_ char *created_by = NULL;
    if (json_array_size(args)) {
        _cleanup_free_ char *a = join_array(args, " ");
        created_by = xasprintf("|%zu %s %s", json_array_size(args), a, cmdline);
    } else {
        created_by = xstrdup(cmdline);
    }
    _cleanup_free_ char *key = xasprintf("run\n%s", created_by);
    int r = cache_hit(s, key, err);
    if (r != 0)
        return r < 0 ? r : 0;

    struct overlay o;
    r = overlay_mount(b, s->image, true, false, &o, err);
    if (r < 0) {
        overlay_release(&o);
        return r;
    }
    char cid[65];
    random_hex(cid, 32);
    char sid[13];
    short_id(cid, sid);
    _cleanup_free_ char *sandbox = xasprintf("build-%s", cid);
    bool sandbox_made = false, container_made = false;
    json_t *ccfg = NULL;
    _cleanup_free_ char *cname = NULL;
    _cleanup_json_ json_t *scfg = NULL;
    struct user u = {0};
    _cleanup_close_ int root = open(o.merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *wd = json_string_value(json_object_get(s->config, "WorkingDir"));
    if (!wd || !*wd)
        wd = "/";
    if (root < 0) {
        r = wharf_error_errno(err, errno, "open %s", o.merged);
        goto out;
    }
    {
        /* dockerd creates the working directory of a container */
        int d = wharf_mkdir_in_root(root, wd, 0755, err);
        if (d < 0) {
            r = d;
            goto out;
        }
        close(d);
    }
    const char *user = json_string_value(json_object_get(s->config, "User"));
    if ((r = resolve_user(root, user, false, &u, err)) < 0) {
        _cleanup_free_ char *w = where(b, in);
        wharf_error_prefix(err, "%s", w);
        goto out;
    }
    json_t *env = json_deep_copy(json_object_get(s->config, "Env"));
    if (!json_is_array(env)) {
        json_decref(env);
        env = json_array();
    }
    json_array_extend(env, args);
    for (const char *const *p = proxy_args; *p; p++) {
        json_t *v = b->build_args ? json_object_get(b->build_args, *p) : NULL;
        if (json_is_string(v) && !json_object_get(s->args, *p)) {
            _cleanup_free_ char *kv = xasprintf("%s=%s", *p, json_string_value(v));
            json_array_append_new(env, json_string(kv));
        }
    }
    if (!env_get(env, "HOSTNAME")) {
        _cleanup_free_ char *h = xasprintf("HOSTNAME=%s", sid);
        json_array_append_new(env, json_string(h));
    }
    if (!env_get(env, "HOME")) {
        _cleanup_free_ char *h = xasprintf("HOME=%s", u.home);
        json_array_append_new(env, json_string(h));
    }
    json_t *juser = json_pack("{s:I, s:I}", "uid", (json_int_t)u.uid, "gid", (json_int_t)u.gid);
    if (u.groups && json_array_size(u.groups))
        json_object_set(juser, "additional_gids", u.groups);
    cname = xasprintf("build-%s", sid);
    ccfg = json_pack("{s:s, s:O, s:o, s:s, s:o, s:s, s:{s:s}, s:{s:s}}", "name", cname, "args", cmd,
                     "env", env, "working_dir", wd, "user", juser, "hostname", sid, "labels",
                     "io.wharf.build", "1", "namespaces", "network",
                     b->host_network ? "host" : "sandbox");
    scfg = json_pack("{s:s, s:s, s:b}", "name", cname, "hostname", sid, "infra", 0);
    if ((r = cri_sandbox_create(b->env.cri, sandbox, scfg, err)) < 0)
        goto out;
    sandbox_made = true;
    if ((r = cri_container_create(b->env.cri, cid, sandbox, o.merged, ccfg, err)) < 0)
        goto out;
    container_made = true;
    if (say(b, " ---> Running in %s\n", sid) < 0) {
        r = cancelled(b, err);
        goto out;
    }
    if ((r = cri_container_start(b->env.cri, cid, err)) < 0)
        goto out;
    struct run_log log = {.b = b};
    struct cri_log_opts lo = {
        .tail = -1, .follow = true, .keep_following = keep_following, .poll_ms = 20};
    int lr = cri_container_logs(b->env.cri, cid, &lo, on_log, &log, err);
    if (log.failed) {
        cri_container_kill(b->env.cri, cid, SIGKILL, NULL);
        r = cancelled(b, err);
        goto out;
    }
    if (lr < 0) {
        r = lr;
        goto out;
    }
    struct cri_container_status st;
    /* the log ends when the process does; its exit is recorded right after */
    for (int i = 0;; i++) {
        if ((r = cri_container_status(b->env.cri, cid, &st, err)) < 0)
            goto out;
        if (st.state == CRI_STATE_EXITED || i >= 500)
            break;
        cri_container_status_release(&st);
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    int code = st.state == CRI_STATE_EXITED ? st.exit_code : -1;
    cri_container_status_release(&st);
    if (code != 0) {
        b->exit_code = code < 0 ? 1 : code;
        r = wharf_error_set(err, -ECHILD, "The command '%s' returned a non-zero code: %d", cmdline,
                            code < 0 ? 1 : code);
        goto out;
    }
out:
    if (container_made) {
        wharf_error e = {0};
        if (cri_container_remove(b->env.cri, cid, true, &e) < 0)
            wlog_warn("build: remove container %s: %s", cid, e.msg);
    }
    if (sandbox_made) {
        wharf_error e = {0};
        cri_sandbox_remove(b->env.cri, sandbox, &e);
    }
    if (ccfg)
        json_decref(ccfg);
    user_release(&u);
    if (root >= 0) {
        close(root);
        root = -1;
    }
    if (r == 0)
        r = overlay_unmount(&o, err);
    if (r == 0 && container_made && say(b, " ---> Removed intermediate container %s\n", sid) < 0)
        r = cancelled(b, err);
    if (r == 0)
        r = commit(s, key, created_by, o.upper, s->config, err);
    overlay_release(&o);
    return r;
}

/* ---------------------------------------------------------------- COPY / ADD */

static int openat2_in(int root, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd;
    do
        fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    return fd < 0 ? -errno : fd;
}

struct copy_opts {
    bool chown;
    uid_t uid;
    gid_t gid;
    bool chmod;
    mode_t mode;
    const char *const *hidden; /* source paths to leave out (NULL-terminated), or NULL */
};

/* The context keeps a Dockerfile and .dockerignore that .dockerignore
 * excludes (the build needs them), but COPY must not see them. */
static bool is_hidden(const char *const *hidden, const char *rel)
{
    for (; hidden && *hidden; hidden++)
        if (strcmp(*hidden, rel) == 0)
            return true;
    return false;
}

/* One source of a COPY: a path inside the source root (context or image). */
struct source {
    char *rel;  /* cleaned, relative to the source root ("" is the root) */
    char *base; /* the name it was given by (for a file copied into a directory) */
    bool dir;
};

static void sources_free(struct source *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].rel);
        free(s[i].base);
    }
    free(s);
}

static bool has_glob(const char *s)
{
    return strpbrk(s, "*?[\\") != NULL;
}

/* Cleans a source path: relative, no "..": -EPERM if it leaves the root. */
static int clean_source(const char *in, char **out)
{
    _cleanup_free_ char *copy = xstrdup(in);
    char **parts = xcalloc(strlen(in) + 1, sizeof(char *));
    size_t n = 0;
    char *save = NULL;
    int r = 0;
    for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0)
            continue;
        if (strcmp(t, "..") == 0) {
            if (!n) {
                r = -EPERM;
                break;
            }
            n--;
            continue;
        }
        parts[n++] = t;
    }
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; r == 0 && i < n; i++)
        strbuf_addf(&sb, "%s%s", i ? "/" : "", parts[i]);
    free(parts);
    if (r < 0) {
        strbuf_release(&sb);
        return r;
    }
    *out = sb.buf ? strbuf_detach(&sb) : xstrdup("");
    return 0;
}

/* Expands a glob source component by component inside root. */
static void glob_walk(int root, const char *prefix, char **comps, size_t n, size_t i,
                      const char *const *hidden, struct source **out, size_t *count, size_t *cap)
{
    _cleanup_close_ int dfd = openat2_in(root, *prefix ? prefix : ".", O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        return;
    DIR *d = fdopendir(dfd);
    if (!d)
        return;
    dfd = -1;
    char **names = NULL;
    size_t nn = 0, nc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (!build_pattern_match(comps[i], de->d_name))
            continue;
        if (nn == nc) {
            nc = nc ? 2 * nc : 16;
            names = xrealloc(names, nc * sizeof(char *));
        }
        names[nn++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof(char *), cmp_cstr);
    for (size_t k = 0; k < nn; k++) {
        _cleanup_free_ char *p = *prefix ? xasprintf("%s/%s", prefix, names[k]) : xstrdup(names[k]);
        bool skip = is_hidden(hidden, p);
        if (!skip && i + 1 < n) {
            glob_walk(root, p, comps, n, i + 1, hidden, out, count, cap);
        } else if (!skip) {
            if (*count == *cap) {
                *cap = *cap ? 2 * *cap : 8;
                *out = xrealloc(*out, *cap * sizeof(**out));
            }
            (*out)[(*count)++] = (struct source){xstrdup(p), xstrdup(names[k]), false};
        }
        free(names[k]);
    }
    free(names);
}

/* Resolves the SRC arguments inside root into concrete sources. */
static int find_sources(struct build *b, const struct build_instruction *in, const char *KW,
                        int root, const char *const *hidden, char **srcs, size_t n_src,
                        struct source **out, size_t *count, wharf_error *err)
{
    size_t cap = 0;
    *out = NULL;
    *count = 0;
    _cleanup_free_ char *w = where(b, in);
    for (size_t i = 0; i < n_src; i++) {
        if (strncmp(srcs[i], "http://", 7) == 0 || strncmp(srcs[i], "https://", 8) == 0) {
            if (strcmp(KW, "COPY") == 0)
                return wharf_error_set(err, -EINVAL,
                                       "%s: COPY failed: source can't be a URL for COPY", w);
            return wharf_error_set(err, -ENOTSUP,
                                   "%s: ADD failed: downloading %s is not supported by this "
                                   "builder (no network access for the daemon's builder yet)",
                                   w, srcs[i]);
        }
        _cleanup_free_ char *rel = NULL;
        if (clean_source(srcs[i], &rel) < 0)
            return wharf_error_set(err, -EPERM,
                                   "%s: %s failed: forbidden path outside the build context: %s", w,
                                   KW, srcs[i]);
        if (has_glob(rel)) {
            char **comps = xcalloc(strlen(rel) + 2, sizeof(char *));
            size_t nc = 0;
            _cleanup_free_ char *copy = xstrdup(rel);
            char *save = NULL;
            for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save))
                comps[nc++] = t;
            size_t before = *count;
            if (nc)
                glob_walk(root, "", comps, nc, 0, hidden, out, count, &cap);
            free(comps);
            if (*count == before)
                return wharf_error_set(err, -ENOENT,
                                       "%s: %s failed: no source files were specified", w, KW);
            continue;
        }
        if (*count == cap) {
            cap = cap ? 2 * cap : 8;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        const char *slash = strrchr(rel, '/');
        (*out)[(*count)++] = (struct source){xstrdup(rel), xstrdup(slash ? slash + 1 : rel), false};
    }
    for (size_t i = 0; i < *count; i++) {
        struct source *s = &(*out)[i];
        _cleanup_close_ int fd =
            is_hidden(hidden, s->rel) ? -ENOENT : openat2_in(root, *s->rel ? s->rel : ".", O_PATH);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
            return wharf_error_set(err, -ENOENT,
                                   "%s: %s failed: file not found in build context or excluded "
                                   "by .dockerignore: stat %s: file does not exist",
                                   w, KW, *s->rel ? s->rel : ".");
        s->dir = S_ISDIR(st.st_mode);
    }
    return 0;
}

/* Hashes the content below an open directory or of a file (for the cache):
 * names, types, permissions, sizes, content, link targets; not owners or
 * times, which COPY does not keep or which do not change what it makes. */
static int hash_tree(struct hasher *h, int dir_fd, const char *name, const char *rel,
                     const char *const *hidden, wharf_error *err)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH)) < 0)
        return wharf_error_errno(err, errno, "stat %s", rel);
    char meta[96];
    snprintf(meta, sizeof(meta), "%o %lld", (unsigned)st.st_mode,
             S_ISREG(st.st_mode) ? (long long)st.st_size : 0LL);
    hasher_addstr(h, rel);
    hasher_addstr(h, meta);
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX + 1];
        ssize_t n = readlinkat(dir_fd, name, target, PATH_MAX);
        if (n < 0)
            return wharf_error_errno(err, errno, "readlink %s", rel);
        target[n] = '\0';
        hasher_addstr(h, target);
        return 0;
    }
    if (S_ISREG(st.st_mode)) {
        char pbuf[32];
        _cleanup_close_ int fd = *name ? openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                                       : open(wharf_fd_path(dir_fd, pbuf), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return wharf_error_errno(err, errno, "open %s", rel);
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            hasher_add(h, buf, (size_t)n);
        return n < 0 ? wharf_error_errno(err, errno, "read %s", rel) : 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(meta, sizeof(meta), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
        hasher_addstr(h, meta);
        return 0;
    }
    char pbuf[32];
    int sub = *name ? openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    : open(wharf_fd_path(dir_fd, pbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = sub >= 0 ? fdopendir(sub) : NULL;
    if (!d) {
        if (sub >= 0)
            close(sub);
        return wharf_error_errno(err, errno, "open %s", rel);
    }
    char **names = NULL;
    size_t nn = 0, nc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (nn == nc) {
            nc = nc ? 2 * nc : 32;
            names = xrealloc(names, nc * sizeof(char *));
        }
        names[nn++] = xstrdup(de->d_name);
    }
    if (nn)
        qsort(names, nn, sizeof(char *), cmp_cstr);
    int r = 0;
    for (size_t i = 0; i < nn; i++) {
        _cleanup_free_ char *crel = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
        if (r == 0 && !is_hidden(hidden, crel))
            r = hash_tree(h, dirfd(d), names[i], crel, hidden, err);
        free(names[i]);
    }
    free(names);
    closedir(d);
    return r;
}

/* Removes whatever is at name in dirfd (a directory tree too). */
static int remove_at(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -errno;
    char buf[32];
    _cleanup_free_ char *path = xasprintf("%s/%s", wharf_fd_path(dirfd, buf), name);
    wharf_error e = {0};
    return wharf_rm_rf(path, &e);
}

/* mkdir -p of an absolute path inside root; new directories get the
 * copy's owner (0:0 without --chown) and mode 0755. Returns an O_PATH fd. */
static int mkdirs_in_root(int root, const char *path, const struct copy_opts *o, wharf_error *err)
{
    _cleanup_free_ char *clean = clean_abs(path);
    int fd = openat2_in(root, clean, O_PATH | O_DIRECTORY);
    if (fd >= 0 || fd != -ENOENT) {
        if (fd < 0)
            return wharf_error_errno(err, -fd, "%s", clean);
        return fd;
    }
    char *slash = strrchr(clean, '/');
    _cleanup_free_ char *parent =
        slash == clean ? xstrdup("/") : xasprintf("%.*s", (int)(slash - clean), clean);
    _cleanup_close_ int pfd = mkdirs_in_root(root, parent, o, err);
    if (pfd < 0)
        return pfd;
    if (mkdirat(pfd, slash + 1, 0755) < 0 && errno != EEXIST)
        return wharf_error_errno(err, errno, "mkdir %s", clean);
    if (fchownat(pfd, slash + 1, o->chown ? o->uid : 0, o->chown ? o->gid : 0,
                 AT_SYMLINK_NOFOLLOW) < 0)
        return wharf_error_errno(err, errno, "chown %s", clean);
    fd = openat2_in(root, clean, O_PATH | O_DIRECTORY);
    if (fd < 0)
        return wharf_error_errno(err, -fd, "%s", clean);
    return fd;
}

static int set_meta(int dirfd, const char *name, const struct stat *st, const struct copy_opts *o,
                    bool is_link, const char *what, wharf_error *err)
{
    uid_t uid = o->chown ? o->uid : 0;
    gid_t gid = o->chown ? o->gid : 0;
    if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return wharf_error_errno(err, errno, "chown %s", what);
    if (!is_link) {
        mode_t mode = o->chmod ? o->mode : (st->st_mode & 07777);
        if (fchmodat(dirfd, name, mode, 0) < 0)
            return wharf_error_errno(err, errno, "chmod %s", what);
    }
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return wharf_error_errno(err, errno, "set times of %s", what);
    return 0;
}

static int copy_data(int in, int out, const char *what, wharf_error *err)
{
    bool in_failed;
    int r = wharf_copy_fd(in, out, &in_failed);
    if (r < 0)
        return wharf_error_errno(err, -r, "%s %s", in_failed ? "read" : "write", what);
    return 0;
}

static int copy_children(int src_dir, int dst_dir, const struct copy_opts *o, const char *rel,
                         const char *what, wharf_error *err);

/* Copies the node at (src_dir, sname) (sname "": src_dir itself, followed;
 * rel: its path in the source root) to (dst_dir, dname). */
static int copy_node(int src_dir, const char *sname, int dst_dir, const char *dname,
                     const struct copy_opts *o, const char *rel, const char *what, wharf_error *err)
{
    struct stat st;
    if (fstatat(src_dir, sname, &st, *sname ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH) < 0)
        return wharf_error_errno(err, errno, "stat %s", what);
    struct stat dst;
    bool exists = fstatat(dst_dir, dname, &dst, AT_SYMLINK_NOFOLLOW) == 0;
    if (S_ISDIR(st.st_mode)) {
        if (exists && !S_ISDIR(dst.st_mode)) {
            int r = remove_at(dst_dir, dname);
            if (r < 0)
                return wharf_error_errno(err, -r, "replace %s", what);
            exists = false;
        }
        if (!exists && mkdirat(dst_dir, dname, 0700) < 0)
            return wharf_error_errno(err, errno, "mkdir %s", what);
        char buf[32];
        _cleanup_close_ int s =
            *sname ? openat(src_dir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                   : open(wharf_fd_path(src_dir, buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int d =
            openat(dst_dir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0 || d < 0)
            return wharf_error_errno(err, errno, "open %s", what);
        int r = copy_children(s, d, o, rel, what, err);
        if (r < 0)
            return r;
        return set_meta(dst_dir, dname, &st, o, false, what, err);
    }
    if (exists) {
        int r = remove_at(dst_dir, dname);
        if (r < 0)
            return wharf_error_errno(err, -r, "replace %s", what);
    }
    if (S_ISREG(st.st_mode)) {
        char buf[32];
        _cleanup_close_ int in = *sname ? openat(src_dir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                                        : open(wharf_fd_path(src_dir, buf), O_RDONLY | O_CLOEXEC);
        if (in < 0)
            return wharf_error_errno(err, errno, "open %s", what);
        _cleanup_close_ int out =
            openat(dst_dir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
            return wharf_error_errno(err, errno, "create %s", what);
        int r = copy_data(in, out, what, err);
        if (r < 0)
            return r;
        return set_meta(dst_dir, dname, &st, o, false, what, err);
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX + 1];
        ssize_t n = readlinkat(src_dir, sname, target, PATH_MAX);
        if (n < 0)
            return wharf_error_errno(err, errno, "readlink %s", what);
        target[n] = '\0';
        if (symlinkat(target, dst_dir, dname) < 0)
            return wharf_error_errno(err, errno, "symlink %s", what);
        return set_meta(dst_dir, dname, &st, o, true, what, err);
    }
    if (S_ISSOCK(st.st_mode))
        return 0;
    if (mknodat(dst_dir, dname, st.st_mode, st.st_rdev) < 0)
        return wharf_error_errno(err, errno, "mknod %s", what);
    return set_meta(dst_dir, dname, &st, o, false, what, err);
}

static int copy_children(int src_dir, int dst_dir, const struct copy_opts *o, const char *rel,
                         const char *what, wharf_error *err)
{
    int dup = fcntl(src_dir, F_DUPFD_CLOEXEC, 3);
    DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
    if (!d) {
        if (dup >= 0)
            close(dup);
        return wharf_error_errno(err, errno, "read directory %s", what);
    }
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *crel =
            *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        if (is_hidden(o->hidden, crel))
            continue;
        _cleanup_free_ char *sub = xasprintf("%s/%s", what, de->d_name);
        r = copy_node(dirfd(d), de->d_name, dst_dir, de->d_name, o, crel, sub, err);
    }
    closedir(d);
    return r;
}

/* ADD's local archives: a tar, possibly gzip, bzip2 or xz compressed. */
static bool is_archive(int fd)
{
    char buf[32];
    _cleanup_close_ int in = open(wharf_fd_path(fd, buf), O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return false;
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_format_tar(a);
    struct archive_entry *e;
    bool ok = archive_read_open_fd(a, in, 65536) == ARCHIVE_OK &&
              archive_read_next_header(a, &e) == ARCHIVE_OK;
    archive_read_free(a);
    return ok;
}

static int extract_archive(int src, int dst_dir, const struct copy_opts *o, const char *what,
                           wharf_error *err)
{
    char buf[32], real[PATH_MAX];
    ssize_t n = readlink(wharf_fd_path(dst_dir, buf), real, sizeof(real) - 1);
    if (n < 0)
        return wharf_error_errno(err, errno, "%s: destination", what);
    real[n] = '\0';
    _cleanup_close_ int in = open(wharf_fd_path(src, buf), O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return wharf_error_errno(err, errno, "open %s", what);
    struct archive *a = archive_read_new();
    struct archive *out = archive_write_disk_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_format_tar(a);
    archive_write_disk_set_options(
        out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                 ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                 ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK);
    int r = 0;
    if (archive_read_open_fd(a, in, 65536) != ARCHIVE_OK) {
        r = wharf_error_set(err, -EINVAL, "%s: %s", what, archive_error_string(a));
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        int ar = archive_read_next_header(a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = wharf_error_set(err, -EINVAL, "%s: %s", what, archive_error_string(a));
            goto out;
        }
        const char *name = archive_entry_pathname(e);
        _cleanup_free_ char *rel = NULL;
        if (!name || name[0] == '/' || clean_source(name, &rel) < 0) {
            r = wharf_error_set(err, -EPERM, "%s: entry \"%s\" leaves the destination", what,
                                name ? name : "");
            goto out;
        }
        if (!*rel)
            continue;
        _cleanup_free_ char *full = xasprintf("%s/%s", real, rel);
        archive_entry_copy_pathname(e, full);
        const char *link = archive_entry_hardlink(e);
        if (link) {
            _cleanup_free_ char *lrel = NULL;
            if (link[0] == '/' || clean_source(link, &lrel) < 0) {
                r = wharf_error_set(err, -EPERM, "%s: hard link \"%s\" leaves the destination",
                                    what, name);
                goto out;
            }
            _cleanup_free_ char *lfull = xasprintf("%s/%s", real, lrel);
            archive_entry_copy_hardlink(e, lfull);
        }
        if (o->chown) {
            archive_entry_set_uid(e, o->uid);
            archive_entry_set_gid(e, o->gid);
        }
        if (o->chmod && archive_entry_filetype(e) != AE_IFLNK)
            archive_entry_set_perm(e, o->mode);
        ar = archive_write_header(out, e);
        while (ar >= ARCHIVE_WARN && archive_entry_size(e) > 0) {
            const void *data;
            size_t size;
            la_int64_t off;
            int rr = archive_read_data_block(a, &data, &size, &off);
            if (rr == ARCHIVE_EOF)
                break;
            if (rr < ARCHIVE_WARN) {
                r = wharf_error_set(err, -EINVAL, "%s: %s", what, archive_error_string(a));
                goto out;
            }
            if (archive_write_data_block(out, data, size, off) < ARCHIVE_WARN)
                ar = ARCHIVE_FATAL;
        }
        if (ar >= ARCHIVE_WARN)
            ar = archive_write_finish_entry(out);
        if (ar < ARCHIVE_WARN) {
            r = wharf_error_set(err, -EIO, "%s: %s: %s", what, name, archive_error_string(out));
            goto out;
        }
    }
    if (archive_write_close(out) != ARCHIVE_OK)
        r = wharf_error_set(err, -EIO, "%s: %s", what, archive_error_string(out));
out:
    archive_read_free(a);
    archive_write_free(out);
    return r;
}

/* The image ref names, pulled when it is not stored (or always with
 * --pull, once per build). */
static int image_for(struct build *b, const char *ref, char id[72], wharf_error *err)
{
    wharf_error e = {0};
    bool have = image_store_resolve(b->env.images, ref, id, &e) == 0;
    if (have && !(b->pull && b->pull_fn))
        return 0;
    if (!b->pull_fn) {
        wharf_error_set(err, -ENOENT,
                        "%s: no such image in the local store (pulling from a "
                        "registry is not available here)",
                        ref);
        return err->code;
    }
    if (!json_object_get(b->pulled, ref)) {
        int r = b->pull_fn(b->pull_ud, ref, b->emit, b->emit_ud, err);
        if (r < 0)
            return r;
        json_object_set_new(b->pulled, ref, json_true());
    }
    return image_store_resolve(b->env.images, ref, id, err);
}

/* Where a COPY --from reads: a stage's image, or any stored image. */
static int from_image(struct state *s, const struct build_instruction *in, const char *from,
                      char image[72], wharf_error *err)
{
    struct build *b = s->b;
    _cleanup_free_ char *lower = xstrdup(from);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    size_t cur = (size_t)(s->stage - b->stages);
    for (size_t i = 0; i < cur; i++)
        if ((b->stages[i].name && strcmp(b->stages[i].name, lower) == 0) ||
            (all_digits(from) && strtoul(from, NULL, 10) == i)) {
            snprintf(image, 72, "%s", b->stages[i].image);
            return 0;
        }
    if (image_for(b, from, image, err) < 0) {
        _cleanup_free_ char *w = where(b, in);
        char cause[sizeof(err->msg)];
        snprintf(cause, sizeof(cause), "%s", err->msg);
        return wharf_error_set(err, err->code,
                               "%s: COPY --from=%s: no build stage or image named %s (%s)", w, from,
                               from, cause);
    }
    return 0;
}

static int do_copy(struct state *s, const struct build_instruction *in, bool add, wharf_error *err)
{
    struct build *b = s->b;
    const char *KW = add ? "ADD" : "COPY";
    _cleanup_free_ char *w = where(b, in);
    struct copy_opts o = {0};
    const char *chmod_s = build_instruction_flag(in, "chmod");
    if (chmod_s) {
        char *end;
        unsigned long m = strtoul(chmod_s, &end, 8);
        if (!*chmod_s || *end || m > 07777)
            return wharf_error_set(err, -EINVAL, "%s: invalid chmod parameter: %s", w, chmod_s);
        o.chmod = true;
        o.mode = (mode_t)m;
    }
    _cleanup_free_ char *chown_s = NULL;
    const char *chown_raw = build_instruction_flag(in, "chown");
    if (chown_raw && expand(s, in, chown_raw, &chown_s, err) < 0)
        return err->code;
    const char *from = build_instruction_flag(in, "from");

    /* arguments */
    size_t n = in->n_args;
    char **words = xcalloc(n + 1, sizeof(char *));
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = expand(s, in, in->args[i], &words[i], err);
    struct source *src = NULL;
    size_t n_src = 0;
    struct overlay from_mount = {0}, o_dst = {0};
    _cleanup_close_ int src_root = -1;
    _cleanup_close_ int dst_root = -1;
    _cleanup_free_ char *dest = NULL;
    _cleanup_free_ char *key = NULL, *created_by = NULL;
    if (r < 0)
        goto out;
    {
        /* relative to WORKDIR, cleaned, a trailing '/' (or ".") kept: it
         * says "into this directory" */
        const char *d = words[n - 1];
        const char *wd = json_string_value(json_object_get(s->config, "WorkingDir"));
        size_t dl = strlen(d);
        bool slash = (dl && d[dl - 1] == '/') || strcmp(d, ".") == 0 ||
                     (dl >= 2 && strcmp(d + dl - 2, "/.") == 0);
        _cleanup_free_ char *joined =
            d[0] == '/' ? xstrdup(d) : xasprintf("%s/%s", wd && *wd ? wd : "", d);
        _cleanup_free_ char *clean = clean_abs(joined);
        dest = slash && strcmp(clean, "/") != 0 ? xasprintf("%s/", clean) : xstrdup(clean);
        if (n - 1 > 1 && !slash) {
            r = wharf_error_set(err, -EINVAL,
                                "%s: When using %s with more than one source file, the "
                                "destination must be a directory and end with a /",
                                w, KW);
            goto out;
        }
    }
    /* the source root */
    if (from) {
        char image[72];
        if ((r = from_image(s, in, from, image, err)) < 0)
            goto out;
        if (*image) {
            if ((r = overlay_mount(b, image, false, true, &from_mount, err)) < 0)
                goto out;
            src_root = open(from_mount.merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
        } else {
            src_root = open(b->empty_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        }
    } else {
        src_root = open(b->context_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    if (src_root < 0) {
        r = wharf_error_errno(err, errno, "%s: open the source", w);
        goto out;
    }
    o.hidden = from ? NULL : (const char *const *)b->hidden;
    if ((r = find_sources(b, in, KW, src_root, o.hidden, words, n - 1, &src, &n_src, err)) < 0)
        goto out;
    if ((n_src > 1 || n - 1 > 1) && dest[strlen(dest) - 1] != '/') {
        r = wharf_error_set(err, -EINVAL,
                            "%s: When using %s with more than one source file, the destination "
                            "must be a directory and end with a /",
                            w, KW);
        goto out;
    }
    {
        struct hasher h;
        hasher_init(&h);
        for (size_t i = 0; i < n_src && r == 0; i++) {
            _cleanup_close_ int fd = openat2_in(src_root, *src[i].rel ? src[i].rel : ".", O_PATH);
            if (fd < 0) {
                r = wharf_error_errno(err, -fd, "%s: %s", w, src[i].rel);
                break;
            }
            hasher_addstr(&h, src[i].base);
            r = hash_tree(&h, fd, "", src[i].rel, o.hidden, err);
        }
        if (r < 0)
            goto out;
        char hex[65];
        hasher_hex(&h, hex);
        const char *kind = n_src > 1 ? "multi" : src[0].dir ? "dir" : "file";
        _cleanup_json_ json_t *sh = shell_array(s->config);
        _cleanup_free_ char *shell = join_array(sh, " ");
        created_by = xasprintf("%s #(nop) %s %s:%s in %s ", shell, KW, kind, hex, dest);
        key = xasprintf("%s\nfrom=%s\nchown=%s\nchmod=%s\n%s", KW, from ? from : "",
                        chown_s ? chown_s : "", chmod_s ? chmod_s : "", created_by);
    }
    if ((r = cache_hit(s, key, err)) != 0) {
        r = r < 0 ? r : 0;
        goto out;
    }
    if ((r = overlay_mount(b, s->image, false, false, &o_dst, err)) < 0)
        goto out;
    dst_root = open(o_dst.merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dst_root < 0) {
        r = wharf_error_errno(err, errno, "open %s", o_dst.merged);
        goto out;
    }
    if (chown_s) {
        struct user u;
        if ((r = resolve_user(dst_root, chown_s, true, &u, err)) < 0) {
            wharf_error_prefix(err, "%s: %s --chown", w, KW);
            goto out;
        }
        o.chown = true;
        o.uid = u.uid;
        o.gid = u.gid;
        user_release(&u);
    }
    for (size_t i = 0; i < n_src && r == 0; i++) {
        _cleanup_free_ char *what = xasprintf("%s %s", KW, *src[i].rel ? src[i].rel : ".");
        _cleanup_close_ int sfd = openat2_in(src_root, *src[i].rel ? src[i].rel : ".", O_PATH);
        if (sfd < 0) {
            r = wharf_error_errno(err, -sfd, "%s: %s", w, what);
            break;
        }
        if (src[i].dir) {
            _cleanup_close_ int dd = mkdirs_in_root(dst_root, dest, &o, err);
            char buf[32];
            _cleanup_close_ int sd =
                open(wharf_fd_path(sfd, buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            _cleanup_close_ int dw =
                dd >= 0 ? open(wharf_fd_path(dd, buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
            if (dd < 0)
                r = err->code;
            else if (sd < 0 || dw < 0)
                r = wharf_error_errno(err, errno, "%s", what);
            else
                r = copy_children(sd, dw, &o, src[i].rel, what, err);
            continue;
        }
        if (add && is_archive(sfd)) {
            _cleanup_close_ int dd = mkdirs_in_root(dst_root, dest, &o, err);
            r = dd < 0 ? err->code : extract_archive(sfd, dd, &o, what, err);
            continue;
        }
        /* a file: into dest/ when dest ends in '/' or is a directory */
        _cleanup_free_ char *target = NULL;
        bool into = dest[strlen(dest) - 1] == '/';
        if (!into) {
            int t = openat2_in(dst_root, dest, O_PATH | O_DIRECTORY);
            if (t >= 0) {
                into = true;
                close(t);
            }
        }
        target = into ? xasprintf("%s/%s", dest, src[i].base) : clean_abs(dest);
        _cleanup_free_ char *clean = clean_abs(target);
        char *slash = strrchr(clean, '/');
        _cleanup_free_ char *parent =
            slash == clean ? xstrdup("/") : xasprintf("%.*s", (int)(slash - clean), clean);
        _cleanup_close_ int pd = mkdirs_in_root(dst_root, parent, &o, err);
        if (pd < 0) {
            r = wharf_error_prefix(err, "%s: %s", w, what);
            break;
        }
        r = copy_node(sfd, "", pd, slash + 1, &o, src[i].rel, what, err);
    }
    if (r < 0) {
        if (!strstr(err->msg, w))
            wharf_error_prefix(err, "%s", w);
        goto out;
    }
    if (dst_root >= 0) {
        close(dst_root);
        dst_root = -1;
    }
    if ((r = overlay_unmount(&o_dst, err)) < 0)
        goto out;
    r = commit(s, key, created_by, o_dst.upper, s->config, err);
out:
    if (src_root >= 0) {
        close(src_root);
        src_root = -1;
    }
    if (dst_root >= 0) {
        close(dst_root);
        dst_root = -1;
    }
    overlay_release(&from_mount);
    overlay_release(&o_dst);
    sources_free(src, n_src);
    for (size_t i = 0; i < n; i++)
        free(words[i]);
    free(words);
    return r;
}

/* WORKDIR: the new working directory, created in a layer when missing. */
static int do_workdir(struct state *s, const struct build_instruction *in, wharf_error *err)
{
    _cleanup_free_ char *v = NULL;
    int r = expand(s, in, in->args[0], &v, err);
    if (r < 0)
        return r;
    const char *cur = json_string_value(json_object_get(s->config, "WorkingDir"));
    _cleanup_free_ char *joined =
        v[0] == '/' ? xstrdup(v) : xasprintf("%s/%s", cur && *cur ? cur : "/", v);
    _cleanup_free_ char *wd = clean_abs(joined);
    _cleanup_json_ json_t *cfg = json_deep_copy(s->config);
    json_object_set_new(cfg, "WorkingDir", json_string(wd));
    _cleanup_free_ char *text = xasprintf("WORKDIR %s", wd);
    _cleanup_free_ char *created_by = nop_text(cfg, text);
    _cleanup_free_ char *key = xasprintf("workdir\n%s", created_by);
    if ((r = cache_hit(s, key, err)) != 0)
        return r < 0 ? r : 0;
    struct overlay o;
    if ((r = overlay_mount(s->b, s->image, false, false, &o, err)) == 0) {
        _cleanup_close_ int root = open(o.merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct copy_opts none = {0};
        int d = root < 0 ? -errno : mkdirs_in_root(root, wd, &none, err);
        if (root < 0)
            r = wharf_error_errno(err, -d, "open %s", o.merged);
        else if (d < 0)
            r = d;
        else
            close(d);
    }
    if (r == 0)
        r = overlay_unmount(&o, err);
    if (r == 0)
        r = commit(s, key, created_by, o.upper, cfg, err);
    overlay_release(&o);
    if (r < 0 && !strstr(err->msg, s->b->df.name)) {
        _cleanup_free_ char *w = where(s->b, in);
        wharf_error_prefix(err, "%s", w);
    }
    return r;
}

/* ---------------------------------------------------------------- dispatch */

static int dispatch(struct state *s, const struct build_instruction *in, wharf_error *err)
{
    const char *k = in->keyword;
    if (strcmp(k, "run") == 0)
        return do_run(s, in, err);
    if (strcmp(k, "copy") == 0)
        return do_copy(s, in, false, err);
    if (strcmp(k, "add") == 0)
        return do_copy(s, in, true, err);
    if (strcmp(k, "env") == 0)
        return do_env_label(s, in, false, err);
    if (strcmp(k, "label") == 0)
        return do_env_label(s, in, true, err);
    if (strcmp(k, "expose") == 0)
        return do_expose(s, in, err);
    if (strcmp(k, "volume") == 0)
        return do_volume(s, in, err);
    if (strcmp(k, "user") == 0)
        return do_simple(s, in, "USER", "User", err);
    if (strcmp(k, "stopsignal") == 0)
        return do_simple(s, in, "STOPSIGNAL", "StopSignal", err);
    if (strcmp(k, "workdir") == 0)
        return do_workdir(s, in, err);
    if (strcmp(k, "cmd") == 0)
        return do_command(s, in, "CMD", "Cmd", err);
    if (strcmp(k, "entrypoint") == 0)
        return do_command(s, in, "ENTRYPOINT", "Entrypoint", err);
    if (strcmp(k, "shell") == 0)
        return do_command(s, in, "SHELL", "Shell", err);
    if (strcmp(k, "healthcheck") == 0)
        return do_healthcheck(s, in, err);
    if (strcmp(k, "onbuild") == 0)
        return do_onbuild(s, in, err);
    if (strcmp(k, "arg") == 0)
        return do_arg(s, in, err);
    if (strcmp(k, "maintainer") == 0) {
        free(s->author);
        s->author = xstrdup(in->args[0]);
        _cleanup_json_ json_t *cfg = json_deep_copy(s->config);
        _cleanup_free_ char *text = xasprintf("MAINTAINER %s", in->args[0]);
        return meta_step(s, text, cfg, err);
    }
    _cleanup_free_ char *w = where(s->b, in);
    return wharf_error_set(err, -EINVAL, "%s: %s cannot be used here", w, in->original);
}

static int step_line(struct build *b, const struct build_instruction *in, wharf_error *err)
{
    b->step++;
    if (say(b, "Step %zu/%zu : %s\n", b->step, b->total_steps, in->original) < 0)
        return cancelled(b, err);
    return 0;
}

static int run_stage(struct build *b, size_t idx, wharf_error *err)
{
    struct stage *st = &b->stages[idx];
    struct state s = {.b = b, .stage = st, .args = json_object()};
    int r = step_line(b, st->from, err);
    if (r < 0)
        goto out;
    if (st->base_stage >= 0)
        snprintf(s.image, sizeof(s.image), "%s", b->stages[st->base_stage].image);
    else if (strcasecmp(st->base, "scratch") != 0 &&
             (r = image_for(b, st->base, s.image, err)) < 0) {
        _cleanup_free_ char *w = where(b, st->from);
        wharf_error_prefix(err, "%s: FROM", w);
        goto out;
    }
    if (*s.image) {
        json_t *cfg = image_store_config(b->env.images, s.image, err);
        if (!cfg) {
            r = err->code;
            goto out;
        }
        json_t *c = json_object_get(cfg, "config");
        s.config = json_is_object(c) ? json_deep_copy(c) : json_object();
        json_decref(cfg);
    } else {
        s.config = json_object();
    }
    char sid[13] = "";
    if (say(b, " ---> %s\n", *s.image ? short_id(s.image, sid) : "") < 0) {
        r = cancelled(b, err);
        goto out;
    }
    /* the base image's ONBUILD triggers run first, and are not inherited */
    json_t *triggers = json_incref(json_object_get(s.config, "OnBuild"));
    json_object_del(s.config, "OnBuild");
    if (json_is_array(triggers) && json_array_size(triggers) > 0) {
        size_t n = json_array_size(triggers);
        if (say(b, "# Executing %zu build trigger%s...\n", n, n > 1 ? "s" : "") < 0)
            r = cancelled(b, err);
        size_t i;
        json_t *t;
        json_array_foreach(triggers, i, t)
        {
            if (r < 0)
                break;
            struct build_instruction trig;
            r = build_instruction_parse(b->df.name, st->from->line, json_string_value(t),
                                        b->df.escape, &trig, err);
            if (r == 0 &&
                (strcmp(trig.keyword, "onbuild") == 0 || strcmp(trig.keyword, "from") == 0 ||
                 strcmp(trig.keyword, "maintainer") == 0))
                r = wharf_error_set(err, -EINVAL, "%s:%d: %s isn't allowed as an ONBUILD trigger",
                                    b->df.name, st->from->line, trig.keyword);
            if (r == 0)
                r = dispatch(&s, &trig, err);
            build_instruction_release(&trig);
        }
    }
    json_decref(triggers);
    for (size_t i = 0; r == 0 && i < st->n_inst; i++) {
        if (b->cancelled) {
            r = cancelled(b, err);
            break;
        }
        if ((r = step_line(b, st->inst[i], err)) == 0)
            r = dispatch(&s, st->inst[i], err);
    }
    if (r == 0 && idx == b->target && b->has_label_inst &&
        (r = step_line(b, &b->label_inst, err)) == 0)
        r = dispatch(&s, &b->label_inst, err);
    if (r < 0)
        goto out;
    snprintf(st->image, sizeof(st->image), "%s", s.image);
    st->built = true;
    if (*st->image && b->emit &&
        b->emit(b->emit_ud, BUILD_EVENT_IMAGE_ID, st->image, strlen(st->image)) < 0)
        r = cancelled(b, err);
out:
    if (s.config)
        json_decref(s.config);
    json_decref(s.args);
    free(s.author);
    return r;
}

/* ---------------------------------------------------------------- prepare */

static int find_stage(struct build *b, size_t before, const char *name)
{
    _cleanup_free_ char *lower = xstrdup(name);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; i < before; i++)
        if (b->stages[i].name && strcmp(b->stages[i].name, lower) == 0)
            return (int)i;
    return -1;
}

/* Marks stage i and what it reads from as needed; checks their references. */
static int mark_needed(struct build *b, size_t i, wharf_error *err)
{
    struct stage *st = &b->stages[i];
    if (st->needed)
        return 0;
    st->needed = true;
    int r;
    if (st->base_stage >= 0 && (r = mark_needed(b, (size_t)st->base_stage, err)) < 0)
        return r;
    if (st->base_stage < 0 && strcasecmp(st->base, "scratch") != 0 && !b->pull_fn) {
        /* without a registry client, only stored images can be built on */
        char id[72];
        wharf_error e = {0};
        _cleanup_free_ char *w = where(b, st->from);
        if (b->pull)
            return wharf_error_set(err, -ENOTSUP,
                                   "%s: --pull: this builder cannot pull %s from a registry", w,
                                   st->base);
        if (image_store_resolve(b->env.images, st->base, id, &e) < 0)
            return wharf_error_set(err, -ENOENT,
                                   "%s: FROM %s: no such image in the local store (pulling from "
                                   "a registry is not available here)",
                                   w, st->base);
    }
    for (size_t k = 0; k < st->n_inst; k++) {
        const char *from = strcmp(st->inst[k]->keyword, "copy") == 0
                               ? build_instruction_flag(st->inst[k], "from")
                               : NULL;
        if (!from)
            continue;
        _cleanup_free_ char *w = where(b, st->inst[k]);
        int dep = find_stage(b, b->n_stages, from);
        if (dep < 0 && all_digits(from)) {
            unsigned long n = strtoul(from, NULL, 10);
            if (n >= i)
                return wharf_error_set(err, -EINVAL,
                                       "%s: invalid from flag value %s: refers to a stage that "
                                       "is not defined before this one",
                                       w, from);
            dep = (int)n;
        }
        if (dep >= (int)i)
            return wharf_error_set(err, -EINVAL,
                                   "%s: COPY --from=%s: the stage %s is not defined before this "
                                   "one",
                                   w, from, from);
        if (dep >= 0) {
            if ((r = mark_needed(b, (size_t)dep, err)) < 0)
                return r;
            continue;
        }
        char id[72];
        wharf_error e = {0};
        if (!b->pull_fn && image_store_resolve(b->env.images, from, id, &e) < 0)
            return wharf_error_set(err, -EINVAL,
                                   "%s: COPY --from=%s: no build stage or image named %s", w, from,
                                   from);
        image_ref ref;
        if (b->pull_fn && image_ref_parse(from, &ref, &e) < 0)
            return wharf_error_set(err, -EINVAL,
                                   "%s: COPY --from=%s: no build stage named %s, and %s", w, from,
                                   from, e.msg);
        if (b->pull_fn)
            image_ref_free(&ref);
    }
    return 0;
}

static char *read_dockerfile(struct build *b, const char *rel, size_t *len, wharf_error *err)
{
    _cleanup_close_ int root = open(b->context_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        wharf_error_errno(err, errno, "build context %s", b->context_dir);
        return NULL;
    }
    _cleanup_close_ int fd = openat2_in(root, rel, O_RDONLY);
    if (fd < 0 && fd == -ENOENT && strcmp(rel, "Dockerfile") == 0)
        fd = openat2_in(root, "dockerfile", O_RDONLY);
    if (fd < 0) {
        wharf_error_set(err, -ENOENT, "Cannot locate specified Dockerfile: %s", b->dockerfile);
        return NULL;
    }
    strbuf sb = STRBUF_INIT;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        strbuf_add(&sb, buf, (size_t)n);
    if (n < 0) {
        strbuf_release(&sb);
        wharf_error_errno(err, errno, "read %s", b->dockerfile);
        return NULL;
    }
    *len = sb.len;
    return sb.buf ? strbuf_detach(&sb) : xstrdup("");
}

/* dockerd drops the Dockerfile and .dockerignore from the context once read
 * when .dockerignore excludes them (COPY . then does not see them); the
 * context may be shared, so they are hidden from COPY instead. */
static int hide_build_files(struct build *b, const char *rel, wharf_error *err)
{
    _cleanup_free_ char *path = xasprintf("%s/.dockerignore", b->context_dir);
    char *text = NULL;
    size_t len = 0;
    wharf_error e = {0};
    if (wharf_read_file(path, &text, &len, &e) < 0)
        return 0;
    struct build_ignore *ig = NULL;
    int r = build_ignore_parse(text, len, &ig, err);
    free(text);
    if (r < 0)
        return r;
    size_t n = 0;
    if (build_ignore_excludes(ig, rel))
        b->hidden[n++] = xstrdup(rel);
    if (build_ignore_excludes(ig, ".dockerignore"))
        b->hidden[n++] = xstrdup(".dockerignore");
    build_ignore_free(ig);
    return 0;
}

/* What a build cut short by a crash of its process left: RUN containers
 * (labelled io.wharf.build) and their sandboxes, overlay mounts and
 * scratch directories. Done once per process, before its first build, when
 * no build of it can be running. */
static pthread_mutex_t leftovers_lock = PTHREAD_MUTEX_INITIALIZER;
static bool leftovers_swept;

static void sweep_leftovers(const struct build_env *env)
{
    pthread_mutex_lock(&leftovers_lock);
    if (leftovers_swept) {
        pthread_mutex_unlock(&leftovers_lock);
        return;
    }
    leftovers_swept = true;
    if (env->cri) {
        _cleanup_json_ json_t *labels = json_pack("{s:s}", "io.wharf.build", "1");
        struct cri_filter f = {.state = -1, .labels = labels};
        struct cri_container_status *sts = NULL;
        size_t n = 0;
        wharf_error e = {0};
        if (cri_container_list(env->cri, &f, &sts, &n, &e) == 0) {
            for (size_t i = 0; i < n; i++) {
                cri_container_remove(env->cri, sts[i].id, true, &e);
                cri_sandbox_remove(env->cri, sts[i].sandbox_id, &e);
            }
            cri_container_status_array_free(sts, n);
        }
    }
    _cleanup_free_ char *tmp = xasprintf("%s/tmp/", env->state_dir);
    _cleanup_fclose_ FILE *mounts = fopen("/proc/self/mounts", "re");
    char line[8192];
    json_t *targets = json_array();
    while (mounts && fgets(line, sizeof(line), mounts)) {
        char *target = strchr(line, ' ');
        char *end = target ? strchr(target + 1, ' ') : NULL;
        if (!end)
            continue;
        *end = '\0';
        if (strncmp(target + 1, tmp, strlen(tmp)) == 0)
            json_array_insert_new(targets, 0, json_string(target + 1)); /* innermost first */
    }
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t)
    {
        wharf_error e = {0};
        image_store_unmount_rootfs(json_string_value(t), &e);
    }
    json_decref(targets);
    DIR *d = opendir(tmp);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, "build-", 6) != 0)
            continue;
        _cleanup_free_ char *path = xasprintf("%s%s", tmp, de->d_name);
        wharf_error e = {0};
        wharf_rm_rf(path, &e);
    }
    if (d)
        closedir(d);
    pthread_mutex_unlock(&leftovers_lock);
}

int build_prepare(const struct build_env *env, const struct build_options *opts, struct build **out,
                  wharf_error *err)
{
    *out = NULL;
    sweep_leftovers(env);
    struct build *b = xcalloc(1, sizeof(*b));
    b->env = *env;
    b->state_dir = xstrdup(env->state_dir);
    b->env.state_dir = b->state_dir;
    b->emit = opts->emit;
    b->emit_ud = opts->emit_ud;
    b->no_cache = opts->no_cache;
    b->pull = opts->pull;
    b->pull_fn = opts->pull_fn;
    b->pull_ud = opts->pull_ud;
    b->pulled = json_object();
    b->used_args = json_object();
    b->meta_values = json_object();
    b->dockerfile =
        xstrdup(opts->dockerfile && *opts->dockerfile ? opts->dockerfile : "Dockerfile");
    b->build_args = opts->build_args ? json_deep_copy(opts->build_args) : NULL;
    b->labels = opts->labels ? json_deep_copy(opts->labels) : NULL;
    int r = 0;
    char real[PATH_MAX];
    _cleanup_free_ char *rel = NULL, *cache = NULL, *tmp = NULL;
    char *text = NULL;
    size_t len = 0;
    const char *net = opts->network;
    if (!net || !*net || strcmp(net, "default") == 0 || strcmp(net, "host") == 0 ||
        strcmp(net, "bridge") == 0)
        b->host_network = true;
    else if (strcmp(net, "none") != 0) {
        r = wharf_error_set(err, -EINVAL,
                            "network mode \"%s\" is not supported by the builder "
                            "(host or none)",
                            net);
        goto fail;
    }
    b->tags = xcalloc(opts->n_tags + 1, sizeof(char *));
    for (size_t i = 0; i < opts->n_tags; i++) {
        image_ref ref;
        if ((r = image_ref_parse(opts->tags[i], &ref, err)) < 0)
            goto fail;
        if (ref.digest) {
            image_ref_free(&ref);
            r = wharf_error_set(err, -EINVAL,
                                "refusing to create a tag with a digest reference: %s",
                                opts->tags[i]);
            goto fail;
        }
        b->tags[b->n_tags++] = image_ref_full(&ref);
        image_ref_free(&ref);
    }
    if (!opts->context_dir || !realpath(opts->context_dir, real)) {
        r = wharf_error_errno(err, errno ? errno : EINVAL, "build context %s",
                              opts->context_dir ? opts->context_dir : "(none)");
        goto fail;
    }
    b->context_dir = xstrdup(real);
    if (clean_source(b->dockerfile, &rel) < 0 || !*rel) {
        r = wharf_error_set(err, -EINVAL, "Forbidden path outside the build context: %s",
                            b->dockerfile);
        goto fail;
    }
    if (!(text = read_dockerfile(b, rel, &len, err))) {
        r = err->code;
        goto fail;
    }
    if ((r = hide_build_files(b, rel, err)) < 0)
        goto fail;
    r = build_dockerfile_parse(b->dockerfile, text, len, &b->df, err);
    free(text);
    if (r < 0)
        goto fail;

    /* global ARGs, then stages */
    size_t i = 0;
    b->meta = xcalloc(b->df.n + 1, sizeof(*b->meta));
    for (; i < b->df.n && strcmp(b->df.inst[i].keyword, "from") != 0; i++) {
        const struct build_instruction *in = &b->df.inst[i];
        if (strcmp(in->keyword, "arg") != 0) {
            _cleanup_free_ char *w = where(b, in);
            r = wharf_error_set(err, -EINVAL,
                                "%s: no build stage in current context (%s before "
                                "the first FROM)",
                                w, in->original);
            goto fail;
        }
        b->meta[b->n_meta++] = in;
        for (size_t k = 0; k < in->n_args; k++) {
            char *name = NULL, *value = NULL;
            bool has_default;
            r = arg_value(b, in->args[k], meta_lookup, b, &name, &value, &has_default, err);
            if (r == 0)
                json_object_set_new(b->meta_values, name, value ? json_string(value) : json_null());
            free(name);
            free(value);
            if (r < 0) {
                _cleanup_free_ char *w = where(b, in);
                wharf_error_prefix(err, "%s", w);
                goto fail;
            }
        }
    }
    if (i == b->df.n) {
        r = wharf_error_set(err, -EINVAL,
                            "%s: no build stage: the Dockerfile has no FROM "
                            "instruction",
                            b->dockerfile);
        goto fail;
    }
    b->stages = xcalloc(b->df.n, sizeof(*b->stages));
    for (; i < b->df.n; i++) {
        const struct build_instruction *in = &b->df.inst[i];
        if (strcmp(in->keyword, "from") != 0) {
            struct stage *st = &b->stages[b->n_stages - 1];
            st->inst = xrealloc(st->inst, (st->n_inst + 1) * sizeof(*st->inst));
            st->inst[st->n_inst++] = in;
            continue;
        }
        struct stage *st = &b->stages[b->n_stages];
        st->from = in;
        st->base_stage = -1;
        _cleanup_free_ char *w = where(b, in);
        if (in->n_args == 3) {
            st->name = xstrdup(in->args[2]);
            for (char *p = st->name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            if (find_stage(b, b->n_stages, st->name) >= 0) {
                r = wharf_error_set(err, -EINVAL, "%s: duplicate name %s", w, in->args[2]);
                b->n_stages++;
                goto fail;
            }
        }
        b->n_stages++;
        if ((r = build_expand_word(in->args[0], b->df.escape, meta_lookup, b, &st->base, err)) <
            0) {
            wharf_error_prefix(err, "%s", w);
            goto fail;
        }
        if (!*st->base) {
            r = wharf_error_set(err, -EINVAL, "%s: base name (%s) should not be blank", w,
                                in->args[0]);
            goto fail;
        }
        const char *platform = build_instruction_flag(in, "platform");
        if (platform) {
            _cleanup_free_ char *p = NULL;
            if ((r = build_expand_word(platform, b->df.escape, meta_lookup, b, &p, err)) < 0) {
                wharf_error_prefix(err, "%s", w);
                goto fail;
            }
            _cleanup_free_ char *native = xasprintf("linux/%s", image_host_arch());
            if (*p && strcmp(p, "linux") != 0 && strcmp(p, native) != 0 &&
                strncmp(p, native, strlen(native)) != 0) {
                r = wharf_error_set(err, -EINVAL,
                                    "%s: --platform=%s: this engine builds %s images only", w, p,
                                    native);
                goto fail;
            }
        }
        st->base_stage = find_stage(b, b->n_stages - 1, st->base);
        if (st->base_stage < 0 && strchr(st->base, ' ')) {
            r = wharf_error_set(err, -EINVAL, "%s: invalid reference format: %s", w, st->base);
            goto fail;
        }
        if (st->base_stage < 0 && strcasecmp(st->base, "scratch") != 0) {
            image_ref ref;
            wharf_error e = {0};
            if (image_ref_parse(st->base, &ref, &e) < 0) {
                r = wharf_error_set(err, -EINVAL, "%s: %s", w, e.msg);
                goto fail;
            }
            image_ref_free(&ref);
        }
    }
    b->target = b->n_stages - 1;
    if (opts->target && *opts->target) {
        int t = find_stage(b, b->n_stages, opts->target);
        if (t < 0) {
            r = wharf_error_set(err, -EINVAL, "failed to reach build target %s in Dockerfile",
                                opts->target);
            goto fail;
        }
        b->target = (size_t)t;
    }
    if ((r = mark_needed(b, b->target, err)) < 0)
        goto fail;
    b->total_steps = b->n_meta;
    for (size_t k = 0; k <= b->target; k++)
        if (b->stages[k].needed)
            b->total_steps += 1 + b->stages[k].n_inst;
    if (b->labels && json_object_size(b->labels) > 0) {
        /* dockerd appends `LABEL "k"='v' ...` for --label */
        size_t n = json_object_size(b->labels), k = 0;
        const char **keys = xcalloc(n + 1, sizeof(char *));
        const char *key;
        json_t *v;
        json_object_foreach(b->labels, key, v) keys[k++] = key;
        qsort(keys, n, sizeof(char *), cmp_cstr);
        strbuf line = STRBUF_INIT;
        strbuf_addstr(&line, "LABEL");
        for (k = 0; k < n; k++) {
            const char *val = json_string_value(json_object_get(b->labels, keys[k]));
            strbuf_addch(&line, ' ');
            go_quote(&line, keys[k]);
            strbuf_addf(&line, "='%s'", val ? val : "");
        }
        free(keys);
        int last = b->df.n ? b->df.inst[b->df.n - 1].line + 1 : 1;
        r = build_instruction_parse("--label", last, strbuf_str(&line), '\\', &b->label_inst, err);
        strbuf_release(&line);
        if (r < 0)
            goto fail;
        b->has_label_inst = true;
        b->total_steps++;
    }

    /* scratch space */
    cache = xasprintf("%s/cache", env->state_dir);
    tmp = xasprintf("%s/tmp", env->state_dir);
    if ((r = wharf_mkdir_p(cache, 0700, err)) < 0 || (r = wharf_mkdir_p(tmp, 0700, err)) < 0)
        goto fail;
    b->scratch = xasprintf("%s/build-XXXXXX", tmp);
    if (!mkdtemp(b->scratch)) {
        r = wharf_error_errno(err, errno, "build: create %s", b->scratch);
        free(b->scratch);
        b->scratch = NULL;
        goto fail;
    }
    b->init_dir = xasprintf("%s/init", b->scratch);
    b->empty_dir = xasprintf("%s/empty", b->scratch);
    static const char *const targets[] = {"proc", "sys", "dev", NULL};
    if ((r = wharf_mkdir_p(b->empty_dir, 0755, err)) < 0)
        goto fail;
    for (const char *const *t = targets; *t; t++) {
        _cleanup_free_ char *d = xasprintf("%s/%s", b->init_dir, *t);
        if ((r = wharf_mkdir_p(d, 0755, err)) < 0)
            goto fail;
    }
    *out = b;
    return 0;
fail:
    build_free(b);
    return r;
}

/* ---------------------------------------------------------------- run */

int build_run(struct build *b, char id[72], int *exit_code, wharf_error *err)
{
    *exit_code = 0;
    b->step = 0;
    int r = 0;
    for (size_t i = 0; i < b->n_meta && r == 0; i++)
        r = step_line(b, b->meta[i], err);
    for (size_t i = 0; i <= b->target && r == 0; i++)
        if (b->stages[i].needed)
            r = run_stage(b, i, err);
    if (r < 0) {
        if (r == -ECHILD)
            *exit_code = b->exit_code;
        return r;
    }
    struct stage *t = &b->stages[b->target];
    if (!*t->image)
        return wharf_error_set(err, -EINVAL, "No image was generated. Is your Dockerfile empty?");
    if (b->build_args) {
        strbuf unused = STRBUF_INIT;
        size_t n = json_object_size(b->build_args), k = 0;
        const char **names = xcalloc(n + 1, sizeof(char *));
        const char *key;
        json_t *v;
        json_object_foreach(b->build_args, key, v) if (!json_object_get(b->used_args, key) &&
                                                       !is_proxy_arg(key)) names[k++] = key;
        qsort(names, k, sizeof(char *), cmp_cstr);
        for (size_t i = 0; i < k; i++)
            strbuf_addf(&unused, "%s%s", i ? " " : "", names[i]);
        free(names);
        if (k && say(b, "[Warning] One or more build-args [%s] were not consumed\n",
                     strbuf_str(&unused)) < 0)
            r = cancelled(b, err);
        strbuf_release(&unused);
        if (r < 0)
            return r;
    }
    char sid[13];
    if (say(b, "Successfully built %s\n", short_id(t->image, sid)) < 0)
        return cancelled(b, err);
    for (size_t i = 0; i < b->n_tags; i++) {
        if ((r = image_store_tag(b->env.images, t->image, b->tags[i], err)) < 0)
            return r;
        _cleanup_free_ char *shown = image_ref_familiarize(b->tags[i]);
        if (say(b, "Successfully tagged %s\n", shown) < 0)
            return cancelled(b, err);
    }
    snprintf(id, 72, "%s", t->image);
    return 0;
}

void build_free(struct build *b)
{
    if (!b)
        return;
    if (b->scratch) {
        wharf_error e = {0};
        if (wharf_rm_rf(b->scratch, &e) < 0)
            wlog_warn("build: remove %s: %s", b->scratch, e.msg);
    }
    for (size_t i = 0; i < b->n_stages; i++) {
        free(b->stages[i].name);
        free(b->stages[i].base);
        free(b->stages[i].inst);
    }
    free(b->stages);
    free(b->meta);
    if (b->has_label_inst)
        build_instruction_release(&b->label_inst);
    build_dockerfile_release(&b->df);
    for (size_t i = 0; i < b->n_tags; i++)
        free(b->tags[i]);
    free(b->tags);
    if (b->build_args)
        json_decref(b->build_args);
    if (b->labels)
        json_decref(b->labels);
    json_decref(b->used_args);
    json_decref(b->meta_values);
    json_decref(b->pulled);
    free(b->context_dir);
    free(b->hidden[0]);
    free(b->hidden[1]);
    free(b->state_dir);
    free(b->dockerfile);
    free(b->scratch);
    free(b->init_dir);
    free(b->empty_dir);
    free(b);
}
