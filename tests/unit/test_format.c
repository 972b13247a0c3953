/* Unit tests of the format module: Go text/template constructs with the
 * output Go (and so docker) gives, error messages, docker's table
 * directive and the tabwriter-compatible aligner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "format.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

static const char *inspect_json =
    "{\"Id\":\"4f2c1e\",\"Name\":\"/web\",\"State\":{\"Status\":\"running\",\"Running\":true,"
    "\"Pid\":4242,\"ExitCode\":0},"
    "\"Config\":{\"Image\":\"nginx:1.25\",\"Env\":[\"PATH=/usr/bin\",\"FOO=bar\"],"
    "\"Labels\":{\"com.example\":\"blue\",\"a\":\"b\"},\"Cmd\":null},"
    "\"Args\":[\"-g\",\"daemon off;\"],"
    "\"Mounts\":[{\"Source\":\"/srv/a\",\"Destination\":\"/a\"},"
    "{\"Source\":\"/srv/b\",\"Destination\":\"/b\"}],"
    "\"Labels\":{\"com.example\":\"blue\",\"a\":\"b\"},"
    "\"Num\":3,\"Ratio\":2.5,\"Big\":1000000.0,\"Empty\":[],\"Nothing\":null,"
    "\"Nested\":{\"x\":[1,{\"y\":null}],\"b\":true}}";

static json_t *data(void)
{
    json_error_t je;
    json_t *j = json_loads(inspect_json, 0, &je);
    assert_non_null(j);
    return j;
}

/* Runs a plain template over the inspect-like object. */
static void check_plain(const char *tmpl, const char *want)
{
    wharf_error err = {0};
    json_t *d = data();
    format_template *t = format_compile_plain(tmpl, &err);
    if (!t)
        fail_msg("compile %s: %s", tmpl, err.msg);
    strbuf out = STRBUF_INIT;
    int r = format_execute(t, d, &out, &err);
    if (r != 0)
        fail_msg("execute %s: %s", tmpl, err.msg);
    if (strcmp(strbuf_str(&out), want) != 0)
        fail_msg("%s: got [%s] want [%s]", tmpl, strbuf_str(&out), want);
    strbuf_release(&out);
    format_template_free(t);
    json_decref(d);
}

static void check_compile_error(const char *tmpl, const char *want)
{
    wharf_error err = {0};
    format_template *t = format_compile_plain(tmpl, &err);
    if (t) {
        format_template_free(t);
        fail_msg("%s: compiled, wanted error %s", tmpl, want);
    }
    if (strcmp(err.msg, want) != 0)
        fail_msg("%s: got error [%s] want [%s]", tmpl, err.msg, want);
    assert_int_equal(err.code, -EINVAL);
}

static void check_exec_error(const char *tmpl, const char *want)
{
    wharf_error err = {0};
    json_t *d = data();
    format_template *t = format_compile_plain(tmpl, &err);
    if (!t)
        fail_msg("compile %s: %s", tmpl, err.msg);
    strbuf out = STRBUF_INIT;
    assert_int_equal(format_execute(t, d, &out, &err), -EINVAL);
    if (strcmp(err.msg, want) != 0)
        fail_msg("%s: got error [%s] want [%s]", tmpl, err.msg, want);
    strbuf_release(&out);
    format_template_free(t);
    json_decref(d);
}

static void test_text_and_fields(void **state)
{
    (void)state;
    check_plain("", "");
    check_plain("plain text", "plain text");
    check_plain("{{.Name}}", "/web");
    check_plain("{{.State.Status}} {{.State.Pid}}", "running 4242");
    check_plain("{{.Config.Image}}", "nginx:1.25");
    check_plain("{{ .Config.Image }}", "nginx:1.25");
    /* missing keys print <no value>; JSON null is a nil interface */
    check_plain("{{.Missing}}", "<no value>");
    check_plain("{{.Missing.Deeper}}", "<no value>");
    check_plain("{{.Nothing}}", "<nil>");
    check_plain("{{.Config.Cmd}}", "<nil>");
    check_plain("{{.State.Running}}", "true");
    check_plain("{{.Ratio}}", "2.5");
    check_plain("{{.Big}}", "1e+06");
}

