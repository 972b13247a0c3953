/* test_build.c — the build module's language side: the Dockerfile parser
 * (directives, continuations, comments, forms, flags, errors naming the
 * line), Docker's word processing (quotes, escapes, ${VAR:-d}, ${VAR:+a}),
 * .dockerignore patterns, and context tars written and unpacked. */
#include "build.h"

#include <archive.h>
#include <archive_entry.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cmocka.h>

static struct build_dockerfile parse_ok(const char *text)
{
    struct build_dockerfile df;
    wharf_error err = {0};
    if (build_dockerfile_parse("Dockerfile", text, strlen(text), &df, &err) < 0)
        fail_msg("parse failed: %s", err.msg);
    return df;
}

static void parse_fails(const char *text, const char *message)
{
    struct build_dockerfile df;
    wharf_error err = {0};
    int r = build_dockerfile_parse("Dockerfile", text, strlen(text), &df, &err);
    build_dockerfile_release(&df);
    if (r != -EINVAL)
        fail_msg("expected -EINVAL for %s, got %d", text, r);
    if (!strstr(err.msg, message))
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, message);
}

static void test_parse_basic(void **state)
{
    struct build_dockerfile df = parse_ok("# syntax=docker/dockerfile:1\n"
                                          "# a comment\n"
                                          "FROM scratch AS base\n"
                                          "\n"
                                          "copy --chown=1:2 a b /dst/\n"
                                          "RUN echo a && \\\n"
                                          "    # a comment inside\n"
                                          "\n"
                                          "    echo b\n"
                                          "CMD [\"sh\", \"-c\", \"echo \\\"hi\\\"\"]\n"
                                          "ENTRYPOINT [not json\n"
                                          "ENV A=1 B=\"two words\" C=x\\ y\n"
                                          "ENV LEGACY value with spaces\n"
                                          "LABEL \"com.example.x\"=\"1\"\n"
                                          "ARG V=1 W\n"
                                          "EXPOSE 80 443/udp\n"
                                          "VOLUME [\"/data\", \"/logs\"]\n"
                                          "HEALTHCHECK --interval=5s --retries=3 CMD true\n"
                                          "ONBUILD RUN echo triggered\n"
                                          "SHELL [\"/bin/sh\", \"-ec\"]\n"
                                          "WORKDIR /app\n");
    assert_string_equal(df.syntax, "docker/dockerfile:1");
    assert_int_equal(df.escape, '\\');
    assert_int_equal(df.n, 15);
    struct build_instruction *in = df.inst;
    assert_string_equal(in[0].keyword, "from");
    assert_int_equal(in[0].line, 3);
    assert_int_equal(in[0].n_args, 3);
    assert_string_equal(in[0].args[2], "base");
    assert_string_equal(in[1].keyword, "copy");
    assert_string_equal(in[1].original, "copy --chown=1:2 a b /dst/");
    assert_int_equal(in[1].n_flags, 1);
    assert_string_equal(build_instruction_flag(&in[1], "chown"), "1:2");
    assert_null(build_instruction_flag(&in[1], "from"));
    assert_int_equal(in[1].n_args, 3);
    assert_string_equal(in[1].args[2], "/dst/");
    /* continuation: comment and blank lines skipped, indentation kept */
    assert_string_equal(in[2].keyword, "run");
    assert_int_equal(in[2].line, 6);
    assert_false(in[2].json);
    assert_string_equal(in[2].args[0], "echo a &&     echo b");
    assert_string_equal(in[2].original, "RUN echo a &&     echo b");
    assert_true(in[3].json);
    assert_int_equal(in[3].n_args, 3);
    assert_string_equal(in[3].args[2], "echo \"hi\"");
    /* not valid JSON: shell form */
    assert_false(in[4].json);
    assert_string_equal(in[4].args[0], "[not json");
    /* ENV pairs stay unprocessed (quotes, escapes) until the build */
    assert_int_equal(in[5].n_args, 6);
    assert_string_equal(in[5].args[2], "B");
    assert_string_equal(in[5].args[3], "\"two words\"");
    assert_string_equal(in[5].args[5], "x\\ y");
    assert_int_equal(in[6].n_args, 2);
    assert_string_equal(in[6].args[0], "LEGACY");
    assert_string_equal(in[6].args[1], "value with spaces");
    assert_string_equal(in[7].args[0], "\"com.example.x\"");
    assert_int_equal(in[8].n_args, 2);
    assert_string_equal(in[8].args[1], "W");
    assert_int_equal(in[9].n_args, 2);
    assert_true(in[10].json);
    assert_string_equal(in[10].args[1], "/logs");
    assert_string_equal(in[11].args[0], "CMD");
    assert_string_equal(in[11].args[1], "true");
    assert_string_equal(build_instruction_flag(&in[11], "interval"), "5s");
    assert_string_equal(in[12].args[0], "RUN echo triggered");
    assert_true(in[13].json);
    assert_string_equal(in[14].args[0], "/app");
    build_dockerfile_release(&df);
}

