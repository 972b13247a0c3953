/*
 * parse.c — lexer and parser for Go text/template syntax.
 *
 * Mirrors the structure of Go's text/template/parse so that the same
 * templates are accepted and rejected with the same messages
 * ("template: :1: unexpected \"}\" in operand"). The lexer runs over the
 * whole text first; a lexing error becomes an error token, reported only
 * when the parser reaches it, so an earlier syntax error wins as in Go.
 *
 * Every syntax-tree allocation is recorded in the parser's arena list and
 * the parser bails out with longjmp on the first error: nothing has to be
 * unwound by hand, the arena is freed in one place.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <string.h>

enum tok {
    T_ERROR,
    T_EOF,
    T_TEXT,
    T_LDELIM,
    T_RDELIM,
    T_SPACE,
    T_IDENT,
    T_FIELD,
    T_VAR,
    T_DOT,
    T_STRING,
    T_RAW,
    T_CHARCONST,
    T_NUMBER,
    T_BOOL,
    T_NIL,
    T_PIPE,
    T_LPAREN,
    T_RPAREN,
    T_DECLARE,
    T_ASSIGN,
    T_COMMA,
    T_CHAR,
    /* keywords */
    T_IF,
    T_ELSE,
    T_END,
    T_RANGE,
    T_WITH,
    T_BREAK,
    T_CONTINUE,
    T_DEFINE,
    T_TEMPLATE,
    T_BLOCK,
};

struct token {
    enum tok type;
    size_t pos, len; /* for T_ERROR, pos/len index the message in lexer.msgs */
    int line;
};

struct lexer {
    const char *s;
    size_t n, pos;
    int line;
    struct token *toks;
    size_t ntoks, cap;
    int paren_depth;
    char errmsg[256];
};

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alnum(int c)
{
    /* Go allows Unicode letters; any non-ASCII byte is taken as part of one. */
    return c == '_' || isalnum(c) || (c & 0x80);
}

static void emit(struct lexer *l, enum tok type, size_t start, size_t end, int line)
{
    if (l->ntoks == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->toks = xrealloc(l->toks, l->cap * sizeof(*l->toks));
    }
    l->toks[l->ntoks++] = (struct token){type, start, end - start, line};
}

static void count_lines(struct lexer *l, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (l->s[i] == '\n')
            l->line++;
}

WHARF_PRINTF(2, 3) static void lex_error(struct lexer *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->errmsg, sizeof(l->errmsg), fmt, ap);
    va_end(ap);
    emit(l, T_ERROR, l->pos, l->pos, l->line);
}

static bool at(const struct lexer *l, size_t pos, const char *lit)
{
    size_t k = strlen(lit);
    return pos + k <= l->n && memcmp(l->s + pos, lit, k) == 0;
}

/* " -}}" or "}}" at pos: returns the length of the delimiter, 0 if none. */
static size_t right_delim_at(const struct lexer *l, size_t pos, bool *trim)
{
    if (pos + 4 <= l->n && is_space((unsigned char)l->s[pos]) && l->s[pos + 1] == '-' &&
        at(l, pos + 2, "}}")) {
        *trim = true;
        return 4;
    }
    *trim = false;
    return at(l, pos, "}}") ? 2 : 0;
}

static bool at_terminator(const struct lexer *l)
{
    if (l->pos >= l->n)
        return true;
    int c = (unsigned char)l->s[l->pos];
    /* Like Go, the first character of the right delimiter ends a word, so
     * "{{.Name}" fails in the parser with `unexpected "}" in operand`. */
    return is_space(c) || strchr(".,|:()}", c);
}

static void describe_rune(char *buf, size_t len, int c)
{
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, len, "U+%04X '%c'", c, c);
    else
        snprintf(buf, len, "U+%04X", c);
}

static size_t skip_number(const struct lexer *l, size_t p)
{
    if (p < l->n && (l->s[p] == '+' || l->s[p] == '-'))
        p++;
    const char *digits = "0123456789_";
    bool decimal = true;
    if (p + 1 < l->n && l->s[p] == '0' && strchr("xXoObB", l->s[p + 1])) {
        char k = (char)tolower((unsigned char)l->s[p + 1]);
        p += 2;
        decimal = false;
        digits = k == 'x' ? "0123456789abcdefABCDEF_" : k == 'o' ? "01234567_" : "01_";
    }
    while (p < l->n && strchr(digits, l->s[p]) && l->s[p])
        p++;
    if (p < l->n && l->s[p] == '.') {
        p++;
        while (p < l->n && strchr(digits, l->s[p]) && l->s[p])
            p++;
    }
    if (decimal && p < l->n && (l->s[p] == 'e' || l->s[p] == 'E')) {
        p++;
        if (p < l->n && (l->s[p] == '+' || l->s[p] == '-'))
            p++;
        while (p < l->n && isdigit((unsigned char)l->s[p]))
            p++;
    }
    return p;
}