static void test_value_printing(void **state)
{
    (void)state;
    check_plain("{{.Config.Env}}", "[PATH=/usr/bin FOO=bar]");
    check_plain("{{.Labels}}", "map[a:b com.example:blue]");
    check_plain("{{.Nested}}", "map[b:true x:[1 map[y:<nil>]]]");
    check_plain("{{.Empty}}", "[]");
    check_plain("{{.State}}", "map[ExitCode:0 Pid:4242 Running:true Status:running]");
    check_plain("{{1.5}} {{1e6}} {{123456.0}} {{1234567.0}} {{0.0001}} {{0.00001}}",
                "1.5 1e+06 123456 1.234567e+06 0.0001 1e-05");
    check_plain("{{0x1F}} {{-3}} {{'a'}} {{1_000}} {{0o17}} {{0b101}}", "31 -3 97 1000 15 5");
    check_plain("{{true}} {{false}}", "true false");
}

static void test_trim_and_comments(void **state)
{
    (void)state;
    check_plain("a  {{- .Num -}}  b", "a3b");
    check_plain("a \n {{- .Num}} \n b", "a3 \n b");
    check_plain("a{{/* comment */}}b", "ab");
    check_plain("a {{- /* comment */ -}} b", "ab");
    check_plain("{{/* multi\nline */}}x", "x");
    /* "-" without a space is part of a number, not a trim marker */
    check_plain("{{-3}}", "-3");
}

static void test_variables(void **state)
{
    (void)state;
    check_plain("{{$x := .Name}}{{$x}}", "/web");
    check_plain("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2");
    check_plain("{{with .Config}}{{$.Name}} {{.Image}}{{end}}", "/web nginx:1.25");
    check_plain("{{$c := .Config}}{{$c.Image}}", "nginx:1.25");
    check_plain("{{$e := .Config.Env}}{{index $e 1}}", "FOO=bar");
    /* a variable's scope ends with its block */
    check_compile_error("{{if true}}{{$y := 1}}{{end}}{{$y}}",
                        "template: :1: undefined variable \"$y\"");
}

static void test_range(void **state)
{
    (void)state;
    check_plain("{{range .Mounts}}{{.Source}}{{end}}", "/srv/a/srv/b");
    check_plain("{{range $i, $e := .Config.Env}}{{$i}}={{$e}} {{end}}",
                "0=PATH=/usr/bin 1=FOO=bar ");
    check_plain("{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}", "a:b;com.example:blue;");
    check_plain("{{range $m := .Mounts}}{{$m.Destination}}{{end}}", "/a/b");
    check_plain("{{range .Empty}}x{{else}}none{{end}}", "none");
    check_plain("{{range .Missing}}x{{else}}none{{end}}", "none");
    check_plain("{{range .Nothing}}x{{end}}.", ".");
    check_plain("{{range .Config.Env}}{{if eq . \"FOO=bar\"}}{{break}}{{end}}[{{.}}]{{end}}",
                "[PATH=/usr/bin]");
    check_plain("{{range .Config.Env}}{{if eq . \"PATH=/usr/bin\"}}{{continue}}{{end}}[{{.}}]{{end}}",
                "[FOO=bar]");
    check_plain("{{range 3}}{{.}}{{end}}", "012");
    check_plain("{{range .Mounts}}{{$.Num}}{{end}}", "33");
}

