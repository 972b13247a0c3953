/*
 * exec.c — walks a parsed template over a JSON value, as Go's
 * text/template/exec.go does over Go values.
 *
 * Values are jansson references; a NULL json_t * is Go's invalid value (a
 * missing map key), which prints as "<no value>" and is false, while a JSON
 * null is a nil interface ("<nil>"). Execution is bounded (steps and output
 * size) so a hostile --format cannot hang or exhaust the CLI.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define MAX_STEPS 20000000UL
#define MAX_OUTPUT (64UL << 20)

/* walk() results besides 0 and -errno */
#define WALK_BREAK 1
#define WALK_CONTINUE 2

struct var {
    const char *name;
    json_t *val; /* owned reference, may be NULL */
};

struct exec {
    const format_template *t;
    strbuf *out;
    size_t out_start;
    wharf_error *err;
    struct var *vars;
    size_t nvars, cap;
    unsigned long steps;
    /* header mode: fields of header_root are column titles */
    bool header;
    json_t *header_root;
    const format_header *headers;
};

static void push_var(struct exec *e, const char *name, json_t *val)
{
    if (e->nvars == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->vars = xrealloc(e->vars, e->cap * sizeof(*e->vars));
    }
    e->vars[e->nvars++] = (struct var){name, val ? json_incref(val) : NULL};
}

static void pop_vars(struct exec *e, size_t mark)
{
    while (e->nvars > mark) {
        e->nvars--;
        json_decref(e->vars[e->nvars].val);
    }
}

static struct var *find_var(struct exec *e, const char *name)
{
    for (size_t i = e->nvars; i-- > 0;)
        if (strcmp(e->vars[i].name, name) == 0)
            return &e->vars[i];
    return NULL;
}

/* "template: :1:2: executing "" at <.A.B>: msg" — Go's ErrorContext:
 * 1-based line, 0-based byte column, the node text cut at 20 bytes.
 * ctx_prefix/ctx_suffix wrap the source text (for "{{range ...}}"). */
WHARF_PRINTF(7, 8)
static int exec_error_ctx(struct exec *e, size_t pos, size_t end, const char *ctx_prefix,
                          const char *ctx_suffix, bool context, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *src = e->t->src;
    if (pos > e->t->src_len)
        pos = e->t->src_len;
    if (end < pos || end > e->t->src_len)
        end = pos;
    int line = 1;
    size_t col = pos;
    for (size_t i = 0; i < pos; i++) {
        if (src[i] == '\n') {
            line++;
            col = pos - i - 1;
        }
    }
    if (!context)
        return wharf_error_set(e->err, EINVAL, "template: :%d:%zu: %s", line, col, msg);
    _cleanup_strbuf_ strbuf c = STRBUF_INIT;
    strbuf_addstr(&c, ctx_prefix);
    strbuf_add(&c, src + pos, end - pos);
    strbuf_addstr(&c, ctx_suffix);
    bool cut = c.len > 20;
    return wharf_error_set(e->err, EINVAL, "template: :%d:%zu: executing \"\" at <%.*s%s>: %s",
                           line, col, (int)(cut ? 20 : c.len), strbuf_str(&c), cut ? "..." : "",
                           msg);
}

#define exec_error(e, pos, end, context, ...)                                                      \
    exec_error_ctx(e, pos, end, "", "", context, __VA_ARGS__)

static int step(struct exec *e, size_t pos)
{
    if (++e->steps > MAX_STEPS)
        return exec_error(e, pos, pos, false, "template execution exceeded %lu steps", MAX_STEPS);
    if (e->out->len - e->out_start > MAX_OUTPUT)
        return exec_error(e, pos, pos, false, "template output exceeded %lu bytes", MAX_OUTPUT);
    return 0;
}

/* The column title for a field chain in header mode. */
static json_t *header_title(struct exec *e, char **fields, size_t n)
{
    _cleanup_strbuf_ strbuf chain = STRBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_addch(&chain, '.');
        strbuf_addstr(&chain, fields[i]);
    }
    for (int pass = 0; pass < 2 && e->headers; pass++) {
        const char *want = pass == 0 ? strbuf_str(&chain) : fields[n - 1];
        for (const format_header *h = e->headers; h->field; h++)
            if (strcmp(h->field, want) == 0)
                return json_string(h->title);
    }
    _cleanup_free_ char *title = format_header_title(fields[n - 1]);
    return json_string(title);
}

