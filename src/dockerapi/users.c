/*
 * users.c — "nobody", "1000:users" and image USER names into numbers, read
 * from the container's own /etc/passwd and /etc/group the way dockerd (moby's
 * user package) reads them: first match wins, a number that names nobody is
 * still a valid id, supplementary groups come from the group file's member
 * lists only when no group was named, and the primary gid is always among
 * the additional ones.
 *
 * The files are opened inside the root with RESOLVE_IN_ROOT, so an image
 * whose /etc/passwd is a link to the host's reads its own tree instead.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <string.h>

#define MAX_ID 2147483647LL     /* moby's maxID */
#define MAX_DB_SIZE (16u << 20) /* a passwd or group file larger than this is refused */

/* Reads path inside the root: 0 and *text (NULL when the file is missing). */
static int read_db(int root_fd, const char *path, char **text, wharf_error *err)
{
    *text = NULL;
    wharf_error e = {0};
    _cleanup_close_ int fd = wharf_open_in_root(root_fd, path, O_RDONLY | O_CLOEXEC, 0, &e);
    if (fd < 0) {
        if (e.code == -ENOENT)
            return 0;
        return wharf_error_set(err, e.code, "%s", e.msg);
    }
    strbuf sb = STRBUF_INIT;
    char buf[8192];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            strbuf_release(&sb);
            return wharf_error_errno(err, errno, "read %s in the container", path);
        }
        if (n == 0)
            break;
        strbuf_add(&sb, buf, (size_t)n);
        if (sb.len > MAX_DB_SIZE) {
            strbuf_release(&sb);
            return wharf_error_set(err, -EFBIG, "%s in the container is larger than %u bytes", path,
                                   MAX_DB_SIZE);
        }
    }
    *text = strbuf_detach(&sb);
    if (!*text)
        *text = xstrdup("");
    return 0;
}

/* Splits line at ':' into at most max fields (missing ones are ""). */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *colon = strchr(p, ':');
        if (!colon)
            break;
        *colon = '\0';
        p = colon + 1;
    }
    for (size_t i = n; i < max; i++)
        fields[i] = "";
    return n;
}

/* Go's strconv.Atoi of a whole string; false when it is not a number. */
static bool parse_id(const char *s, long long *out)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno)
        return false;
    *out = v;
    return true;
}

/* The next non-empty, non-comment line of *cursor, trimmed, NUL-terminated
 * in place; NULL at the end. */
static char *next_line(char **cursor)
{
    while (*cursor && **cursor) {
        char *line = *cursor;
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
            *cursor = nl + 1;
        } else {
            *cursor = line + strlen(line);
        }
        while (*line == ' ' || *line == '\t' || *line == '\r')
            line++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (*line && *line != '#')
            return line;
    }
    return NULL;
}

struct passwd_entry {
    bool found;
    char name[256];
    long long uid, gid;
};

/* The first passwd entry whose uid is `uid` (by_uid) or whose name is name. */
static void find_user(char *passwd, bool by_uid, long long uid, const char *name,
                      struct passwd_entry *out)
{
    out->found = false;
    char *cursor = passwd;
    char *line;
    while ((line = next_line(&cursor))) {
        char *f[7];
        split_fields(line, f, 7);
        long long u = 0, g = 0;
        parse_id(f[2], &u); /* like moby: an unparsable id reads as 0 */
        parse_id(f[3], &g);
        if (by_uid ? u == uid : strcmp(f[0], name) == 0) {
            out->found = true;
            snprintf(out->name, sizeof(out->name), "%s", f[0]);
            out->uid = u;
            out->gid = g;
            return;
        }
    }
}

/* gid of the first group named name (or with gid `gid` when by_gid); -1 if none. */
static long long find_group(char *group, bool by_gid, long long gid, const char *name)
{
    char *cursor = group;
    char *line;
    while ((line = next_line(&cursor))) {
        char *f[4];
        split_fields(line, f, 4);
        long long g = 0;
        parse_id(f[2], &g);
        if (by_gid ? g == gid : strcmp(f[0], name) == 0)
            return g;
    }
    return -1;
}