static void test_if_with(void **state)
{
    (void)state;
    const char *t = "{{if eq .State.Status \"exited\"}}down{{else if .State.Running}}up{{else}}?{{end}}";
    check_plain(t, "up");
    check_plain("{{if .Empty}}a{{else}}b{{end}}", "b");
    check_plain("{{if .Missing}}a{{else}}b{{end}}", "b");
    check_plain("{{if .Nothing}}a{{else}}b{{end}}", "b");
    check_plain("{{if .Labels}}a{{end}}", "a");
    check_plain("{{if and .State.Running (gt .Num 2)}}yes{{end}}", "yes");
    check_plain("{{with .Config}}{{.Image}}{{end}}", "nginx:1.25");
    check_plain("{{with .Missing}}x{{else}}y{{end}}", "y");
    check_plain("{{with $x := .Num}}{{$x}}{{end}}", "3");
    check_plain("{{with .Missing}}x{{else with .Num}}{{.}}{{end}}", "3");
}

static void test_pipelines(void **state)
{
    (void)state;
    check_plain("{{.Name | upper}}", "/WEB");
    check_plain("{{.Name | printf \"%s-%s\" \"x\"}}", "x-/web");
    check_plain("{{len (split \"a,b,c\" \",\")}}", "3");
    check_plain("{{(index .Mounts 1).Source}}", "/srv/b");
    check_plain("{{\"tab\\there\"}}", "tab\there");
    check_plain("{{`raw\\n`}}", "raw\\n");
    check_plain("{{print \"\\u00e9\\x41\\101\"}}", "\xc3\xa9" "AA");
    check_plain("{{.Num | printf \"%03d\"}}", "003");
}

static void test_functions(void **state)
{
    (void)state;
    check_plain("{{json .Labels}}", "{\"com.example\":\"blue\",\"a\":\"b\"}");
    check_plain("{{json .Name}}", "\"/web\"");
    check_plain("{{json .Missing}}", "null");
    check_plain("{{json \"<a>&\\n\"}}", "\"<a>&\\n\"");
    check_plain("{{json .Ratio}} {{json .Big}} {{json 1e21}} {{json 0.0000001}}",
                "2.5 1000000 1e+21 1e-7");
    check_plain("{{json .Mounts}}",
                "[{\"Source\":\"/srv/a\",\"Destination\":\"/a\"},"
                "{\"Source\":\"/srv/b\",\"Destination\":\"/b\"}]");
    check_plain("{{join .Args \",\"}}", "-g,daemon off;");
    check_plain("{{index .Labels \"com.example\"}}", "blue");
    check_plain("{{index .Labels \"nope\"}}", "");
    check_plain("{{index .Args 1}}", "daemon off;");
    check_plain("{{index .Nested \"x\" 1 \"y\"}}", "<nil>");
    check_plain("{{len .Args}} {{len .Labels}} {{len .Name}}", "2 2 4");
    check_plain("{{lower \"AbC\"}} {{upper \"AbC\"}} {{title \"hello wide-world foo_bar\"}}",
                "abc ABC Hello Wide-World Foo_bar");
    check_plain("{{split \"a:b:c\" \":\"}}", "[a b c]");
    check_plain("{{truncate \"abcdef\" 3}}|{{truncate \"ab\" 3}}", "abc|ab");
    check_plain("{{pad \"ab\" 1 2}}|", " ab  |");
    check_plain("{{slice \"abcdef\" 1 3}} {{slice .Config.Env 1}}", "bc [FOO=bar]");
    check_plain("{{print \"a\" \"b\" 1 2 \"c\"}}", "ab1 2c");
    check_plain("{{println \"a\" 1}}", "a 1\n");
    check_plain("{{html \"<a href='x'>\"}} {{urlquery \"a b&c\"}}",
                "&lt;a href=&#39;x&#39;&gt; a+b%26c");
}

static void test_comparisons(void **state)
{
    (void)state;
    check_plain("{{eq .Num 3}} {{ne .Num 3}} {{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge \"b\" \"a\"}}",
                "true false true true false true");
    check_plain("{{eq \"a\" \"b\" \"a\"}}", "true");
    check_plain("{{eq .Missing \"x\"}} {{eq .Nothing .Missing}}", "false true");
    check_plain("{{and 1 0}} {{and 1 2}} {{or 0 \"x\"}} {{or 0 \"\"}} {{not .Missing}}",
                "0 2 x  true");
    /* and stops before evaluating the failing operand */
    check_plain("{{and false .Name.X}}", "false");
    check_exec_error("{{eq 1 \"a\"}}",
                     "template: :1:2: executing \"\" at <eq 1 \"a\">: error calling eq: "
                     "incompatible types for comparison");
    check_exec_error("{{lt true false}}",
                     "template: :1:2: executing \"\" at <lt true false>: error calling lt: "
                     "invalid type for comparison");
}