static void test_parse_escape_directive(void **state)
{
    struct build_dockerfile df = parse_ok("# escape=`\n"
                                          "FROM scratch\n"
                                          "RUN dir c:\\ `\n"
                                          "  && echo done\n"
                                          "# escape=\\\n" /* a comment now */
                                          "ENV P=c:\\path\n");
    assert_int_equal(df.escape, '`');
    assert_int_equal(df.n, 3);
    assert_string_equal(df.inst[1].args[0], "dir c:\\   && echo done");
    assert_string_equal(df.inst[2].args[1], "c:\\path");
    build_dockerfile_release(&df);
    /* a directive after an instruction is an ordinary comment */
    df = parse_ok("FROM scratch\n# escape=`\nRUN a \\\n b\n");
    assert_int_equal(df.escape, '\\');
    assert_string_equal(df.inst[1].args[0], "a  b");
    build_dockerfile_release(&df);
    /* CRLF and a byte-order mark */
    df = parse_ok("\xef\xbb\xbf"
                  "FROM scratch\r\nRUN x \\\r\n y\r\n");
    assert_string_equal(df.inst[1].args[0], "x  y");
    build_dockerfile_release(&df);
}

static void test_parse_errors(void **state)
{
    parse_fails("FROM scratch\n\n\n\n\n\nFOOBAR x\n", "Dockerfile:7: unknown instruction: FOOBAR");
    parse_fails("FROM scratch\nCOPY --foo=bar a b\n", "Dockerfile:2: unknown flag: --foo");
    parse_fails("FROM scratch\nRUN --mount=type=cache x\n", "Dockerfile:2: unknown flag: --mount");
    parse_fails("FROM scratch\nCOPY --from a b\n", "Dockerfile:2: missing a value on flag: --from");
    parse_fails("FROM scratch\nCOPY only\n", "Dockerfile:2: COPY requires at least two arguments");
    parse_fails("FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments");
    parse_fails("FROM a TO b\n", "Dockerfile:1: FROM: the second argument should be AS");
    parse_fails("FROM a AS 1x\n", "invalid name for build stage");
    parse_fails("FROM scratch\nENV\n", "Dockerfile:2: ENV requires at least one argument");
    parse_fails("FROM scratch\nENV A=1 B\n", "Dockerfile:2: Syntax error - can't find = in \"B\"");
    parse_fails("FROM scratch\nENV ONLYKEY\n", "ENV must have two arguments");
    parse_fails("FROM scratch\nSHELL /bin/sh -c\n", "SHELL requires the arguments to be in JSON");
    parse_fails("FROM scratch\nHEALTHCHECK NONE x\n", "HEALTHCHECK NONE takes no arguments");
    parse_fails("FROM scratch\nHEALTHCHECK CMD\n", "Missing command after HEALTHCHECK CMD");
    parse_fails("FROM scratch\nHEALTHCHECK FOO x\n", "Unknown type \"FOO\" in HEALTHCHECK");
    parse_fails("FROM scratch\nHEALTHCHECK --interval=5 CMD x\n", "invalid duration \"5\"");
    parse_fails("FROM scratch\nHEALTHCHECK --timeout=1us CMD x\n", "cannot be less than 1ms");
    parse_fails("FROM scratch\nONBUILD ONBUILD RUN x\n", "Chaining ONBUILD");
    parse_fails("FROM scratch\nONBUILD FROM x\n", "FROM isn't allowed as an ONBUILD trigger");
    parse_fails("FROM scratch\nONBUILD BOGUS x\n", "Dockerfile:2: unknown instruction: BOGUS");
    parse_fails("FROM scratch\nUSER\n", "USER requires exactly one argument");
    parse_fails("FROM scratch\nRUN\n", "RUN requires at least one argument");
    parse_fails("# only a comment\n\n", "the Dockerfile (Dockerfile) cannot be empty");
    parse_fails("# escape=x\nFROM scratch\n", "invalid escape token 'x'");
    parse_fails("# escape=`\n# escape=`\nFROM scratch\n", "only one escape parser directive");
    parse_fails("FROM scratch\nCOPY --link=maybe a b\n", "expecting boolean value");
    parse_fails("FROM scratch\nCOPY --chown=1 --chown=2 a b\n", "duplicate flag specified");
}

