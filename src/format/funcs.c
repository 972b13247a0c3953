/*
 * funcs.c — the template functions, and Go's ways of turning values into
 * text: fmt's %v ("[a b]", "map[k:v]", "<nil>", 1e+06), fmt.Sprintf's verbs
 * and error forms ("%!d(string=x)"), and encoding/json for {{json .}}.
 *
 * printf never hands a user's format string to the C library: each verb is
 * parsed here and numbers are formatted from validated pieces.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* Go's fmt refuses widths and precisions beyond this ("%!(BADWIDTH)"). */
#define MAX_WIDTH 1000000

static const struct {
    const char *name;
} known_funcs[] = {
    {"and"},   {"or"},       {"not"},     {"len"},     {"index"},   {"slice"}, {"print"},
    {"printf"}, {"println"}, {"eq"},      {"ne"},      {"lt"},      {"le"},    {"gt"},
    {"ge"},    {"html"},     {"urlquery"}, {"json"},   {"join"},    {"split"}, {"lower"},
    {"upper"}, {"title"},    {"pad"},     {"truncate"},
};

bool format_func_known(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(known_funcs) / sizeof(known_funcs[0]); i++)
        if (strlen(known_funcs[i].name) == len && memcmp(known_funcs[i].name, name, len) == 0)
            return true;
    return false;
}

const char *format_type_name(json_t *v)
{
    if (!v || json_is_null(v))
        return "<nil>";
    switch (json_typeof(v)) {
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "int";
    case JSON_REAL:
        return "float64";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    case JSON_ARRAY:
        return "[]interface {}";
    case JSON_OBJECT:
        return "map[string]interface {}";
    default:
        return "<nil>";
    }
}

bool format_truth(json_t *v)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0;
    case JSON_TRUE:
        return true;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    default:
        return false;
    }
}

/* ------------------------------------------------------------ floats */

/* Shortest decimal digits that read back as v: digits without a point and
 * the exponent of the first digit (v = 0.d1d2... * 10^(exp+1)). */
static void shortest_digits(double v, char digits[32], int *exp10)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* buf is "[-]d.ddde[+-]xx" */
    const char *s = buf[0] == '-' ? buf + 1 : buf;
    size_t n = 0;
    for (; *s && *s != 'e'; s++)
        if (isdigit((unsigned char)*s))
            digits[n++] = *s;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *exp10 = *s == 'e' ? atoi(s + 1) : 0;
}

/* Go's strconv.FormatFloat(v, 'e'/'f'/'g', -1, 64); for 'g' the exponent
 * form is used when exp < -4 || exp >= gthreshold. min_exp_digits is 2 for
 * fmt and 1 for encoding/json's cleaned-up negative exponents. */