/* Lexes one action starting after "{{" (and its trim marker). Returns false
 * after an error token. */
static bool lex_action(struct lexer *l)
{
    for (;;) {
        bool trim;
        size_t dl = right_delim_at(l, l->pos, &trim);
        if (dl) {
            if (l->paren_depth) {
                lex_error(l, "unclosed left paren");
                return false;
            }
            emit(l, T_RDELIM, l->pos, l->pos + dl, l->line);
            l->pos += dl;
            if (trim) {
                size_t p = l->pos;
                while (p < l->n && is_space((unsigned char)l->s[p]))
                    p++;
                count_lines(l, l->pos, p);
                l->pos = p;
            }
            return true;
        }
        if (l->pos >= l->n) {
            lex_error(l, "unclosed action");
            return false;
        }
        size_t start = l->pos;
        int line = l->line;
        int c = (unsigned char)l->s[l->pos];
        if (is_space(c)) {
            size_t p = l->pos;
            while (p < l->n && is_space((unsigned char)l->s[p]))
                p++;
            /* A space directly before "-}}" belongs to the delimiter. */
            if (at(l, p, "-}}"))
                p--;
            count_lines(l, l->pos, p);
            l->pos = p;
            if (p > start)
                emit(l, T_SPACE, start, p, line);
            continue;
        }
        switch (c) {
        case '=':
            l->pos++;
            emit(l, T_ASSIGN, start, l->pos, line);
            continue;
        case ':':
            if (!at(l, l->pos + 1, "=")) {
                lex_error(l, "expected :=");
                return false;
            }
            l->pos += 2;
            emit(l, T_DECLARE, start, l->pos, line);
            continue;
        case '|':
            l->pos++;
            emit(l, T_PIPE, start, l->pos, line);
            continue;
        case ',':
            l->pos++;
            emit(l, T_COMMA, start, l->pos, line);
            continue;
        case '(':
            l->pos++;
            l->paren_depth++;
            emit(l, T_LPAREN, start, l->pos, line);
            continue;
        case ')':
            l->pos++;
            if (--l->paren_depth < 0) {
                lex_error(l, "unexpected right paren");
                return false;
            }
            emit(l, T_RPAREN, start, l->pos, line);
            continue;
        case '"':
        case '\'': {
            size_t p = l->pos + 1;
            for (;;) {
                if (p >= l->n || l->s[p] == '\n') {
                    lex_error(l, c == '"' ? "unterminated quoted string"
                                          : "unterminated character constant");
                    return false;
                }
                if (l->s[p] == '\\') {
                    p += 2;
                    continue;
                }
                if (l->s[p] == c)
                    break;
                p++;
            }
            l->pos = p + 1;
            emit(l, c == '"' ? T_STRING : T_CHARCONST, start, l->pos, line);
            continue;
        }
        case '`': {
            const char *e = memchr(l->s + l->pos + 1, '`', l->n - l->pos - 1);
            if (!e) {
                lex_error(l, "unterminated raw quoted string");
                return false;
            }
            size_t p = (size_t)(e - l->s) + 1;
            count_lines(l, l->pos, p);
            l->pos = p;
            emit(l, T_RAW, start, p, line);
            continue;
        }
        default:
            break;
        }
        if (c == '$' || (c == '.' && !(l->pos + 1 < l->n && isdigit((unsigned char)l->s[l->pos + 1])))) {
            l->pos++;
            while (l->pos < l->n && is_alnum((unsigned char)l->s[l->pos]))
                l->pos++;
            if (c == '.' && l->pos == start + 1) {
                emit(l, T_DOT, start, l->pos, line);
                continue;
            }
            if (!at_terminator(l)) {
                char d[32];
                describe_rune(d, sizeof(d), (unsigned char)l->s[l->pos]);
                lex_error(l, "bad character %s", d);
                return false;
            }
            emit(l, c == '$' ? T_VAR : T_FIELD, start, l->pos, line);
            continue;
        }
        if (c == '+' || c == '-' || c == '.' || isdigit(c)) {
            size_t p = skip_number(l, l->pos);
            if (p < l->n && is_alnum((unsigned char)l->s[p])) {
                p++;
                lex_error(l, "bad number syntax: \"%.*s\"", (int)(p - start), l->s + start);
                return false;
            }
            if (p == start + 1 && (c == '+' || c == '-')) {
                lex_error(l, "bad number syntax: \"%c\"", c);
                return false;
            }
            l->pos = p;
            emit(l, T_NUMBER, start, p, line);
            continue;
        }
        if (is_alnum(c)) {
            while (l->pos < l->n && is_alnum((unsigned char)l->s[l->pos]))
                l->pos++;
            if (!at_terminator(l)) {
                char d[32];
                describe_rune(d, sizeof(d), (unsigned char)l->s[l->pos]);
                lex_error(l, "bad character %s", d);
                return false;
            }
            static const struct {
                const char *word;
                enum tok type;
            } words[] = {
                {"if", T_IF},       {"else", T_ELSE},         {"end", T_END},
                {"range", T_RANGE}, {"with", T_WITH},         {"break", T_BREAK},
                {"continue", T_CONTINUE}, {"define", T_DEFINE}, {"template", T_TEMPLATE},
                {"block", T_BLOCK}, {"true", T_BOOL},         {"false", T_BOOL},
                {"nil", T_NIL},
            };
            enum tok type = T_IDENT;
            size_t len = l->pos - start;
            for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strlen(words[i].word) == len && memcmp(words[i].word, l->s + start, len) == 0)
                    type = words[i].type;
            emit(l, type, start, l->pos, line);
            continue;
        }
        if (c >= 0x20 && c < 0x7f) {
            l->pos++;
            emit(l, T_CHAR, start, l->pos, line);
            continue;
        }
        char d[32];
        describe_rune(d, sizeof(d), c);
        lex_error(l, "unrecognized character in action: %s", d);
        return false;
    }
}