static const char *lookup(const char *name, void *ud)
{
    json_t *env = ud;
    return json_string_value(json_object_get(env, name));
}

static char *expand(const char *word, char escape)
{
    json_t *env =
        json_pack("{s:s, s:s, s:s, s:s}", "A", "a", "EMPTY", "", "SP", "x y", "PATH", "/bin");
    char *out = NULL;
    wharf_error err = {0};
    int r = build_expand_word(word, escape, lookup, env, &out, &err);
    json_decref(env);
    if (r < 0)
        return xasprintf("ERROR %s", err.msg);
    return out;
}

#define EXPANDS(in, want)                                                                          \
    do {                                                                                           \
        char *got = expand(in, '\\');                                                              \
        if (strcmp(got, want) != 0)                                                                \
            fail_msg("%s: got [%s], want [%s]", in, got, want);                                    \
        free(got);                                                                                 \
    } while (0)

static void test_expand(void **state)
{
    EXPANDS("plain", "plain");
    EXPANDS("$A", "a");
    EXPANDS("${A}b", "ab");
    EXPANDS("$A$A-$UNSET.", "aa-.");
    EXPANDS("${UNSET:-def}", "def");
    EXPANDS("${EMPTY:-def}", "def");
    EXPANDS("${EMPTY-def}", "");
    EXPANDS("${UNSET-def}", "def");
    EXPANDS("${A:-def}", "a");
    EXPANDS("${A:+alt}", "alt");
    EXPANDS("${EMPTY:+alt}", "");
    EXPANDS("${EMPTY+alt}", "alt");
    EXPANDS("${UNSET:+alt}", "");
    EXPANDS("${UNSET:-${A}x}", "ax");
    EXPANDS("${UNSET:-'q w'}", "q w");
    EXPANDS("'$A'", "$A");
    EXPANDS("\"$A\"", "a");
    EXPANDS("\"a \\\"b\\\" \\$A \\x\"", "a \"b\" $A \\x");
    EXPANDS("\\$A", "$A");
    EXPANDS("a\\ b", "a b");
    EXPANDS("$", "$");
    EXPANDS("$ x", "$ x");
    EXPANDS("${PATH}:/usr/bin", "/bin:/usr/bin");
    EXPANDS("$1x", "x");
    EXPANDS("${A:?}", "a");
    EXPANDS("${UNSET:?must be set}", "ERROR UNSET: must be set");
    EXPANDS("${EMPTY:?}", "ERROR EMPTY: is not allowed to be empty");
    EXPANDS("${}", "ERROR syntax error: bad substitution");
    EXPANDS("${A", "ERROR syntax error: missing '}'");
    EXPANDS("${A:-x", "ERROR syntax error: missing '}'");
    EXPANDS("${A:*x}", "ERROR unsupported modifier (*) in substitution");
    EXPANDS("'open", "ERROR unexpected end of statement while looking for matching single-quote");
    EXPANDS("\"open", "ERROR unexpected end of statement while looking for matching double-quote");
    /* another escape character */
    char *got = expand("c:\\dir `$A", '`');
    assert_string_equal(got, "c:\\dir $A");
    free(got);
}

