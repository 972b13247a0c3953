/* libFuzzer target: arbitrary bytes as a docker --format template, compiled
 * both ways (docker list rules and plain) and executed over a fixed
 * inspect-like document, alone and as a table. Must never crash, leak or
 * hang (execution is bounded by the module itself). */
#include "format.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

static json_t *doc;
static json_t *rows;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_error_t je;
    doc = json_loads("{\"Id\":\"4f2c\",\"Name\":\"/web\",\"Num\":3,\"Ratio\":2.5,\"T\":true,"
                     "\"Nil\":null,\"Args\":[\"-g\",\"x y\"],\"Labels\":{\"a\":\"b\",\"c.d\":\"e\"},"
                     "\"Mounts\":[{\"Source\":\"/s\",\"Destination\":\"/d\",\"RW\":false}],"
                     "\"Config\":{\"Env\":[\"A=1\"],\"Image\":\"nginx\",\"Cmd\":null}}",
                     0, &je);
    if (!doc)
        abort();
    rows = json_pack("[O,{s:s,s:i}]", doc, "Name", "other", "Num", 7);
    if (!rows)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    wharf_error err = {0};
    static const format_header headers[] = {{"Id", "CONTAINER ID"}, {NULL, NULL}};

    format_template *t = format_compile_plain(text, &err);
    if (t) {
        strbuf out = STRBUF_INIT;
        format_execute(t, doc, &out, &err);
        strbuf_reset(&out);
        format_execute(t, NULL, &out, &err);
        strbuf_release(&out);
        format_template_free(t);
    }
    t = format_compile(text, &err);
    if (t) {
        strbuf out = STRBUF_INIT;
        format_render(t, rows, headers, &out, &err);
        strbuf_release(&out);
        format_template_free(t);
    }
    /* the aligner on the raw bytes */
    format_table *tw = format_table_new(0, 8, 1, size % 2 ? '\t' : ' ');
    format_table_write(tw, text, size);
    strbuf out = STRBUF_INIT;
    format_table_flush(tw, &out);
    strbuf_release(&out);
    format_table_free(tw);
    free(text);
    return 0;
}
