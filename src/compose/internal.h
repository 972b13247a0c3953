/*
 * internal.h — what the compose files share; not for other modules.
 */
#ifndef WHARF_COMPOSE_INTERNAL_H
#define WHARF_COMPOSE_INTERNAL_H

#include "compose.h"

#include <jansson.h>

/* ---------------------------------------------------------------- yaml.c */

bool compose_yaml_is_null(const char *s, size_t n);
/* A plain scalar by the YAML 1.2 core schema (a new reference). */
json_t *compose_yaml_plain(const char *s, size_t n);

/* ---------------------------------------------------------------- interp.c */

/* The variables a project is interpolated from: the environment first,
 * then the .env files. */
struct compose_env {
    char **environ; /* borrowed, NULL-terminated */
    json_t *dotenv; /* object of strings, owned */
    strbuf unset;   /* names looked up but unset, '\n'-separated */
};
const char *compose_env_lookup(void *env, const char *name);
/* Interpolates every string value (not keys) of doc in place; paths in
 * messages start at where ("" for a document). */
int compose_interpolate_tree(json_t *doc, const char *where, struct compose_env *env,
                             wharf_error *err);

/* ---------------------------------------------------------------- model.c */

/*
 * One file's document, after interpolation: checked against the schema and
 * put in canonical form (see compose.h). Relative paths resolve against
 * dir. Returns a new reference or NULL with *err ("services.web.portz:
 * unknown key"; the caller puts the file name in front).
 */
json_t *compose_model_normalize(json_t *doc, const char *dir, wharf_error *err);
/* Merges override into base (both canonical), as Compose merges -f files. */
void compose_model_merge(json_t *base, json_t *override);
/* The merged document into the project: env_file folded into environment,
 * references, cycles, scale, profiles, hashes, dependency order. Takes
 * ownership of doc. */
int compose_model_finish(struct compose_project *p, json_t *doc, struct compose_env *env,
                         const char *const *profiles, size_t n_profiles, wharf_error *err);
/* A string shell-split like Compose's shellwords (quotes, backslashes):
 * a new array, or NULL with -EINVAL naming where. */
json_t *compose_shell_split(const char *s, const char *where, wharf_error *err);
void compose_project_add_warning(struct compose_project *p, const char *fmt, ...)
    WHARF_PRINTF(2, 3);

#endif