/* Appends the gid of every group listing member. */
static void member_groups(char *group, const char *member, json_t *gids)
{
    char *cursor = group;
    char *line;
    while ((line = next_line(&cursor))) {
        char *f[4];
        split_fields(line, f, 4);
        long long g = 0;
        parse_id(f[2], &g);
        char *save = NULL;
        for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
            if (strcmp(m, member) == 0) {
                json_array_append_new(gids, json_integer(g));
                break;
            }
    }
}

int dockerapi_resolve_user(int root_fd, const char *spec, json_t *group_add, json_t **user,
                           wharf_error *err)
{
    *user = NULL;
    _cleanup_free_ char *passwd = NULL, *group = NULL;
    int r;
    if ((r = read_db(root_fd, "/etc/passwd", &passwd, err)) < 0 ||
        (r = read_db(root_fd, "/etc/group", &group, err)) < 0)
        return r;
    const char *s = spec ? spec : "";
    const char *colon = strchr(s, ':');
    _cleanup_free_ char *user_arg = colon ? xasprintf("%.*s", (int)(colon - s), s) : xstrdup(s);
    _cleanup_free_ char *group_arg = xstrdup(colon ? colon + 1 : "");
    /* moby's parseLine keeps only the first two fields of "a:b:c" */
    char *extra = strchr(group_arg, ':');
    if (extra)
        *extra = '\0';
    long long uid_num = 0, gid_num = 0;
    bool uid_numeric = parse_id(user_arg, &uid_num);
    bool gid_numeric = parse_id(group_arg, &gid_num);

    long long uid = 0, gid = 0;
    struct passwd_entry pw = {0};
    if (passwd) {
        /* "" means the current user: root */
        _cleanup_free_ char *scratch = xstrdup(passwd);
        find_user(scratch, !*user_arg || uid_numeric, *user_arg ? uid_num : 0, user_arg, &pw);
    }
    if (pw.found) {
        uid = pw.uid;
        gid = pw.gid;
    } else if (*user_arg) {
        if (!uid_numeric)
            return wharf_error_set(err, -EINVAL,
                                   "unable to find user %s: no matching entries in passwd file",
                                   user_arg);
        if (uid_num < 0 || uid_num > MAX_ID)
            return wharf_error_set(err, -EINVAL, "uids and gids must be in range 0-%lld", MAX_ID);
        uid = uid_num;
    }
    json_t *gids = json_array();
    if (*group_arg) {
        long long g = -1;
        if (group) {
            _cleanup_free_ char *scratch = xstrdup(group);
            g = find_group(scratch, gid_numeric, gid_num, group_arg);
        }
        if (g >= 0) {
            gid = g;
        } else if (!gid_numeric) {
            json_decref(gids);
            return wharf_error_set(err, -EINVAL,
                                   "unable to find group %s: no matching entries in group file",
                                   group_arg);
        } else if (gid_num < 0 || gid_num > MAX_ID) {
            json_decref(gids);
            return wharf_error_set(err, -EINVAL, "uids and gids must be in range 0-%lld", MAX_ID);
        } else {
            gid = gid_num;
        }
    }
    /* dockerd: the primary gid first, then the user's groups, then GroupAdd */
    json_array_append_new(gids, json_integer(gid));
    if (!*group_arg && pw.found && group) {
        _cleanup_free_ char *scratch = xstrdup(group);
        member_groups(scratch, pw.name, gids);
    }
    size_t i;
    json_t *ga;
    json_array_foreach(group_add, i, ga)
    {
        const char *name = json_string_value(ga);
        if (!name) {
            json_decref(gids);
            return wharf_error_set(err, -EINVAL, "HostConfig.GroupAdd[%zu]: expected a string", i);
        }
        long long num = 0, g = -1;
        bool numeric = parse_id(name, &num);
        if (group) {
            _cleanup_free_ char *scratch = xstrdup(group);
            g = find_group(scratch, numeric, num, name);
        }
        if (g < 0 && numeric && num >= 0 && num <= MAX_ID)
            g = num;
        if (g < 0) {
            json_decref(gids);
            return wharf_error_set(err, -EINVAL, "Unable to find group %s", name);
        }
        json_array_append_new(gids, json_integer(g));
    }
    *user = json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)uid, "gid", (json_int_t)gid,
                      "additional_gids", gids);
    return 0;
}
