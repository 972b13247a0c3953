/*
 * volume — the local volume driver: directories that outlive the containers
 * mounting them (Docker's named and anonymous volumes, driver "local").
 *
 * Owns: the store directory (the daemon's ROOT/volumes) and in it one
 * directory per volume, NAME/, holding
 *   _data/        what containers mount (the volume's Mountpoint)
 *   volume.json   the record: {"name", "driver": "local", "labels",
 *                 "options", "created" (RFC 3339), "mountpoint", "anonymous"}
 * Names follow Docker's rule for local volumes ([a-zA-Z0-9][a-zA-Z0-9_.-]+);
 * anonymous volumes get 64 random hex digits. A volume is built in a
 * directory beside the others (".new-*") and renamed into place, and removed
 * by renaming it aside (".old-*") before deleting it, so a crash leaves a
 * volume whole or absent; leftovers of either are swept by volume_store_open.
 * Also: the copy-up of an image's content into a new, empty volume
 * (volume_populate), and a volume's disk usage.
 *
 * Must not: know about containers, images or HTTP. Which containers use a
 * volume (and so whether it may go) is the caller's knowledge.
 */
#ifndef WHARF_VOLUME_H
#define WHARF_VOLUME_H

#include "base.h"

#define VOLUME_DRIVER "local"
/* The label dockerd (23.0+) puts on anonymous volumes; prune only removes
 * those unless told "all". */
#define VOLUME_ANONYMOUS_LABEL "com.docker.volume.anonymous"

struct volume_store; /* opaque; freed by volume_store_close */

/* Opens (creating it, 0700) the store directory dir and sweeps what a crash
 * left half-made or half-removed. */
int volume_store_open(const char *dir, struct volume_store **out, wharf_error *err);
void volume_store_close(struct volume_store *vs);
/* The store directory (borrowed). */
const char *volume_store_dir(const struct volume_store *vs);

/* A name the local driver takes: -EINVAL with dockerd's message otherwise
 * ("\"a b\" includes invalid characters for a local volume name, ..."). */
int volume_check_name(const char *name, wharf_error *err);
/* The local driver's options (an object of strings, may be NULL), checked
 * as dockerd does: -EINVAL "invalid option: \"x\"" for an unknown key. */
int volume_check_options(json_t *options, wharf_error *err);

/*
 * Creates the volume: name NULL or "" makes an anonymous one (a random name,
 * the anonymous flag, and VOLUME_ANONYMOUS_LABEL added to its labels).
 * labels and options are objects of strings (may be NULL: none). An existing
 * volume of that name is returned as it is (as dockerd does) with *created
 * false. *record (may be NULL) gets a new reference to the record.
 */
int volume_create(struct volume_store *vs, const char *name, json_t *labels, json_t *options,
                  json_t **record, bool *created, wharf_error *err);
/* The record of name: a new reference, or NULL with -ENOENT
 * "get NAME: no such volume" (dockerd's words) or another error. */
json_t *volume_get(struct volume_store *vs, const char *name, wharf_error *err);
/* Every volume's record, sorted by name: a new array. */
json_t *volume_list(struct volume_store *vs, wharf_error *err);
/* Deletes the volume and its data. -ENOENT "get NAME: no such volume". */
int volume_remove(struct volume_store *vs, const char *name, wharf_error *err);
/* Bytes under the volume's _data (each inode once), -1 when unknown. */
int64_t volume_size(struct volume_store *vs, const char *name);
/* The host path of the volume's data (caller frees); no check it exists. */
char *volume_data_path(struct volume_store *vs, const char *name);

/*
 * Docker's copy-up: when the volume's _data is empty, copies the directory
 * open at src_fd into it — files, directories, symlinks, device nodes,
 * fifos, hard links within the tree, with owners, modes, times and extended
 * attributes — and gives _data the source directory's owner and mode.
 * Nothing under src_fd or _data is reached through a symlink. Returns 1
 * when it copied, 0 when _data was not empty (nothing done), or -errno
 * (what was copied stays: a volume made for the copy is the caller's to
 * remove).
 */
int volume_populate(struct volume_store *vs, const char *name, int src_fd, wharf_error *err);

#endif
