/*
 * interp.c — Compose's variable interpolation and .env files.
 *
 * Strings in the files may say $VAR, ${VAR}, ${VAR:-default} (unset or
 * empty), ${VAR-default} (unset), ${VAR:?message} / ${VAR?message} (an
 * error when unset or empty / unset), ${VAR:+alt} / ${VAR+alt}, and $$ for
 * a literal '$'. Defaults and messages may hold further substitutions. Any
 * other '$' is an error, as with Compose, rather than a silent surprise.
 * Values come from the environment, then from the .env file.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static bool name_start(char c)
{
    return c == '_' || isalpha((unsigned char)c);
}

static bool name_char(char c)
{
    return c == '_' || isalnum((unsigned char)c);
}

/* The end of a ${...} body starting at s (just after "${"): the index of its
 * closing brace, counting nested "${". -1 when it never closes. */
static ssize_t braced_end(const char *s)
{
    int depth = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '$' && s[i + 1] == '$') {
            i++;
            continue;
        }
        if (s[i] == '$' && s[i + 1] == '{') {
            depth++;
            i++;
        } else if (s[i] == '}') {
            if (depth == 0)
                return (ssize_t)i;
            depth--;
        }
    }
    return -1;
}

static int interpolate(const char *s, const char *where, const char *whole,
                       compose_lookup_fn lookup, void *data, strbuf *unset, strbuf *out, int depth,
                       wharf_error *err);

static int invalid(const char *where, const char *whole, wharf_error *err)
{
    return wharf_error_set(err, -EINVAL,
                           "invalid interpolation format for %s: \"%s\"; you may need to escape "
                           "any $ with another $",
                           where, whole);
}

static void note_unset(strbuf *unset, const char *name)
{
    if (!unset)
        return;
    /* each name once */
    size_t n = strlen(name);
    const char *p = strbuf_str(unset);
    while (*p) {
        size_t l = strcspn(p, "\n");
        if (l == n && strncmp(p, name, n) == 0)
            return;
        p += l + (p[l] ? 1 : 0);
    }
    strbuf_addf(unset, "%s\n", name);
}

static int substitute(const char *body, size_t len, const char *where, const char *whole,
                      compose_lookup_fn lookup, void *data, strbuf *unset, strbuf *out, int depth,
                      wharf_error *err)
{
    size_t n = 0;
    if (len == 0 || !name_start(body[0]))
        return invalid(where, whole, err);
    while (n < len && name_char(body[n]))
        n++;
    _cleanup_free_ char *name = xasprintf("%.*s", (int)n, body);
    const char *value = lookup ? lookup(data, name) : NULL;
    if (n == len) {
        if (!value)
            note_unset(unset, name);
        strbuf_addstr(out, value ? value : "");
        return 0;
    }
    bool colon = body[n] == ':';
    size_t op = n + (colon ? 1 : 0);
    if (op >= len || !strchr("-?+", body[op]))
        return invalid(where, whole, err);
    char kind = body[op];
    _cleanup_free_ char *rest = xasprintf("%.*s", (int)(len - op - 1), body + op + 1);
    bool set = value != NULL, nonempty = value && *value;
    bool use_value = colon ? nonempty : set;
    switch (kind) {
    case '-':
        if (use_value) {
            strbuf_addstr(out, value);
            return 0;
        }
        return interpolate(rest, where, whole, lookup, data, unset, out, depth + 1, err);
    case '+':
        if (!use_value)
            return 0;
        return interpolate(rest, where, whole, lookup, data, unset, out, depth + 1, err);
    default: /* '?' */
        if (use_value) {
            strbuf_addstr(out, value);
            return 0;
        }
        _cleanup_strbuf_ strbuf msg = STRBUF_INIT;
        int r = interpolate(rest, where, whole, lookup, data, unset, &msg, depth + 1, err);
        if (r < 0)
            return r;
        if (msg.len)
            return wharf_error_set(err, -EINVAL, "%s: required variable %s is missing a value: %s",
                                   where, name, msg.buf);
        return wharf_error_set(err, -EINVAL, "%s: required variable %s is missing a value", where,
                               name);
    }
}

