/*
 * shim_internal.h — helpers shared by the files of the shim module only.
 */
#ifndef WHARF_SHIM_INTERNAL_H
#define WHARF_SHIM_INTERNAL_H

#include "shim.h"

/* A unix socket of `type` named `name` inside the directory dir_fd, bound
 * and listening (listen_mode) or connected. The name is reached through
 * /proc/self/fd/DIR_FD/NAME so a deep state dir does not hit the 108-byte
 * sun_path limit. Returns a non-blocking CLOEXEC fd or a negative errno. */
int shim_unix_socket(int dir_fd, const char *dir_path, const char *name, int type, bool listen_mode,
                     wharf_error *err);

#endif