static void test_printf(void **state)
{
    (void)state;
    check_plain("{{printf \"%-10s|%10s|\" \"ab\" \"cd\"}}", "ab        |        cd|");
    check_plain("{{printf \"%5d|%05d|%-5d|%x|%X|%o|%b|%+d\" 42 42 42 255 255 8 5 7}}",
                "   42|00042|42   |ff|FF|10|101|+7");
    check_plain("{{printf \"%#x %#o %c %U\" 255 8 65 65}}", "0xff 010 A U+0041");
    check_plain("{{printf \"%q\" \"a\\\"b\\n\"}}", "\"a\\\"b\\n\"");
    check_plain("{{printf \"%v|%s\" .Config.Env .Labels}}", "[PATH=/usr/bin FOO=bar]|map[a:b com.example:blue]");
    check_plain("{{printf \"%.2f|%6.2f|%e|%g|%v\" 3.14159 3.14159 1234.5 0.5 .Ratio}}",
                "3.14|  3.14|1.234500e+03|0.5|2.5");
    check_plain("{{printf \"%.3s|%t|%%|%T\" \"abcdef\" true .Num}}", "abc|true|%|int");
    /* Go's inline error forms; never C's interpretation of the verb */
    check_plain("{{printf \"%d\" \"x\"}}", "%!d(string=x)");
    check_plain("{{printf \"%s\" 5}}", "%!s(int=5)");
    check_plain("{{printf \"%s\"}}", "%!s(MISSING)");
    check_plain("{{printf \"%s\" \"a\" \"b\"}}", "a%!(EXTRA string=b)");
    check_plain("{{printf \"%n%p\" 1 2}}", "%!n(int=1)%!p(int=2)");
    check_plain("{{printf \"%\"}}", "%!(NOVERB)");
    check_plain("{{printf \"%s\" .Nothing}}", "%!s(<nil>)");
    check_plain("{{printf \"%v\" .Nothing}}", "<nil>");
    check_plain("{{printf \"%*d|%.*s\" 4 7 2 \"xyz\"}}", "   7|xy");
    check_plain("{{printf \"%99999999d\" 1}}", "%!(BADWIDTH)1");
}

static void test_compile_errors(void **state)
{
    (void)state;
    check_compile_error("{{.Foo}", "template: :1: unexpected \"}\" in operand");
    check_compile_error("{{foo}}", "template: :1: function \"foo\" not defined");
    check_compile_error("{{.Foo", "template: :1: unclosed action");
    check_compile_error("{{if .A}}x", "template: :1: unexpected EOF");
    check_compile_error("{{end}}", "template: :1: unexpected {{end}}");
    check_compile_error("{{else}}", "template: :1: unexpected {{else}}");
    check_compile_error("{{$x}}", "template: :1: undefined variable \"$x\"");
    check_compile_error("{{break}}", "template: :1: {{break}} outside {{range}}");
    check_compile_error("line1\n{{.A}\n", "template: :2: unexpected \"}\" in operand");
    check_compile_error("{{\"abc}}", "template: :1: unterminated quoted string");
    check_compile_error("{{`abc}}", "template: :1: unterminated raw quoted string");
    check_compile_error("{{/* x }}", "template: :1: unclosed comment");
    check_compile_error("{{(.A}}", "template: :1: unclosed left paren");
    check_compile_error("{{.A)}}", "template: :1: unexpected right paren");
    check_compile_error("{{}}", "template: :1: missing value for command");
    check_compile_error("{{if}}{{end}}", "template: :1: missing value for if");
    check_compile_error("{{3x}}", "template: :1: bad number syntax: \"3x\"");
    check_compile_error("{{\"a\".B}}", "template: :1: unexpected . after term \"a\"");
    check_compile_error("{{template \"x\"}}", "template: :1: {{template}} is not supported");
    check_compile_error("{{range $a, $b, $c := .X}}{{end}}",
                        "template: :1: too many declarations in range");
    check_compile_error("{{.A | 3}}", "template: :1: non executable command in pipeline stage 2");
    check_compile_error("{{if .A}}{{else}}{{else}}{{end}}",
                        "template: :1: expected end; found {{else}}");
}