static int interpolate(const char *s, const char *where, const char *whole,
                       compose_lookup_fn lookup, void *data, strbuf *unset, strbuf *out, int depth,
                       wharf_error *err)
{
    if (depth > 16)
        return wharf_error_set(err, -EINVAL, "%s: substitutions nested too deeply", where);
    for (size_t i = 0; s[i];) {
        if (s[i] != '$') {
            size_t n = strcspn(s + i, "$");
            strbuf_add(out, s + i, n);
            i += n;
            continue;
        }
        char next = s[i + 1];
        if (next == '$') {
            strbuf_addch(out, '$');
            i += 2;
        } else if (next == '{') {
            ssize_t end = braced_end(s + i + 2);
            if (end < 0)
                return invalid(where, whole, err);
            int r = substitute(s + i + 2, (size_t)end, where, whole, lookup, data, unset, out,
                               depth, err);
            if (r < 0)
                return r;
            i += 2 + (size_t)end + 1;
        } else if (name_start(next)) {
            size_t n = 1;
            while (name_char(s[i + 1 + n]))
                n++;
            int r = substitute(s + i + 1, n, where, whole, lookup, data, unset, out, depth, err);
            if (r < 0)
                return r;
            i += 1 + n;
        } else {
            return invalid(where, whole, err);
        }
    }
    return 0;
}

char *compose_interpolate(const char *s, const char *where, compose_lookup_fn lookup, void *data,
                          strbuf *unset, wharf_error *err)
{
    strbuf out = STRBUF_INIT;
    if (interpolate(s, where, s, lookup, data, unset, &out, 0, err) < 0) {
        strbuf_release(&out);
        return NULL;
    }
    strbuf_addstr(&out, "");
    return strbuf_detach(&out);
}

/* ---------------------------------------------------------------- the environment */

const char *compose_env_lookup(void *data, const char *name)
{
    struct compose_env *env = data;
    size_t n = strlen(name);
    for (char **e = env->environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return json_string_value(json_object_get(env->dotenv, name));
}

static int tree(json_t *v, strbuf *path, struct compose_env *env, wharf_error *err)
{
    size_t keep = path->len;
    int r = 0;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strchr(s, '$'))
            return 0;
        _cleanup_free_ char *out = compose_interpolate(s, path->len ? path->buf : "(top level)",
                                                       compose_env_lookup, env, &env->unset, err);
        if (!out)
            return err->code;
        json_string_set(v, out);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c)
        {
            strbuf_addf(path, "%s%s", path->len ? "." : "", k);
            r = tree(c, path, env, err);
            path->len = keep;
            path->buf[keep] = '\0';
            if (r < 0)
                return r;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            strbuf_addf(path, "[%zu]", i);
            r = tree(c, path, env, err);
            path->len = keep;
            path->buf[keep] = '\0';
            if (r < 0)
                return r;
        }
    }
    return 0;
}

int compose_interpolate_tree(json_t *doc, const char *where, struct compose_env *env,
                             wharf_error *err)
{
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, where);
    return tree(doc, &path, env, err);
}

/* ---------------------------------------------------------------- .env files */

struct env_lookup {
    json_t *seen; /* what the file defined so far */
    compose_lookup_fn lookup;
    void *data;
};

static const char *env_file_lookup(void *data, const char *name)
{
    struct env_lookup *l = data;
    /* The environment wins over the file, as for the compose files. */
    const char *v = l->lookup ? l->lookup(l->data, name) : NULL;
    return v ? v : json_string_value(json_object_get(l->seen, name));
}

