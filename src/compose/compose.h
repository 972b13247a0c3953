/*
 * compose — the Compose file format and what it takes to bring a project to
 * what its files say, for `wharf compose` (src/cli/wharf_compose*.c).
 *
 * Owns:
 *   - the files: compose.yaml, compose.yml, docker-compose.yaml or
 *     docker-compose.yml (searched from the working directory upwards) and
 *     their compose.override.* sibling, or -f files merged in order; YAML 1.2
 *     through libfyaml, anchors, aliases and `<<` merge keys included
 *     (yaml.c, load.c);
 *   - the project name (-p, COMPOSE_PROJECT_NAME, the top-level `name`, the
 *     directory's name normalised as Compose does) and directory;
 *   - interpolation: ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e},
 *     ${VAR:+a}, ${VAR+a}, $VAR and $$, from the environment and a .env
 *     file, the environment winning (interp.c);
 *   - the model (model.c): every file checked against the Compose schema
 *     (unknown keys and wrong types named by their path,
 *     "services.web.portz: unknown key"), short forms turned into long ones
 *     (environment lists into maps, ports and volumes into objects, string
 *     commands split like a shell), relative paths made absolute, then the
 *     merged project checked as a whole (depends_on cycles, undefined
 *     services, networks and volumes, scale, profiles). Any error is one
 *     message and nothing has been asked of a daemon yet;
 *   - the configuration hash of a service (hash.c), the dependency order and
 *     the plan for a service's containers given those found by their labels
 *     (plan.c), and the Engine API bodies for containers, networks and
 *     volumes with Compose's names and labels (api.c);
 *   - the resolved model as YAML for `config` (yaml.c).
 *
 * Must not: speak HTTP or print (the CLI does, over client.h); it reads the
 * compose files, .env and env_file files and nothing else.
 */
#ifndef WHARF_COMPOSE_H
#define WHARF_COMPOSE_H

#include "base.h"

/* Docker Compose's container, network and volume labels. */
#define COMPOSE_LABEL_PROJECT "com.docker.compose.project"
#define COMPOSE_LABEL_SERVICE "com.docker.compose.service"
#define COMPOSE_LABEL_NUMBER "com.docker.compose.container-number"
#define COMPOSE_LABEL_HASH "com.docker.compose.config-hash"
#define COMPOSE_LABEL_ONEOFF "com.docker.compose.oneoff"
#define COMPOSE_LABEL_WORKDIR "com.docker.compose.project.working_dir"
#define COMPOSE_LABEL_FILES "com.docker.compose.project.config_files"
#define COMPOSE_LABEL_IMAGE "com.docker.compose.image"
#define COMPOSE_LABEL_DEPENDS "com.docker.compose.depends_on"
#define COMPOSE_LABEL_NETWORK "com.docker.compose.network"
#define COMPOSE_LABEL_VOLUME "com.docker.compose.volume"

/* ---------------------------------------------------------------- loading */

struct compose_options {
    const char *const *files; /* -f, merged in order ("-" is stdin); none: look for them */
    size_t n_files;
    const char *project_name;      /* -p, or NULL */
    const char *project_directory; /* --project-directory, or NULL: the first file's */
    const char *const *env_files;  /* --env-file; none: PROJECT_DIR/.env if it exists */
    size_t n_env_files;
    const char *const *profiles; /* --profile; COMPOSE_PROFILES adds to them */
    size_t n_profiles;
    char **environ;  /* NULL-terminated "K=V" to interpolate from; NULL: the process's */
    const char *cwd; /* where to look for files; NULL: the working directory */
};

enum compose_condition {
    COMPOSE_SERVICE_STARTED,
    COMPOSE_SERVICE_HEALTHY,
    COMPOSE_SERVICE_COMPLETED_SUCCESSFULLY,
};

struct compose_dependency {
    const char *service; /* borrowed from the model */
    enum compose_condition condition;
    bool required;
    bool restart;
};

struct compose_service {
    const char *name;           /* borrowed from the model */
    json_t *config;             /* its canonical configuration, borrowed from the model */
    char *image;                /* `image`, else PROJECT-SERVICE (what a build is tagged) */
    bool has_build;             /* a `build` section */
    bool has_image;             /* an explicit `image` */
    const char *pull_policy;    /* "missing" (default), "always", "never", "build" */
    const char *container_name; /* fixed name, or NULL */
    struct compose_dependency *depends_on;
    size_t n_depends_on;
    int scale;     /* replicas */
    bool enabled;  /* not switched off by its profiles */
    char hash[65]; /* the configuration hash (hex sha256) */
};

