/*
 * load.c — from the command line's -f/-p/--env-file to a checked project:
 * which files (the default names searched from the working directory
 * upwards, with their override file), which directory, which .env, which
 * name; then each file parsed, interpolated and checked on its own (errors
 * name the file), and the files merged in order.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

extern char **environ;

static const char *const default_names[] = {"compose.yaml", "compose.yml", "docker-compose.yaml",
                                            "docker-compose.yml"};

char *compose_normalize_project_name(const char *s)
{
    strbuf out = STRBUF_INIT;
    for (const char *p = s; *p; p++) {
        char c = (char)tolower((unsigned char)*p);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
            if (out.len == 0 && (c == '_' || c == '-'))
                continue;
            strbuf_addch(&out, c);
        }
    }
    strbuf_addstr(&out, "");
    return strbuf_detach(&out);
}

int compose_check_project_name(const char *name, wharf_error *err)
{
    if (!*name)
        return wharf_error_set(err, -EINVAL, "project name must not be empty");
    bool ok = (name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9');
    for (const char *p = name; *p && ok; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
    if (!ok)
        return wharf_error_set(err, -EINVAL,
                               "invalid project name \"%s\": must consist only of lowercase "
                               "alphanumeric characters, hyphens, and underscores as well as start "
                               "with a letter or number",
                               name);
    return 0;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xasprintf("%.*s", (int)(slash - path), path);
}

static char *absolute(const char *cwd, const char *path)
{
    if (path[0] == '/' || strcmp(path, "-") == 0)
        return xstrdup(path);
    if (strncmp(path, "./", 2) == 0)
        path += 2;
    return xasprintf("%s/%s", cwd, path);
}

struct file_list {
    char **v;
    size_t n;
};

static void list_add(struct file_list *l, char *s)
{
    l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
    l->v[l->n++] = s;
}

/* The default files: the first directory from cwd upwards holding one of
 * the names, plus its override file. */
static int find_default_files(struct compose_project *p, const char *cwd, struct file_list *out,
                              wharf_error *err)
{
    _cleanup_free_ char *dir = xstrdup(cwd);
    for (;;) {
        const char *found = NULL;
        strbuf others = STRBUF_INIT;
        for (size_t i = 0; i < sizeof(default_names) / sizeof(default_names[0]); i++) {
            _cleanup_free_ char *path =
                xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", default_names[i]);
            if (!is_file(path))
                continue;
            if (!found)
                found = default_names[i];
            else
                strbuf_addf(&others, ", %s", default_names[i]);
        }
        if (found) {
            if (others.len)
                compose_project_add_warning(p,
                                            "Found multiple config files with supported names: "
                                            "%s%s\nUsing %s",
                                            found, others.buf, found);
            strbuf_release(&others);
            const char *base = strcmp(dir, "/") ? dir : "";
            list_add(out, xasprintf("%s/%s", base, found));
            /* compose.yaml pairs with compose.override.yaml (or .yml) */
            size_t stem = strrchr(found, '.') - found;
            static const char *const exts[] = {"yaml", "yml"};
            for (size_t e = 0; e < 2; e++) {
                char *ov = xasprintf("%s/%.*s.override.%s", base, (int)stem, found, exts[e]);
                if (is_file(ov)) {
                    list_add(out, ov);
                    break;
                }
                free(ov);
            }
            return 0;
        }
        strbuf_release(&others);
        if (strcmp(dir, "/") == 0)
            break;
        char *up = dir_of(dir);
        free(dir);
        dir = up;
    }
    return wharf_error_set(err, -ENOENT, "no configuration file provided: not found");
}

static int read_input(const char *path, char **text, size_t *len, wharf_error *err)
{
    if (strcmp(path, "-") != 0)
        return wharf_read_file(path, text, len, err);
    strbuf sb = STRBUF_INIT;
    char buf[65536];
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
        strbuf_add(&sb, buf, (size_t)n);
    if (n < 0) {
        strbuf_release(&sb);
        return wharf_error_errno(err, errno, "reading the compose file from stdin");
    }
    strbuf_addstr(&sb, "");
    *len = sb.len;
    *text = strbuf_detach(&sb);
    return 0;
}

