/*
 * keys.c — the detach-key sequence of an interactive stream: parsing
 * docker's --detach-keys syntax and finding the sequence in typed input.
 * The daemon (attach, exec) and the wharf CLI both watch for it.
 */
#include "base.h"

#include <errno.h>
#include <string.h>

int wharf_detach_keys_parse(const char *text, struct wharf_detach_keys *out)
{
    static const char ctrl[] = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
    out->len = 0;
    const char *p = text;
    for (;;) {
        size_t n = strcspn(p, ",");
        if (out->len == WHARF_DETACH_KEYS_MAX)
            return -EINVAL;
        if (n == 1) {
            out->seq[out->len++] = (unsigned char)p[0];
        } else if (n == 6 && strncmp(p, "ctrl-", 5) == 0 && p[5] && strchr(ctrl, p[5])) {
            out->seq[out->len++] = (unsigned char)(strchr(ctrl, p[5]) - ctrl);
        } else if (n == 3 && strncmp(p, "DEL", 3) == 0) {
            out->seq[out->len++] = 127;
        } else {
            return -EINVAL;
        }
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

bool wharf_escape_filter(struct wharf_escape *e, const char *buf, size_t len, strbuf *out)
{
    if (!e->keys || e->keys->len == 0) {
        strbuf_add(out, buf, len);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == e->keys->seq[e->matched]) {
            if (++e->matched == e->keys->len)
                return true;
            continue;
        }
        if (e->matched) {
            /* The sequence broke off: what was held back was typed input. */
            strbuf_add(out, e->keys->seq, e->matched);
            e->matched = 0;
            if (c == e->keys->seq[0]) {
                if (++e->matched == e->keys->len)
                    return true;
                continue;
            }
        }
        strbuf_addch(out, (char)c);
    }
    return false;
}
