/*
 * etcdrun — starts private etcd members for the kvstore tests and the
 * apiserver benchmark: on 127.0.0.1 ports that were free, with a temporary
 * data directory, as child processes stopped by PID. Never the packaged
 * service.
 */
#ifndef WHARF_ETCDRUN_H
#define WHARF_ETCDRUN_H

#include <stdbool.h>
#include <sys/types.h>

#define ETCDRUN_MAX 5

struct etcdrun_member {
    pid_t pid; /* 0 once stopped */
    int client_port, peer_port;
    char url[64]; /* http://127.0.0.1:PORT */
};

struct etcdrun {
    char dir[128];
    int n;
    struct etcdrun_member m[ETCDRUN_MAX];
    char endpoints[ETCDRUN_MAX * 64]; /* the client URLs, comma-separated */
};

/* The etcd binary ($ETCD, else etcd on PATH), or NULL when there is none. */
const char *etcdrun_binary(void);
/* Starts an n-member cluster under parent (a directory; NULL: /dev/shm when
 * present, else /tmp) and waits until every member reports healthy.
 * Returns 0, or -1 with a message on stderr (and nothing left running). */
int etcdrun_start(struct etcdrun *c, int n, const char *parent);
/* Stops member i (SIGTERM, then SIGKILL after 5 s). */
void etcdrun_stop_member(struct etcdrun *c, int i);
/* Stops every member and removes the data directory. */
void etcdrun_stop(struct etcdrun *c);

#endif
