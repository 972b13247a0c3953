/*
 * volume_internal.h — what volume.c and copyup.c share; not for other modules.
 */
#ifndef WHARF_VOLUME_INTERNAL_H
#define WHARF_VOLUME_INTERNAL_H

#include "volume.h"

/* Bytes of everything under the directory open at dirfd that is not a
 * directory, each inode once (dockerd's directory.Size). Takes dirfd. */
int64_t volume_tree_size(int dirfd);

#endif