static void test_expand_words(void **state)
{
    json_t *env = json_pack("{s:s, s:s}", "PORTS", "80 443/tcp", "E", "");
    char **w = NULL;
    size_t n = 0;
    wharf_error err = {0};
    assert_int_equal(
        build_expand_words("$PORTS 8080 \"a b\" '' $E", '\\', lookup, env, &w, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_string_equal(w[0], "80");
    assert_string_equal(w[1], "443/tcp");
    assert_string_equal(w[2], "8080");
    assert_string_equal(w[3], "a b");
    assert_string_equal(w[4], "");
    assert_null(w[5]);
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
    json_decref(env);
}

static struct build_ignore *ignore(const char *text)
{
    struct build_ignore *ig = NULL;
    wharf_error err = {0};
    if (build_ignore_parse(text, strlen(text), &ig, &err) < 0)
        fail_msg("%s", err.msg);
    return ig;
}

static void test_patterns(void **state)
{
    assert_true(build_pattern_match("*.txt", "a.txt"));
    assert_false(build_pattern_match("*.txt", "d/a.txt"));
    assert_true(build_pattern_match("**/*.txt", "a.txt"));
    assert_true(build_pattern_match("**/*.txt", "d/e/a.txt"));
    assert_true(build_pattern_match("d/**", "d/e/f"));
    assert_true(build_pattern_match("d/**/f", "d/f"));
    assert_true(build_pattern_match("d/**/f", "d/x/y/f"));
    assert_false(build_pattern_match("d/**/f", "d/x/y/g"));
    assert_true(build_pattern_match("?.c", "a.c"));
    assert_false(build_pattern_match("?.c", "/.c"));
    assert_true(build_pattern_match("[a-c]x", "bx"));
    assert_false(build_pattern_match("[^a-c]x", "bx"));
    assert_true(build_pattern_match("[^a-c]x", "dx"));
    assert_true(build_pattern_match("a\\*b", "a*b"));
    assert_false(build_pattern_match("a\\*b", "axb"));
    assert_true(build_pattern_match("**", "anything/at/all"));
    /* many stars against a long name: remembered, not exponential */
    char pat[128] = "", name[256] = "";
    for (int i = 0; i < 30; i++)
        strcat(pat, "*a");
    strcat(pat, "b");
    memset(name, 'a', 200);
    assert_false(build_pattern_match(pat, name));
    name[199] = 'b';
    assert_true(build_pattern_match(pat, name));
}

static void test_dockerignore(void **state)
{
    struct build_ignore *ig = ignore("# comment\n"
                                     "  *.log  \n"
                                     "\n"
                                     "/build/\n"
                                     "secret\n"
                                     "!important.log\n"
                                     "docs/**/*.md\n"
                                     "!docs/keep/**\n"
                                     "tmp/./../tmp//x\n");
    assert_true(build_ignore_excludes(ig, "a.log"));
    assert_false(build_ignore_excludes(ig, "important.log"));
    assert_false(build_ignore_excludes(ig, "d/a.log")); /* '*' does not cross '/' */
    assert_true(build_ignore_excludes(ig, "build"));
    assert_true(build_ignore_excludes(ig, "build/out/bin")); /* under an excluded directory */
    assert_true(build_ignore_excludes(ig, "secret"));
    assert_true(build_ignore_excludes(ig, "secret/nested/file"));
    assert_false(build_ignore_excludes(ig, "secrets"));
    assert_true(build_ignore_excludes(ig, "docs/a.md"));
    assert_true(build_ignore_excludes(ig, "docs/x/y/a.md"));
    assert_false(build_ignore_excludes(ig, "docs/a.txt"));
    assert_false(build_ignore_excludes(ig, "docs/keep/a.md"));
    assert_true(build_ignore_excludes(ig, "tmp/x"));
    assert_false(build_ignore_excludes(ig, "Dockerfile"));
    /* an excluded directory is walked only when an exception names a path under it */
    assert_false(build_ignore_walk_excluded_dir(ig, "build"));
    build_ignore_free(ig);

    ig = ignore("*\n!src\n!Dockerfile\nsrc/*.o\n");
    assert_true(build_ignore_excludes(ig, "README"));
    assert_false(build_ignore_excludes(ig, "src"));
    assert_false(build_ignore_excludes(ig, "src/main.c"));
    assert_true(build_ignore_excludes(ig, "src/main.o"));
    assert_false(build_ignore_excludes(ig, "Dockerfile"));
    build_ignore_free(ig);

    ig = ignore("dir\n!dir/keep.txt\n.dockerignore\n");
    assert_true(build_ignore_excludes(ig, "dir/other"));
    assert_false(build_ignore_excludes(ig, "dir/keep.txt"));
    assert_true(build_ignore_walk_excluded_dir(ig, "dir"));
    assert_false(build_ignore_walk_excluded_dir(ig, "other"));
    /* the files the builder needs always go along */
    assert_true(build_ignore_excludes(ig, ".dockerignore"));
    build_ignore_keep(ig, ".dockerignore");
    assert_false(build_ignore_excludes(ig, ".dockerignore"));
    build_ignore_free(ig);

    wharf_error err = {0};
    assert_int_equal(build_ignore_parse("ok\n!\n", 5, &ig, &err), -EINVAL);
    assert_non_null(strstr(err.msg, ".dockerignore:2: illegal exclusion pattern"));
    assert_int_equal(build_ignore_parse("a[b\n", 4, &ig, &err), -EINVAL);
    assert_non_null(strstr(err.msg, ".dockerignore:1: syntax error in pattern"));
    assert_false(build_ignore_excludes(NULL, "anything"));
}

static char tmpdir[256];

static void put(const char *rel, const char *content)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", tmpdir, rel);
    wharf_error err = {0};
    _cleanup_free_ char *dir = xstrdup(p);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(wharf_mkdir_p(dir, 0755, &err), 0);
    assert_int_equal(wharf_write_file_atomic(p, content, strlen(content), 0644, &err), 0);
}

static void test_context_roundtrip(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_build.%d.XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(tmpdir));
    put("src/Dockerfile", "FROM scratch\n");
    put("src/.dockerignore", "*.log\nskip\n");
    put("src/a.txt", "a\n");
    put("src/x.log", "log\n");
    put("src/skip/inner", "no\n");
    put("src/d/e/f", "deep\n");
    _cleanup_free_ char *src = xasprintf("%s/src", tmpdir);
    _cleanup_free_ char *ln = xasprintf("%s/src/link", tmpdir);
    assert_int_equal(symlink("a.txt", ln), 0);
    _cleanup_free_ char *ignore_path = xasprintf("%s/.dockerignore", src);
    char *text = NULL;
    size_t len = 0;
    wharf_error err = {0};
    assert_int_equal(wharf_read_file(ignore_path, &text, &len, &err), 0);
    struct build_ignore *ig = ignore(text);
    free(text);
    int fd = memfd_create("ctx", MFD_CLOEXEC);
    uint64_t size = 0;
    assert_int_equal(
        build_context_write(src, ig, ".dockerfile.extra", "FROM x\n", 7, fd, &size, &err), 0);
    assert_true(size > 0);
    build_ignore_free(ig);
    lseek(fd, 0, SEEK_SET);
    _cleanup_free_ char *dst = xasprintf("%s/dst", tmpdir);
    assert_int_equal(mkdir(dst, 0700), 0);
    if (build_context_extract(fd, dst, &err) < 0)
        fail_msg("%s", err.msg);
    close(fd);
    char *got = NULL;
    _cleanup_free_ char *p1 = xasprintf("%s/a.txt", dst), *p2 = xasprintf("%s/d/e/f", dst),
                        *p3 = xasprintf("%s/x.log", dst), *p4 = xasprintf("%s/skip", dst),
                        *p5 = xasprintf("%s/.dockerfile.extra", dst),
                        *p6 = xasprintf("%s/.dockerignore", dst), *p7 = xasprintf("%s/link", dst);
    assert_int_equal(wharf_read_file(p1, &got, NULL, &err), 0);
    assert_string_equal(got, "a\n");
    free(got);
    assert_int_equal(wharf_read_file(p2, &got, NULL, &err), 0);
    free(got);
    assert_int_equal(access(p3, F_OK), -1);
    assert_int_equal(access(p4, F_OK), -1);
    assert_int_equal(wharf_read_file(p5, &got, NULL, &err), 0);
    assert_string_equal(got, "FROM x\n");
    free(got);
    /* the extra Dockerfile's name is appended to the .dockerignore sent */
    assert_int_equal(wharf_read_file(p6, &got, NULL, &err), 0);
    assert_string_equal(got, "*.log\nskip\n\n.dockerfile.extra\n");
    free(got);
    char target[64] = "";
    assert_int_equal(readlink(p7, target, sizeof(target) - 1), 5);
    assert_string_equal(target, "a.txt");

    /* a tar reaching outside the directory is refused */
    int evil = memfd_create("evil", MFD_CLOEXEC);
    static const char hdr_name[] = "../escape";
    char block[1536] = {0};
    memcpy(block, hdr_name, sizeof(hdr_name));
    memcpy(block + 100, "0000644", 7);
    memcpy(block + 108, "0000000", 7);
    memcpy(block + 116, "0000000", 7);
    memcpy(block + 124, "00000000000", 11);
    memcpy(block + 136, "00000000000", 11);
    block[156] = '0';
    memcpy(block + 257, "ustar", 6);
    memcpy(block + 263, "00", 2);
    memset(block + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)block[i];
    snprintf(block + 148, 8, "%06o", sum);
    assert_int_equal(write(evil, block, sizeof(block)), (ssize_t)sizeof(block));
    lseek(evil, 0, SEEK_SET);
    assert_int_equal(build_context_extract(evil, dst, &err), -EPERM);
    assert_non_null(strstr(err.msg, "../escape"));
    close(evil);

    /* nor one writing through a symlink it planted, or linking outside */
    static const struct {
        const char *name, *target;
        int type;
        bool hardlink;
    } through[][2] = {
        {{"ln", "/tmp", AE_IFLNK, false}, {"ln/escaped-by-test_build", NULL, AE_IFREG, false}},
        {{"hl", "../../etc/passwd", AE_IFREG, true}, {NULL, NULL, 0, false}},
    };
    for (size_t k = 0; k < 2; k++) {
        int t = memfd_create("through", MFD_CLOEXEC);
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        archive_write_open_fd(a, t);
        for (size_t i = 0; i < 2 && through[k][i].name; i++) {
            struct archive_entry *e = archive_entry_new();
            archive_entry_set_pathname(e, through[k][i].name);
            archive_entry_set_perm(e, 0644);
            if (through[k][i].hardlink) {
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_hardlink(e, through[k][i].target);
            } else {
                archive_entry_set_filetype(e, (mode_t)through[k][i].type);
                if (through[k][i].target)
                    archive_entry_set_symlink(e, through[k][i].target);
            }
            archive_write_header(a, e);
            archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
        lseek(t, 0, SEEK_SET);
        _cleanup_free_ char *d2 = xasprintf("%s/dst%zu", tmpdir, k);
        assert_int_equal(mkdir(d2, 0700), 0);
        assert_int_equal(build_context_extract(t, d2, &err), -EPERM);
        close(t);
    }
    assert_int_equal(access("/tmp/escaped-by-test_build", F_OK), -1);
    assert_int_equal(wharf_rm_rf(tmpdir, &err), 0);
}

/* A tar of one file, name holding content. */
static int one_file_tar(const char *name, const char *content)
{
    int fd = memfd_create("ctx", MFD_CLOEXEC);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_fd(a, fd);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)strlen(content));
    archive_write_header(a, e);
    archive_write_data(a, content, strlen(content));
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void test_context_cache(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_build.%d.XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(tmpdir));
    _cleanup_free_ char *cache = xasprintf("%s/contexts", tmpdir);
    wharf_error err = {0};
    int fd = one_file_tar("Dockerfile", "FROM scratch\n");
    struct build_context *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(build_context_open(fd, cache, &a, &err), 0);
    _cleanup_free_ char *df = xasprintf("%s/Dockerfile", build_context_path(a));
    struct stat st1, st2;
    assert_int_equal(stat(df, &st1), 0);
    /* the same bytes again: the same directory, not unpacked again */
    assert_int_equal(build_context_open(fd, cache, &b, &err), 0);
    assert_string_equal(build_context_path(a), build_context_path(b));
    assert_int_equal(stat(df, &st2), 0);
    assert_true(st1.st_ino == st2.st_ino);
    close(fd);
    fd = one_file_tar("Dockerfile", "FROM other\n");
    assert_int_equal(build_context_open(fd, cache, &c, &err), 0);
    close(fd);
    assert_string_not_equal(build_context_path(a), build_context_path(c));
    build_context_close(a);
    build_context_close(b);
    build_context_close(c);
    /* only the last few stay; one still in use is never evicted */
    struct build_context *held = NULL;
    fd = one_file_tar("Dockerfile", "FROM held\n");
    assert_int_equal(build_context_open(fd, cache, &held, &err), 0);
    close(fd);
    _cleanup_free_ char *held_path = xstrdup(build_context_path(held));
    for (int i = 0; i < 12; i++) {
        char text[32];
        snprintf(text, sizeof(text), "FROM n%d\n", i);
        fd = one_file_tar("Dockerfile", text);
        struct build_context *x = NULL;
        assert_int_equal(build_context_open(fd, cache, &x, &err), 0);
        close(fd);
        build_context_close(x);
    }
    assert_int_equal(access(held_path, F_OK), 0);
    build_context_close(held);
    DIR *d = opendir(cache);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    assert_true(n <= 8);
    /* not a tar: refused, nothing left behind */
    fd = memfd_create("junk", MFD_CLOEXEC);
    assert_int_equal(write(fd, "not a tar at all", 16), 16);
    assert_int_equal(build_context_open(fd, cache, &a, &err), -EINVAL);
    close(fd);
    d = opendir(cache);
    while ((de = readdir(d)))
        assert_true(strncmp(de->d_name, ".unpack", 7) != 0);
    closedir(d);
    assert_int_equal(wharf_rm_rf(tmpdir, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_basic),   cmocka_unit_test(test_parse_escape_directive),
        cmocka_unit_test(test_parse_errors),  cmocka_unit_test(test_expand),
        cmocka_unit_test(test_expand_words),  cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_dockerignore),  cmocka_unit_test(test_context_roundtrip),
        cmocka_unit_test(test_context_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
