/* rootcopy_internal.h — path helpers shared by the rootcopy files. */
#ifndef WHARF_ROOTCOPY_INTERNAL_H
#define WHARF_ROOTCOPY_INTERNAL_H

#include "rootcopy.h"

/* Go's filepath.Clean("/" + p). Caller frees. */
char *rootcopy_clean(const char *p);
/* dockerd's absolute form of a container path: cleaned, a trailing "/" or
 * "/." kept. Caller frees. */
char *rootcopy_abs_path(const char *path);
/* Go's filepath.Base. Caller frees. */
char *rootcopy_base(const char *p);
/* Go's filepath.Split: dir keeps its trailing '/'. Both malloc'd. */
void rootcopy_split(const char *abs, char **dir, char **base);
/* The directory of abs resolved inside the root (an O_PATH fd) and abs's
 * last element in *base (malloc'd; "" or "." for the directory itself). */
int rootcopy_open_parent(int root_fd, const char *abs, char **base, wharf_error *err);

#endif
