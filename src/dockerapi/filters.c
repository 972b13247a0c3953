/*
 * filters.c — Docker's `filters` query parameter and its matching rules.
 *
 * The docker CLI sends {"key": {"value": true}}; the API also documents
 * {"key": ["value"]}. Both become one object of string arrays. Matching
 * follows Docker's filters package: `Match` is an exact match or an
 * unanchored regular expression, `MatchKVList` (labels) needs every
 * "key" or "key=value" to hold, booleans accept true/1 and false/0.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <string.h>
#include <time.h>

int dockerapi_filters_parse(const char *text, const char *const *accepted, json_t **out,
                            wharf_error *err)
{
    *out = json_object();
    if (!text || !*text)
        return 0;
    json_error_t je;
    _cleanup_json_ json_t *doc = json_loads(text, 0, &je);
    if (!json_is_object(doc)) {
        json_decref(steal_ptr(*out));
        return wharf_error_set(err, -EINVAL, "invalid filters: %s",
                               doc ? "expected a JSON object" : je.text);
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        bool known = false;
        for (size_t i = 0; accepted[i] && !known; i++)
            known = strcmp(accepted[i], key) == 0;
        if (!known) {
            json_decref(steal_ptr(*out));
            return wharf_error_set(err, -EINVAL, "invalid filter '%s'", key);
        }
        json_t *values = json_array();
        json_object_set_new(*out, key, values);
        if (json_is_object(v)) {
            /* {"value": true}: a false member is not a value (Docker's rule). */
            const char *value;
            json_t *on;
            json_object_foreach(v, value, on) if (json_is_true(on))
                json_array_append_new(values, json_string(value));
        } else if (json_is_array(v)) {
            size_t i;
            json_t *s;
            json_array_foreach(v, i, s)
            {
                if (!json_is_string(s)) {
                    json_decref(steal_ptr(*out));
                    return wharf_error_set(err, -EINVAL, "invalid filter '%s': expected strings",
                                           key);
                }
                json_array_append(values, s);
            }
        } else {
            json_decref(steal_ptr(*out));
            return wharf_error_set(err, -EINVAL,
                                   "invalid filter '%s': expected an object or an array", key);
        }
    }
    return 0;
}

json_t *dockerapi_filters_values(json_t *filters, const char *key)
{
    return json_object_get(filters, key);
}

bool dockerapi_filters_has(json_t *filters, const char *key)
{
    return json_object_get(filters, key) != NULL;
}

bool dockerapi_filters_match(json_t *filters, const char *key, const char *source)
{
    json_t *values = json_object_get(filters, key);
    if (!json_array_size(values))
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        const char *pattern = json_string_value(v);
        if (strcmp(pattern, source) == 0)
            return true;
        regex_t re;
        /* A pattern that does not compile matches nothing, as in Docker. */
        if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
            continue;
        bool hit = regexec(&re, source, 0, NULL, 0) == 0;
        regfree(&re);
        if (hit)
            return true;
    }
    return false;
}

bool dockerapi_filters_exact(json_t *filters, const char *key, const char *source)
{
    json_t *values = json_object_get(filters, key);
    if (!json_array_size(values))
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) if (strcmp(json_string_value(v), source) == 0) return true;
    return false;
}

bool dockerapi_filters_match_labels(json_t *filters, const char *key, json_t *labels)
{
    json_t *values = json_object_get(filters, key);
    if (!json_array_size(values))
        return true;
    if (!json_is_object(labels) || json_object_size(labels) == 0)
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        const char *want = json_string_value(v);
        const char *eq = strchr(want, '=');
        _cleanup_free_ char *k = eq ? xasprintf("%.*s", (int)(eq - want), want) : xstrdup(want);
        json_t *have = json_object_get(labels, k);
        if (!have)
            return false;
        if (eq && (!json_is_string(have) || strcmp(json_string_value(have), eq + 1) != 0))
            return false;
    }
    return true;
}

int dockerapi_filters_bool(json_t *filters, const char *key, bool dflt, bool *out, wharf_error *err)
{
    json_t *values = json_object_get(filters, key);
    *out = dflt;
    if (!values)
        return 0;
    bool is_true = false, is_false = false;
    size_t i;
    json_t *v;
    strbuf all = STRBUF_INIT;
    json_array_foreach(values, i, v)
    {
        const char *s = json_string_value(v);
        is_true |= strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
        is_false |= strcmp(s, "false") == 0 || strcmp(s, "0") == 0;
        strbuf_addf(&all, "%s%s", i ? "," : "", s);
    }
    if (is_true == is_false) {
        /* none, or both: Docker refuses either */
        wharf_error_set(err, -EINVAL, "invalid filter '%s=%s'", key, strbuf_str(&all));
        strbuf_release(&all);
        return -EINVAL;
    }
    strbuf_release(&all);
    *out = is_true;
    return 0;
}

int dockerapi_parse_timestamp(const char *value, time_t now, struct timespec *out, wharf_error *err)
{
    int64_t ns;
    if (wharf_parse_go_duration(value, &ns) == 0) {
        long double t = (long double)now - (long double)ns / 1e9L;
        out->tv_sec = (time_t)t;
        out->tv_nsec = (long)((t - (long double)out->tv_sec) * 1e9L);
        return 0;
    }
    /* RFC 3339 with a zone */
    if (cri_parse_time(value, strlen(value), out) == 0)
        return 0;
    /* Unix seconds, optionally with a fraction */
    char *end;
    errno = 0;
    long long secs = strtoll(value, &end, 10);
    if (end != value && errno == 0 && (*end == '\0' || *end == '.')) {
        long nsec = 0;
        if (*end == '.') {
            const char *f = end + 1;
            long scale = 100000000;
            for (; isdigit((unsigned char)*f) && scale > 0; f++, scale /= 10)
                nsec += (*f - '0') * scale;
            while (isdigit((unsigned char)*f))
                f++;
            if (*f || f == end + 1)
                goto dates;
        }
        out->tv_sec = (time_t)secs;
        out->tv_nsec = nsec;
        return 0;
    }
dates:;
    /* Dates and times without a zone are local time, as in Docker. */
    static const char *const layouts[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        struct tm tm = {0};
        const char *rest = strptime(value, layouts[i], &tm);
        if (rest && *rest == '\0') {
            tm.tm_isdst = -1;
            out->tv_sec = mktime(&tm);
            out->tv_nsec = 0;
            return 0;
        }
    }
    return wharf_error_set(err, -EINVAL, "failed to parse value as time or duration: \"%s\"",
                           value);
}