/* Go's evalFieldChain: receiver borrowed; *res a new reference or NULL. */
static int eval_fields(struct exec *e, const struct operand *o, json_t *recv, char **fields,
                       size_t n, bool has_args, json_t **res)
{
    *res = NULL;
    if (e->header && recv && recv == e->header_root) {
        *res = header_title(e, fields, n);
        return 0;
    }
    json_t *cur = recv;
    for (size_t i = 0; i < n; i++) {
        const char *f = fields[i];
        bool last = i + 1 == n;
        if (!cur)
            return 0; /* missing stays missing, as with missingkey=default */
        if (json_is_null(cur))
            return exec_error(e, o->pos, o->end, true, "nil pointer evaluating interface {}.%s",
                              f);
        if (!json_is_object(cur))
            return exec_error(e, o->pos, o->end, true, "can't evaluate field %s in type %s", f,
                              format_type_name(cur));
        if (last && has_args)
            return exec_error(e, o->pos, o->end, true, "%s is not a method but has arguments", f);
        cur = json_object_get(cur, f);
    }
    *res = cur ? json_incref(cur) : NULL;
    return 0;
}

static int eval_pipeline(struct exec *e, json_t *dot, const struct pipeline *pl, bool declare,
                         json_t **res);

static int eval_arg(struct exec *e, json_t *dot, const struct operand *o, json_t **res);

static int eval_function(struct exec *e, json_t *dot, const struct command *c, bool has_final,
                         json_t *final, json_t **res)
{
    const char *name = c->args[0]->name;
    size_t nargs = c->nargs - 1;
    int r = 0;
    *res = NULL;
    /* and/or stop at the first decisive operand and yield it, not a bool. */
    if (strcmp(name, "and") == 0 || strcmp(name, "or") == 0) {
        bool want = name[0] == 'o';
        if (nargs + has_final < 1)
            return exec_error(e, c->pos, c->end, true,
                              "wrong number of args for %s: want at least 1 got 0", name);
        json_t *v = NULL;
        for (size_t i = 0; i < nargs; i++) {
            json_decref(v);
            if ((r = eval_arg(e, dot, c->args[i + 1], &v)))
                return r;
            if (format_truth(v) == want) {
                *res = v;
                return 0;
            }
        }
        if (has_final) {
            json_decref(v);
            v = final ? json_incref(final) : NULL;
        }
        *res = v;
        return 0;
    }
    _cleanup_strbuf_ strbuf msg = STRBUF_INIT;
    size_t argc = nargs + (has_final ? 1 : 0);
    json_t **argv = xcalloc(argc + 1, sizeof(json_t *));
    size_t got = 0;
    for (; got < nargs; got++)
        if ((r = eval_arg(e, dot, c->args[got + 1], &argv[got])))
            goto out;
    if (has_final)
        argv[got++] = final ? json_incref(final) : NULL;
    r = format_call(name, argv, argc, e->header, res, &msg);
    if (r)
        r = exec_error(e, c->pos, c->end, true, "%s", strbuf_str(&msg));
out:
    for (size_t i = 0; i < got; i++)
        json_decref(argv[i]);
    free(argv);
    return r;
}

static json_t *literal(const struct operand *o)
{
    switch (o->kind) {
    case OP_STRING:
        return json_stringn_nocheck(o->name, o->name_len);
    case OP_INT:
        return json_integer(o->ival);
    case OP_FLOAT:
        return json_real(o->fval);
    case OP_BOOL:
        return json_boolean(o->bval);
    default:
        return json_null();
    }
}

/* An operand used as an argument (Go's evalArg). */
static int eval_arg(struct exec *e, json_t *dot, const struct operand *o, json_t **res)
{
    *res = NULL;
    int r;
    switch (o->kind) {
    case OP_DOT:
        *res = dot ? json_incref(dot) : NULL;
        return 0;
    case OP_FIELD:
        return eval_fields(e, o, dot, o->fields, o->nfields, false, res);
    case OP_VARIABLE: {
        struct var *v = find_var(e, o->name);
        if (!v)
            return exec_error(e, o->pos, o->end, true, "undefined variable: %s", o->name);
        if (o->nfields == 0) {
            *res = v->val ? json_incref(v->val) : NULL;
            return 0;
        }
        return eval_fields(e, o, v->val, o->fields, o->nfields, false, res);
    }
    case OP_PIPE:
    case OP_CHAIN: {
        json_t *v;
        size_t mark = e->nvars;
        r = eval_pipeline(e, dot, o->pipe, true, &v);
        pop_vars(e, mark);
        if (r)
            return r;
        if (o->kind == OP_PIPE) {
            *res = v;
            return 0;
        }
        r = eval_fields(e, o, v, o->fields, o->nfields, false, res);
        json_decref(v);
        return r;
    }
    case OP_FUNC: {
        struct command c = {.pos = o->pos, .end = o->end, .args = (struct operand **)&o, .nargs = 1};
        return eval_function(e, dot, &c, false, NULL, res);
    }
    default:
        *res = literal(o);
        return 0;
    }
}

