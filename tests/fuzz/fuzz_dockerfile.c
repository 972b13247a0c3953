/* libFuzzer target: arbitrary bytes as a Dockerfile (every instruction's
 * arguments then go through Docker's word processing) and as a
 * .dockerignore matched against a few paths. Must never crash, leak or
 * hang. */
#include "build.h"

#include <stdint.h>
#include <string.h>

static const char *lookup(const char *name, void *ud)
{
    (void)ud;
    if (strcmp(name, "A") == 0)
        return "a b";
    if (strcmp(name, "EMPTY") == 0)
        return "";
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wharf_error err = {0};
    struct build_dockerfile df;
    if (build_dockerfile_parse("Dockerfile", (const char *)data, size, &df, &err) == 0) {
        for (size_t i = 0; i < df.n; i++) {
            for (size_t k = 0; k < df.inst[i].n_args; k++) {
                char *out = NULL;
                if (build_expand_word(df.inst[i].args[k], df.escape, lookup, NULL, &out, &err) == 0)
                    free(out);
                char **words = NULL;
                size_t n = 0;
                if (build_expand_words(df.inst[i].args[k], df.escape, lookup, NULL, &words, &n,
                                       &err) == 0) {
                    for (size_t w = 0; w < n; w++)
                        free(words[w]);
                    free(words);
                }
            }
        }
    }
    build_dockerfile_release(&df);
    struct build_ignore *ig = NULL;
    if (build_ignore_parse((const char *)data, size, &ig, &err) == 0) {
        static const char *const paths[] = {
            "a", "a/b/c.txt", "Dockerfile", ".dockerignore", "docs/x/y.md", "[weird]/*?"};
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            build_ignore_excludes(ig, paths[i]);
            build_ignore_walk_excluded_dir(ig, paths[i]);
        }
        build_ignore_keep(ig, "Dockerfile");
        build_ignore_free(ig);
    }
    return 0;
}