/* One file: parsed, interpolated, checked. A new reference or NULL. */
static json_t *load_one(const char *name, const char *text, size_t len, const char *dir,
                        struct compose_env *env, wharf_error *err)
{
    _cleanup_json_ json_t *doc = compose_yaml_parse(name, text, len, err);
    if (!doc)
        return NULL;
    if (json_is_null(doc)) {
        wharf_error_set(err, -EINVAL, "%s: empty compose file", name);
        return NULL;
    }
    if (compose_interpolate_tree(doc, "", env, err) < 0) {
        wharf_error_prefix(err, "%s", name);
        return NULL;
    }
    json_t *n = compose_model_normalize(doc, dir, err);
    if (!n)
        wharf_error_prefix(err, "%s", name);
    return n;
}

static void free_list(struct file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* .env files into env->dotenv (the environment wins over them on lookup). */
static int load_dotenv(struct compose_env *env, const struct compose_options *o, const char *dir,
                       const char *cwd, wharf_error *err)
{
    struct compose_env bare = {env->environ, NULL, STRBUF_INIT};
    if (o->n_env_files == 0) {
        _cleanup_free_ char *path = xasprintf("%s/.env", dir);
        if (!is_file(path))
            return 0;
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (wharf_read_file(path, &text, &len, err) < 0)
            return err->code;
        return compose_parse_env(path, text, compose_env_lookup, &bare, env->dotenv, err);
    }
    for (size_t i = 0; i < o->n_env_files; i++) {
        _cleanup_free_ char *path = absolute(cwd, o->env_files[i]);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (wharf_read_file(path, &text, &len, err) < 0)
            return wharf_error_prefix(err, "--env-file");
        int r =
            compose_parse_env(o->env_files[i], text, compose_env_lookup, &bare, env->dotenv, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The name: -p, COMPOSE_PROJECT_NAME, the files' `name`, the directory. */
static int settle_name(struct compose_project *p, const struct compose_options *o,
                       struct compose_env *env, json_t *doc, wharf_error *err)
{
    const char *given = o->project_name;
    const char *from_env = compose_env_lookup(env, "COMPOSE_PROJECT_NAME");
    const char *from_file = json_string_value(json_object_get(doc, "name"));
    if (given && *given) {
        p->name = xstrdup(given);
    } else if (from_env && *from_env) {
        p->name = xstrdup(from_env);
    } else if (from_file && *from_file) {
        p->name = xstrdup(from_file);
    } else {
        const char *base = strrchr(p->working_dir, '/');
        base = base && base[1] ? base + 1 : p->working_dir;
        p->name = compose_normalize_project_name(base);
        if (!*p->name)
            return wharf_error_set(
                err, -EINVAL, "the directory name %s gives no valid project name: use -p", base);
    }
    return compose_check_project_name(p->name, err);
}

static const char **profile_list(const struct compose_options *o, struct compose_env *env,
                                 size_t *n, char **storage)
{
    const char *more = compose_env_lookup(env, "COMPOSE_PROFILES");
    *storage = more ? xstrdup(more) : NULL;
    const char **v = xcalloc(o->n_profiles + (more ? strlen(more) : 0) + 2, sizeof(char *));
    *n = 0;
    for (size_t i = 0; i < o->n_profiles; i++)
        v[(*n)++] = o->profiles[i];
    char *save = NULL;
    for (char *t = *storage ? strtok_r(*storage, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save))
        v[(*n)++] = t;
    return v;
}

static struct compose_project *load(const char *const *names, const char *const *texts,
                                    const size_t *lens, size_t n, const char *dir,
                                    struct compose_project *p, const struct compose_options *o,
                                    struct compose_env *env, wharf_error *err)
{
    json_t *doc = NULL;
    _cleanup_free_ char *storage = NULL;
    _cleanup_free_ const char **profiles = NULL;
    size_t n_profiles = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *one = load_one(names[i], texts[i], lens[i], dir, env, err);
        if (!one)
            goto fail;
        if (json_object_get(one, "version")) {
            compose_project_add_warning(p,
                                        "%s: the attribute `version` is obsolete, it will be "
                                        "ignored, please remove it to avoid potential confusion",
                                        names[i]);
            json_object_del(one, "version");
        }
        if (!doc) {
            doc = one;
        } else {
            compose_model_merge(doc, one);
            json_decref(one);
        }
    }
    if (settle_name(p, o, env, doc, err) < 0)
        goto fail;
    profiles = profile_list(o, env, &n_profiles, &storage);
    int r = compose_model_finish(p, doc, env, profiles, n_profiles, err);
    doc = NULL;
    if (r < 0)
        goto fail;
    /* Unset variables, as Compose warns of them. */
    const char *u = strbuf_str(&env->unset);
    while (*u) {
        size_t l = strcspn(u, "\n");
        compose_project_add_warning(p,
                                    "The \"%.*s\" variable is not set. Defaulting to a blank "
                                    "string.",
                                    (int)l, u);
        u += l + (u[l] ? 1 : 0);
    }
    return p;
fail:
    json_decref(doc);
    compose_project_free(p);
    return NULL;
}

static void env_release(struct compose_env *env)
{
    json_decref(env->dotenv);
    strbuf_release(&env->unset);
}

struct compose_project *compose_load(const struct compose_options *o, wharf_error *err)
{
    char cwd_buf[PATH_MAX];
    const char *cwd = o->cwd;
    if (!cwd) {
        if (!getcwd(cwd_buf, sizeof(cwd_buf))) {
            wharf_error_errno(err, errno, "the working directory");
            return NULL;
        }
        cwd = cwd_buf;
    }
    struct compose_project *p = xcalloc(1, sizeof(*p));
    struct compose_env env = {o->environ ? o->environ : environ, json_object(), STRBUF_INIT};
    struct file_list files = {0};
    char **texts = NULL;
    size_t *lens = NULL;
    struct compose_project *out = NULL;
    if (o->n_files) {
        for (size_t i = 0; i < o->n_files; i++)
            list_add(&files, absolute(cwd, o->files[i]));
    } else {
        /* COMPOSE_FILE (from the environment only: .env lives where the
         * files are) */
        const char *cf = compose_env_lookup(&env, "COMPOSE_FILE");
        if (cf && *cf) {
            _cleanup_free_ char *copy = xstrdup(cf);
            char *save = NULL;
            for (char *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save))
                list_add(&files, absolute(cwd, t));
        } else if (find_default_files(p, cwd, &files, err) < 0) {
            goto out;
        }
    }
    if (o->project_directory)
        p->working_dir = absolute(cwd, o->project_directory);
    else if (strcmp(files.v[0], "-") == 0)
        p->working_dir = xstrdup(cwd);
    else
        p->working_dir = dir_of(files.v[0]);
    if (load_dotenv(&env, o, p->working_dir, cwd, err) < 0)
        goto out;
    texts = xcalloc(files.n, sizeof(char *));
    lens = xcalloc(files.n, sizeof(size_t));
    for (size_t i = 0; i < files.n; i++) {
        if (read_input(files.v[i], &texts[i], &lens[i], err) < 0)
            goto out;
    }
    p->config_files = xcalloc(files.n, sizeof(char *));
    for (size_t i = 0; i < files.n; i++)
        p->config_files[p->n_config_files++] = xstrdup(files.v[i]);
    out = load((const char *const *)files.v, (const char *const *)texts, lens, files.n,
               p->working_dir, p, o, &env, err);
    p = NULL; /* load frees it on failure */
out:
    compose_project_free(p);
    for (size_t i = 0; texts && i < files.n; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    free_list(&files);
    env_release(&env);
    return out;
}

struct compose_project *compose_load_texts(const char *const *names, const char *const *texts,
                                           size_t n, const char *dir,
                                           const struct compose_options *o, wharf_error *err)
{
    struct compose_options none = {0};
    if (!o)
        o = &none;
    struct compose_project *p = xcalloc(1, sizeof(*p));
    static char *empty_env[] = {NULL};
    struct compose_env env = {o->environ ? o->environ : empty_env, json_object(), STRBUF_INIT};
    p->working_dir = xstrdup(dir);
    p->config_files = xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        p->config_files[p->n_config_files++] = xstrdup(names[i]);
    size_t *lens = xcalloc(n ? n : 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(texts[i]);
    struct compose_project *out = NULL;
    if (load_dotenv(&env, o, dir, dir, err) == 0)
        out = load(names, texts, lens, n, dir, p, o, &env, err);
    else
        compose_project_free(p);
    free(lens);
    env_release(&env);
    return out;
}

void compose_project_free(struct compose_project *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->working_dir);
    for (size_t i = 0; i < p->n_config_files; i++)
        free(p->config_files[i]);
    free(p->config_files);
    for (size_t i = 0; i < p->n_services; i++) {
        free(p->services[i].image);
        free(p->services[i].depends_on);
    }
    free(p->services);
    for (size_t i = 0; i < p->n_networks; i++)
        free(p->networks[i].name);
    free(p->networks);
    for (size_t i = 0; i < p->n_volumes; i++)
        free(p->volumes[i].name);
    free(p->volumes);
    for (size_t i = 0; i < p->n_warnings; i++)
        free(p->warnings[i]);
    free(p->warnings);
    json_decref(p->model);
    free(p);
}