static int eval_command(struct exec *e, json_t *dot, const struct command *c, bool has_final,
                        json_t *final, json_t **res)
{
    const struct operand *o = c->args[0];
    bool has_args = c->nargs > 1 || has_final;
    int r;
    *res = NULL;
    if ((r = step(e, c->pos)))
        return r;
    switch (o->kind) {
    case OP_FUNC:
        return eval_function(e, dot, c, has_final, final, res);
    case OP_FIELD:
        return eval_fields(e, o, dot, o->fields, o->nfields, has_args, res);
    case OP_VARIABLE:
        if (o->nfields > 0) {
            struct var *v = find_var(e, o->name);
            if (!v)
                return exec_error(e, o->pos, o->end, true, "undefined variable: %s", o->name);
            return eval_fields(e, o, v->val, o->fields, o->nfields, has_args, res);
        }
        break;
    case OP_CHAIN: {
        json_t *base;
        size_t mark = e->nvars;
        r = eval_pipeline(e, dot, o->pipe, true, &base);
        pop_vars(e, mark);
        if (r)
            return r;
        r = eval_fields(e, o, base, o->fields, o->nfields, has_args, res);
        json_decref(base);
        return r;
    }
    case OP_NIL:
        return exec_error(e, o->pos, o->end, true, "nil is not a command");
    default:
        break;
    }
    if (has_args)
        return exec_error(e, o->pos, o->end, true, "can't give argument to non-function %.*s",
                          (int)(o->end - o->pos), e->t->src + o->pos);
    return eval_arg(e, dot, o, res);
}

/* Runs a pipeline; with `declare` its variables are pushed (or assigned).
 * *res is a new reference or NULL (missing). */
static int eval_pipeline(struct exec *e, json_t *dot, const struct pipeline *pl, bool declare,
                         json_t **res)
{
    json_t *v = NULL;
    *res = NULL;
    for (size_t i = 0; i < pl->ncmds; i++) {
        json_t *next;
        int r = eval_command(e, dot, pl->cmds[i], i > 0, v, &next);
        json_decref(v);
        if (r)
            return r;
        v = next;
    }
    if (declare) {
        for (size_t k = 0; k < pl->ndecl; k++) {
            if (pl->assign) {
                struct var *var = find_var(e, pl->decl[k]);
                if (!var) {
                    json_decref(v);
                    return exec_error(e, pl->pos, pl->end, false, "undefined variable: %s",
                                      pl->decl[k]);
                }
                json_decref(var->val);
                var->val = v ? json_incref(v) : NULL;
            } else {
                push_var(e, pl->decl[k], v);
            }
        }
    }
    *res = v;
    return 0;
}

static int walk_list(struct exec *e, json_t *dot, const struct node_list *l);

static int walk_range_body(struct exec *e, const struct node *n, size_t mark, json_t *key,
                           json_t *elem)
{
    /* Go sets the element in the last declared variable, the key in the
     * first when there are two. */
    const struct pipeline *pl = n->pipe;
    int r = step(e, n->pos);
    if (r)
        return r;
    if (!pl->assign) {
        if (pl->ndecl >= 1) {
            struct var *ve = &e->vars[mark + pl->ndecl - 1];
            json_decref(ve->val);
            ve->val = json_incref(elem);
        }
        if (pl->ndecl == 2) {
            json_decref(e->vars[mark].val);
            e->vars[mark].val = json_incref(key);
        }
    } else {
        for (size_t k = 0; k < pl->ndecl; k++) {
            struct var *var = find_var(e, pl->decl[k]);
            if (var) {
                json_decref(var->val);
                var->val = json_incref(pl->ndecl == 2 && k == 0 ? key : elem);
            }
        }
    }
    size_t inner = e->nvars;
    r = walk_list(e, elem, n->list);
    pop_vars(e, inner);
    return r;
}

