/* libFuzzer target: config.json bytes through jansson and every check the
 * runtime runs before creating anything (spec.c, rootfs_validate,
 * security_*_validate). Must never crash, leak or hang. */
#include "internal.h"

#include <stdint.h>
#include <sys/stat.h>

static char bundle[] = "/tmp/wharf-fuzz-XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!mkdtemp(bundle))
        abort();
    char rootfs[64];
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bundle);
    mkdir(rootfs, 0755);
    wharf_log_set_fd(-1, WHARF_LOG_TEXT, false);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *spec = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!spec)
        return 0;
    wharf_error err = {0};
    spec_validate(spec, bundle, &err);
    json_decref(spec);
    return 0;
}