static void lex(struct lexer *l)
{
    while (l->pos < l->n) {
        const char *open = memmem(l->s + l->pos, l->n - l->pos, "{{", 2);
        size_t text_end = open ? (size_t)(open - l->s) : l->n;
        size_t after = text_end + 2;
        bool ltrim = open && after + 1 < l->n + 0 && l->s[after] == '-' &&
                     is_space((unsigned char)l->s[after + 1]);
        size_t te = text_end;
        if (ltrim)
            while (te > l->pos && is_space((unsigned char)l->s[te - 1]))
                te--;
        int line = l->line;
        count_lines(l, l->pos, text_end);
        if (te > l->pos)
            emit(l, T_TEXT, l->pos, te, line);
        if (!open) {
            l->pos = l->n;
            break;
        }
        l->pos = ltrim ? after + 2 : after;
        if (at(l, l->pos, "/*")) {
            const char *close = memmem(l->s + l->pos + 2, l->n - l->pos - 2, "*/", 2);
            if (!close) {
                lex_error(l, "unclosed comment");
                return;
            }
            size_t p = (size_t)(close - l->s) + 2;
            count_lines(l, l->pos, p);
            l->pos = p;
            bool trim;
            size_t dl = right_delim_at(l, p, &trim);
            if (!dl) {
                lex_error(l, "comment ends before closing delimiter");
                return;
            }
            l->pos += dl;
            if (trim)
                while (l->pos < l->n && is_space((unsigned char)l->s[l->pos]))
                    l->line += l->s[l->pos++] == '\n';
            continue;
        }
        emit(l, T_LDELIM, text_end, l->pos, l->line);
        l->paren_depth = 0;
        if (!lex_action(l))
            return;
    }
    emit(l, T_EOF, l->n, l->n, l->line);
}

/* ------------------------------------------------------------ parser */

struct parser {
    format_template *t;
    struct lexer lx;
    size_t i;    /* next token */
    int line;    /* line of the last token read, for messages */
    const char **vars;
    size_t nvars, vars_cap;
    int range_depth;
    int depth;
    wharf_error *err;
    jmp_buf jb;
    void **allocs;
    size_t nallocs, allocs_cap;
};

#define MAX_DEPTH 200

static void *palloc(struct parser *p, size_t n)
{
    if (p->nallocs == p->allocs_cap) {
        p->allocs_cap = p->allocs_cap ? p->allocs_cap * 2 : 64;
        p->allocs = xrealloc(p->allocs, p->allocs_cap * sizeof(void *));
    }
    void *m = xcalloc(1, n ? n : 1);
    p->allocs[p->nallocs++] = m;
    return m;
}

