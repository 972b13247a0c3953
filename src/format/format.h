/*
 * format — Docker's `--format` templates and its aligned tables.
 *
 * Owns: a parser and evaluator for the part of Go's text/template that
 * docker users write (text, {{ }} actions with trim markers and comments,
 * field chains, variables, pipelines, parenthesised calls, literals,
 * if/else if/else, range (with else, break, continue), with, and the
 * functions docker's CLI adds: json, join, split, index, len, lower, upper,
 * title, pad, truncate, printf, print, println, eq..ge, and, or, not, slice),
 * Go-style value printing ("[a b]", "map[k:v]", "<nil>", "<no value>"),
 * docker's `table` directive (header row, one row per item) and a
 * tabwriter-compatible column aligner usable on its own.
 *
 * Data is always a jansson value: the Engine API JSON or a CLI row object.
 * Missing object keys follow text/template's default: printing one gives
 * "<no value>", testing one gives false.
 *
 * Must not: talk to the engine, know any command's fields (callers pass
 * header titles), or write to a file descriptor (output goes to a strbuf).
 */
#ifndef WHARF_FORMAT_H
#define WHARF_FORMAT_H

#include "base.h"

typedef struct format_template format_template;

/*
 * Compiles a template the way docker's list commands (ps, images, ...) take
 * `--format`: a leading "table" selects table output, "json" means
 * {{json .}}, surrounding spaces are trimmed and the two-character escapes
 * \t and \n become a tab and a newline. Returns NULL and fills err on a
 * syntax error ("template: :1: function \"foo\" not defined").
 * Caller frees with format_template_free.
 */
format_template *format_compile(const char *text, wharf_error *err);
/* Compiles text as a plain Go template, exactly as given (docker inspect,
 * info and version use this: no table prefix, no escape rewriting). */
format_template *format_compile_plain(const char *text, wharf_error *err);
void format_template_free(format_template *t);
#define _cleanup_format_template_ __attribute__((cleanup(format_template_freep)))
void format_template_freep(format_template **t);

/* True when the template came from "table ..." (format_compile only). */
bool format_template_is_table(const format_template *t);

/*
 * Executes the template once with data as dot and $ (data may be NULL: it
 * is then missing, like a nil interface). Output is appended to out; on an
 * error what was produced before it stays in out (as with Go) and err reads
 * like "template: :1:2: executing \"\" at <.A.B>: can't evaluate field B in
 * type string". Returns 0 or -EINVAL. data is borrowed.
 */
int format_execute(const format_template *t, json_t *data, strbuf *out, wharf_error *err);

/* Explicit header titles for fields, e.g. {"ID", "CONTAINER ID"}; arrays of
 * these end with {NULL, NULL}. `field` is a field name ("RunningFor") or a
 * dotted chain ("Config.Image"); the chain is tried first. */
typedef struct format_header {
    const char *field;
    const char *title;
} format_header;

/*
 * Renders rows (a JSON array of objects, borrowed) the way docker's
 * formatter does. For a table template: a header row (each field's title:
 * an override from headers, else the field name upper-cased with camel case
 * split, ".CreatedAt" -> "CREATED AT"), then one line per row, aligned with
 * format_table_new_docker(). Otherwise each row's output followed by "\n".
 * headers may be NULL. Returns 0 or -EINVAL with err set.
 */
int format_render(const format_template *t, json_t *rows, const format_header *headers,
                  strbuf *out, wharf_error *err);

/* The header title docker derives from a field name: "CreatedAt" ->
 * "CREATED AT", "ID" -> "ID", "HostIP" -> "HOST IP". Caller frees. */
char *format_header_title(const char *field);

/* ------------------------------------------------------------ aligner */

/*
 * A column aligner with Go's text/tabwriter semantics (no flags): input is
 * lines of tab-terminated cells; a column block is a run of consecutive
 * lines that have a cell in that column, and each block is as wide as its
 * widest cell plus padding (at least minwidth). The last cell of a line is
 * not part of any column. Widths count UTF-8 characters.
 */
typedef struct format_table format_table;
/* padchar ' ' pads with spaces; '\t' pads with tabs (cells rounded up to
 * tabwidth). Caller frees with format_table_free. */
format_table *format_table_new(int minwidth, int tabwidth, int padding, char padchar);
/* What docker's tables use: minwidth 10, tabwidth 1, padding 3, ' '. */
format_table *format_table_new_docker(void);
/* Buffers text; cells end at '\t', lines at '\n'. */
void format_table_write(format_table *t, const char *text, size_t len);
/* Appends cells[0..n) as one line (tab-separated, newline-terminated). */
void format_table_add_row(format_table *t, const char *const *cells, size_t n);
/* Aligns everything buffered, appends it to out and empties the buffer.
 * A trailing partial line is written without a newline, like Go's Flush. */
void format_table_flush(format_table *t, strbuf *out);
void format_table_free(format_table *t);

#endif