static void test_exec_errors(void **state)
{
    (void)state;
    check_exec_error("{{.Name.X}}", "template: :1:2: executing \"\" at <.Name.X>: can't "
                                    "evaluate field X in type string");
    check_exec_error("x\n {{.Nothing.X}}", "template: :2:3: executing \"\" at <.Nothing.X>: nil "
                                           "pointer evaluating interface {}.X");
    check_exec_error("{{index .Args 5}}", "template: :1:2: executing \"\" at <index .Args 5>: "
                                          "error calling index: index out of range: 5");
    check_exec_error("{{.Name 1}}", "template: :1:2: executing \"\" at <.Name>: Name is not a "
                                    "method but has arguments");
    check_exec_error("{{range .Name}}{{end}}", "template: :1:8: executing \"\" at <{{range "
                                               ".Name}}>: range can't iterate over /web");
    check_exec_error("{{upper 5}}", "template: :1:2: executing \"\" at <upper 5>: wrong type for "
                                    "value; expected string; got int");
    check_exec_error("{{len .Num}}", "template: :1:2: executing \"\" at <len .Num>: error "
                                     "calling len: len of type int");
    /* join takes the array first, so it cannot be piped into (as in Go) */
    check_exec_error("{{.Config.Env | join \";\"}}",
                     "template: :1:16: executing \"\" at <join \";\">: wrong type for value; "
                     "expected []string; got string");
    check_exec_error("{{join .Args}}", "template: :1:2: executing \"\" at <join .Args>: wrong "
                                       "number of args for join: want 2 got 1");
    check_exec_error("{{index .Config.Env 12345}}",
                     "template: :1:2: executing \"\" at <index .Config.Env 12...>: "
                     "error calling index: index out of range: 12345");
    check_exec_error("{{\"x\" 1}}", "template: :1:2: executing \"\" at <\"x\">: can't give "
                                   "argument to non-function \"x\"");
}

static void test_exec_keeps_partial_output(void **state)
{
    (void)state;
    wharf_error err = {0};
    json_t *d = data();
    format_template *t = format_compile_plain("ok {{.Name.X}} never", &err);
    assert_non_null(t);
    strbuf out = STRBUF_INIT;
    assert_int_equal(format_execute(t, d, &out, &err), -EINVAL);
    assert_string_equal(strbuf_str(&out), "ok ");
    strbuf_release(&out);
    format_template_free(t);
    json_decref(d);
}

static void test_runaway_templates_are_bounded(void **state)
{
    (void)state;
    wharf_error err = {0};
    format_template *t =
        format_compile_plain("{{range 100000}}{{range 100000}}{{end}}{{end}}", &err);
    assert_non_null(t);
    strbuf out = STRBUF_INIT;
    assert_int_equal(format_execute(t, NULL, &out, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "exceeded"));
    strbuf_release(&out);
    format_template_free(t);
    /* deep nesting is refused at parse time instead of recursing unbounded */
    strbuf deep = STRBUF_INIT;
    strbuf_addstr(&deep, "{{");
    for (int i = 0; i < 5000; i++)
        strbuf_addch(&deep, '(');
    strbuf_addstr(&deep, "1");
    for (int i = 0; i < 5000; i++)
        strbuf_addch(&deep, ')');
    strbuf_addstr(&deep, "}}");
    assert_null(format_compile_plain(deep.buf, &err));
    assert_string_equal(err.msg, "template: :1: max expression depth exceeded");
    strbuf_release(&deep);
}

