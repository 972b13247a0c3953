/*
 * rootfs — the container's filesystem view, built inside its mount namespace.
 *
 * Owns: root propagation, the rootfs bind mount, every entry of `mounts`
 * (all flags, propagation flags, bind/rbind, tmpfs/proc/sysfs/mqueue/devpts/
 * cgroup, mount options incl. data), default and configured devices (mknod,
 * or bind mounts from the host inside a user namespace), /dev symlinks
 * (fd, stdin, stdout, stderr, core), /dev/pts and /dev/ptmx, /dev/shm,
 * pivot_root (or MS_MOVE + chroot with --no-pivot), maskedPaths,
 * readonlyPaths, a read-only root, and rootfsPropagation.
 *
 * Every path from the bundle is resolved inside the rootfs with
 * wharf_open_in_root/wharf_mkdir_in_root, so a symlink in an image can never
 * point a mount outside it.
 *
 * Must not: create processes, touch namespaces other than the mount
 * namespace it runs in, or know about cgroups beyond mounting them.
 */
#ifndef WHARF_ROOTFS_H
#define WHARF_ROOTFS_H

#include "base.h"

struct rootfs_options {
    json_t *spec;             /* the whole config.json (root, mounts, linux.*) */
    const char *bundle;       /* absolute bundle directory */
    bool no_pivot;            /* --no-pivot */
    bool in_userns;           /* devices become bind mounts of the host's */
    bool cgroupns;            /* a new cgroup namespace: mount cgroupfs, not binds */
    /* Called after all mounts exist and before pivot_root, with the process
     * still seeing the host root: runs the createContainer hooks. May be NULL. */
    int (*before_pivot)(void *data, wharf_error *err);
    void *data;
};

/*
 * Checks root and mounts before any process exists, so bad input fails with a
 * message naming the field ("mounts[2].destination: must be absolute",
 * "root.path: /x/rootfs: no such directory") and nothing is left behind.
 */
int rootfs_validate(json_t *spec, const char *bundle, wharf_error *err);

/*
 * Phase 1, in the container init after unshare(CLONE_NEWNS): everything up to
 * and including pivot_root. On return the process is inside the new root with
 * cwd "/". The console (/dev/console bind of the pty) is set up by the caller
 * between the two phases.
 */
int rootfs_prepare(const struct rootfs_options *opts, wharf_error *err);

/* Phase 2: readonlyPaths, maskedPaths, a read-only root (root.readonly), and
 * the final rootfsPropagation. */
int rootfs_finalize(json_t *spec, wharf_error *err);

/* Bind-mounts the pty slave at path onto /dev/console (after pivot). */
int rootfs_bind_console(const char *slave_path, wharf_error *err);

#endif