static int walk_range(struct exec *e, json_t *dot, const struct node *n)
{
    size_t mark = e->nvars;
    json_t *v;
    int r = eval_pipeline(e, dot, n->pipe, false, &v);
    if (r)
        return r;
    if (!n->pipe->assign)
        for (size_t k = 0; k < n->pipe->ndecl; k++)
            push_var(e, n->pipe->decl[k], NULL);
    size_t count = 0;
    if (!v || json_is_null(v)) {
        /* nothing to iterate: a missing value is not an error in Go */
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && r == 0; i++, count++) {
            json_t *key = json_integer((json_int_t)i);
            r = walk_range_body(e, n, mark, key, json_array_get(v, i));
            json_decref(key);
            if (r == WALK_CONTINUE)
                r = 0;
        }
    } else if (json_is_object(v)) {
        /* Go visits map keys in sorted order */
        size_t nk = json_object_size(v), i = 0;
        const char **keys = xcalloc(nk + 1, sizeof(char *));
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m) keys[i++] = k;
        for (size_t a = 1; a < nk; a++)
            for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
                const char *t = keys[b];
                keys[b] = keys[b - 1];
                keys[b - 1] = t;
            }
        for (i = 0; i < nk && r == 0; i++, count++) {
            json_t *key = json_string(keys[i]);
            r = walk_range_body(e, n, mark, key, json_object_get(v, keys[i]));
            json_decref(key);
            if (r == WALK_CONTINUE)
                r = 0;
        }
        free(keys);
    } else if (json_is_integer(v)) {
        if (n->pipe->ndecl > 1) {
            r = exec_error_ctx(e, n->pipe->pos, n->pipe->end, "{{range ", "}}", true,
                               "can't use %lld to iterate over more than one variable",
                           (long long)json_integer_value(v));
        }
        for (json_int_t i = 0; r == 0 && i < json_integer_value(v); i++, count++) {
            json_t *iv = json_integer(i);
            r = walk_range_body(e, n, mark, iv, iv);
            json_decref(iv);
            if (r == WALK_CONTINUE)
                r = 0;
        }
    } else {
        _cleanup_strbuf_ strbuf s = STRBUF_INIT;
        format_print_value(&s, v);
        r = exec_error_ctx(e, n->pipe->pos, n->pipe->end, "{{range ", "}}", true,
                           "range can't iterate over %s", strbuf_str(&s));
    }
    if (r == WALK_BREAK)
        r = 0;
    if (r == 0 && count == 0 && n->else_list)
        r = walk_list(e, dot, n->else_list);
    json_decref(v);
    pop_vars(e, mark);
    return r;
}

static int walk_node(struct exec *e, json_t *dot, const struct node *n)
{
    int r = step(e, n->pos);
    if (r)
        return r;
    switch (n->kind) {
    case NODE_TEXT:
        strbuf_add(e->out, n->text, n->text_len);
        return 0;
    case NODE_ACTION: {
        json_t *v;
        if ((r = eval_pipeline(e, dot, n->pipe, true, &v)))
            return r;
        if (n->pipe->ndecl == 0) {
            if (!v)
                strbuf_addstr(e->out, "<no value>");
            else
                format_print_value(e->out, v);
        }
        json_decref(v);
        return 0;
    }
    case NODE_IF:
    case NODE_WITH: {
        size_t mark = e->nvars;
        json_t *v;
        if ((r = eval_pipeline(e, dot, n->pipe, true, &v)) == 0) {
            if (format_truth(v))
                r = walk_list(e, n->kind == NODE_WITH ? v : dot, n->list);
            else if (n->else_list)
                r = walk_list(e, dot, n->else_list);
            json_decref(v);
        }
        pop_vars(e, mark);
        return r;
    }
    case NODE_RANGE:
        return walk_range(e, dot, n);
    case NODE_BREAK:
        return WALK_BREAK;
    case NODE_CONTINUE:
        return WALK_CONTINUE;
    }
    return 0;
}

static int walk_list(struct exec *e, json_t *dot, const struct node_list *l)
{
    for (size_t i = 0; l && i < l->n; i++) {
        int r = walk_node(e, dot, l->nodes[i]);
        if (r)
            return r;
    }
    return 0;
}

