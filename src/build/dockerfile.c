/* dockerfile.c — the Dockerfile language: lines into instructions, and
 * Docker's word processing (quotes, escapes, variables).
 *
 * Lines: parser directives (`# escape=`, `# syntax=`) are only read at the
 * top, before anything else; a line ending in the escape character
 * continues on the next, where full-line comments and blank lines are
 * skipped; the instruction's first word is its keyword (any case), then
 * come its --flags (quotes allowed), then arguments parsed by what the
 * keyword takes (JSON array or shell form, words, key=value pairs).
 * Nothing is expanded here: variables depend on the build's state and are
 * substituted by the builder with build_expand_word. */
#include "build.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

/* ---------------------------------------------------------------- vectors */

struct strv {
    char **v;
    size_t n, cap;
};

static void strv_push(struct strv *s, char *owned)
{
    if (s->n + 1 >= s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->v = xrealloc(s->v, s->cap * sizeof(char *));
    }
    s->v[s->n++] = owned;
    s->v[s->n] = NULL;
}

static void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Hands the vector out NULL-terminated (never NULL itself). */
static char **strv_take(struct strv *s, size_t *n)
{
    if (!s->v)
        strv_push(s, NULL), s->n = 0;
    char **v = s->v;
    *n = s->n;
    memset(s, 0, sizeof(*s));
    return v;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n';
}

static const char *skip_blanks(const char *s)
{
    while (*s && is_blank(*s))
        s++;
    return s;
}