/* Appends to a palloc'd array, doubling: old blocks stay in the arena. */
static void *push(struct parser *p, void *arr, size_t *n, size_t elem, const void *item)
{
    size_t cnt = *n;
    if ((cnt & (cnt - 1)) == 0) { /* 0, 1, 2, 4, ...: full */
        void *bigger = palloc(p, (cnt ? cnt * 2 : 1) * elem);
        if (cnt)
            memcpy(bigger, arr, cnt * elem);
        arr = bigger;
    }
    memcpy((char *)arr + cnt * elem, item, elem);
    *n = cnt + 1;
    return arr;
}

static char *pstrndup(struct parser *p, const char *s, size_t n)
{
    char *c = palloc(p, n + 1);
    memcpy(c, s, n);
    return c;
}

WHARF_PRINTF(2, 3) __attribute__((noreturn)) static void perr(struct parser *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wharf_error_set(p->err, EINVAL, "template: :%d: %s", p->line, msg);
    longjmp(p->jb, 1);
}

static struct token *peek(struct parser *p)
{
    return &p->lx.toks[p->i];
}

static struct token *next(struct parser *p)
{
    struct token *t = &p->lx.toks[p->i];
    p->line = t->line;
    if (t->type == T_ERROR)
        perr(p, "%s", p->lx.errmsg);
    if (t->type != T_EOF)
        p->i++;
    return t;
}

static void backup(struct parser *p)
{
    p->i--;
}

static struct token *peek_nonspace(struct parser *p)
{
    if (peek(p)->type == T_SPACE)
        p->i++;
    return peek(p);
}

static struct token *next_nonspace(struct parser *p)
{
    struct token *t = next(p);
    if (t->type == T_SPACE)
        t = next(p);
    return t;
}

/* How Go's lexer items print in messages. */
static void describe(struct parser *p, const struct token *t, char *buf, size_t len)
{
    const char *s = p->lx.s + t->pos;
    switch (t->type) {
    case T_EOF:
        snprintf(buf, len, "EOF");
        break;
    case T_ERROR:
        snprintf(buf, len, "%s", p->lx.errmsg);
        break;
    case T_IF ... T_BLOCK:
        snprintf(buf, len, "<%.*s>", (int)t->len, s);
        break;
    default:
        if (t->len > 10)
            snprintf(buf, len, "%.10s...", s);
        else
            snprintf(buf, len, "\"%.*s\"", (int)t->len, s);
        break;
    }
}

__attribute__((noreturn)) static void unexpected(struct parser *p, const struct token *t,
                                                 const char *context)
{
    if (t->type == T_ERROR)
        perr(p, "%s", p->lx.errmsg);
    char d[64];
    describe(p, t, d, sizeof(d));
    perr(p, "unexpected %s in %s", d, context);
}

static struct token *expect(struct parser *p, enum tok type, const char *context)
{
    struct token *t = next_nonspace(p);
    if (t->type != type)
        unexpected(p, t, context);
    return t;
}

static void push_var(struct parser *p, const char *name)
{
    if (p->nvars == p->vars_cap) {
        p->vars_cap = p->vars_cap ? p->vars_cap * 2 : 16;
        p->vars = xrealloc(p->vars, p->vars_cap * sizeof(*p->vars));
    }
    p->vars[p->nvars++] = name;
}

static bool have_var(struct parser *p, const char *name)
{
    for (size_t i = p->nvars; i-- > 0;)
        if (strcmp(p->vars[i], name) == 0)
            return true;
    return false;
}