static void format_shortest(strbuf *out, double v, char mode, int gthreshold, bool upper)
{
    if (isnan(v)) {
        strbuf_addstr(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strbuf_addstr(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char d[32];
    int e;
    shortest_digits(v, d, &e);
    if (signbit(v))
        strbuf_addch(out, '-');
    if (v == 0) {
        strbuf_addch(out, '0');
        return;
    }
    size_t nd = strlen(d);
    if (mode == 'g')
        mode = (e < -4 || e >= gthreshold) ? 'e' : 'f';
    if (mode == 'e') {
        strbuf_addch(out, d[0]);
        if (nd > 1) {
            strbuf_addch(out, '.');
            strbuf_addstr(out, d + 1);
        }
        strbuf_addf(out, "%c%c%02d", upper ? 'E' : 'e', e < 0 ? '-' : '+', e < 0 ? -e : e);
        return;
    }
    if (e < 0) {
        strbuf_addstr(out, "0.");
        for (int i = -1; i > e; i--)
            strbuf_addch(out, '0');
        strbuf_addstr(out, d);
        return;
    }
    for (int i = 0; i <= e; i++)
        strbuf_addch(out, (size_t)i < nd ? d[i] : '0');
    if ((size_t)e + 1 < nd) {
        strbuf_addch(out, '.');
        strbuf_addstr(out, d + e + 1);
    }
}

/* ------------------------------------------------------------ printing */

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Object keys in Go's map printing order (sorted); caller frees the vector. */
static const char **sorted_keys(json_t *obj, size_t *n)
{
    *n = json_object_size(obj);
    const char **keys = xcalloc(*n + 1, sizeof(char *));
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) keys[i++] = k;
    qsort(keys, *n, sizeof(char *), cmp_keys);
    return keys;
}

void format_print_value(strbuf *out, json_t *v)
{
    if (!v || json_is_null(v)) {
        strbuf_addstr(out, "<nil>");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        strbuf_add(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        strbuf_addf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        format_shortest(out, json_real_value(v), 'g', 6, false);
        break;
    case JSON_TRUE:
        strbuf_addstr(out, "true");
        break;
    case JSON_FALSE:
        strbuf_addstr(out, "false");
        break;
    case JSON_ARRAY: {
        strbuf_addch(out, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                strbuf_addch(out, ' ');
            format_print_value(out, json_array_get(v, i));
        }
        strbuf_addch(out, ']');
        break;
    }
    case JSON_OBJECT: {
        size_t n;
        _cleanup_free_ const char **keys = sorted_keys(v, &n);
        strbuf_addstr(out, "map[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                strbuf_addch(out, ' ');
            strbuf_addstr(out, keys[i]);
            strbuf_addch(out, ':');
            format_print_value(out, json_object_get(v, keys[i]));
        }
        strbuf_addch(out, ']');
        break;
    }
    default:
        break;
    }
}

/* ------------------------------------------------------------ json */

static size_t utf8_len(const unsigned char *s, size_t n, unsigned long *r)
{
    unsigned char c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    unsigned long v = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[k] & 0x3F);
    }
    static const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *r = v;
    return len;
}

static void json_string_out(strbuf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    strbuf_addch(out, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            strbuf_addch(out, '\\');
            strbuf_addch(out, (char)c);
            i++;
        } else if (c < 0x20) {
            const char *esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (esc)
                strbuf_addstr(out, esc);
            else
                strbuf_addf(out, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            strbuf_addch(out, (char)c);
            i++;
        } else {
            unsigned long r;
            size_t len = utf8_len(s + i, n - i, &r);
            if (len == 0) {
                strbuf_addstr(out, "\\ufffd"); /* as Go does for invalid UTF-8 */
                i++;
            } else if (r == 0x2028 || r == 0x2029) {
                strbuf_addf(out, "\\u%04lx", r);
                i += len;
            } else {
                strbuf_add(out, s + i, len);
                i += len;
            }
        }
    }
    strbuf_addch(out, '"');
}

void format_json_encode(strbuf *out, json_t *v)
{
    if (!v || json_is_null(v)) {
        strbuf_addstr(out, "null");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        json_string_out(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        strbuf_addf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL: {
        double d = json_real_value(v);
        double a = fabs(d);
        size_t start = out->len;
        format_shortest(out, d, (a != 0 && (a < 1e-6 || a >= 1e21)) ? 'e' : 'f', 0, false);
        /* encoding/json shortens "e-07" to "e-7" */
        size_t n = out->len - start;
        char *b = out->buf + start;
        if (n >= 4 && b[n - 4] == 'e' && b[n - 3] == '-' && b[n - 2] == '0') {
            b[n - 2] = b[n - 1];
            out->len--;
            out->buf[out->len] = '\0';
        }
        break;
    }
    case JSON_TRUE:
        strbuf_addstr(out, "true");
        break;
    case JSON_FALSE:
        strbuf_addstr(out, "false");
        break;
    case JSON_ARRAY:
        strbuf_addch(out, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                strbuf_addch(out, ',');
            format_json_encode(out, json_array_get(v, i));
        }
        strbuf_addch(out, ']');
        break;
    case JSON_OBJECT: {
        /* Insertion order: the data mirrors Go structs, whose fields
         * encoding/json writes in declaration order. */
        const char *k;
        json_t *m;
        bool first = true;
        strbuf_addch(out, '{');
        json_object_foreach(v, k, m)
        {
            if (!first)
                strbuf_addch(out, ',');
            first = false;
            json_string_out(out, k, strlen(k));
            strbuf_addch(out, ':');
            format_json_encode(out, m);
        }
        strbuf_addch(out, '}');
        break;
    }
    default:
        strbuf_addstr(out, "null");
        break;
    }
}

/* ------------------------------------------------------------ printf */

struct spec {
    bool minus, plus, sharp, space, zero;
    int width, prec; /* -1: absent */
    unsigned long verb;
};

static size_t rune_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

static void put_rune(strbuf *out, unsigned long r)
{
    char b[4];
    if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
        r = 0xFFFD;
    if (r < 0x80) {
        strbuf_addch(out, (char)r);
    } else if (r < 0x800) {
        b[0] = (char)(0xC0 | (r >> 6));
        b[1] = (char)(0x80 | (r & 0x3F));
        strbuf_add(out, b, 2);
    } else if (r < 0x10000) {
        b[0] = (char)(0xE0 | (r >> 12));
        b[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        b[2] = (char)(0x80 | (r & 0x3F));
        strbuf_add(out, b, 3);
    } else {
        b[0] = (char)(0xF0 | (r >> 18));
        b[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((r >> 6) & 0x3F));
        b[3] = (char)(0x80 | (r & 0x3F));
        strbuf_add(out, b, 4);
    }
}

/* Pads s to the spec's width with spaces (or zeros when asked). */
static void pad_out(strbuf *out, const char *s, size_t n, const struct spec *sp)
{
    size_t runes = rune_count(s, n);
    size_t w = sp->width > 0 ? (size_t)sp->width : 0;
    size_t fill = w > runes ? w - runes : 0;
    if (!sp->minus)
        for (size_t i = 0; i < fill; i++)
            strbuf_addch(out, sp->zero ? '0' : ' ');
    strbuf_add(out, s, n);
    if (sp->minus)
        for (size_t i = 0; i < fill; i++)
            strbuf_addch(out, ' ');
}

static bool is_printable(unsigned long r)
{
    if (r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0))
        return false;
    return r != 0xAD && r != 0x2028 && r != 0x2029 && r != 0xFEFF;
}

/* strconv.Quote */
static void go_quote(strbuf *out, const char *str, size_t n, char q)
{
    const unsigned char *s = (const unsigned char *)str;
    strbuf_addch(out, q);
    for (size_t i = 0; i < n;) {
        unsigned long r;
        size_t len = utf8_len(s + i, n - i, &r);
        if (len == 0) {
            strbuf_addf(out, "\\x%02x", s[i]);
            i++;
            continue;
        }
        i += len;
        if (r == (unsigned long)q || r == '\\') {
            strbuf_addch(out, '\\');
            strbuf_addch(out, (char)r);
        } else if (is_printable(r)) {
            put_rune(out, r);
        } else {
            const char *e = strchr("\a\b\f\n\r\t\v", (int)r);
            if (r && e)
                strbuf_addf(out, "\\%c", "abfnrtv"[e - "\a\b\f\n\r\t\v"]);
            else if (r < 0x80)
                strbuf_addf(out, "\\x%02lx", r);
            else if (r < 0x10000)
                strbuf_addf(out, "\\u%04lx", r);
            else
                strbuf_addf(out, "\\U%08lx", r);
        }
    }
    strbuf_addch(out, q);
}

static void bad_verb(strbuf *out, const struct spec *sp, json_t *v)
{
    strbuf_addstr(out, "%!");
    put_rune(out, sp->verb);
    strbuf_addch(out, '(');
    if (!v || json_is_null(v)) {
        strbuf_addstr(out, "<nil>");
    } else {
        strbuf_addstr(out, format_type_name(v));
        strbuf_addch(out, '=');
        format_print_value(out, v);
    }
    strbuf_addch(out, ')');
}

static void fmt_integer(strbuf *out, long long v, const struct spec *sp)
{
    unsigned long verb = sp->verb;
    if (verb == 'c' || verb == 'q' || verb == 'U') {
        _cleanup_strbuf_ strbuf b = STRBUF_INIT;
        unsigned long r = (v < 0 || v > 0x10FFFF) ? 0xFFFD : (unsigned long)v;
        if (verb == 'c') {
            put_rune(&b, r);
        } else if (verb == 'q') {
            _cleanup_strbuf_ strbuf rs = STRBUF_INIT;
            put_rune(&rs, r);
            go_quote(&b, rs.buf, rs.len, '\'');
        } else {
            strbuf_addf(&b, "U+%04llX", (unsigned long long)v);
            if (sp->sharp && is_printable(r)) {
                strbuf_addstr(&b, " '");
                put_rune(&b, r);
                strbuf_addch(&b, '\'');
            }
        }
        struct spec s2 = *sp;
        s2.zero = false;
        pad_out(out, strbuf_str(&b), b.len, &s2);
        return;
    }
    int base = verb == 'b' ? 2 : (verb == 'o' || verb == 'O') ? 8 : (verb == 'x' || verb == 'X') ? 16 : 10;
    const char *dig = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    bool neg = v < 0;
    unsigned long long u = neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    char digits[80];
    int nd = 0;
    if (!(sp->prec == 0 && u == 0)) {
        do {
            digits[nd++] = dig[u % (unsigned)base];
            u /= (unsigned)base;
        } while (u);
    }
    int prec = sp->prec;
    if (prec < 0 && sp->zero && sp->width > 0 && !sp->minus) {
        prec = sp->width;
        if (neg || sp->plus || sp->space)
            prec--;
    }
    _cleanup_strbuf_ strbuf b = STRBUF_INIT;
    if (neg)
        strbuf_addch(&b, '-');
    else if (sp->plus)
        strbuf_addch(&b, '+');
    else if (sp->space)
        strbuf_addch(&b, ' ');
    if (verb == 'O')
        strbuf_addstr(&b, "0o");
    else if (sp->sharp && base == 16)
        strbuf_addstr(&b, verb == 'X' ? "0X" : "0x");
    else if (sp->sharp && base == 2)
        strbuf_addstr(&b, "0b");
    else if (sp->sharp && base == 8 && (nd == 0 || digits[nd - 1] != '0') && prec <= nd)
        strbuf_addch(&b, '0');
    for (int i = nd; i < prec && i < MAX_WIDTH; i++)
        strbuf_addch(&b, '0');
    while (nd > 0)
        strbuf_addch(&b, digits[--nd]);
    struct spec s2 = *sp;
    s2.zero = false;
    pad_out(out, strbuf_str(&b), b.len, &s2);
}

static void fmt_float(strbuf *out, double v, const struct spec *sp)
{
    unsigned long verb = sp->verb == 'v' ? 'g' : sp->verb;
    _cleanup_strbuf_ strbuf b = STRBUF_INIT;
    if (!signbit(v) && sp->plus)
        strbuf_addch(&b, '+');
    else if (!signbit(v) && sp->space)
        strbuf_addch(&b, ' ');
    if ((verb == 'g' || verb == 'G') && sp->prec < 0) {
        format_shortest(&b, v, 'g', 6, verb == 'G');
    } else if (isnan(v) || isinf(v)) {
        format_shortest(&b, v, 'g', 6, false);
    } else {
        /* Built from checked pieces only: a conversion letter from a fixed
         * set and two bounded integers. */
        char conv = (char)(verb == 'F' ? 'f' : verb);
        int prec = sp->prec < 0 ? 6 : sp->prec;
        char tmp[64];
        const char *cfmt = NULL;
        switch (conv) {
        case 'e':
            cfmt = sp->sharp ? "%#.*e" : "%.*e";
            break;
        case 'E':
            cfmt = sp->sharp ? "%#.*E" : "%.*E";
            break;
        case 'f':
            cfmt = sp->sharp ? "%#.*f" : "%.*f";
            break;
        case 'g':
            cfmt = sp->sharp ? "%#.*g" : "%.*g";
            break;
        default:
            cfmt = sp->sharp ? "%#.*G" : "%.*G";
            break;
        }
        int need = snprintf(tmp, sizeof(tmp), cfmt, prec, v);
        if (need >= 0 && (size_t)need < sizeof(tmp)) {
            strbuf_addstr(&b, tmp);
        } else if (need > 0) {
            char *big = xmalloc((size_t)need + 1);
            snprintf(big, (size_t)need + 1, cfmt, prec, v);
            strbuf_addstr(&b, big);
            free(big);
        }
    }
    /* Zero padding goes between the sign and the digits. */
    if (sp->zero && !sp->minus && sp->width > 0 && (size_t)sp->width > b.len && isfinite(v)) {
        size_t sign = (b.len && strchr("+- ", b.buf[0])) ? 1 : 0;
        size_t fill = (size_t)sp->width - b.len;
        strbuf_add(out, b.buf, sign);
        for (size_t i = 0; i < fill; i++)
            strbuf_addch(out, '0');
        strbuf_add(out, b.buf + sign, b.len - sign);
        return;
    }
    struct spec s2 = *sp;
    s2.zero = false;
    pad_out(out, strbuf_str(&b), b.len, &s2);
}

static void fmt_string(strbuf *out, const char *s, size_t n, const struct spec *sp)
{
    if (sp->prec >= 0) { /* precision counts characters */
        size_t runes = 0, i = 0;
        for (; i < n; i++) {
            if (((unsigned char)s[i] & 0xC0) != 0x80) {
                if (runes == (size_t)sp->prec)
                    break;
                runes++;
            }
        }
        n = i;
    }
    _cleanup_strbuf_ strbuf b = STRBUF_INIT;
    switch (sp->verb) {
    case 'q':
        go_quote(&b, s, n, '"');
        break;
    case 'x':
    case 'X':
        if (sp->sharp && n)
            strbuf_addstr(&b, sp->verb == 'x' ? "0x" : "0X");
        for (size_t i = 0; i < n; i++) {
            if (i && sp->space)
                strbuf_addch(&b, ' ');
            strbuf_addf(&b, sp->verb == 'x' ? "%02x" : "%02X", (unsigned char)s[i]);
        }
        break;
    default:
        strbuf_add(&b, s, n);
        break;
    }
    pad_out(out, strbuf_str(&b), b.len, sp);
}

static void fmt_arg(strbuf *out, json_t *v, const struct spec *sp)
{
    unsigned long verb = sp->verb;
    if (verb == 'T') {
        struct spec s2 = *sp;
        s2.prec = -1;
        const char *tn = format_type_name(v);
        fmt_string(out, tn, strlen(tn), &s2);
        return;
    }
    if (!v || json_is_null(v)) {
        if (verb == 'v')
            pad_out(out, "<nil>", 5, sp);
        else
            bad_verb(out, sp, NULL);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_TRUE:
    case JSON_FALSE:
        if (verb == 't' || verb == 'v')
            pad_out(out, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5, sp);
        else
            bad_verb(out, sp, v);
        return;
    case JSON_INTEGER:
        if (verb && strchr("bcdoOqxXUv", (int)verb) && verb < 0x80) {
            struct spec s2 = *sp;
            if (verb == 'v')
                s2.verb = 'd';
            fmt_integer(out, json_integer_value(v), &s2);
        } else {
            bad_verb(out, sp, v);
        }
        return;
    case JSON_REAL:
        if (verb && verb < 0x80 && strchr("eEfFgGv", (int)verb))
            fmt_float(out, json_real_value(v), sp);
        else
            bad_verb(out, sp, v);
        return;
    case JSON_STRING:
        if (verb && verb < 0x80 && strchr("vsqxX", (int)verb))
            fmt_string(out, json_string_value(v), json_string_length(v), sp);
        else
            bad_verb(out, sp, v);
        return;
    case JSON_ARRAY:
        /* fmt applies the verb to each element */
        strbuf_addch(out, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                strbuf_addch(out, ' ');
            fmt_arg(out, json_array_get(v, i), sp);
        }
        strbuf_addch(out, ']');
        return;
    case JSON_OBJECT: {
        size_t n;
        _cleanup_free_ const char **keys = sorted_keys(v, &n);
        strbuf_addstr(out, "map[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                strbuf_addch(out, ' ');
            json_t *k = json_string(keys[i]);
            fmt_arg(out, k, sp);
            json_decref(k);
            strbuf_addch(out, ':');
            fmt_arg(out, json_object_get(v, keys[i]), sp);
        }
        strbuf_addch(out, ']');
        return;
    }
    default:
        bad_verb(out, sp, v);
        return;
    }
}

/* Reads a width or precision; -2 when it is too large. */
static int read_num(const char *f, size_t n, size_t *i)
{
    long v = 0;
    bool big = false;
    while (*i < n && isdigit((unsigned char)f[*i])) {
        v = v * 10 + (f[*i] - '0');
        if (v > MAX_WIDTH) {
            big = true;
            v = MAX_WIDTH;
        }
        (*i)++;
    }
    return big ? -2 : (int)v;
}

void format_sprintf(strbuf *out, const char *f, size_t n, json_t **argv, size_t argc)
{
    size_t argn = 0;
    for (size_t i = 0; i < n;) {
        if (f[i] != '%') {
            const char *pct = memchr(f + i, '%', n - i);
            size_t end = pct ? (size_t)(pct - f) : n;
            strbuf_add(out, f + i, end - i);
            i = end;
            continue;
        }
        i++;
        struct spec sp = {.width = -1, .prec = -1};
        for (; i < n; i++) {
            char c = f[i];
            if (c == '-')
                sp.minus = true, sp.zero = false;
            else if (c == '+')
                sp.plus = true;
            else if (c == '#')
                sp.sharp = true;
            else if (c == ' ')
                sp.space = true;
            else if (c == '0')
                sp.zero = !sp.minus;
            else
                break;
        }
        bool bad_width = false, bad_prec = false;
        if (i < n && f[i] == '*') {
            i++;
            json_t *a = argn < argc ? argv[argn++] : NULL;
            if (a && json_is_integer(a) && llabs(json_integer_value(a)) <= MAX_WIDTH) {
                long long w = json_integer_value(a);
                if (w < 0) {
                    sp.minus = true;
                    sp.zero = false;
                    w = -w;
                }
                sp.width = (int)w;
            } else {
                bad_width = true;
            }
        } else if (i < n && isdigit((unsigned char)f[i])) {
            sp.width = read_num(f, n, &i);
            bad_width = sp.width == -2;
        }
        if (i < n && f[i] == '.') {
            i++;
            if (i < n && f[i] == '*') {
                i++;
                json_t *a = argn < argc ? argv[argn++] : NULL;
                if (a && json_is_integer(a) && json_integer_value(a) >= 0 &&
                    json_integer_value(a) <= MAX_WIDTH)
                    sp.prec = (int)json_integer_value(a);
                else
                    bad_prec = true;
            } else {
                sp.prec = read_num(f, n, &i);
                bad_prec = sp.prec == -2;
            }
        }
        if (bad_width) {
            strbuf_addstr(out, "%!(BADWIDTH)");
            sp.width = -1;
        }
        if (bad_prec) {
            strbuf_addstr(out, "%!(BADPREC)");
            sp.prec = -1;
        }
        if (i >= n) {
            strbuf_addstr(out, "%!(NOVERB)");
            break;
        }
        /* The verb is one UTF-8 character. */
        unsigned long verb;
        size_t vl = utf8_len((const unsigned char *)f + i, n - i, &verb);
        if (vl == 0) {
            verb = 0xFFFD;
            vl = 1;
        }
        i += vl;
        sp.verb = verb;
        if (verb == '%') {
            strbuf_addch(out, '%');
            continue;
        }
        if (argn >= argc) {
            strbuf_addstr(out, "%!");
            put_rune(out, verb);
            strbuf_addstr(out, "(MISSING)");
            continue;
        }
        fmt_arg(out, argv[argn++], &sp);
    }
    if (argn < argc) {
        strbuf_addstr(out, "%!(EXTRA ");
        for (size_t k = argn; k < argc; k++) {
            if (k > argn)
                strbuf_addstr(out, ", ");
            if (!argv[k] || json_is_null(argv[k])) {
                strbuf_addstr(out, "<nil>");
                continue;
            }
            strbuf_addstr(out, format_type_name(argv[k]));
            strbuf_addch(out, '=');
            format_print_value(out, argv[k]);
        }
        strbuf_addch(out, ')');
    }
}

/* ------------------------------------------------------------ functions */

static bool is_str(json_t *v)
{
    return v && json_is_string(v);
}

static const char *go_type(json_t *v)
{
    return (!v || json_is_null(v)) ? "nil" : format_type_name(v);
}

/* Integer parameter: Go accepts an int, or an integral float constant. */
static bool want_int(json_t *v, long long *out)
{
    if (v && json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (v && json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
        fabs(json_real_value(v)) < 9e18) {
        *out = (long long)json_real_value(v);
        return true;
    }
    return false;
}

WHARF_PRINTF(2, 3) static int fail(strbuf *msg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(msg, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* fmt.Sprint / fmt.Sprintln */
static void sprint(strbuf *out, json_t **argv, size_t argc, bool ln)
{
    for (size_t i = 0; i < argc; i++) {
        bool s = is_str(argv[i]);
        bool prev = i > 0 && is_str(argv[i - 1]);
        if (i > 0 && (ln || (!s && !prev)))
            strbuf_addch(out, ' ');
        format_print_value(out, argv[i]);
    }
    if (ln)
        strbuf_addch(out, '\n');
}

enum basic_kind { K_INVALID, K_BOOL, K_INT, K_FLOAT, K_STRING, K_OTHER };

static enum basic_kind basic_kind(json_t *v)
{
    if (!v || json_is_null(v))
        return K_INVALID;
    switch (json_typeof(v)) {
    case JSON_TRUE:
    case JSON_FALSE:
        return K_BOOL;
    case JSON_INTEGER:
        return K_INT;
    case JSON_REAL:
        return K_FLOAT;
    case JSON_STRING:
        return K_STRING;
    default:
        return K_OTHER;
    }
}

static int cmp_strings(json_t *a, json_t *b)
{
    size_t la = json_string_length(a), lb = json_string_length(b);
    int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
    return c ? c : (la < lb ? -1 : la > lb);
}

/* text/template's eq: *res is whether a equals b. */
static int go_eq(json_t *a, json_t *b, bool *res, strbuf *msg)
{
    enum basic_kind ka = basic_kind(a), kb = basic_kind(b);
    if (ka == K_OTHER || kb == K_OTHER)
        return fail(msg, "error calling eq: non-comparable type %s",
                    format_type_name(ka == K_OTHER ? a : b));
    if (ka != kb) {
        if (ka != K_INVALID && kb != K_INVALID)
            return fail(msg, "error calling eq: incompatible types for comparison");
        *res = false;
        return 0;
    }
    switch (ka) {
    case K_INVALID:
        *res = true;
        break;
    case K_BOOL:
        *res = json_is_true(a) == json_is_true(b);
        break;
    case K_INT:
        *res = json_integer_value(a) == json_integer_value(b);
        break;
    case K_FLOAT:
        *res = json_real_value(a) == json_real_value(b);
        break;
    default:
        *res = cmp_strings(a, b) == 0;
        break;
    }
    return 0;
}

static int go_lt(const char *fn, json_t *a, json_t *b, bool *res, strbuf *msg)
{
    enum basic_kind ka = basic_kind(a), kb = basic_kind(b);
    if (ka == K_BOOL || ka == K_OTHER || ka == K_INVALID || kb == K_BOOL || kb == K_OTHER ||
        kb == K_INVALID)
        return fail(msg, "error calling %s: invalid type for comparison", fn);
    if (ka != kb)
        return fail(msg, "error calling %s: incompatible types for comparison", fn);
    if (ka == K_INT)
        *res = json_integer_value(a) < json_integer_value(b);
    else if (ka == K_FLOAT)
        *res = json_real_value(a) < json_real_value(b);
    else
        *res = cmp_strings(a, b) < 0;
    return 0;
}

static json_t *str_value(const char *s, size_t n)
{
    json_t *v = json_stringn_nocheck(s, n);
    if (!v)
        abort();
    return v;
}

static int fn_index(json_t **argv, size_t argc, json_t **res, strbuf *msg)
{
    json_t *item = argv[0];
    if (!item || json_is_null(item))
        return fail(msg, "error calling index: index of untyped nil");
    for (size_t i = 1; i < argc; i++) {
        json_t *k = argv[i];
        if (json_is_array(item) || json_is_string(item)) {
            long long idx;
            if (!k || json_is_null(k))
                return fail(msg, "error calling index: cannot index slice/array with nil");
            if (!json_is_integer(k))
                return fail(msg, "error calling index: cannot index slice/array with type %s",
                            format_type_name(k));
            idx = json_integer_value(k);
            size_t len = json_is_array(item) ? json_array_size(item) : json_string_length(item);
            if (idx < 0 || (unsigned long long)idx >= len)
                return fail(msg, "error calling index: index out of range: %lld", idx);
            if (json_is_string(item)) {
                /* a string index is a byte (uint8) */
                item = json_integer((unsigned char)json_string_value(item)[idx]);
                if (i + 1 < argc) {
                    json_decref(item);
                    return fail(msg, "error calling index: can't index item of type uint8");
                }
                *res = item;
                return 0;
            }
            item = json_array_get(item, (size_t)idx);
        } else if (json_is_object(item)) {
            if (!is_str(k))
                return fail(msg, "error calling index: value has type %s; should be string",
                            go_type(k));
            json_t *m = json_object_get(item, json_string_value(k));
            if (!m) {
                /* Go yields the map's zero value: "" for map[string]string
                 * (Labels, Options), nil otherwise. */
                bool all_strings = json_object_size(item) > 0;
                const char *kk;
                json_t *vv;
                json_object_foreach(item, kk, vv) all_strings = all_strings && json_is_string(vv);
                if (i + 1 < argc && !all_strings)
                    return fail(msg, "error calling index: index of untyped nil");
                *res = all_strings ? json_string("") : json_null();
                if (i + 1 < argc) {
                    json_decref(*res);
                    *res = NULL;
                    return fail(msg, "error calling index: can't index item of type string");
                }
                return 0;
            }
            item = m;
        } else {
            return fail(msg, "error calling index: can't index item of type %s",
                        format_type_name(item));
        }
        if (!item || json_is_null(item)) {
            if (i + 1 < argc)
                return fail(msg, "error calling index: index of untyped nil");
        }
    }
    *res = json_incref(item);
    return 0;
}

static int fn_slice(json_t **argv, size_t argc, json_t **res, strbuf *msg)
{
    json_t *item = argv[0];
    if (!item || json_is_null(item))
        return fail(msg, "error calling slice: slice of untyped nil");
    bool str = json_is_string(item);
    if (!str && !json_is_array(item))
        return fail(msg, "error calling slice: can't slice item of type %s",
                    format_type_name(item));
    if (argc - 1 > 3)
        return fail(msg, "error calling slice: too many slice indexes: %zu", argc - 1);
    if (str && argc - 1 == 3)
        return fail(msg, "error calling slice: cannot 3-index slice a string");
    long long len = str ? (long long)json_string_length(item) : (long long)json_array_size(item);
    long long idx[3] = {0, len, len};
    for (size_t i = 1; i < argc; i++) {
        if (!argv[i] || !json_is_integer(argv[i]))
            return fail(msg, "error calling slice: cannot index slice/array with type %s",
                        format_type_name(argv[i]));
        idx[i - 1] = json_integer_value(argv[i]);
        if (idx[i - 1] < 0 || idx[i - 1] > len)
            return fail(msg, "error calling slice: index out of range: %lld", idx[i - 1]);
    }
    if (idx[0] > idx[1])
        return fail(msg, "error calling slice: invalid slice index: %lld > %lld", idx[0], idx[1]);
    if (argc - 1 == 3 && idx[1] > idx[2])
        return fail(msg, "error calling slice: invalid slice index: %lld > %lld", idx[1], idx[2]);
    if (str) {
        *res = str_value(json_string_value(item) + idx[0], (size_t)(idx[1] - idx[0]));
        return 0;
    }
    json_t *a = json_array();
    for (long long i = idx[0]; i < idx[1]; i++)
        json_array_append(a, json_array_get(item, (size_t)i));
    *res = a;
    return 0;
}

static void html_escape(strbuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '"':
            strbuf_addstr(out, "&#34;");
            break;
        case '\'':
            strbuf_addstr(out, "&#39;");
            break;
        case '&':
            strbuf_addstr(out, "&amp;");
            break;
        case '<':
            strbuf_addstr(out, "&lt;");
            break;
        case '>':
            strbuf_addstr(out, "&gt;");
            break;
        case '\0':
            strbuf_addstr(out, "\xef\xbf\xbd");
            break;
        default:
            strbuf_addch(out, s[i]);
        }
    }
}

static void query_escape(strbuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            strbuf_addch(out, (char)c);
        else if (c == ' ')
            strbuf_addch(out, '+');
        else
            strbuf_addf(out, "%%%02X", c);
    }
}

static bool is_title_separator(unsigned char c)
{
    /* strings.Title: letters, digits and '_' continue a word; ASCII
     * punctuation and spaces end one; other runes are taken as letters. */
    if (c >= 0x80)
        return false;
    return !(isalnum(c) || c == '_');
}

static int check_args(const char *name, size_t argc, size_t want, bool at_least, strbuf *msg)
{
    if (at_least ? argc < want : argc != want)
        return fail(msg, "wrong number of args for %s: want %s%zu got %zu", name,
                    at_least ? "at least " : "", want, argc);
    return 0;
}

static int want_string(const char *name, json_t *v, strbuf *msg)
{
    if (is_str(v))
        return 0;
    if (!v)
        return fail(msg, "invalid value; expected string");
    return fail(msg, "wrong type for value; expected string; got %s", format_type_name(v));
}

int format_call(const char *name, json_t **argv, size_t argc, bool header_mode, json_t **res,
                strbuf *msg)
{
    *res = NULL;
    int r;
    /* Docker renders table headers with these replaced by identity
     * functions, so "{{json .Labels}}" titles its column "LABELS". */
    static const char *const header_identity[] = {"json",  "split", "join",    "title",
                                                  "lower", "upper", "truncate"};
    if (header_mode) {
        for (size_t i = 0; i < sizeof(header_identity) / sizeof(header_identity[0]); i++) {
            if (strcmp(name, header_identity[i]) == 0) {
                if (argc == 0)
                    return fail(msg, "wrong number of args for %s: want 1 got 0", name);
                *res = argv[0] ? json_incref(argv[0]) : NULL;
                return 0;
            }
        }
    }
    strbuf sb = STRBUF_INIT;
    if (strcmp(name, "json") == 0) {
        if ((r = check_args(name, argc, 1, false, msg)))
            return r;
        format_json_encode(&sb, argv[0]);
        goto string_result;
    }
    if (strcmp(name, "print") == 0 || strcmp(name, "println") == 0) {
        sprint(&sb, argv, argc, name[5] == 'l');
        goto string_result;
    }
    if (strcmp(name, "printf") == 0) {
        if ((r = check_args(name, argc, 1, true, msg)) || (r = want_string(name, argv[0], msg)))
            return r;
        format_sprintf(&sb, json_string_value(argv[0]), json_string_length(argv[0]), argv + 1,
                       argc - 1);
        goto string_result;
    }
    if (strcmp(name, "html") == 0 || strcmp(name, "urlquery") == 0) {
        strbuf tmp = STRBUF_INIT;
        sprint(&tmp, argv, argc, false);
        if (name[0] == 'h')
            html_escape(&sb, strbuf_str(&tmp), tmp.len);
        else
            query_escape(&sb, strbuf_str(&tmp), tmp.len);
        strbuf_release(&tmp);
        goto string_result;
    }
    if (strcmp(name, "len") == 0) {
        if ((r = check_args(name, argc, 1, false, msg)))
            return r;
        json_t *v = argv[0];
        if (!v || json_is_null(v))
            return fail(msg, "error calling len: len of nil pointer");
        if (json_is_string(v))
            *res = json_integer((json_int_t)json_string_length(v));
        else if (json_is_array(v))
            *res = json_integer((json_int_t)json_array_size(v));
        else if (json_is_object(v))
            *res = json_integer((json_int_t)json_object_size(v));
        else
            return fail(msg, "error calling len: len of type %s", format_type_name(v));
        return 0;
    }
    if (strcmp(name, "index") == 0) {
        if ((r = check_args(name, argc, 1, true, msg)))
            return r;
        return fn_index(argv, argc, res, msg);
    }
    if (strcmp(name, "slice") == 0) {
        if ((r = check_args(name, argc, 1, true, msg)))
            return r;
        return fn_slice(argv, argc, res, msg);
    }
    if (strcmp(name, "not") == 0) {
        if ((r = check_args(name, argc, 1, false, msg)))
            return r;
        *res = json_boolean(!format_truth(argv[0]));
        return 0;
    }
    if (strcmp(name, "eq") == 0 || strcmp(name, "ne") == 0) {
        bool ne = name[0] == 'n';
        if ((r = check_args(name, argc, 1, true, msg)))
            return r;
        if (argc < 2)
            return fail(msg, "error calling %s: missing argument for comparison", name);
        if (ne && argc != 2)
            return fail(msg, "wrong number of args for ne: want 2 got %zu", argc);
        bool any = false;
        for (size_t i = 1; i < argc && !any; i++) {
            bool e;
            if ((r = go_eq(argv[0], argv[i], &e, msg))) {
                if (ne) { /* the message names the function called */
                    strbuf_reset(msg);
                    strbuf_addstr(msg, "error calling ne: incompatible types for comparison");
                }
                return r;
            }
            any = e;
        }
        *res = json_boolean(ne ? !any : any);
        return 0;
    }
    if (strcmp(name, "lt") == 0 || strcmp(name, "le") == 0 || strcmp(name, "gt") == 0 ||
        strcmp(name, "ge") == 0) {
        if ((r = check_args(name, argc, 2, false, msg)))
            return r;
        bool lt = false, eq = false;
        if ((r = go_lt(name, argv[0], argv[1], &lt, msg)))
            return r;
        if ((r = go_eq(argv[0], argv[1], &eq, msg)))
            return r;
        bool v = name[0] == 'l' ? (name[1] == 't' ? lt : lt || eq) : (name[1] == 't' ? !lt && !eq : !lt);
        *res = json_boolean(v);
        return 0;
    }
    if (strcmp(name, "join") == 0) {
        if ((r = check_args(name, argc, 2, false, msg)))
            return r;
        json_t *a = argv[0];
        if (a && !json_is_null(a) && !json_is_array(a))
            return fail(msg, "wrong type for value; expected []string; got %s",
                        format_type_name(a));
        if ((r = want_string(name, argv[1], msg)))
            return r;
        for (size_t i = 0; a && i < json_array_size(a); i++) {
            if (i)
                strbuf_add(&sb, json_string_value(argv[1]), json_string_length(argv[1]));
            format_print_value(&sb, json_array_get(a, i));
        }
        goto string_result;
    }
    if (strcmp(name, "split") == 0) {
        if ((r = check_args(name, argc, 2, false, msg)) || (r = want_string(name, argv[0], msg)) ||
            (r = want_string(name, argv[1], msg)))
            return r;
        const char *s = json_string_value(argv[0]), *sep = json_string_value(argv[1]);
        size_t n = json_string_length(argv[0]), sl = json_string_length(argv[1]);
        json_t *a = json_array();
        if (sl == 0) { /* strings.Split with "" splits after each UTF-8 sequence */
            for (size_t i = 0; i < n;) {
                unsigned long rr;
                size_t l = utf8_len((const unsigned char *)s + i, n - i, &rr);
                l = l ? l : 1;
                json_array_append_new(a, str_value(s + i, l));
                i += l;
            }
        } else {
            size_t start = 0;
            for (size_t i = 0; i + sl <= n;) {
                if (memcmp(s + i, sep, sl) == 0) {
                    json_array_append_new(a, str_value(s + start, i - start));
                    i += sl;
                    start = i;
                } else {
                    i++;
                }
            }
            json_array_append_new(a, str_value(s + start, n - start));
        }
        *res = a;
        return 0;
    }
    if (strcmp(name, "lower") == 0 || strcmp(name, "upper") == 0 || strcmp(name, "title") == 0) {
        if ((r = check_args(name, argc, 1, false, msg)) || (r = want_string(name, argv[0], msg)))
            return r;
        const char *s = json_string_value(argv[0]);
        size_t n = json_string_length(argv[0]);
        bool word_start = true;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (name[0] == 'l')
                c = (unsigned char)(c < 0x80 ? tolower(c) : c);
            else if (name[0] == 'u')
                c = (unsigned char)(c < 0x80 ? toupper(c) : c);
            else {
                bool sep = is_title_separator(c);
                if (word_start && !sep && c < 0x80)
                    c = (unsigned char)toupper(c);
                if ((c & 0xC0) != 0x80)
                    word_start = sep;
            }
            strbuf_addch(&sb, (char)c);
        }
        goto string_result;
    }
    if (strcmp(name, "truncate") == 0) {
        long long len;
        if ((r = check_args(name, argc, 2, false, msg)) || (r = want_string(name, argv[0], msg)))
            return r;
        if (!want_int(argv[1], &len))
            return fail(msg, "wrong type for value; expected int; got %s", go_type(argv[1]));
        size_t n = json_string_length(argv[0]);
        if ((long long)n > len) {
            if (len < 0)
                return fail(msg, "error calling truncate: runtime error: slice bounds out of "
                                 "range [:%lld]", len);
            n = (size_t)len;
        }
        strbuf_add(&sb, json_string_value(argv[0]), n);
        goto string_result;
    }
    if (strcmp(name, "pad") == 0) {
        long long pre, post;
        if ((r = check_args(name, argc, 3, false, msg)) || (r = want_string(name, argv[0], msg)))
            return r;
        if (!want_int(argv[1], &pre) || !want_int(argv[2], &post))
            return fail(msg, "wrong type for value; expected int; got %s",
                        go_type(want_int(argv[1], &pre) ? argv[2] : argv[1]));
        if (pre < 0 || post < 0)
            return fail(msg, "error calling pad: strings: negative Repeat count");
        if (pre > MAX_WIDTH || post > MAX_WIDTH)
            return fail(msg, "error calling pad: padding too large");
        for (long long i = 0; i < pre; i++)
            strbuf_addch(&sb, ' ');
        strbuf_add(&sb, json_string_value(argv[0]), json_string_length(argv[0]));
        for (long long i = 0; i < post; i++)
            strbuf_addch(&sb, ' ');
        goto string_result;
    }
    return fail(msg, "function \"%s\" not defined", name);

string_result:
    *res = str_value(strbuf_str(&sb), sb.len);
    strbuf_release(&sb);
    return 0;
}