static void test_header_titles(void **state)
{
    (void)state;
    const char *cases[][2] = {{"ID", "ID"},           {"Image", "IMAGE"},
                              {"CreatedAt", "CREATED AT"}, {"RunningFor", "RUNNING FOR"},
                              {"HostIP", "HOST IP"},  {"IPAddress", "IP ADDRESS"},
                              {"Names", "NAMES"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = format_header_title(cases[i][0]);
        assert_string_equal(t, cases[i][1]);
        free(t);
    }
}

static void test_table_render(void **state)
{
    (void)state;
    wharf_error err = {0};
    format_template *t =
        format_compile("table {{.ID}}\\t{{.Image}}\\t{{.CreatedAt}}", &err);
    assert_non_null(t);
    assert_true(format_template_is_table(t));
    json_t *rows = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "ID", "abc123", "Image", "nginx",
                             "CreatedAt", "2024", "ID", "d", "Image", "redis:7-alpine",
                             "CreatedAt", "x");
    static const format_header headers[] = {{"ID", "CONTAINER ID"}, {NULL, NULL}};
    strbuf out = STRBUF_INIT;
    assert_int_equal(format_render(t, rows, headers, &out, &err), 0);
    assert_string_equal(strbuf_str(&out), "CONTAINER ID   IMAGE            CREATED AT\n"
                                          "abc123         nginx            2024\n"
                                          "d              redis:7-alpine   x\n");
    strbuf_reset(&out);
    /* no rows: the header alone; short columns still get docker's minimum */
    json_t *none = json_array();
    format_template *t2 = format_compile("table {{.Name}}\t{{json .Labels}}\t{{.Size}}", &err);
    assert_non_null(t2);
    assert_int_equal(format_render(t2, none, NULL, &out, &err), 0);
    assert_string_equal(strbuf_str(&out), "NAME      LABELS    SIZE\n");
    strbuf_release(&out);
    json_decref(none);
    format_template_free(t2);
    format_template_free(t);
    json_decref(rows);
}

static void test_non_table_render_and_json_keyword(void **state)
{
    (void)state;
    wharf_error err = {0};
    json_t *rows = json_pack("[{s:s},{s:s}]", "ID", "a", "ID", "b");
    format_template *t = format_compile("  {{.ID}}\\n  ", &err);
    assert_non_null(t);
    assert_false(format_template_is_table(t));
    strbuf out = STRBUF_INIT;
    assert_int_equal(format_render(t, rows, NULL, &out, &err), 0);
    assert_string_equal(strbuf_str(&out), "a\n\nb\n\n");
    format_template_free(t);
    strbuf_reset(&out);
    t = format_compile("json", &err);
    assert_non_null(t);
    assert_int_equal(format_render(t, rows, NULL, &out, &err), 0);
    assert_string_equal(strbuf_str(&out), "{\"ID\":\"a\"}\n{\"ID\":\"b\"}\n");
    strbuf_release(&out);
    format_template_free(t);
    /* plain compile keeps a literal backslash-t */
    t = format_compile_plain("{{.ID}}\\t", &err);
    strbuf o2 = STRBUF_INIT;
    assert_int_equal(format_execute(t, json_array_get(rows, 0), &o2, &err), 0);
    assert_string_equal(strbuf_str(&o2), "a\\t");
    strbuf_release(&o2);
    format_template_free(t);
    /* a row error stops rendering with the template's message */
    t = format_compile("{{.ID.X}}", &err);
    strbuf o3 = STRBUF_INIT;
    assert_int_equal(format_render(t, rows, NULL, &o3, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "can't evaluate field X in type string"));
    strbuf_release(&o3);
    format_template_free(t);
    json_decref(rows);
}