static int unhex(int c)
{
    if (isdigit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(strbuf *sb, unsigned long r)
{
    if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
        r = 0xFFFD;
    if (r < 0x80) {
        strbuf_addch(sb, (char)r);
    } else if (r < 0x800) {
        strbuf_addch(sb, (char)(0xC0 | (r >> 6)));
        strbuf_addch(sb, (char)(0x80 | (r & 0x3F)));
    } else if (r < 0x10000) {
        strbuf_addch(sb, (char)(0xE0 | (r >> 12)));
        strbuf_addch(sb, (char)(0x80 | ((r >> 6) & 0x3F)));
        strbuf_addch(sb, (char)(0x80 | (r & 0x3F)));
    } else {
        strbuf_addch(sb, (char)(0xF0 | (r >> 18)));
        strbuf_addch(sb, (char)(0x80 | ((r >> 12) & 0x3F)));
        strbuf_addch(sb, (char)(0x80 | ((r >> 6) & 0x3F)));
        strbuf_addch(sb, (char)(0x80 | (r & 0x3F)));
    }
}

/* strconv.Unquote for "..." and '...' bodies (quotes stripped). Returns
 * false on a malformed escape. */
static bool unquote(const char *s, size_t n, char quote, strbuf *out)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c != '\\') {
            if (c == (unsigned char)quote)
                return false;
            strbuf_addch(out, (char)c);
            i++;
            continue;
        }
        if (++i >= n)
            return false;
        c = (unsigned char)s[i++];
        const char *simple = strchr("abfnrtv\\'\"", c);
        if (c && simple) {
            if ((c == '\'' && quote != '\'') || (c == '"' && quote != '"'))
                return false;
            static const char map[] = "\a\b\f\n\r\t\v\\'\"";
            strbuf_addch(out, map[simple - "abfnrtv\\'\""]);
            continue;
        }
        int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
        if (digits) {
            unsigned long v = 0;
            for (int k = 0; k < digits; k++, i++) {
                if (i >= n || unhex((unsigned char)s[i]) < 0)
                    return false;
                v = v * 16 + (unsigned long)unhex((unsigned char)s[i]);
            }
            if (c == 'x')
                strbuf_addch(out, (char)v);
            else if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return false;
            else
                put_utf8(out, v);
            continue;
        }
        if (c >= '0' && c <= '7') {
            unsigned v = c - '0';
            for (int k = 0; k < 2; k++, i++) {
                if (i >= n || s[i] < '0' || s[i] > '7')
                    return false;
                v = v * 8 + (unsigned)(s[i] - '0');
            }
            if (v > 255)
                return false;
            strbuf_addch(out, (char)v);
            continue;
        }
        return false;
    }
    return true;
}

/* Decodes one UTF-8 character; returns its length (1 for a bad byte). */
static size_t utf8_decode(const char *s, size_t n, unsigned long *r)
{
    unsigned char c = (unsigned char)s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n) {
        *r = 0xFFFD;
        return 1;
    }
    unsigned long v = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; k++) {
        if (((unsigned char)s[k] & 0xC0) != 0x80) {
            *r = 0xFFFD;
            return 1;
        }
        v = (v << 6) | ((unsigned char)s[k] & 0x3F);
    }
    *r = v;
    return len;
}

static struct operand *new_operand(struct parser *p, enum operand_kind kind, const struct token *t)
{
    struct operand *o = palloc(p, sizeof(*o));
    o->kind = kind;
    o->pos = t->pos;
    o->end = t->pos + t->len;
    return o;
}

static void parse_number(struct parser *p, struct operand *o, const char *s, size_t n)
{
    /* Arena copies: perr() longjmps, so nothing here may need freeing. */
    char *text = pstrndup(p, s, n);
    /* Go treats a literal with '.', or an exponent in a decimal literal, as a
     * float constant; everything else must be an integer. */
    bool hex = n > 2 && (text[0] == '0' || text[1] == '0') && strpbrk(text, "xX");
    bool is_float = strchr(text, '.') || (!hex && strpbrk(text, "eE"));
    char *clean = palloc(p, n + 1), *w = clean;
    for (const char *r = text; *r; r++)
        if (*r != '_')
            *w++ = *r;
    *w = '\0';
    char *end;
    errno = 0;
    if (is_float) {
        o->kind = OP_FLOAT;
        o->fval = strtod(clean, &end);
    } else {
        o->kind = OP_INT;
        const char *digits = clean;
        bool neg = false;
        if (*digits == '+' || *digits == '-')
            neg = *digits++ == '-';
        int base = 10;
        if (digits[0] == '0' && digits[1]) {
            char k = (char)tolower((unsigned char)digits[1]);
            base = k == 'x' ? 16 : k == 'o' ? 8 : k == 'b' ? 2 : 8;
            digits += (k == 'x' || k == 'o' || k == 'b') ? 2 : 1;
        }
        unsigned long long v = *digits ? strtoull(digits, &end, base) : (end = (char *)digits, 0);
        if (digits == end && base != 8)
            end = (char *)digits - 1; /* "0x" alone */
        if (!errno && v > (unsigned long long)LLONG_MAX + (neg ? 1 : 0))
            errno = ERANGE;
        o->ival = neg ? (long long)(0 - v) : (long long)v;
    }
    if (errno || *end)
        perr(p, "illegal number syntax: \"%s\"", text);
}

