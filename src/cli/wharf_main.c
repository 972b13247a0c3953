/*
 * wharf — the main command line. For now it reports versions and points at
 * the parts that exist; the engine issue turns it into the docker-compatible
 * client of the daemon.
 */
#include "base.h"

#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "Usage: wharf <command>\n\n"
               "Commands:\n"
               "  version   print the version of wharf and its parts\n"
               "  help      this text\n\n"
               "The OCI runtime is wharf-runtime (runc's command line); the per-container\n"
               "supervisor is wharf-shim.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("wharf version %s\n", WHARF_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "wharf: unknown command '%s' (see 'wharf help')\n", argv[1]);
    return 1;
}
