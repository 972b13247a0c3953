/*
 * tabwriter.c — column alignment with the semantics of Go's text/tabwriter
 * (flags 0), which docker uses for every table it prints.
 *
 * Go formats recursively, one level per column; that recursion is as deep
 * as a line has cells, so a hostile template could blow the stack. The same
 * widths come from one sweep: a column block is a maximal run of consecutive
 * lines that have a tab-terminated cell in that column (such a run always
 * lies inside the block of the column to its left), so each line's open
 * runs are extended or closed as the sweep moves down.
 */
#include "format.h"

#include <string.h>

struct cell {
    size_t start, size; /* bytes in the text buffer */
    size_t width;       /* UTF-8 characters */
    size_t colw;        /* width of its column block, once known */
};

struct line {
    struct cell *cells;
    size_t n, cap;
};

struct format_table {
    int minwidth, tabwidth, padding;
    char padchar;
    strbuf text;
    struct line *lines;
    size_t nlines, cap;
    struct cell cur; /* the cell being written */
};

static struct line *last_line(format_table *t)
{
    return &t->lines[t->nlines - 1];
}

static void add_line(format_table *t)
{
    if (t->nlines == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->lines = xrealloc(t->lines, t->cap * sizeof(*t->lines));
    }
    t->lines[t->nlines++] = (struct line){0};
}

static void terminate_cell(format_table *t)
{
    struct line *l = last_line(t);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->cells = xrealloc(l->cells, l->cap * sizeof(*l->cells));
    }
    l->cells[l->n++] = t->cur;
    t->cur = (struct cell){.start = t->text.len};
}

format_table *format_table_new(int minwidth, int tabwidth, int padding, char padchar)
{
    format_table *t = xcalloc(1, sizeof(*t));
    t->minwidth = minwidth < 0 ? 0 : minwidth;
    t->tabwidth = tabwidth < 0 ? 0 : tabwidth;
    t->padding = padding < 0 ? 0 : padding;
    t->padchar = padchar;
    add_line(t);
    return t;
}

format_table *format_table_new_docker(void)
{
    return format_table_new(10, 1, 3, ' ');
}

void format_table_write(format_table *t, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\t' || c == '\n') {
            terminate_cell(t);
            if (c == '\n')
                add_line(t);
            continue;
        }
        strbuf_addch(&t->text, c);
        t->cur.size++;
        if (((unsigned char)c & 0xC0) != 0x80)
            t->cur.width++;
    }
}

void format_table_add_row(format_table *t, const char *const *cells, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            format_table_write(t, "\t", 1);
        format_table_write(t, cells[i], strlen(cells[i]));
    }
    format_table_write(t, "\n", 1);
}

static size_t aligned_cells(const struct line *l)
{
    return l->n ? l->n - 1 : 0;
}

static void write_padding(format_table *t, strbuf *out, size_t textw, size_t cellw)
{
    if (t->padchar == '\t') {
        if (t->tabwidth == 0)
            return;
        size_t tw = (size_t)t->tabwidth;
        cellw = (cellw + tw - 1) / tw * tw;
        size_t n = cellw > textw ? cellw - textw : 0;
        for (size_t i = 0; i < (n + tw - 1) / tw; i++)
            strbuf_addch(out, '\t');
        return;
    }
    for (size_t i = textw; i < cellw; i++)
        strbuf_addch(out, t->padchar);
}

void format_table_flush(format_table *t, strbuf *out)
{
    if (t->cur.size > 0)
        terminate_cell(t);
    size_t maxcols = 0;
    for (size_t i = 0; i < t->nlines; i++)
        if (aligned_cells(&t->lines[i]) > maxcols)
            maxcols = aligned_cells(&t->lines[i]);
    size_t *run_start = xcalloc(maxcols + 1, sizeof(size_t));
    size_t *run_max = xcalloc(maxcols + 1, sizeof(size_t));
    size_t open = 0;
    for (size_t i = 0; i <= t->nlines; i++) {
        size_t k = i < t->nlines ? aligned_cells(&t->lines[i]) : 0;
        for (size_t j = k; j < open; j++)
            for (size_t l = run_start[j]; l < i; l++)
                t->lines[l].cells[j].colw = run_max[j];
        for (size_t j = 0; j < k; j++) {
            if (j >= open) {
                run_start[j] = i;
                run_max[j] = (size_t)t->minwidth;
            }
            size_t w = t->lines[i].cells[j].width + (size_t)t->padding;
            if (w > run_max[j])
                run_max[j] = w;
        }
        open = k;
    }
    free(run_start);
    free(run_max);

    for (size_t i = 0; i < t->nlines; i++) {
        const struct line *l = &t->lines[i];
        size_t k = aligned_cells(l);
        for (size_t j = 0; j < l->n; j++) {
            const struct cell *c = &l->cells[j];
            if (c->size)
                strbuf_add(out, t->text.buf + c->start, c->size);
            if (j < k)
                write_padding(t, out, c->width, c->colw);
        }
        if (i + 1 < t->nlines)
            strbuf_addch(out, '\n');
    }

    for (size_t i = 0; i < t->nlines; i++)
        free(t->lines[i].cells);
    t->nlines = 0;
    strbuf_reset(&t->text);
    t->cur = (struct cell){0};
    add_line(t);
}

void format_table_free(format_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nlines; i++)
        free(t->lines[i].cells);
    free(t->lines);
    strbuf_release(&t->text);
    free(t);
}
