/*
 * build — Dockerfiles into images, as Docker's classic builder does.
 *
 * Owns: the Dockerfile language (dockerfile.c: parser directives `# syntax`
 * and `# escape`, line continuations, comments, exec (JSON) and shell forms,
 * instruction flags, and Docker's word processing with ${VAR}, ${VAR:-d},
 * ${VAR:+a}), .dockerignore patterns (dockerignore.c: `!` exceptions, `**`,
 * a pattern matching a directory excludes what is under it), build contexts
 * as tar streams (context.c: written by a client honoring .dockerignore,
 * unpacked by the daemon), and the builder (builder.c): stages, ARG scoping
 * and --build-arg, only the stages the target needs, a layer cache keyed on
 * the parent image and the instruction (and for COPY/ADD the content of the
 * sources), RUN in a real container through the container layer (a sandbox
 * of one over an overlay of the current image), COPY/ADD written into the
 * overlay, missing base images pulled through the caller's pull function, each step committed as a
 * new image from the overlay's upper directory, Docker's image config and one history entry per
 * instruction.
 *
 * Layout under the state directory the caller gives:
 *   STATE/cache/<hex>   the image ID a step produced, named by the step's
 *                       cache key (sha256 of parent image ID + instruction)
 *   STATE/tmp/<build>/  one build's scratch: the overlay mounts of its
 *                       steps and the empty mount targets RUN needs
 * and, for a daemon, the directory given to build_context_open:
 *   CONTEXTS/<hex>/     an unpacked context, named by the sha256 of its tar
 *
 * Must not: speak HTTP or Docker's JSON progress (the front end turns the
 * emit callback into its own format), or write into the image store other
 * than through image.h. Users are resolved against the image's own
 * /etc/passwd and /etc/group, never the host's.
 */
#ifndef WHARF_BUILD_H
#define WHARF_BUILD_H

#include "base.h"

/* ---------------------------------------------------------------- Dockerfile */

/*
 * One instruction. args by keyword:
 *   from                  the words: IMAGE [AS NAME]
 *   run, cmd, entrypoint  json: the elements; else one string, the command
 *                         line as written (continuations joined)
 *   shell                 the elements (always json)
 *   copy, add             SRC... DEST (json elements or words, unexpanded)
 *   env, label            key, value, key, value... (unexpanded; "k=v"
 *                         split at the first '=', or the legacy "ENV k v")
 *   arg                   "NAME" or "NAME=default" words
 *   expose                the words; volume: json elements or the words
 *   user, workdir, stopsignal, maintainer   one string
 *   healthcheck           "NONE", or "CMD" then json elements or one string
 *   onbuild               one string: the trigger instruction
 */
struct build_instruction {
    char *keyword;  /* lower case: "from", "run", ... */
    char *original; /* as written, continuations joined: "RUN echo hi" */
    int line;       /* the line it starts on, from 1 */
    char **flags;   /* "--from=build", "--chown=1:1": NULL-terminated */
    size_t n_flags;
    char **args; /* NULL-terminated, see above */
    size_t n_args;
    bool json; /* exec (JSON array) form */
};

struct build_dockerfile {
    struct build_instruction *inst;
    size_t n;
    char escape;  /* '\\' or '`' (the escape directive) */
    char *syntax; /* the syntax directive, or NULL (informational only) */
    char *name;   /* for messages: "Dockerfile" */
};

/* Parses text. Errors name the file and line: "Dockerfile:7: unknown
 * instruction: FOOBAR" (-EINVAL). out is released with
 * build_dockerfile_release, also after a failure. */
int build_dockerfile_parse(const char *name, const char *text, size_t len,
                           struct build_dockerfile *out, wharf_error *err);
void build_dockerfile_release(struct build_dockerfile *df);
/* Parses a single instruction line (ONBUILD triggers, --label's LABEL). */
int build_instruction_parse(const char *name, int line, const char *text, char escape,
                            struct build_instruction *out, wharf_error *err);
void build_instruction_release(struct build_instruction *inst);

/* The value of flag "--NAME=value" among inst's flags (borrowed; "" for a
 * bare --NAME), or NULL when absent. */
const char *build_instruction_flag(const struct build_instruction *inst, const char *name);

/* ---------------------------------------------------------------- substitution */

/* The value of a variable (borrowed), or NULL when it is not set. */
typedef const char *(*build_lookup_fn)(const char *name, void *ud);

/* Docker's word processing: quotes removed, the escape character applied,
 * $VAR, ${VAR}, ${VAR:-word}, ${VAR-word}, ${VAR:+word}, ${VAR+word} and
 * ${VAR:?message} expanded (word is processed the same way). *out is
 * malloc'd. -EINVAL naming the problem: "bad substitution", "missing '}'". */
int build_expand_word(const char *word, char escape, build_lookup_fn lookup, void *ud, char **out,
                      wharf_error *err);
/* The same, also splitting at unquoted blanks (EXPOSE $PORTS): a
 * NULL-terminated vector of malloc'd words (free each and the vector). */
int build_expand_words(const char *text, char escape, build_lookup_fn lookup, void *ud, char ***out,
                       size_t *n, wharf_error *err);

/* ---------------------------------------------------------------- .dockerignore */

struct build_ignore;