struct compose_resource { /* a top-level network or volume */
    const char *key;      /* the name in the file ("default", "data") */
    char *name;           /* the daemon's name: `name`, else PROJECT_KEY (external: KEY) */
    bool external;
    json_t *config; /* borrowed from the model */
};

struct compose_project {
    char *name;
    char *working_dir;   /* absolute */
    char **config_files; /* absolute; "-" for stdin */
    size_t n_config_files;
    json_t *model; /* the resolved document: name, services, networks, volumes */
    /* Every service, in dependency order (a service after what it depends on). */
    struct compose_service *services;
    size_t n_services;
    struct compose_resource *networks; /* those services use, plus declared ones */
    size_t n_networks;
    struct compose_resource *volumes;
    size_t n_volumes;
    char **warnings; /* what the CLI should print ("the attribute `version` is obsolete") */
    size_t n_warnings;
};

/* Loads, interpolates, checks and merges the project's files. Returns the
 * project (compose_project_free) or NULL with *err naming the file and the
 * path of what is wrong. */
struct compose_project *compose_load(const struct compose_options *o, wharf_error *err);
void compose_project_free(struct compose_project *p);

/* The same from YAML texts (names are for messages; dir is the project
 * directory). For tests and fuzzing. */
struct compose_project *compose_load_texts(const char *const *names, const char *const *texts,
                                           size_t n, const char *dir,
                                           const struct compose_options *o, wharf_error *err);

/* Compose's normalisation of a directory name into a project name:
 * lower case, only [a-z0-9_-], no leading '_' or '-'. Caller frees. */
char *compose_normalize_project_name(const char *s);
/* 0, or -EINVAL naming a name Compose does not accept. */
int compose_check_project_name(const char *name, wharf_error *err);

/* The service named name, or NULL. */
struct compose_service *compose_service(struct compose_project *p, const char *name);
/* The network or volume by its key in the file, or NULL. */
struct compose_resource *compose_network(struct compose_project *p, const char *key);
struct compose_resource *compose_volume(struct compose_project *p, const char *key);

/*
 * The services a command acts on, in dependency order: those named (all the
 * enabled ones when n is 0) and, with_deps, what they depend on. A named
 * service is enabled even when its profiles are not active. Returns a
 * malloc'd vector of borrowed pointers (free only the vector) or NULL with
 * -ENOENT "no such service: x" or a dependency on a disabled service.
 */
struct compose_service **compose_select(struct compose_project *p, const char *const *names,
                                        size_t n, bool with_deps, size_t *count, wharf_error *err);

/* --scale SERVICE=N: sets the scale (the configuration hash does not
 * change). -EINVAL for a bad spec, -ENOENT for an unknown service. */
int compose_set_scale(struct compose_project *p, const char *spec, wharf_error *err);

/* ---------------------------------------------------------------- interpolation */

/* Looks a variable up; NULL when unset. */
typedef const char *(*compose_lookup_fn)(void *data, const char *name);

/*
 * Interpolates one string. where names it in messages ("services.web.image").
 * Unset variables without a default become "" and are added to *unset (a
 * strbuf of names separated by '\n', may be NULL). Returns a new string or
 * NULL with -EINVAL: "services.web.image: required variable TAG is missing a
 * value: msg" or "invalid interpolation format for ...".
 */
char *compose_interpolate(const char *s, const char *where, compose_lookup_fn lookup, void *data,
                          strbuf *unset, wharf_error *err);

/* Parses a .env or env_file text: KEY=VALUE lines, comments, `export`,
 * single quotes (literal), double quotes (escapes, interpolation), values
 * interpolated from earlier keys and lookup (may be NULL). Adds the pairs to
 * out (an object of strings); a line without '=' sets KEY from lookup when
 * it has it. -EINVAL naming name and the line. */
int compose_parse_env(const char *name, const char *text, compose_lookup_fn lookup, void *data,
                      json_t *out, wharf_error *err);

/* ---------------------------------------------------------------- YAML */

/* YAML 1.2 text (one document) into JSON: the core schema's scalars (null,
 * booleans, integers, floats; quoted scalars stay strings), aliases and
 * merge keys resolved. Returns a new reference or NULL with "name:LINE:COL:
 * message". */