static struct pipeline *parse_pipeline(struct parser *p, const char *context, enum tok end_tok,
                                       bool allow_two_decls);

static struct operand *parse_term(struct parser *p)
{
    struct token *t = next_nonspace(p);
    const char *s = p->lx.s + t->pos;
    struct operand *o;
    switch (t->type) {
    case T_IDENT:
        if (!format_func_known(s, t->len))
            perr(p, "function \"%.*s\" not defined", (int)t->len, s);
        o = new_operand(p, OP_FUNC, t);
        o->name = pstrndup(p, s, t->len);
        return o;
    case T_DOT:
        return new_operand(p, OP_DOT, t);
    case T_NIL:
        return new_operand(p, OP_NIL, t);
    case T_VAR:
        o = new_operand(p, OP_VARIABLE, t);
        o->name = pstrndup(p, s, t->len);
        if (!have_var(p, o->name))
            perr(p, "undefined variable \"%s\"", o->name);
        return o;
    case T_FIELD:
        o = new_operand(p, OP_FIELD, t);
        o->fields = push(p, o->fields, &o->nfields, sizeof(char *),
                         &(char *){pstrndup(p, s + 1, t->len - 1)});
        return o;
    case T_BOOL:
        o = new_operand(p, OP_BOOL, t);
        o->bval = t->len == 4;
        return o;
    case T_NUMBER:
        o = new_operand(p, OP_INT, t);
        parse_number(p, o, s, t->len);
        return o;
    case T_CHARCONST: {
        o = new_operand(p, OP_INT, t);
        strbuf sb = STRBUF_INIT;
        unsigned long r = 0;
        bool ok = unquote(s + 1, t->len - 2, '\'', &sb) && sb.len > 0 &&
                  utf8_decode(sb.buf, sb.len, &r) == sb.len;
        strbuf_release(&sb);
        if (!ok)
            perr(p, "malformed character constant: %.*s", (int)t->len, s);
        o->ival = (long long)r;
        return o;
    }
    case T_STRING:
    case T_RAW: {
        o = new_operand(p, OP_STRING, t);
        if (t->type == T_RAW) {
            o->name = pstrndup(p, s + 1, t->len - 2);
            o->name_len = t->len - 2;
            return o;
        }
        strbuf sb = STRBUF_INIT;
        bool ok = unquote(s + 1, t->len - 2, '"', &sb);
        o->name = pstrndup(p, strbuf_str(&sb), sb.len);
        o->name_len = sb.len;
        strbuf_release(&sb);
        if (!ok)
            perr(p, "invalid syntax");
        return o;
    }
    case T_LPAREN: {
        if (++p->depth > MAX_DEPTH)
            perr(p, "max expression depth exceeded");
        o = new_operand(p, OP_PIPE, t);
        o->pipe = parse_pipeline(p, "parenthesized pipeline", T_RPAREN, false);
        struct token *close = expect(p, T_RPAREN, "parenthesized pipeline");
        o->end = close->pos + close->len;
        p->depth--;
        return o;
    }
    default:
        backup(p);
        return NULL;
    }
}

static struct operand *parse_operand(struct parser *p)
{
    struct operand *o = parse_term(p);
    if (!o)
        return NULL;
    if (peek(p)->type != T_FIELD)
        return o;
    switch (o->kind) {
    case OP_FIELD:
    case OP_VARIABLE:
        break;
    case OP_PIPE:
        o->kind = OP_CHAIN;
        break;
    default: {
        (void)next(p);
        perr(p, "unexpected . after term %.*s", (int)(o->end - o->pos), p->lx.s + o->pos);
    }
    }
    while (peek(p)->type == T_FIELD) {
        struct token *f = next(p);
        o->fields = push(p, o->fields, &o->nfields, sizeof(char *),
                         &(char *){pstrndup(p, p->lx.s + f->pos + 1, f->len - 1)});
        o->end = f->pos + f->len;
    }
    return o;
}

static struct command *parse_command(struct parser *p)
{
    struct command *c = palloc(p, sizeof(*c));
    c->pos = peek_nonspace(p)->pos;
    for (;;) {
        peek_nonspace(p);
        struct operand *o = parse_operand(p);
        if (o) {
            c->args = push(p, c->args, &c->nargs, sizeof(o), &o);
            c->end = o->end;
        }
        struct token *t = next(p);
        if (t->type == T_SPACE)
            continue;
        if (t->type == T_RDELIM || t->type == T_RPAREN) {
            backup(p);
        } else if (t->type != T_PIPE) {
            unexpected(p, t, "operand");
        }
        break;
    }
    if (c->nargs == 0)
        perr(p, "empty command");
    return c;
}

