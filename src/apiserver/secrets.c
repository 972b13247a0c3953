/*
 * Encryption at rest for Secrets: AES-256-GCM (OpenSSL EVP) with a key
 * kept in DATA_DIR/cred/encryption.key (0600, created on first start).
 * A sealed value is "k8s:enc:aesgcm:v1:wharf:" + 12-byte nonce +
 * ciphertext + 16-byte tag; the storage key is the authenticated data, so
 * a sealed value copied under another key does not open.
 */
#include "internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#define SEAL_PREFIX "k8s:enc:aesgcm:v1:wharf:"
#define SEAL_PREFIX_LEN (sizeof(SEAL_PREFIX) - 1)
#define NONCE_LEN 12
#define TAG_LEN 16

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int secrets_key_load(struct apiserver *as, wharf_error *err)
{
    _cleanup_free_ char *dir = xasprintf("%s/cred", as->data_dir);
    _cleanup_free_ char *path = xasprintf("%s/encryption.key", dir);
    if (wharf_mkdir_p(dir, 0700, err) < 0)
        return err->code;
    _cleanup_free_ char *text = NULL;
    int rc = wharf_read_file(path, &text, NULL, err);
    if (rc == -ENOENT) {
        wharf_error_clear(err);
        unsigned char key[32];
        if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
            return wharf_error_errno(err, errno, "%s: getrandom", path);
        char hex[65];
        for (size_t i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", key[i]);
        _cleanup_free_ char *line = xasprintf("aesgcm:%s\n", hex);
        if (wharf_write_file_atomic(path, line, strlen(line), 0600, err) < 0)
            return err->code;
        memcpy(as->secret_key, key, sizeof(key));
        return 0;
    }
    if (rc < 0)
        return rc;
    if (strncmp(text, "aesgcm:", 7) != 0 || strlen(text) < 7 + 64)
        return wharf_error_set(err, -EINVAL, "%s: expected \"aesgcm:\" and 64 hex digits", path);
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(text[7 + 2 * i]), lo = hexval(text[8 + 2 * i]);
        if (hi < 0 || lo < 0)
            return wharf_error_set(err, -EINVAL, "%s: expected \"aesgcm:\" and 64 hex digits",
                                   path);
        as->secret_key[i] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

bool secrets_is_sealed(const void *in, size_t len)
{
    return len >= SEAL_PREFIX_LEN && memcmp(in, SEAL_PREFIX, SEAL_PREFIX_LEN) == 0;
}

int secrets_seal(struct apiserver *as, const char *aad, const void *plain, size_t len, strbuf *out,
                 wharf_error *err)
{
    unsigned char nonce[NONCE_LEN];
    if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
        return wharf_error_errno(err, errno, "%s: getrandom", aad);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        abort();
    _cleanup_free_ unsigned char *ct = xmalloc(len + 16);
    unsigned char tag[TAG_LEN];
    int n = 0, total = 0, ok = 1;
    ok &= EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL);
    ok &= EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL);
    ok &= EVP_EncryptInit_ex(ctx, NULL, NULL, as->secret_key, nonce);
    ok &= EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad));
    ok &= EVP_EncryptUpdate(ctx, ct, &n, plain, (int)len);
    total = n;
    ok &= EVP_EncryptFinal_ex(ctx, ct + total, &n);
    total += n;
    ok &= EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag);
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return wharf_error_set(err, -EIO, "%s: encryption failed", aad);
    strbuf_add(out, SEAL_PREFIX, SEAL_PREFIX_LEN);
    strbuf_add(out, nonce, NONCE_LEN);
    strbuf_add(out, ct, (size_t)total);
    strbuf_add(out, tag, TAG_LEN);
    return 0;
}

int secrets_open(struct apiserver *as, const char *aad, const void *in, size_t len, strbuf *out,
                 wharf_error *err)
{
    if (!secrets_is_sealed(in, len)) {
        strbuf_add(out, in, len);
        return 0;
    }
    const unsigned char *p = (const unsigned char *)in + SEAL_PREFIX_LEN;
    size_t rest = len - SEAL_PREFIX_LEN;
    if (rest < NONCE_LEN + TAG_LEN)
        return wharf_error_set(err, -EIO, "%s: sealed value too short", aad);
    const unsigned char *nonce = p;
    const unsigned char *ct = p + NONCE_LEN;
    size_t ct_len = rest - NONCE_LEN - TAG_LEN;
    unsigned char tag[TAG_LEN];
    memcpy(tag, ct + ct_len, TAG_LEN);
    _cleanup_free_ unsigned char *pt = xmalloc(ct_len + 16);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        abort();
    int n = 0, total = 0, ok = 1;
    ok &= EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL);
    ok &= EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL);
    ok &= EVP_DecryptInit_ex(ctx, NULL, NULL, as->secret_key, nonce);
    ok &= EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad));
    ok &= EVP_DecryptUpdate(ctx, pt, &n, ct, (int)ct_len);
    total = n;
    ok &= EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag);
    if (ok)
        ok = EVP_DecryptFinal_ex(ctx, pt + total, &n) > 0;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return wharf_error_set(err, -EIO,
                               "%s: cannot decrypt (wrong encryption key or damaged value)", aad);
    total += n;
    strbuf_add(out, pt, (size_t)total);
    return 0;
}
