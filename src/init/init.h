/*
 * init — the container's pid 1 for `run --init` (what docker-init/tini do).
 *
 * Owns: starting the real command as its child, forwarding every signal the
 * container receives to it (or to its process group), reaping every zombie
 * that is reparented to pid 1, and exiting with the child's status
 * (128+signal when it was killed). Outside pid 1 it makes itself a child
 * subreaper so orphans still come back to it.
 *
 * Must not: allocate after start-up or depend on anything but libc; it is
 * linked statically and bind-mounted into containers.
 */
#ifndef WHARF_INIT_H
#define WHARF_INIT_H

#include <stdbool.h>

struct init_options {
    char **argv;         /* the command; argv[0] is looked up in PATH */
    bool process_group;  /* forward signals to the child's process group */
};

/* Runs the command and returns the status to exit with; 127 when it cannot
 * be started (a message goes to stderr). */
int init_run(const struct init_options *opts);

#endif