static void check_pipeline(struct parser *p, struct pipeline *pl, const char *context)
{
    if (pl->ncmds == 0)
        perr(p, "missing value for %s", context);
    for (size_t i = 1; i < pl->ncmds; i++) {
        enum operand_kind k = pl->cmds[i]->args[0]->kind;
        if (k == OP_BOOL || k == OP_DOT || k == OP_NIL || k == OP_INT || k == OP_FLOAT ||
            k == OP_STRING)
            perr(p, "non executable command in pipeline stage %zu", i + 1);
    }
}

static struct pipeline *parse_pipeline(struct parser *p, const char *context, enum tok end_tok,
                                       bool allow_two_decls)
{
    struct pipeline *pl = palloc(p, sizeof(*pl));
    struct token *first = peek_nonspace(p);
    pl->pos = first->pos;
    /* Declarations: "$x :=", "$x =", and in range "$i, $e :=". */
    if (first->type == T_VAR) {
        size_t save = p->i;
        struct token *v = next(p);
        struct token *t2 = next_nonspace(p);
        if (t2->type == T_DECLARE || t2->type == T_ASSIGN ||
            (t2->type == T_COMMA && allow_two_decls)) {
            char *name = pstrndup(p, p->lx.s + v->pos, v->len);
            pl->decl[pl->ndecl++] = name;
            if (t2->type == T_COMMA) {
                struct token *v2 = next_nonspace(p);
                if (v2->type != T_VAR)
                    perr(p, "range can only initialize variables");
                pl->decl[pl->ndecl++] = pstrndup(p, p->lx.s + v2->pos, v2->len);
                t2 = next_nonspace(p);
                if (t2->type == T_COMMA)
                    perr(p, "too many declarations in %s", context);
                if (t2->type != T_DECLARE && t2->type != T_ASSIGN)
                    unexpected(p, t2, context);
            }
            pl->assign = t2->type == T_ASSIGN;
            for (size_t k = 0; k < pl->ndecl; k++) {
                if (pl->assign) {
                    if (!have_var(p, pl->decl[k]))
                        perr(p, "undefined variable \"%s\"", pl->decl[k]);
                } else {
                    push_var(p, pl->decl[k]);
                }
            }
        } else if (t2->type == T_COMMA) {
            perr(p, "too many declarations in %s", context);
        } else {
            p->i = save;
        }
    }
    for (;;) {
        struct token *t = next_nonspace(p);
        if (t->type == end_tok) {
            backup(p);
            check_pipeline(p, pl, context);
            pl->end = t->pos;
            return pl;
        }
        switch (t->type) {
        case T_BOOL:
        case T_CHARCONST:
        case T_DOT:
        case T_FIELD:
        case T_IDENT:
        case T_NUMBER:
        case T_NIL:
        case T_RAW:
        case T_STRING:
        case T_VAR:
        case T_LPAREN: {
            backup(p);
            struct command *c = parse_command(p);
            pl->cmds = push(p, pl->cmds, &pl->ncmds, sizeof(c), &c);
            break;
        }
        default:
            unexpected(p, t, context);
        }
    }
}

static struct node *new_node(struct parser *p, enum node_kind kind, size_t pos)
{
    struct node *n = palloc(p, sizeof(*n));
    n->kind = kind;
    n->pos = pos;
    return n;
}

/* Marker results of parse_item_list: which token ended the list. */
enum list_end { END_EOF, END_END, END_ELSE };

static struct node_list *parse_list(struct parser *p, enum list_end *how);

static struct node *parse_control(struct parser *p, enum node_kind kind, const char *context,
                                  size_t pos)
{
    if (++p->depth > MAX_DEPTH)
        perr(p, "max expression depth exceeded");
    size_t mark = p->nvars;
    struct node *n = new_node(p, kind, pos);
    n->pipe = parse_pipeline(p, context, T_RDELIM, kind == NODE_RANGE);
    expect(p, T_RDELIM, context);
    if (kind == NODE_RANGE)
        p->range_depth++;
    enum list_end how;
    n->list = parse_list(p, &how);
    if (kind == NODE_RANGE)
        p->range_depth--;
    if (how == END_ELSE) {
        /* "{{else if ...}}" is an else whose list is one nested if, closed by
         * the same {{end}}; likewise "{{else with ...}}". */
        struct token *t = peek_nonspace(p);
        if ((kind == NODE_IF && t->type == T_IF) || (kind == NODE_WITH && t->type == T_WITH)) {
            struct token *kw = next(p);
            n->else_list = palloc(p, sizeof(*n->else_list));
            struct node *inner = parse_control(p, kind, context, kw->pos);
            n->else_list->nodes =
                push(p, n->else_list->nodes, &n->else_list->n, sizeof(inner), &inner);
        } else {
            expect(p, T_RDELIM, "else");
            n->else_list = parse_list(p, &how);
            if (how != END_END)
                perr(p, "expected end; found {{else}}");
        }
    }
    p->nvars = mark;
    p->depth--;
    return n;
}

