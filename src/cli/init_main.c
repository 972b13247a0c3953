/*
 * wharf-init — pid 1 for containers started with --init: reaps zombies and
 * forwards signals to the command (src/init/init.h).
 *   wharf-init [-g] [--] COMMAND [ARG...]
 */
#include "init.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct init_options opts = {0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "-g") == 0) {
            opts.process_group = true;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("wharf-init version %s\n", WHARF_VERSION);
            return 0;
        } else {
            fprintf(stderr, "wharf-init: unknown option %s (usage: wharf-init [-g] [--] "
                            "COMMAND [ARG...])\n", argv[i]);
            return 2;
        }
    }
    opts.argv = argv + i;
    return init_run(&opts);
}
