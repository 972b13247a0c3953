/* imagetool — a thin driver over the image store for the integration tests:
 *   imagetool STORE load < archive
 *   imagetool STORE save docker|oci REF... > archive
 *   imagetool STORE import TAG [CHANGE...] < rootfs.tar
 *   imagetool STORE inspect|history REF
 *   imagetool STORE list | tag REF NEW | rmi REF | prune | gc
 *   imagetool STORE mount REF UPPER WORK TARGET | umount TARGET
 *   imagetool - export DIR > tar */
#include "image.h"

#include <jansson.h>
#include <string.h>

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(j);
    return 0;
}

int main(int argc, char **argv)
{
    wharf_error err = {0};
    if (argc < 3) {
        fprintf(stderr, "usage: imagetool STORE COMMAND [ARGS...]\n");
        return 2;
    }
    const char *cmd = argv[2];
    if (strcmp(cmd, "export") == 0 && argc == 4) {
        if (image_export_dir(argv[3], 1, &err) < 0)
            goto fail;
        return 0;
    }
    if (strcmp(cmd, "umount") == 0 && argc == 4) {
        if (image_store_unmount_rootfs(argv[3], &err) < 0)
            goto fail;
        return 0;
    }
    image_store *st = image_store_open(argv[1], &err);
    if (!st)
        goto fail;
    int r = 0;
    json_t *j = NULL;
    if (strcmp(cmd, "load") == 0) {
        r = image_store_load(st, 0, &j, &err);
        if (r == 0)
            print_json(j);
    } else if (strcmp(cmd, "save") == 0 && argc >= 5) {
        enum image_archive_format f =
            strcmp(argv[3], "oci") == 0 ? IMAGE_FORMAT_OCI_ARCHIVE : IMAGE_FORMAT_DOCKER_ARCHIVE;
        r = image_store_save(st, (const char *const *)argv + 4, (size_t)(argc - 4), f, 1, &err);
    } else if (strcmp(cmd, "import") == 0 && argc >= 4) {
        char id[72];
        r = image_store_import(st, 0, argv[3], (const char *const *)argv + 4, (size_t)(argc - 4),
                               NULL, id, &err);
        if (r == 0)
            puts(id);
    } else if ((strcmp(cmd, "inspect") == 0 || strcmp(cmd, "history") == 0) && argc == 4) {
        j = cmd[0] == 'i' ? image_store_inspect(st, argv[3], &err)
                          : image_store_history(st, argv[3], &err);
        r = j ? print_json(j) : err.code;
    } else if (strcmp(cmd, "list") == 0) {
        j = image_store_list(st, &err);
        r = j ? print_json(j) : err.code;
    } else if (strcmp(cmd, "tag") == 0 && argc == 5) {
        r = image_store_tag(st, argv[3], argv[4], &err);
    } else if (strcmp(cmd, "rmi") == 0 && argc == 4) {
        r = image_store_remove(st, argv[3], false, NULL, NULL, &j, &err);
        if (r == 0)
            print_json(j);
    } else if (strcmp(cmd, "prune") == 0) {
        r = image_store_prune(st, false, NULL, NULL, &j, &err);
        if (r == 0)
            print_json(j);
    } else if (strcmp(cmd, "gc") == 0) {
        r = image_store_gc(st, NULL, &err);
    } else if (strcmp(cmd, "mount") == 0 && argc == 7) {
        r = image_store_mount_rootfs(st, argv[3], argv[4], argv[5], argv[6], &err);
    } else {
        fprintf(stderr, "imagetool: unknown command or arguments: %s\n", cmd);
        image_store_close(st);
        return 2;
    }
    image_store_close(st);
    if (r < 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "imagetool: %s\n", err.msg);
    return 1;
}