/* Parses text and actions until {{end}}, {{else}} or EOF (which is an
 * error: only the top level may end there and it does not call this). */
static struct node_list *parse_list(struct parser *p, enum list_end *how)
{
    struct node_list *l = palloc(p, sizeof(*l));
    for (;;) {
        struct token *t = next(p);
        struct node *n = NULL;
        if (t->type == T_EOF) {
            if (how == NULL)
                return l;
            perr(p, "unexpected EOF");
        }
        if (t->type == T_TEXT) {
            n = new_node(p, NODE_TEXT, t->pos);
            n->text = (char *)p->lx.s + t->pos;
            n->text_len = t->len;
        } else if (t->type == T_LDELIM) {
            struct token *k = next_nonspace(p);
            switch (k->type) {
            case T_END:
                expect(p, T_RDELIM, "end");
                if (!how)
                    perr(p, "unexpected {{end}}");
                *how = END_END;
                return l;
            case T_ELSE:
                if (!how)
                    perr(p, "unexpected {{else}}");
                *how = END_ELSE;
                return l;
            case T_IF:
                n = parse_control(p, NODE_IF, "if", k->pos);
                break;
            case T_RANGE:
                n = parse_control(p, NODE_RANGE, "range", k->pos);
                break;
            case T_WITH:
                n = parse_control(p, NODE_WITH, "with", k->pos);
                break;
            case T_BREAK:
            case T_CONTINUE:
                if (p->range_depth == 0)
                    perr(p, "{{%s}} outside {{range}}", k->type == T_BREAK ? "break" : "continue");
                expect(p, T_RDELIM, k->type == T_BREAK ? "{{break}}" : "{{continue}}");
                n = new_node(p, k->type == T_BREAK ? NODE_BREAK : NODE_CONTINUE, k->pos);
                break;
            case T_DEFINE:
            case T_TEMPLATE:
            case T_BLOCK:
                perr(p, "{{%.*s}} is not supported", (int)k->len, p->lx.s + k->pos);
            default:
                backup(p);
                n = new_node(p, NODE_ACTION, k->pos);
                n->pipe = parse_pipeline(p, "command", T_RDELIM, false);
                expect(p, T_RDELIM, "command");
                break;
            }
        } else {
            unexpected(p, t, "input");
        }
        l->nodes = push(p, l->nodes, &l->n, sizeof(n), &n);
    }
}

static void free_allocs(void **allocs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(allocs[i]);
    free(allocs);
}

/* The arena lives behind the template's root pointer: format_free_list is
 * handed the root, which is the first allocation, and frees the lot. */
struct arena_root {
    struct node_list list; /* must be first */
    void **allocs;
    size_t nallocs;
};

int format_parse(format_template *t, wharf_error *err)
{
    /* On the heap: after longjmp only memory reached through a pointer that
     * was not changed since setjmp is reliable. */
    struct parser *const p = xcalloc(1, sizeof(*p));
    p->t = t;
    p->err = err;
    p->line = 1;
    p->lx.s = t->src;
    p->lx.n = t->src_len;
    p->lx.line = 1;
    lex(&p->lx);
    struct arena_root *root = palloc(p, sizeof(*root));
    push_var(p, "$");
    int r = 0;
    if (setjmp(p->jb)) {
        free_allocs(p->allocs, p->nallocs);
        r = -EINVAL;
    } else {
        struct node_list *l = parse_list(p, NULL);
        root->list = *l;
        root->allocs = p->allocs;
        root->nallocs = p->nallocs;
        t->root = &root->list;
    }
    free(p->lx.toks);
    free(p->vars);
    free(p);
    return r;
}

void format_free_list(struct node_list *l)
{
    if (!l)
        return;
    struct arena_root *root = (struct arena_root *)l;
    free_allocs(root->allocs, root->nallocs);
}