static int execute(const format_template *t, json_t *data, bool header, json_t *header_root,
                   const format_header *headers, strbuf *out, wharf_error *err)
{
    struct exec e = {.t = t,
                     .out = out,
                     .out_start = out->len,
                     .err = err,
                     .header = header,
                     .header_root = header_root,
                     .headers = headers};
    push_var(&e, "$", data);
    int r = walk_list(&e, data, t->root);
    pop_vars(&e, 0);
    free(e.vars);
    /* break/continue cannot escape a range: the parser rejects them outside */
    return r < 0 ? r : 0;
}

int format_execute(const format_template *t, json_t *data, strbuf *out, wharf_error *err)
{
    return execute(t, data, false, NULL, NULL, out, err);
}

/* ------------------------------------------------------------ templates */

format_template *format_compile_plain(const char *text, wharf_error *err)
{
    format_template *t = xcalloc(1, sizeof(*t));
    t->src = xstrdup(text);
    t->src_len = strlen(text);
    if (format_parse(t, err) < 0) {
        format_template_free(t);
        return NULL;
    }
    return t;
}

format_template *format_compile(const char *text, wharf_error *err)
{
    /* docker's formatter.Context.preFormat */
    bool table = strncmp(text, "table", 5) == 0;
    const char *body = table ? text + 5 : text;
    if (!table && strcmp(text, "json") == 0)
        body = "{{json .}}";
    while (*body == ' ')
        body++;
    size_t n = strlen(body);
    while (n > 0 && body[n - 1] == ' ')
        n--;
    _cleanup_strbuf_ strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (body[i] == '\\' && i + 1 < n && (body[i + 1] == 't' || body[i + 1] == 'n')) {
            strbuf_addch(&sb, body[i + 1] == 't' ? '\t' : '\n');
            i++;
        } else {
            strbuf_addch(&sb, body[i]);
        }
    }
    format_template *t = format_compile_plain(strbuf_str(&sb), err);
    if (t)
        t->table = table;
    return t;
}

void format_template_free(format_template *t)
{
    if (!t)
        return;
    format_free_list(t->root);
    free(t->src);
    free(t);
}

void format_template_freep(format_template **t)
{
    format_template_free(*t);
    *t = NULL;
}

bool format_template_is_table(const format_template *t)
{
    return t->table;
}

/* ------------------------------------------------------------ rendering */

int format_render(const format_template *t, json_t *rows, const format_header *headers,
                  strbuf *out, wharf_error *err)
{
    if (!json_is_array(rows))
        return wharf_error_set(err, EINVAL, "format: rows must be a JSON array");
    if (!t->table) {
        for (size_t i = 0; i < json_array_size(rows); i++) {
            int r = format_execute(t, json_array_get(rows, i), out, err);
            if (r < 0)
                return r;
            strbuf_addch(out, '\n');
        }
        return 0;
    }
    _cleanup_strbuf_ strbuf raw = STRBUF_INIT;
    /* Docker ignores errors while rendering the header and keeps what was
     * written; so do we (e.g. a range over a titled field). */
    json_t *root = json_object();
    wharf_error herr = {0};
    execute(t, root, true, root, headers, &raw, &herr);
    json_decref(root);
    strbuf_addch(&raw, '\n');
    for (size_t i = 0; i < json_array_size(rows); i++) {
        int r = format_execute(t, json_array_get(rows, i), &raw, err);
        if (r < 0)
            return r;
        strbuf_addch(&raw, '\n');
    }
    format_table *tw = format_table_new_docker();
    format_table_write(tw, raw.buf, raw.len);
    format_table_flush(tw, out);
    format_table_free(tw);
    return 0;
}

char *format_header_title(const char *field)
{
    /* Word boundaries: lower->Upper ("CreatedAt"), digit->Upper, and the
     * last capital of an acronym before a lower-case letter ("HostIPAddr"
     * -> HOST IP ADDR). */
    strbuf sb = STRBUF_INIT;
    size_t n = strlen(field);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)field[i];
        if (i > 0 && c >= 'A' && c <= 'Z') {
            unsigned char prev = (unsigned char)field[i - 1];
            unsigned char nx = i + 1 < n ? (unsigned char)field[i + 1] : 0;
            bool prev_lower = (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9');
            bool acronym_end = prev >= 'A' && prev <= 'Z' && nx >= 'a' && nx <= 'z';
            if (prev_lower || acronym_end)
                strbuf_addch(&sb, ' ');
        }
        if (c == '_') {
            strbuf_addch(&sb, ' ');
            continue;
        }
        strbuf_addch(&sb, (char)(c < 0x80 ? toupper(c) : c));
    }
    return strbuf_detach(&sb);
}
