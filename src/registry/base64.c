/* base64.c — base64 in both of Go's alphabets, as Docker's auth headers and
 * credential files use them. */
#include "internal.h"

#include <ctype.h>
#include <string.h>

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *encode64(const void *data, size_t len, const char *alphabet)
{
    const unsigned char *p = data;
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        strbuf_addch(&sb, alphabet[(v >> 18) & 63]);
        strbuf_addch(&sb, alphabet[(v >> 12) & 63]);
        strbuf_addch(&sb, i + 1 < len ? alphabet[(v >> 6) & 63] : '=');
        strbuf_addch(&sb, i + 2 < len ? alphabet[v & 63] : '=');
    }
    strbuf_addstr(&sb, "");
    return strbuf_detach(&sb);
}

char *reg_base64(const void *data, size_t len)
{
    return encode64(data, len, b64std);
}

char *reg_base64url(const void *data, size_t len)
{
    return encode64(data, len, b64url);
}

static int b64value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

char *reg_base64_decode(const char *s, size_t *len)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '=' || isspace((unsigned char)s[n - 1])))
        n--;
    if (n % 4 == 1)
        return NULL;
    strbuf sb = STRBUF_INIT;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64value(s[i]);
        if (v < 0) {
            strbuf_release(&sb);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            strbuf_addch(&sb, (char)((acc >> bits) & 0xff));
        }
    }
    strbuf_addstr(&sb, "");
    if (len)
        *len = sb.len;
    return strbuf_detach(&sb);
}