static void test_table_header_functions(void **state)
{
    (void)state;
    /* docker renders headers with json/upper/... as identity functions and
     * titles nested chains by their last field */
    wharf_error err = {0};
    format_template *t = format_compile(
        "table {{json .Labels}}\t{{upper .Names}}\t{{.Config.Image}}\t{{pad .ID 1 1}}", &err);
    assert_non_null(t);
    json_t *rows = json_pack("[{s:{s:s},s:s,s:{s:s},s:s}]", "Labels", "a", "b", "Names", "web",
                             "Config", "Image", "nginx", "ID", "x");
    static const format_header headers[] = {{"Config.Image", "IMG"}, {NULL, NULL}};
    strbuf out = STRBUF_INIT;
    assert_int_equal(format_render(t, rows, headers, &out, &err), 0);
    assert_string_equal(strbuf_str(&out), "LABELS      NAMES     IMG        ID \n"
                                          "{\"a\":\"b\"}   WEB       nginx      x \n");
    strbuf_release(&out);
    format_template_free(t);
    json_decref(rows);
}

static void check_aligner(format_table *tw, const char *in, const char *want)
{
    strbuf out = STRBUF_INIT;
    format_table_write(tw, in, strlen(in));
    format_table_flush(tw, &out);
    if (strcmp(strbuf_str(&out), want) != 0)
        fail_msg("aligner: got [%s] want [%s]", strbuf_str(&out), want);
    strbuf_release(&out);
    format_table_free(tw);
}

static void test_aligner(void **state)
{
    (void)state;
    /* the last cell of a line is not part of a column */
    check_aligner(format_table_new(0, 8, 1, '.'), "a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n",
                  "a...b...c\naa..bbb.cccc\naaa.bbbb\n");
    /* a line without tabs ends the column block */
    check_aligner(format_table_new(0, 8, 2, ' '), "x\tyy\nlonglong\nz\tw\n",
                  "x  yy\nlonglong\nz  w\n");
    /* widths count characters, not bytes */
    check_aligner(format_table_new(0, 8, 1, ' '), "\xc3\xa9\tx\nab\ty\n", "\xc3\xa9  x\nab y\n");
    /* tab padding rounds cells up to tabwidth */
    check_aligner(format_table_new(0, 8, 1, '\t'), "a\tb\nabcdefgh\tc\n", "a\t\tb\nabcdefgh\tc\n");
    /* trailing text without a newline is flushed as is */
    check_aligner(format_table_new(0, 8, 1, ' '), "a\tb\nccc\td", "a   b\nccc d");
    /* empty cells are padded too */
    check_aligner(format_table_new(0, 8, 1, ' '), "\tb\nccc\td\n", "    b\nccc d\n");

    format_table *tw = format_table_new_docker();
    const char *h[] = {"NAME", "STATUS", "PORTS"};
    const char *r1[] = {"web", "Up 2 minutes", "80/tcp"};
    format_table_add_row(tw, h, 3);
    format_table_add_row(tw, r1, 3);
    strbuf out = STRBUF_INIT;
    format_table_flush(tw, &out);
    assert_string_equal(strbuf_str(&out), "NAME      STATUS         PORTS\n"
                                          "web       Up 2 minutes   80/tcp\n");
    /* the writer is reusable after a flush */
    strbuf_reset(&out);
    format_table_add_row(tw, r1, 2);
    format_table_flush(tw, &out);
    assert_string_equal(strbuf_str(&out), "web       Up 2 minutes\n");
    strbuf_release(&out);
    format_table_free(tw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_fields),
        cmocka_unit_test(test_value_printing),
        cmocka_unit_test(test_trim_and_comments),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_if_with),
        cmocka_unit_test(test_pipelines),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_exec_errors),
        cmocka_unit_test(test_exec_keeps_partial_output),
        cmocka_unit_test(test_runaway_templates_are_bounded),
        cmocka_unit_test(test_header_titles),
        cmocka_unit_test(test_table_render),
        cmocka_unit_test(test_non_table_render_and_json_keyword),
        cmocka_unit_test(test_table_header_functions),
        cmocka_unit_test(test_aligner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