/* Parses .dockerignore text (comments, blank lines, `!` exceptions, leading
 * '/' and redundant parts cleaned as Docker does). -EINVAL for a malformed
 * pattern, naming the line. */
int build_ignore_parse(const char *text, size_t len, struct build_ignore **out, wharf_error *err);
void build_ignore_free(struct build_ignore *ig);
/* Adds the exception "!path" (Docker always sends the Dockerfile and
 * .dockerignore, even when excluded). */
void build_ignore_keep(struct build_ignore *ig, const char *path);
/* Whether the context path ('/'-separated, relative) is excluded: the last
 * matching pattern decides, and a pattern that matches a parent directory
 * matches what is under it. NULL ig excludes nothing. */
bool build_ignore_excludes(const struct build_ignore *ig, const char *path);
/* Whether an excluded directory must still be walked because an exception
 * pattern may bring back something under it. */
bool build_ignore_walk_excluded_dir(const struct build_ignore *ig, const char *dir);
/* Matches one pattern (Docker's syntax: *, ?, [...], \ and **) against a
 * path; for tests and COPY's source globs. */
bool build_pattern_match(const char *pattern, const char *path);

/* ---------------------------------------------------------------- contexts */

/* Writes directory dir as a build context tar to fd: paths relative to dir,
 * owners 0:0, without what ig excludes (NULL: nothing); with extra_name set,
 * one more regular file of that name holding extra (a Dockerfile from
 * outside the context). *size (may be NULL) gets the bytes written. */
int build_context_write(const char *dir, const struct build_ignore *ig, const char *extra_name,
                        const char *extra, size_t extra_len, int fd, uint64_t *size,
                        wharf_error *err);
/* Unpacks a context tar (plain, gzip, bzip2, xz or zstd) from fd into the
 * existing directory dir. Absolute names, ".." and paths through symlinks
 * are refused (-EPERM); owners are not kept. */
int build_context_extract(int fd, const char *dir, wharf_error *err);

/* An unpacked context a build reads from; shared, never to be changed. */
struct build_context;
/* The context tar in fd, unpacked under cache_dir (created if missing), or
 * the copy an earlier build left there of the same bytes: the last few are
 * kept for unchanged rebuilds (contexts over 64 MiB are unpacked for this
 * build alone). Free with build_context_close, which may evict old ones. */
int build_context_open(int fd, const char *cache_dir, struct build_context **out, wharf_error *err);
const char *build_context_path(const struct build_context *ctx);
void build_context_close(struct build_context *ctx);

/* ---------------------------------------------------------------- builder */

typedef struct image_store image_store;
struct cri;

enum build_event {
    BUILD_EVENT_STREAM,   /* progress text ("Step 1/3 : ...") and RUN output */
    BUILD_EVENT_IMAGE_ID, /* a stage's image ID ("sha256:..."): Docker's aux message */
};
/* Receives the progress. A negative return cancels the build (-ECANCELED):
 * a running RUN is killed. */
typedef int (*build_emit_fn)(void *ud, enum build_event ev, const char *text, size_t len);

/* What the builder works against: images and cri borrowed for the build's
 * lifetime, state_dir copied. */
struct build_env {
    image_store *images;
    struct cri *cri;
    const char *state_dir; /* created if missing */
};

/* Fetches the image ref from its registry into the store (the front end's
 * job: the builder speaks no HTTP), printing progress lines through emit.
 * 0, or a negative errno with err naming ref and the cause. */
typedef int (*build_pull_fn)(void *ud, const char *ref, build_emit_fn emit, void *emit_ud,
                             wharf_error *err);

struct build_options {
    const char *context_dir; /* the unpacked context */
    const char *dockerfile;  /* path inside the context; NULL: "Dockerfile" */
    json_t *build_args;      /* {"NAME": "value" | null}; NULL: none. Copied. */
    json_t *labels;          /* {"k": "v"} set on the image; NULL: none. Copied. */
    const char *target;      /* a stage name; NULL or "": the last stage */
    const char *const *tags; /* tags for the result, n_tags of them */
    size_t n_tags;
    bool no_cache;
    bool pull;             /* pull FROM images even when stored (needs pull_fn) */
    build_pull_fn pull_fn; /* NULL: only images already stored can be used */
    void *pull_ud;
    const char *network; /* RUN's network: "host" (NULL, "", "default") or "none" */
    build_emit_fn emit;
    void *emit_ud;
};

struct build;

/* Everything that can be refused before anything runs: reads and parses the
 * Dockerfile, checks flags, stage references, the target and the tags.
 * Errors name the Dockerfile line (-EINVAL) or the missing file (-ENOENT:
 * "Cannot locate specified Dockerfile: Dockerfile"). *out is freed with
 * build_free. */
int build_prepare(const struct build_env *env, const struct build_options *opts, struct build **out,
                  wharf_error *err);
/* Runs the build, emitting progress; on success id gets the image ID and
 * the tags point at it. A RUN that fails stops the build with -ECHILD,
 * *exit_code its status and the message "The command '/bin/sh -c ...'
 * returned a non-zero code: N"; nothing is tagged then. */
int build_run(struct build *b, char id[72], int *exit_code, wharf_error *err);
void build_free(struct build *b);

#endif