json_t *compose_yaml_parse(const char *name, const char *text, size_t len, wharf_error *err);
/* JSON as block YAML (two-space indents, strings quoted when they would read
 * back as something else), appended to out. */
void compose_yaml_emit(json_t *doc, strbuf *out);

/* ---------------------------------------------------------------- plans */

/* A service's container the daemon has (from its labels and state). */
struct compose_existing {
    const char *id;
    const char *name;
    int number;           /* com.docker.compose.container-number */
    const char *hash;     /* com.docker.compose.config-hash */
    const char *image_id; /* the image it was created from */
    bool running;         /* running, paused or restarting */
};

enum compose_action {
    COMPOSE_KEEP,     /* running with the current configuration */
    COMPOSE_START,    /* current configuration, not running: start it */
    COMPOSE_RECREATE, /* configuration or image changed: replace it */
    COMPOSE_CREATE,   /* a replica that does not exist yet */
    COMPOSE_REMOVE,   /* a replica beyond the scale */
};

struct compose_step {
    enum compose_action action;
    int number;                              /* the replica's number */
    const struct compose_existing *existing; /* NULL for CREATE */
};

struct compose_plan_options {
    bool force_recreate;
    bool no_recreate;
    bool dependency_recreated; /* something it depends on is being recreated */
    const char *image_id;      /* the image's current ID, NULL when unknown */
};

/* What to do with svc's containers: the first `scale` numbers are kept,
 * started, recreated or created (lowest free numbers first), the rest
 * removed (highest first). *steps is malloc'd. */
int compose_plan_service(const struct compose_service *svc, const struct compose_existing *ex,
                         size_t n_ex, const struct compose_plan_options *o,
                         struct compose_step **steps, size_t *n_steps);

/* ---------------------------------------------------------------- hashing */

/* The configuration hash of a service's canonical configuration: sha256 of
 * its JSON with sorted keys, leaving out what does not touch a container
 * (build, pull_policy, scale, deploy.replicas, depends_on, profiles). */
void compose_config_hash(json_t *service_config, char out[65]);

/* ---------------------------------------------------------------- Engine API */

/* "PROJECT-SERVICE-N" (or the service's container_name). Caller frees. */
char *compose_container_name(const struct compose_project *p, const struct compose_service *svc,
                             int number);

struct compose_create_options {
    int number;                 /* the replica's number (0 for a one-off) */
    bool oneoff;                /* a `run` container: no aliases, oneoff=True */
    const char *image_id;       /* for com.docker.compose.image, may be NULL */
    json_t *command;            /* run's command (array), replaces the service's; may be NULL */
    json_t *entrypoint;         /* run's --entrypoint (array), may be NULL */
    json_t *extra_env;          /* run's -e "K=V" strings, may be NULL */
    const char *user, *workdir; /* run's -u / -w, may be NULL */
    bool tty, stdin_open;       /* run's terminal and input (one-offs only) */
    bool no_ports;              /* run without --service-ports */
    const char *const *keep_volumes; /* "NAME:/target" of anonymous volumes to reuse */
    size_t n_keep_volumes;
};

/* The POST /containers/create body of a service's container: the service's
 * configuration, Compose's labels, the project's networks with the service's
 * aliases, named volumes by their daemon names. A new reference. */
json_t *compose_container_body(const struct compose_project *p, const struct compose_service *svc,
                               const struct compose_create_options *o);
/* POST /networks/create and /volumes/create bodies (new references). */
json_t *compose_network_body(const struct compose_project *p, const struct compose_resource *n);
json_t *compose_volume_body(const struct compose_project *p, const struct compose_resource *v);
/* The daemon names of the networks a service joins, in the order it joins
 * them (malloc'd vector of borrowed strings; free only the vector). */
const char **compose_service_networks(const struct compose_project *p,
                                      const struct compose_service *svc, size_t *count);
/* The keys of the top-level volumes a service mounts (same ownership). */
const char **compose_service_volumes(const struct compose_project *p,
                                     const struct compose_service *svc, size_t *count);

/* Go's time.ParseDuration ("1m30s", "300ms", "1.5h") into nanoseconds;
 * -EINVAL when it is not one. */
int compose_parse_duration(const char *s, int64_t *ns);

#endif
