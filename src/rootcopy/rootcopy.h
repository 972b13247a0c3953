/*
 * rootcopy — files into and out of a root directory as tar streams, with
 * the semantics of `docker cp` and of the Engine API's archive routes
 * (GET/HEAD/PUT /containers/{id}/archive), for both ends: the daemon reads
 * and writes a container's root filesystem, the CLI its own files.
 *
 * Owns: resolving a path inside a root the way dockerd does (every element
 * but the last followed as symlinks within the root, a trailing "/" or "/."
 * kept), the path's stat as Docker's ContainerPathStat (Go's FileMode bits,
 * the link target resolved in the root) and its base64 header form,
 * writing a tar of a path (entries named after the path's last element or a
 * given name, directories depth-first in name order, hard links as links,
 * no pseudo filesystems such as /proc), and extracting a tar into a
 * directory (dockerd's Unpack rules: parents created, an entry replaces what
 * was there unless both are directories, noOverwriteDirNonDir, ownership
 * from the archive or forced, modes, times, xattrs).
 *
 * Safety: every path — from the caller, from an archive entry, from a hard
 * link's target, through symlinks already in the root or made by the
 * archive itself — is resolved with openat2(RESOLVE_IN_ROOT) or *at() calls
 * that never follow the last element, so nothing is read or written outside
 * the root; entry names that climb out of the destination directory are
 * refused, as dockerd refuses them.
 *
 * Must not: know about containers, HTTP or the daemon: callers hand it an
 * open root directory and fds.
 */
#ifndef WHARF_ROOTCOPY_H
#define WHARF_ROOTCOPY_H

#include "base.h"

#include <sys/stat.h>
#include <time.h>

/* Docker's ContainerPathStat of a path. */
struct rootcopy_stat {
    char *name; /* the path's last element ("/" for the root) */
    int64_t size;
    mode_t mode; /* st_mode (type and permission bits) */
    struct timespec mtime;
    char *link_target; /* a symlink: where it leads inside the root (absolute); else NULL */
};
void rootcopy_stat_release(struct rootcopy_stat *st);

/* Stats path (taken as absolute inside the root open at root_fd) without
 * following its last element. -ENOENT when it does not exist, -ENOTDIR when
 * an element that must be a directory is not (a trailing "/" asks for one). */
int rootcopy_stat_path(int root_fd, const char *path, struct rootcopy_stat *out, wharf_error *err);

/* Go's os.FileMode of an st_mode, and back (the type bits Go has). */
uint32_t rootcopy_go_mode(mode_t mode);
mode_t rootcopy_unix_mode(uint32_t go_mode);
/* The stat as Docker's JSON ({"name","size","mode","mtime","linkTarget"}),
 * base64-encoded as the X-Docker-Container-Path-Stat header carries it.
 * Caller frees. */
char *rootcopy_stat_header(const struct rootcopy_stat *st);
/* That header parsed back; -EINVAL when it is not one. */
int rootcopy_stat_from_header(const char *header, struct rootcopy_stat *out, wharf_error *err);

/* The path with every symlink followed inside the root, even where what it
 * leads to does not exist (dockerd's FollowSymlinkInScope): absolute,
 * clean. Caller frees. */
char *rootcopy_resolve(int root_fd, const char *path);

/* Writes a tar stream of path (resolved as rootcopy_stat_path does) to fd:
 * the path itself named `name` (NULL: its last element, "." for "dir/.",
 * "/" for the root), and under a directory everything in it. *bytes (may be
 * NULL) gets the stream's size. -ENOENT when path does not exist; -EPIPE
 * when the reader went away. */
int rootcopy_tar(int root_fd, const char *path, const char *name, int fd, int64_t *bytes,
                 wharf_error *err);

struct rootcopy_extract_opts {
    bool no_overwrite_dir_non_dir; /* a directory never replaces a file, nor the reverse */
    bool no_chown;                 /* keep the extracting process's ownership (the CLI) */
    bool force_owner; /* every entry owned by uid:gid (docker cp -a into a container) */
    uid_t uid;
    gid_t gid;
    /* Rename entries: a name that is `rebase_from` or begins with it and a
     * "/" gets `rebase_to` in its place (docker's RebaseArchiveEntries). */
    const char *rebase_from, *rebase_to;
};
/* Extracts the tar (plain or compressed) read from fd into the existing
 * directory dir inside the root open at root_fd. Entries that would leave
 * dir by name are refused (-EPERM); links resolve inside the root. */
int rootcopy_extract(int root_fd, const char *dir, int fd, const struct rootcopy_extract_opts *o,
                     wharf_error *err);

#endif