int compose_parse_env(const char *name, const char *text, compose_lookup_fn lookup, void *data,
                      json_t *out, wharf_error *err)
{
    struct env_lookup l = {json_object(), lookup, data};
    const char *p = text;
    int line = 0, r = 0;
    while (*p) {
        line++;
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        const char *s = p, *end = p + n;
        p = eol ? eol + 1 : p + n;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (s < end && end[-1] == '\r')
            end--;
        if (s == end || *s == '#')
            continue;
        if ((size_t)(end - s) > 7 && strncmp(s, "export", 6) == 0 &&
            (s[6] == ' ' || s[6] == '\t')) {
            s += 7;
            while (s < end && (*s == ' ' || *s == '\t'))
                s++;
        }
        const char *eq = s;
        while (eq < end && *eq != '=')
            eq++;
        if (eq == end)
            eq = NULL;
        const char *kend = eq ? eq : end;
        while (kend > s && (kend[-1] == ' ' || kend[-1] == '\t'))
            kend--;
        _cleanup_free_ char *key = xasprintf("%.*s", (int)(kend - s), s);
        bool ok = key[0] != '\0';
        for (const char *k = key; *k; k++)
            if (*k == ' ' || *k == '\t' || *k == '\'' || *k == '"' || *k == '$')
                ok = false;
        if (!ok) {
            r = wharf_error_set(err, -EINVAL, "%s:%d: invalid variable name \"%.*s\"", name, line,
                                (int)(kend - s), s);
            goto out;
        }
        if (!eq) {
            /* "VAR" alone: the value the environment has, if any. */
            const char *v = lookup ? lookup(data, key) : NULL;
            if (v) {
                json_object_set_new(out, key, json_string(v));
                json_object_set_new(l.seen, key, json_string(v));
            }
            continue;
        }
        const char *v = eq + 1;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        _cleanup_strbuf_ strbuf val = STRBUF_INIT;
        _cleanup_free_ char *expanded = NULL;
        _cleanup_free_ char *where = xasprintf("%s:%d", name, line);
        if (v < end && *v == '\'') {
            const char *close = v + 1;
            while (close < end && *close != '\'')
                close++;
            if (close == end)
                close = NULL;
            if (!close) {
                r = wharf_error_set(err, -EINVAL, "%s:%d: unterminated single quote", name, line);
                goto out;
            }
            strbuf_add(&val, v + 1, (size_t)(close - v - 1));
            expanded = strbuf_detach(&val);
        } else if (v < end && *v == '"') {
            /* May span lines; escapes \n \t \\ \" \$ (a literal '$'). */
            const char *q = v + 1;
            bool closed = false;
            while (*q) {
                if (*q == '\\' && q[1]) {
                    static const char from[] = "ntr\"\\$";
                    static const char *const to[] = {"\n", "\t", "\r", "\"", "\\", "$$"};
                    const char *k = strchr(from, q[1]);
                    if (k)
                        strbuf_addstr(&val, to[k - from]);
                    else
                        strbuf_add(&val, q, 2);
                    q += 2;
                    continue;
                }
                if (*q == '"') {
                    closed = true;
                    break;
                }
                if (*q == '\n')
                    line++;
                strbuf_addch(&val, *q++);
            }
            if (!closed) {
                r = wharf_error_set(err, -EINVAL, "%s: unterminated double quote", where);
                goto out;
            }
            const char *after = strchr(q, '\n');
            p = after ? after + 1 : q + strlen(q);
            strbuf_addstr(&val, "");
            expanded = compose_interpolate(val.buf, where, env_file_lookup, &l, NULL, err);
        } else {
            const char *vend = end;
            for (const char *h = v; h < end; h++)
                /* a comment follows whitespace (v is past the blanks
                 * after '=', so h[-1] is still in the line) */
                if (*h == '#' && (h[-1] == ' ' || h[-1] == '\t')) {
                    vend = h;
                    break;
                }
            while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
                vend--;
            strbuf_add(&val, v, (size_t)(vend - v));
            strbuf_addstr(&val, "");
            expanded = compose_interpolate(val.buf, where, env_file_lookup, &l, NULL, err);
        }
        if (!expanded) {
            r = err->code;
            goto out;
        }
        json_object_set_new(out, key, json_string(expanded));
        json_object_set_new(l.seen, key, json_string(expanded));
    }
out:
    json_decref(l.seen);
    return r;
}
