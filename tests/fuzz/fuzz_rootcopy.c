/* libFuzzer target: arbitrary bytes as docker cp's input — the
 * X-Docker-Container-Path-Stat header a daemon sends the CLI, and a tar
 * stream extracted into a scratch root (whatever the entries say, nothing
 * may be written outside it). Must never crash, leak or hang. */
#include "rootcopy.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[64];
static char root[96];

static void remove_top(void)
{
    wharf_error err = {0};
    wharf_rm_rf(top, &err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(top, sizeof(top), "/tmp/fuzz-rootcopy.XXXXXX");
    if (!mkdtemp(top))
        abort();
    atexit(remove_top);
    snprintf(root, sizeof(root), "%s/root", top);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the header form: text up to the first NUL */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct rootcopy_stat st;
    wharf_error err = {0};
    if (rootcopy_stat_from_header(text, &st, &err) == 0)
        rootcopy_stat_release(&st);
    free(text);

    /* the tar form, into a fresh root each time */
    wharf_rm_rf(root, &err);
    if (mkdir(root, 0755) < 0)
        return 0;
    int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int fds[2];
    if (root_fd < 0 || pipe2(fds, O_CLOEXEC) < 0) {
        if (root_fd >= 0)
            close(root_fd);
        return 0;
    }
    /* small inputs fit the pipe's buffer: write all, then read */
    if (size <= 60000 && wharf_write_all(fds[1], data, size) == 0) {
        close(fds[1]);
        struct rootcopy_extract_opts o = {.no_overwrite_dir_non_dir = true, .no_chown = true};
        wharf_error_clear(&err);
        rootcopy_extract(root_fd, "/", fds[0], &o, &err);
    } else {
        close(fds[1]);
    }
    close(fds[0]);
    close(root_fd);
    return 0;
}
