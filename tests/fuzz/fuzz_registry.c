/* libFuzzer target: bytes as a registry would send them — a manifest or
 * index (parsed, checked, an index entry picked), a WWW-Authenticate
 * challenge, an X-Registry-Auth header, a platform string, base64. Must
 * never crash, leak or hang. */
#include "../../src/registry/transport.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wharf_error err = {0};
    json_t *doc = NULL;
    char *mt = NULL;
    if (reg_manifest_parse("fuzz", "sha256:0", (const char *)data, size, NULL, &doc, &mt, &err) ==
        0) {
        if (reg_is_index(mt, doc)) {
            struct registry_platform want;
            registry_platform_host(&want);
            reg_pick_platform("fuzz", &want, doc, "sha256:0", &err);
        } else {
            reg_check_image_manifest("fuzz", doc, "sha256:0", &err);
        }
        json_decref(doc);
        free(mt);
    }
    /* the same bytes as text for the string parsers */
    char *text = strndup((const char *)data, size);
    if (!text)
        return 0;
    struct reg_client *c = reg_client_new("127.0.0.1:5000", NULL, NULL, &err);
    if (c) {
        reg_take_challenge(c, text);
        reg_client_free(c);
    }
    struct registry_creds creds;
    if (registry_auth_decode(text, &creds, &err) == 0)
        registry_creds_release(&creds);
    struct registry_platform p;
    registry_platform_parse(text, &p, &err);
    size_t n = 0;
    free(reg_base64_decode(text, &n));
    free(registry_server_key(text));
    free(text);
    return 0;
}
