/*
 * plan.c — which services a command acts on, and what to do with each
 * service's containers.
 *
 * Selection follows Compose: the services named (or every enabled one), and
 * for commands that start things, what those depend on, in dependency
 * order. A service switched off by its profiles runs when it is named; one
 * only pulled in as a dependency is an error.
 *
 * A service's replicas are numbered from 1. `up` keeps the lowest-numbered
 * existing containers up to the scale, replaces those whose configuration
 * hash or image changed (or whose dependency is being replaced), creates
 * the missing numbers, and removes the rest, highest numbers first.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

struct compose_service *compose_service(struct compose_project *p, const char *name)
{
    for (size_t i = 0; i < p->n_services; i++)
        if (strcmp(p->services[i].name, name) == 0)
            return &p->services[i];
    return NULL;
}

struct compose_resource *compose_network(struct compose_project *p, const char *key)
{
    for (size_t i = 0; i < p->n_networks; i++)
        if (strcmp(p->networks[i].key, key) == 0)
            return &p->networks[i];
    return NULL;
}

struct compose_resource *compose_volume(struct compose_project *p, const char *key)
{
    for (size_t i = 0; i < p->n_volumes; i++)
        if (strcmp(p->volumes[i].key, key) == 0)
            return &p->volumes[i];
    return NULL;
}

static size_t index_of(struct compose_project *p, const char *name)
{
    for (size_t i = 0; i < p->n_services; i++)
        if (strcmp(p->services[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

struct compose_service **compose_select(struct compose_project *p, const char *const *names,
                                        size_t n, bool with_deps, size_t *count, wharf_error *err)
{
    /* 0 not selected, 1 selected by name or as enabled, 2 pulled in */
    unsigned char *mark = xcalloc(p->n_services + 1, 1);
    for (size_t i = 0; i < n; i++) {
        size_t k = index_of(p, names[i]);
        if (k == SIZE_MAX) {
            free(mark);
            wharf_error_set(err, -ENOENT, "no such service: %s", names[i]);
            return NULL;
        }
        mark[k] = 1;
    }
    if (n == 0)
        for (size_t i = 0; i < p->n_services; i++)
            mark[i] = p->services[i].enabled;
    if (with_deps) {
        /* Services come in dependency order: walking backwards reaches a
         * service before anything it depends on. */
        for (size_t i = p->n_services; i-- > 0;) {
            if (!mark[i])
                continue;
            struct compose_service *s = &p->services[i];
            for (size_t d = 0; d < s->n_depends_on; d++) {
                size_t k = index_of(p, s->depends_on[d].service);
                if (mark[k])
                    continue;
                if (!p->services[k].enabled) {
                    if (!s->depends_on[d].required)
                        continue;
                    wharf_error_set(err, -EINVAL,
                                    "service \"%s\" was pulled in as a dependency of service "
                                    "\"%s\" but is not enabled by the active profiles",
                                    p->services[k].name, s->name);
                    free(mark);
                    return NULL;
                }
                mark[k] = 2;
            }
        }
    }
    struct compose_service **out = xcalloc(p->n_services + 1, sizeof(*out));
    *count = 0;
    for (size_t i = 0; i < p->n_services; i++)
        if (mark[i])
            out[(*count)++] = &p->services[i];
    free(mark);
    return out;
}

int compose_set_scale(struct compose_project *p, const char *spec, wharf_error *err)
{
    const char *eq = strchr(spec, '=');
    char *end;
    long v = eq ? strtol(eq + 1, &end, 10) : -1;
    if (!eq || eq == spec || !eq[1] || *end || v < 0 || v > 10000)
        return wharf_error_set(err, -EINVAL, "invalid scale specifier \"%s\": want SERVICE=NUM",
                               spec);
    _cleanup_free_ char *name = xasprintf("%.*s", (int)(eq - spec), spec);
    struct compose_service *s = compose_service(p, name);
    if (!s)
        return wharf_error_set(err, -ENOENT, "no such service: %s", name);
    if (s->container_name && v > 1)
        return wharf_error_set(
            err, -EINVAL, "service \"%s\" has a fixed container_name and cannot be scaled", name);
    s->scale = (int)v;
    return 0;
}

static int by_number(const void *a, const void *b)
{
    const struct compose_existing *x = *(const struct compose_existing *const *)a;
    const struct compose_existing *y = *(const struct compose_existing *const *)b;
    return (x->number > y->number) - (x->number < y->number);
}

int compose_plan_service(const struct compose_service *svc, const struct compose_existing *ex,
                         size_t n_ex, const struct compose_plan_options *o,
                         struct compose_step **steps, size_t *n_steps)
{
    const struct compose_existing **sorted = xcalloc(n_ex + 1, sizeof(*sorted));
    for (size_t i = 0; i < n_ex; i++)
        sorted[i] = &ex[i];
    qsort(sorted, n_ex, sizeof(*sorted), by_number);
    int scale = svc->scale < 0 ? 0 : svc->scale;
    struct compose_step *out = xcalloc(n_ex + (size_t)scale + 1, sizeof(*out));
    size_t n = 0, kept = 0;
    bool *removed = xcalloc(n_ex + 1, sizeof(bool));
    int last_number = INT_MIN;
    for (size_t i = 0; i < n_ex; i++) {
        const struct compose_existing *e = sorted[i];
        /* a second container with the same number is surplus */
        if ((int)kept >= scale || e->number == last_number || e->number <= 0) {
            removed[i] = true;
            continue;
        }
        last_number = e->number;
        kept++;
        bool changed = strcmp(e->hash ? e->hash : "", svc->hash) != 0 ||
                       (o->image_id && e->image_id && strcmp(o->image_id, e->image_id) != 0) ||
                       o->dependency_recreated;
        enum compose_action a;
        if (o->force_recreate || (changed && !o->no_recreate))
            a = COMPOSE_RECREATE;
        else
            a = e->running ? COMPOSE_KEEP : COMPOSE_START;
        out[n++] = (struct compose_step){a, e->number, e};
    }
    /* the missing replicas take the lowest free numbers */
    for (int number = 1; (int)kept < scale; number++) {
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            used = out[i].number == number;
        if (used)
            continue;
        out[n++] = (struct compose_step){COMPOSE_CREATE, number, NULL};
        kept++;
    }
    for (size_t i = n_ex; i-- > 0;)
        if (removed[i])
            out[n++] = (struct compose_step){COMPOSE_REMOVE, sorted[i]->number, sorted[i]};
    free(removed);
    free(sorted);
    *steps = out;
    *n_steps = n;
    return 0;
}
