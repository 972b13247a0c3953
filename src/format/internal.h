/* internal.h — the template syntax tree shared by parse.c, exec.c and
 * funcs.c. Not part of the module's public interface. */
#ifndef WHARF_FORMAT_INTERNAL_H
#define WHARF_FORMAT_INTERNAL_H

#include "format.h"

#include <jansson.h>

/* Operands of a command (Go's parse.Node kinds that can appear there). */
enum operand_kind {
    OP_FIELD,    /* .A.B: chain on dot */
    OP_VARIABLE, /* $x.A.B ($ alone is the root) */
    OP_DOT,      /* . */
    OP_CHAIN,    /* (pipeline).A.B */
    OP_FUNC,     /* identifier: a function name */
    OP_STRING,
    OP_INT,
    OP_FLOAT,
    OP_BOOL,
    OP_NIL,
    OP_PIPE, /* (pipeline) without fields */
};

struct pipeline;

struct operand {
    enum operand_kind kind;
    size_t pos, end; /* byte range in the source, for error context */
    char **fields;   /* field chain (OP_FIELD, OP_VARIABLE, OP_CHAIN) */
    size_t nfields;
    char *name; /* variable name with '$', function name, or the string value */
    size_t name_len;
    long long ival;
    double fval;
    bool bval;
    struct pipeline *pipe; /* OP_CHAIN, OP_PIPE */
};

struct command {
    size_t pos, end;
    struct operand **args;
    size_t nargs;
};

struct pipeline {
    size_t pos, end;
    char *decl[2]; /* declared or assigned variables */
    size_t ndecl;
    bool assign; /* `=` rather than `:=` */
    struct command **cmds;
    size_t ncmds;
};

enum node_kind { NODE_TEXT, NODE_ACTION, NODE_IF, NODE_RANGE, NODE_WITH, NODE_BREAK, NODE_CONTINUE };

struct node_list;

struct node {
    enum node_kind kind;
    size_t pos;
    char *text; /* NODE_TEXT */
    size_t text_len;
    struct pipeline *pipe;
    struct node_list *list, *else_list;
};

struct node_list {
    struct node **nodes;
    size_t n;
};

struct format_template {
    char *src; /* the parsed text, for line:col in errors */
    size_t src_len;
    bool table;
    struct node_list *root;
};

/* parse.c */
int format_parse(format_template *t, wharf_error *err);
void format_free_list(struct node_list *l);
bool format_func_known(const char *name, size_t len);

/* A missing value (Go's invalid reflect.Value) is a NULL json_t *. */

/* funcs.c: printing and JSON in Go's style. */
void format_print_value(strbuf *out, json_t *v); /* fmt.Sprint of one value */
void format_json_encode(strbuf *out, json_t *v); /* json.Marshal, no newline */
bool format_truth(json_t *v);
const char *format_type_name(json_t *v);
/* Calls builtin `name` with argv (borrowed). On success *res is a new
 * reference (or NULL for a missing value). On failure returns -EINVAL with
 * a message in msg (no location; exec.c adds it). */
int format_call(const char *name, json_t **argv, size_t argc, bool header_mode, json_t **res,
                strbuf *msg);
/* Go's fmt.Sprintf with template values; never trusts the format. */
void format_sprintf(strbuf *out, const char *fmt, size_t fmt_len, json_t **argv, size_t argc);

#endif