static char *rtrim_dup(const char *s, size_t len)
{
    while (len > 0 && is_blank(s[len - 1]))
        len--;
    char *out = xmalloc(len + 1);
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

/* ---------------------------------------------------------------- argument forms */

/* Words split at blanks, quotes and escapes kept (Docker's parseWords, used
 * for ENV, LABEL and ARG before their values are processed). */
static void split_words_quoted(const char *s, char escape, struct strv *out)
{
    strbuf word = STRBUF_INIT;
    bool in_word = false, blank_ok = false;
    char quote = 0;
    for (const char *p = s;; p++) {
        char c = *p;
        if (!c) {
            if (in_word && (blank_ok || word.len))
                strv_push(out, strbuf_detach(&word));
            break;
        }
        if (!in_word && !quote) {
            if (is_blank(c))
                continue;
            in_word = true;
        }
        if (quote) {
            if (c == quote)
                quote = 0;
            else if (c == escape && quote != '\'') {
                if (!p[1])
                    continue;
                strbuf_addch(&word, c);
                c = *++p;
            }
            strbuf_addch(&word, c);
            continue;
        }
        if (is_blank(c)) {
            if (blank_ok || word.len)
                strv_push(out, strbuf_detach(&word));
            strbuf_reset(&word);
            in_word = blank_ok = false;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            blank_ok = true;
        } else if (c == escape) {
            if (!p[1])
                continue;
            strbuf_addch(&word, c);
            c = *++p;
        }
        strbuf_addch(&word, c);
    }
    strbuf_release(&word);
}

/* Words split at runs of blanks, nothing else (FROM, EXPOSE, COPY's shell form). */
static void split_words(const char *s, struct strv *out)
{
    for (;;) {
        s = skip_blanks(s);
        if (!*s)
            return;
        const char *start = s;
        while (*s && !is_blank(*s))
            s++;
        strv_push(out, rtrim_dup(start, (size_t)(s - start)));
    }
}

/* A JSON array of strings filling the rest of the line: true and the
 * elements, or false (then it is shell form). */
static bool parse_json_array(const char *s, struct strv *out)
{
    s = skip_blanks(s);
    if (*s != '[')
        return false;
    json_error_t je;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &je);
    if (!json_is_array(j)) {
        json_decref(j);
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(j, i, e) if (!json_is_string(e))
    {
        json_decref(j);
        return false;
    }
    json_array_foreach(j, i, e) strv_push(out, xstrdup(json_string_value(e)));
    json_decref(j);
    return true;
}

/* --flags at the start of s (quotes and backslashes removed, as Docker's
 * extractBuilderFlags); returns where the arguments start. */
static const char *extract_flags(const char *s, struct strv *flags)
{
    const char *p = s;
    for (;;) {
        p = skip_blanks(p);
        if (p[0] != '-' || p[1] != '-')
            return p;
        strbuf word = STRBUF_INIT;
        char quote = 0;
        bool blank_ok = false;
        for (; *p && (quote || !is_blank(*p)); p++) {
            if (quote) {
                if (*p == quote) {
                    quote = 0;
                    continue;
                }
            } else if (*p == '\'' || *p == '"') {
                quote = *p;
                blank_ok = true;
                continue;
            }
            if (*p == '\\') {
                if (!p[1])
                    continue;
                p++;
            }
            strbuf_addch(&word, *p);
        }
        if (strcmp(strbuf_str(&word), "--") == 0) {
            strbuf_release(&word);
            return skip_blanks(p);
        }
        if (blank_ok || word.len)
            strv_push(flags, strbuf_detach(&word));
        strbuf_release(&word);
    }
}

/* ---------------------------------------------------------------- instructions */

static const char *const keywords[] = {
    "add",        "arg",         "cmd",    "copy",       "entrypoint", "env", "expose",
    "from",       "healthcheck", "label",  "maintainer", "onbuild",    "run", "shell",
    "stopsignal", "user",        "volume", "workdir",    NULL,
};

/* The flags each instruction takes; value flags end in '=', bool ones not. */
static const char *const *allowed_flags(const char *kw)
{
    static const char *const from[] = {"platform=", NULL};
    static const char *const copy[] = {"from=", "chown=", "chmod=", "link", NULL};
    static const char *const add[] = {"chown=", "chmod=", "link", NULL};
    static const char *const health[] = {
        "interval=", "timeout=", "start-period=", "start-interval=", "retries=", NULL};
    static const char *const none[] = {NULL};
    if (strcmp(kw, "from") == 0)
        return from;
    if (strcmp(kw, "copy") == 0)
        return copy;
    if (strcmp(kw, "add") == 0)
        return add;
    if (strcmp(kw, "healthcheck") == 0)
        return health;
    return none;
}

#define FAIL(...) wharf_error_set(err, -EINVAL, __VA_ARGS__)

static int check_flags(const char *where, const char *kw, char **flags, size_t n, wharf_error *err)
{
    const char *const *ok = allowed_flags(kw);
    for (size_t i = 0; i < n; i++) {
        const char *f = flags[i];
        if (strncmp(f, "--", 2) != 0)
            return FAIL("%s: bad flag \"%s\"", where, f);
        const char *name = f + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        bool found = false;
        for (const char *const *a = ok; *a; a++) {
            size_t alen = strlen(*a);
            bool takes_value = (*a)[alen - 1] == '=';
            if ((takes_value ? alen - 1 : alen) != len || strncmp(*a, name, len) != 0)
                continue;
            found = true;
            if (takes_value && !eq)
                return FAIL("%s: missing a value on flag: --%.*s", where, (int)len, name);
            if (!takes_value && eq && strcasecmp(eq + 1, "true") != 0 &&
                strcasecmp(eq + 1, "false") != 0)
                return FAIL("%s: expecting boolean value for flag --%.*s, not: %s", where, (int)len,
                            name, eq + 1);
        }
        if (!found)
            return FAIL("%s: unknown flag: --%.*s", where, (int)len, name);
        for (size_t j = 0; j < i; j++)
            if (strncmp(flags[j], f, len + 2) == 0 &&
                (flags[j][len + 2] == '=' || flags[j][len + 2] == '\0'))
                return FAIL("%s: duplicate flag specified: --%.*s", where, (int)len, name);
    }
    return 0;
}

/* key=value pairs or the legacy "KEY name value" of ENV and LABEL. */
static int parse_pairs(const char *where, const char *KW, const char *rest, char escape,
                       struct strv *args, wharf_error *err)
{
    struct strv words = {0};
    split_words_quoted(rest, escape, &words);
    int r = 0;
    if (words.n == 0) {
        r = FAIL("%s: %s requires at least one argument", where, KW);
    } else if (!strchr(words.v[0], '=')) {
        const char *p = skip_blanks(rest);
        const char *end = p;
        while (*end && !is_blank(*end))
            end++;
        const char *value = skip_blanks(end);
        if (!*value)
            r = FAIL("%s: %s must have two arguments", where, KW);
        else {
            strv_push(args, rtrim_dup(p, (size_t)(end - p)));
            strv_push(args, rtrim_dup(value, strlen(value)));
        }
    } else {
        for (size_t i = 0; i < words.n && r == 0; i++) {
            char *eq = strchr(words.v[i], '=');
            if (!eq) {
                r = FAIL("%s: Syntax error - can't find = in \"%s\". Must be of the form: "
                         "name=value",
                         where, words.v[i]);
                break;
            }
            if (eq == words.v[i]) {
                r = FAIL("%s: %s names cannot be blank", where, KW);
                break;
            }
            strv_push(args, rtrim_dup(words.v[i], (size_t)(eq - words.v[i])));
            strv_push(args, xstrdup(eq + 1));
        }
    }
    strv_free(&words);
    return r;
}

static void upper(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

static int check_healthcheck(const char *where, struct build_instruction *in, wharf_error *err)
{
    for (size_t i = 0; i < in->n_flags; i++) {
        const char *f = in->flags[i] + 2;
        const char *v = strchr(f, '=') + 1;
        if (strncmp(f, "retries=", 8) == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (!*v || *end)
                return FAIL("%s: HEALTHCHECK: --retries: invalid number \"%s\"", where, v);
            if (n < 0)
                return FAIL("%s: --retries cannot be negative (%ld)", where, n);
            continue;
        }
        int64_t ns;
        int flen = (int)(strchr(f, '=') - f);
        if (wharf_parse_go_duration(v, &ns) < 0)
            return FAIL("%s: HEALTHCHECK: --%.*s: time: invalid duration \"%s\"", where, flen, f,
                        v);
        if (ns != 0 && ns < 1000000)
            return FAIL("%s: HEALTHCHECK: --%.*s cannot be less than 1ms", where, flen, f);
    }
    return 0;
}

/* Parses the arguments of kw (rest: after the flags) into in->args. */
static int parse_args(const char *where, const char *name, int line, const char *kw,
                      const char *rest, char escape, struct build_instruction *in, wharf_error *err)
{
    char KW[32];
    upper(KW, kw, sizeof(KW));
    struct strv args = {0};
    int r = 0;
    if (strcmp(kw, "run") == 0 || strcmp(kw, "cmd") == 0 || strcmp(kw, "entrypoint") == 0 ||
        strcmp(kw, "shell") == 0) {
        if (parse_json_array(rest, &args))
            in->json = true;
        else if (*rest)
            strv_push(&args, xstrdup(rest));
        if (strcmp(kw, "shell") == 0 && !in->json)
            r = FAIL("%s: SHELL requires the arguments to be in JSON form", where);
        else if (strcmp(kw, "shell") == 0 && args.n == 0)
            r = FAIL("%s: SHELL requires at least one argument", where);
        else if (strcmp(kw, "run") == 0 && args.n == 0)
            r = FAIL("%s: RUN requires at least one argument", where);
        else if (!in->json && !*rest)
            r = FAIL("%s: %s requires at least one argument", where, KW);
    } else if (strcmp(kw, "copy") == 0 || strcmp(kw, "add") == 0 || strcmp(kw, "volume") == 0) {
        if (parse_json_array(rest, &args))
            in->json = true;
        else
            split_words(rest, &args);
        if (strcmp(kw, "volume") == 0 && args.n == 0)
            r = FAIL("%s: VOLUME requires at least one argument", where);
        else if (strcmp(kw, "volume") != 0 && args.n < 2)
            r = FAIL("%s: %s requires at least two arguments, but only %s provided. Destination "
                     "could not be determined",
                     where, KW, args.n ? "one was" : "none were");
    } else if (strcmp(kw, "env") == 0 || strcmp(kw, "label") == 0) {
        r = parse_pairs(where, KW, rest, escape, &args, err);
    } else if (strcmp(kw, "arg") == 0) {
        split_words_quoted(rest, escape, &args);
        if (args.n == 0)
            r = FAIL("%s: ARG requires at least one argument", where);
        for (size_t i = 0; i < args.n && r == 0; i++)
            if (args.v[i][0] == '=')
                r = FAIL("%s: ARG names can not be blank", where);
    } else if (strcmp(kw, "from") == 0 || strcmp(kw, "expose") == 0) {
        split_words(rest, &args);
        if (strcmp(kw, "expose") == 0 && args.n == 0)
            r = FAIL("%s: EXPOSE requires at least one argument", where);
        else if (strcmp(kw, "from") == 0 && args.n != 1 && args.n != 3)
            r = FAIL("%s: FROM requires either one or three arguments", where);
        else if (strcmp(kw, "from") == 0 && args.n == 3 && strcasecmp(args.v[1], "as") != 0)
            r = FAIL("%s: FROM: the second argument should be AS, not \"%s\"", where, args.v[1]);
        else if (strcmp(kw, "from") == 0 && args.n == 3) {
            const char *s = args.v[2];
            bool ok = isalpha((unsigned char)s[0]);
            for (const char *p = s; ok && *p; p++)
                ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
            if (!ok)
                r = FAIL("%s: invalid name for build stage: \"%s\", name can't start with a "
                         "number or contain symbols",
                         where, s);
        }
    } else if (strcmp(kw, "user") == 0 || strcmp(kw, "workdir") == 0 ||
               strcmp(kw, "stopsignal") == 0 || strcmp(kw, "maintainer") == 0) {
        if (!*rest)
            r = FAIL("%s: %s requires exactly one argument", where, KW);
        else
            strv_push(&args, xstrdup(rest));
    } else if (strcmp(kw, "healthcheck") == 0) {
        const char *end = rest;
        while (*end && !is_blank(*end))
            end++;
        char *type = rtrim_dup(rest, (size_t)(end - rest));
        for (char *t = type; *t; t++)
            *t = (char)toupper((unsigned char)*t);
        const char *cmd = skip_blanks(end);
        strv_push(&args, type);
        if (!*type) {
            r = FAIL("%s: HEALTHCHECK requires an argument", where);
        } else if (strcmp(type, "NONE") == 0) {
            if (*cmd || in->n_flags)
                r = FAIL("%s: HEALTHCHECK NONE takes no arguments", where);
        } else if (strcmp(type, "CMD") == 0) {
            if (parse_json_array(cmd, &args))
                in->json = true;
            else if (*cmd)
                strv_push(&args, xstrdup(cmd));
            if (args.n < 2)
                r = FAIL("%s: Missing command after HEALTHCHECK CMD", where);
            else
                r = check_healthcheck(where, in, err);
        } else {
            r = FAIL("%s: Unknown type \"%s\" in HEALTHCHECK (try CMD)", where, type);
        }
    } else if (strcmp(kw, "onbuild") == 0) {
        if (!*rest) {
            r = FAIL("%s: ONBUILD requires at least one argument", where);
        } else {
            struct build_instruction sub;
            r = build_instruction_parse(name, line, rest, escape, &sub, err);
            if (r == 0) {
                if (strcmp(sub.keyword, "onbuild") == 0)
                    r = FAIL("%s: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", where);
                else if (strcmp(sub.keyword, "from") == 0 || strcmp(sub.keyword, "maintainer") == 0)
                    r = FAIL("%s: %s isn't allowed as an ONBUILD trigger", where,
                             strcmp(sub.keyword, "from") == 0 ? "FROM" : "MAINTAINER");
            }
            build_instruction_release(&sub);
            if (r == 0)
                strv_push(&args, xstrdup(rest));
        }
    }
    if (r < 0) {
        strv_free(&args);
        return r;
    }
    in->args = strv_take(&args, &in->n_args);
    return 0;
}

int build_instruction_parse(const char *name, int line, const char *text, char escape,
                            struct build_instruction *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_free_ char *where = xasprintf("%s:%d", name, line);
    const char *p = skip_blanks(text);
    const char *end = p;
    while (*end && !is_blank(*end))
        end++;
    char *kw = rtrim_dup(p, (size_t)(end - p));
    for (char *k = kw; *k; k++)
        *k = (char)tolower((unsigned char)*k);
    out->keyword = kw;
    out->line = line;
    out->original = rtrim_dup(p, strlen(p));
    bool known = false;
    for (const char *const *k = keywords; *k && !known; k++)
        known = strcmp(*k, kw) == 0;
    if (!known) {
        char KW[64];
        upper(KW, kw, sizeof(KW));
        return FAIL("%s: unknown instruction: %s", where, KW);
    }
    struct strv flags = {0};
    _cleanup_free_ char *rest = NULL;
    {
        const char *args = extract_flags(end, &flags);
        rest = rtrim_dup(args, strlen(args));
    }
    out->flags = strv_take(&flags, &out->n_flags);
    int r = check_flags(where, kw, out->flags, out->n_flags, err);
    if (r < 0)
        return r;
    return parse_args(where, name, line, kw, rest, escape, out, err);
}

void build_instruction_release(struct build_instruction *in)
{
    free(in->keyword);
    free(in->original);
    for (size_t i = 0; in->flags && i < in->n_flags; i++)
        free(in->flags[i]);
    free(in->flags);
    for (size_t i = 0; in->args && i < in->n_args; i++)
        free(in->args[i]);
    free(in->args);
    memset(in, 0, sizeof(*in));
}

const char *build_instruction_flag(const struct build_instruction *in, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < in->n_flags; i++) {
        const char *f = in->flags[i];
        if (strncmp(f, "--", 2) == 0 && strncmp(f + 2, name, len) == 0) {
            if (f[2 + len] == '=')
                return f + 3 + len;
            if (f[2 + len] == '\0')
                return "";
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- files */

/* "# name=value" at the top of the file: the directive's name (lower case)
 * and value, or false. */
static bool directive(const char *line, char name[32], char **value)
{
    const char *p = line;
    if (*p++ != '#')
        return false;
    p = skip_blanks(p);
    size_t n = 0;
    if (!isalpha((unsigned char)*p))
        return false;
    while (isalnum((unsigned char)p[n]))
        n++;
    if (n >= 32)
        return false;
    for (size_t i = 0; i < n; i++)
        name[i] = (char)tolower((unsigned char)p[i]);
    name[n] = '\0';
    p = skip_blanks(p + n);
    if (*p != '=')
        return false;
    p = skip_blanks(p + 1);
    if (!*p)
        return false;
    *value = rtrim_dup(p, strlen(p));
    return true;
}

static bool is_comment(const char *line)
{
    return *skip_blanks(line) == '#';
}

/* A line ending in the escape character (trailing blanks allowed) continues:
 * cuts it there and says so. */
static bool cut_continuation(char *line, char escape)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (n > 0 && line[n - 1] == escape) {
        line[n - 1] = '\0';
        return true;
    }
    return false;
}

int build_dockerfile_parse(const char *name, const char *text, size_t len,
                           struct build_dockerfile *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    out->escape = '\\';
    out->name = xstrdup(name);
    /* lines, without CR and the UTF-8 byte-order mark */
    struct strv lines = {0};
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l > 0 && p[l - 1] == '\r')
            l--;
        if (memchr(p, '\0', l)) {
            strv_free(&lines);
            return FAIL("%s:%zu: the Dockerfile is not text (a NUL byte)", name, lines.n + 1);
        }
        char *s = xmalloc(l + 1);
        memcpy(s, p, l);
        s[l] = '\0';
        strv_push(&lines, s);
        p = nl ? nl + 1 : end;
    }
    int r = 0;
    size_t i = 0;
    bool seen_escape = false, seen_syntax = false;
    for (; i < lines.n; i++) {
        char dname[32];
        char *value = NULL;
        if (!directive(lines.v[i], dname, &value))
            break;
        if (strcmp(dname, "escape") == 0) {
            if (seen_escape)
                r = FAIL("%s:%zu: only one escape parser directive can be used", name, i + 1);
            else if (strcmp(value, "\\") != 0 && strcmp(value, "`") != 0)
                r = FAIL("%s:%zu: invalid escape token '%s' does not match ` or \\", name, i + 1,
                         value);
            else
                out->escape = value[0];
            seen_escape = true;
        } else if (strcmp(dname, "syntax") == 0) {
            if (seen_syntax)
                r = FAIL("%s:%zu: only one syntax parser directive can be used", name, i + 1);
            else
                out->syntax = xstrdup(value);
            seen_syntax = true;
        } else if (strcmp(dname, "check") != 0) {
            /* an unknown directive is a comment, and ends the directives */
            free(value);
            break;
        }
        free(value);
        if (r < 0)
            goto out;
    }
    size_t cap = 0;
    for (i = 0; i < lines.n; i++) {
        const char *first = skip_blanks(lines.v[i]);
        if (*first == '#' || !*first)
            continue;
        int start = (int)i + 1;
        strbuf joined = STRBUF_INIT;
        char *cur = xstrdup(first);
        bool more = cut_continuation(cur, out->escape);
        strbuf_addstr(&joined, cur);
        free(cur);
        while (more && i + 1 < lines.n) {
            i++;
            if (is_comment(lines.v[i]) || !*skip_blanks(lines.v[i]))
                continue;
            cur = xstrdup(lines.v[i]);
            more = cut_continuation(cur, out->escape);
            strbuf_addstr(&joined, cur);
            free(cur);
        }
        if (!*skip_blanks(strbuf_str(&joined))) {
            strbuf_release(&joined);
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 16;
            out->inst = xrealloc(out->inst, cap * sizeof(*out->inst));
        }
        r = build_instruction_parse(name, start, strbuf_str(&joined), out->escape,
                                    &out->inst[out->n], err);
        out->n++;
        strbuf_release(&joined);
        if (r < 0)
            goto out;
    }
    if (out->n == 0)
        r = FAIL("the Dockerfile (%s) cannot be empty", name);
out:
    strv_free(&lines);
    return r;
}

void build_dockerfile_release(struct build_dockerfile *df)
{
    for (size_t i = 0; i < df->n; i++)
        build_instruction_release(&df->inst[i]);
    free(df->inst);
    free(df->syntax);
    free(df->name);
    memset(df, 0, sizeof(*df));
}

/* ---------------------------------------------------------------- substitution */

struct lexer {
    const char *p;
    char escape;
    build_lookup_fn lookup;
    void *ud;
    wharf_error *err;
    /* word splitting (build_expand_words) */
    struct strv *words;
    strbuf word;
    bool in_word;
};

static void word_char(struct lexer *lx, char c, bool raw)
{
    if (!lx->words)
        return;
    if (!raw && is_blank(c)) {
        if (lx->in_word)
            strv_push(lx->words, strbuf_detach(&lx->word));
        strbuf_reset(&lx->word);
        lx->in_word = false;
        return;
    }
    strbuf_addch(&lx->word, c);
    lx->in_word = true;
}

static void word_string(struct lexer *lx, const char *s, bool raw)
{
    if (raw && lx->words)
        lx->in_word = true; /* "" is a word of its own */
    for (; *s; s++)
        word_char(lx, *s, raw);
}

static int lex_until(struct lexer *lx, char stop, strbuf *out);

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static void lex_name(struct lexer *lx, strbuf *name)
{
    if (isdigit((unsigned char)*lx->p)) {
        while (isdigit((unsigned char)*lx->p))
            strbuf_addch(name, *lx->p++);
        return;
    }
    if (*lx->p && strchr("@*#?-$!", *lx->p)) {
        strbuf_addch(name, *lx->p++);
        return;
    }
    while (name_char(*lx->p))
        strbuf_addch(name, *lx->p++);
}

static int lex_dollar(struct lexer *lx, strbuf *out)
{
    lx->p++; /* '$' */
    if (*lx->p != '{') {
        _cleanup_strbuf_ strbuf name = STRBUF_INIT;
        lex_name(lx, &name);
        if (!name.len) {
            strbuf_addch(out, '$');
            return 0;
        }
        const char *v = lx->lookup(name.buf, lx->ud);
        strbuf_addstr(out, v ? v : "");
        return 0;
    }
    lx->p++;
    if (!*lx->p)
        return wharf_error_set(lx->err, -EINVAL, "syntax error: missing '}'");
    if (*lx->p == '{' || *lx->p == '}' || *lx->p == ':')
        return wharf_error_set(lx->err, -EINVAL, "syntax error: bad substitution");
    _cleanup_strbuf_ strbuf name = STRBUF_INIT;
    lex_name(lx, &name);
    const char *value = lx->lookup(strbuf_str(&name), lx->ud);
    char c = *lx->p;
    if (!c)
        return wharf_error_set(lx->err, -EINVAL, "syntax error: missing '}'");
    lx->p++;
    if (c == '}') {
        strbuf_addstr(out, value ? value : "");
        return 0;
    }
    bool colon = c == ':';
    char mod = colon ? *lx->p++ : c;
    if (mod != '-' && mod != '+' && mod != '?') {
        if (!colon)
            return wharf_error_set(lx->err, -EINVAL, "syntax error: bad substitution in ${%s%c",
                                   strbuf_str(&name), c);
        return wharf_error_set(lx->err, -EINVAL, "unsupported modifier (%c) in substitution",
                               mod ? mod : ' ');
    }
    /* the word is processed like the rest, without splitting */
    struct strv *words = lx->words;
    lx->words = NULL;
    _cleanup_strbuf_ strbuf word = STRBUF_INIT;
    int r = lex_until(lx, '}', &word);
    lx->words = words;
    if (r < 0)
        return r;
    bool set = value != NULL, nonempty = value && *value;
    switch (mod) {
    case '-':
        strbuf_addstr(out, (colon ? nonempty : set) ? value : strbuf_str(&word));
        return 0;
    case '+':
        strbuf_addstr(out, (colon ? nonempty : set) ? strbuf_str(&word) : "");
        return 0;
    default:
        if (!set || (colon && !nonempty))
            return wharf_error_set(lx->err, -EINVAL, "%s: %s", strbuf_str(&name),
                                   word.len ? word.buf
                                   : !set   ? "is not allowed to be unset"
                                            : "is not allowed to be empty");
        strbuf_addstr(out, value);
        return 0;
    }
}

static int lex_single_quote(struct lexer *lx, strbuf *out)
{
    lx->p++;
    for (;;) {
        char c = *lx->p++;
        if (!c)
            return wharf_error_set(lx->err, -EINVAL,
                                   "unexpected end of statement while looking "
                                   "for matching single-quote");
        if (c == '\'')
            return 0;
        strbuf_addch(out, c);
    }
}

static int lex_double_quote(struct lexer *lx, strbuf *out)
{
    lx->p++;
    for (;;) {
        char c = *lx->p;
        if (!c)
            return wharf_error_set(lx->err, -EINVAL,
                                   "unexpected end of statement while looking "
                                   "for matching double-quote");
        if (c == '"') {
            lx->p++;
            return 0;
        }
        if (c == '$') {
            int r = lex_dollar(lx, out);
            if (r < 0)
                return r;
            continue;
        }
        lx->p++;
        if (c == lx->escape) {
            char next = *lx->p;
            if (!next)
                continue;
            if (next == '"' || next == '$' || next == lx->escape) {
                c = next;
                lx->p++;
            }
        }
        strbuf_addch(out, c);
    }
}

/* Docker's processStopOn: until stop (0: the end), quotes and $ handled. */
static int lex_until(struct lexer *lx, char stop, strbuf *out)
{
    while (*lx->p) {
        char c = *lx->p;
        if (stop && c == stop) {
            lx->p++;
            return 0;
        }
        if (c == '\'' || c == '"' || c == '$') {
            _cleanup_strbuf_ strbuf part = STRBUF_INIT;
            int r = c == '\''  ? lex_single_quote(lx, &part)
                    : c == '"' ? lex_double_quote(lx, &part)
                               : lex_dollar(lx, &part);
            if (r < 0)
                return r;
            strbuf_addstr(out, strbuf_str(&part));
            word_string(lx, strbuf_str(&part), c != '$');
            continue;
        }
        lx->p++;
        if (c == lx->escape) {
            c = *lx->p;
            if (!c)
                break;
            lx->p++;
            word_char(lx, c, true);
        } else {
            word_char(lx, c, false);
        }
        strbuf_addch(out, c);
    }
    if (stop)
        return wharf_error_set(lx->err, -EINVAL, "syntax error: missing '%c'", stop);
    return 0;
}

int build_expand_word(const char *word, char escape, build_lookup_fn lookup, void *ud, char **out,
                      wharf_error *err)
{
    struct lexer lx = {.p = word, .escape = escape, .lookup = lookup, .ud = ud, .err = err};
    strbuf sb = STRBUF_INIT;
    int r = lex_until(&lx, 0, &sb);
    if (r < 0) {
        strbuf_release(&sb);
        return r;
    }
    *out = sb.buf ? strbuf_detach(&sb) : xstrdup("");
    return 0;
}

int build_expand_words(const char *text, char escape, build_lookup_fn lookup, void *ud, char ***out,
                       size_t *n, wharf_error *err)
{
    struct strv words = {0};
    struct lexer lx = {
        .p = text, .escape = escape, .lookup = lookup, .ud = ud, .err = err, .words = &words};
    _cleanup_strbuf_ strbuf all = STRBUF_INIT;
    int r = lex_until(&lx, 0, &all);
    if (r == 0 && lx.in_word)
        strv_push(&words, lx.word.buf ? strbuf_detach(&lx.word) : xstrdup(""));
    strbuf_release(&lx.word);
    if (r < 0) {
        strv_free(&words);
        return r;
    }
    *out = strv_take(&words, n);
    return 0;
}
