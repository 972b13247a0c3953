/*
 * The cluster's PKI, made with OpenSSL's libcrypto on first start:
 *
 *   DATA_DIR/tls/ca.crt, ca.key          the cluster CA (ECDSA P-256, 10 years)
 *   DATA_DIR/tls/server.crt, server.key  serving certificate: SANs 127.0.0.1,
 *                                        localhost, the bind address, the
 *                                        "kubernetes" Service's IP and names
 *   DATA_DIR/tls/admin.crt, admin.key    client certificate CN=system:admin,
 *                                        O=system:masters
 *   DATA_DIR/admin.kubeconfig            all of it embedded, for kubectl
 *
 * A serving certificate whose SANs no longer cover the addresses (a new
 * --bind-address) or that expires within 30 days is made again; the CA
 * and the admin certificate are kept, so existing kubeconfigs still work.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CA_DAYS 3650
#define LEAF_DAYS 365

static int ssl_error(wharf_error *err, const char *what)
{
    return wharf_error_set(err, -EIO, "%s: OpenSSL failed", what);
}

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

static int write_pem(const char *path, EVP_PKEY *key, X509 *cert, wharf_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = key ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_bio_X509(bio, cert);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    int rc = 0;
    if (!ok || len <= 0)
        rc = ssl_error(err, path);
    else
        rc = wharf_write_file_atomic(path, data, (size_t)len, key ? 0600 : 0644, err);
    BIO_free(bio);
    return rc;
}

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

static EVP_PKEY *read_key(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* Makes a certificate for key, signed by (ca, ca_key) or self-signed. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *const *orgs, X509 *ca,
                       EVP_PKEY *ca_key, int days, bool is_ca, bool server, const char *sans)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    unsigned char serial[16];
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    ok = ok && X509_set_version(x, 2);
    /* A minute of slack for clocks a little behind ours. */
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -60);
    ok = ok && X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 24 * 3600);
    ok = ok && X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    for (const char *const *o = orgs; ok && o && *o; o++)
        ok = X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)*o, -1, -1,
                                        0);
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                          -1, 0);
    ok = ok && X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : name);
    if (is_ca) {
        ok = ok && add_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE") == 0;
        ok = ok &&
             add_ext(x, NULL, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign") == 0;
        ok = ok && add_ext(x, NULL, NID_subject_key_identifier, "hash") == 0;
    } else {
        ok = ok && add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") == 0;
        ok = ok && add_ext(x, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") == 0;
        ok = ok && add_ext(x, ca, NID_ext_key_usage, server ? "serverAuth" : "clientAuth") == 0;
        ok = ok && add_ext(x, ca, NID_authority_key_identifier, "keyid:always") == 0;
        if (sans)
            ok = ok && add_ext(x, ca, NID_subject_alt_name, sans) == 0;
    }
    ok = ok && X509_sign(x, ca_key ? ca_key : key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* The SANs the serving certificate must carry. */
static char *server_sans(struct apiserver *as)
{
    strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
                       "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,"
                       "IP:127.0.0.1,IP:::1,IP:10.43.0.1");
    char host[256];
    if (gethostname(host, sizeof(host)) == 0 && host[0] && strcmp(host, "localhost") != 0 &&
        !validate_dns1123_subdomain(host))
        strbuf_addf(&sb, ",DNS:%s", host);
    struct in6_addr a6;
    struct in_addr a4;
    const char *b = as->bind_address;
    if (strcmp(b, "127.0.0.1") != 0 && strcmp(b, "0.0.0.0") != 0 && strcmp(b, "::") != 0 &&
        strcmp(b, "::1") != 0) {
        if (inet_pton(AF_INET, b, &a4) == 1 || inet_pton(AF_INET6, b, &a6) == 1)
            strbuf_addf(&sb, ",IP:%s", b);
        else
            strbuf_addf(&sb, ",DNS:%s", b);
    }
    return strbuf_detach(&sb);
}

static bool expires_soon(X509 *x)
{
    time_t limit = time(NULL) + 30 * 24 * 3600;
    return X509_cmp_time(X509_get0_notAfter(x), &limit) < 0;
}

static int ensure_leaf(struct apiserver *as, X509 *ca, EVP_PKEY *ca_key, const char *base,
                       const char *cn, const char *const *orgs, bool server, wharf_error *err)
{
    _cleanup_free_ char *crt_path = xasprintf("%s/%s.crt", as->tls_dir, base);
    _cleanup_free_ char *key_path = xasprintf("%s/%s.key", as->tls_dir, base);
    _cleanup_free_ char *sans_path = xasprintf("%s/%s.sans", as->tls_dir, base);
    _cleanup_free_ char *sans = server ? server_sans(as) : NULL;
    X509 *x = read_cert(crt_path);
    EVP_PKEY *k = read_key(key_path);
    bool fresh = x && k && !expires_soon(x) && X509_verify(x, ca_key) == 1;
    if (fresh && server) {
        _cleanup_free_ char *old = NULL;
        wharf_error ignore = {0};
        fresh = wharf_read_file(sans_path, &old, NULL, &ignore) == 0 && strcmp(old, sans) == 0;
    }
    X509_free(x);
    EVP_PKEY_free(k);
    if (fresh)
        return 0;
    k = new_key();
    if (!k)
        return ssl_error(err, key_path);
    x = make_cert(k, cn, orgs, ca, ca_key, LEAF_DAYS, false, server, sans);
    int rc;
    if (!x)
        rc = ssl_error(err, crt_path);
    else if ((rc = write_pem(key_path, k, NULL, err)) == 0 &&
             (rc = write_pem(crt_path, NULL, x, err)) == 0 && server)
        rc = wharf_write_file_atomic(sans_path, sans, strlen(sans), 0644, err);
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

int pki_ensure(struct apiserver *as, wharf_error *err)
{
    if (wharf_mkdir_p(as->tls_dir, 0700, err) < 0)
        return err->code;
    _cleanup_free_ char *ca_crt = xasprintf("%s/ca.crt", as->tls_dir);
    _cleanup_free_ char *ca_key_path = xasprintf("%s/ca.key", as->tls_dir);
    X509 *ca = read_cert(ca_crt);
    EVP_PKEY *ca_key = read_key(ca_key_path);
    int rc = 0;
    if (!ca || !ca_key) {
        if ((ca && !ca_key) || (!ca && ca_key)) {
            rc = wharf_error_set(err, -EINVAL,
                                 "%s: the CA certificate and key must both be present (or both "
                                 "absent to make a new CA)",
                                 as->tls_dir);
            goto out;
        }
        ca_key = new_key();
        if (!ca_key) {
            rc = ssl_error(err, ca_key_path);
            goto out;
        }
        char cn[64];
        snprintf(cn, sizeof(cn), "wharf-ca@%lld", (long long)time(NULL));
        ca = make_cert(ca_key, cn, NULL, NULL, NULL, CA_DAYS, true, false, NULL);
        if (!ca) {
            rc = ssl_error(err, ca_crt);
            goto out;
        }
        if ((rc = write_pem(ca_key_path, ca_key, NULL, err)) < 0 ||
            (rc = write_pem(ca_crt, NULL, ca, err)) < 0)
            goto out;
    }
    static const char *const server_orgs[] = {NULL};
    static const char *const admin_orgs[] = {"system:masters", NULL};
    rc = ensure_leaf(as, ca, ca_key, "server", "kube-apiserver", server_orgs, true, err);
    if (rc == 0)
        rc = ensure_leaf(as, ca, ca_key, "admin", "system:admin", admin_orgs, false, err);
out:
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

static char *file_base64(const char *path, wharf_error *err)
{
    char *data = NULL;
    size_t len = 0;
    if (wharf_read_file(path, &data, &len, err) < 0)
        return NULL;
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    free(data);
    return out;
}

int pki_write_kubeconfig(struct apiserver *as, const char *path, wharf_error *err)
{
    _cleanup_free_ char *ca_path = xasprintf("%s/ca.crt", as->tls_dir);
    _cleanup_free_ char *crt_path = xasprintf("%s/admin.crt", as->tls_dir);
    _cleanup_free_ char *key_path = xasprintf("%s/admin.key", as->tls_dir);
    _cleanup_free_ char *ca = file_base64(ca_path, err);
    _cleanup_free_ char *crt = ca ? file_base64(crt_path, err) : NULL;
    _cleanup_free_ char *key = crt ? file_base64(key_path, err) : NULL;
    if (!key)
        return err->code;
    bool v6 = strchr(as->advertise_address, ':') != NULL;
    _cleanup_free_ char *text =
        xasprintf("apiVersion: v1\n"
                  "kind: Config\n"
                  "clusters:\n"
                  "- cluster:\n"
                  "    certificate-authority-data: %s\n"
                  "    server: https://%s%s%s:%d\n"
                  "  name: wharf\n"
                  "contexts:\n"
                  "- context:\n"
                  "    cluster: wharf\n"
                  "    user: admin\n"
                  "  name: wharf\n"
                  "current-context: wharf\n"
                  "preferences: {}\n"
                  "users:\n"
                  "- name: admin\n"
                  "  user:\n"
                  "    client-certificate-data: %s\n"
                  "    client-key-data: %s\n",
                  ca, v6 ? "[" : "", as->advertise_address, v6 ? "]" : "", as->port, crt, key);
    _cleanup_free_ char *copy = xstrdup(path);
    char *slash = strrchr(copy, '/');
    if (slash && slash != copy) {
        *slash = '\0';
        if (wharf_mkdir_p(copy, 0755, err) < 0)
            return wharf_error_prefix(err, "kubeconfig %s", path);
    }
    if (wharf_write_file_atomic(path, text, strlen(text), 0600, err) < 0)
        return wharf_error_prefix(err, "kubeconfig");
    return 0;
}

int pki_cert_user(const void *der, size_t len, struct api_user *out, wharf_error *err)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x)
        return wharf_error_set(err, -EINVAL, "client certificate: cannot parse");
    X509_NAME *name = X509_get_subject_name(x);
    int rc = 0;
    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        if (nid != NID_commonName && nid != NID_organizationName)
            continue;
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        if (n < 0)
            continue;
        char *s = strndup((char *)utf8, (size_t)n);
        OPENSSL_free(utf8);
        if (!s)
            abort();
        if (nid == NID_commonName) {
            free(out->name);
            out->name = s;
        } else {
            out->groups = xrealloc(out->groups, (out->n_groups + 1) * sizeof(char *));
            out->groups[out->n_groups++] = s;
        }
    }
    if (!out->name || !*out->name)
        rc = wharf_error_set(err, -EINVAL, "client certificate: no common name");
    X509_free(x);
    return rc;
}
