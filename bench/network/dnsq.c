/*
 * dnsq — DNS lookup latency from inside a container, for bench/network.
 *
 *     dnsq NAME SERVER COUNT
 *
 * Sends COUNT A queries for NAME to SERVER:53 over UDP, one at a time, and
 * prints "median_us p90_us min_us answered" of the round trips. Built
 * statically by run.sh and copied into the benchmark image, so both engines
 * run the same binary.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: dnsq NAME SERVER COUNT\n");
        return 2;
    }
    int count = atoi(argv[3]);
    unsigned char q[512];
    size_t len = 12;
    memset(q, 0, 12);
    q[2] = 1; /* RD */
    q[5] = 1; /* one question */
    for (const char *p = argv[1]; *p;) {
        size_t l = strcspn(p, ".");
        q[len++] = (unsigned char)l;
        memcpy(q + len, p, l);
        len += l;
        p += l + (p[l] == '.');
    }
    q[len++] = 0;
    q[len++] = 0, q[len++] = 1; /* A */
    q[len++] = 0, q[len++] = 1; /* IN */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
    if (fd < 0 || inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("dnsq");
        return 1;
    }
    double *t = calloc((size_t)count, sizeof(double));
    int answered = 0;
    for (int i = 0; i < count; i++) {
        q[0] = (unsigned char)(i >> 8), q[1] = (unsigned char)i;
        double t0 = now_us();
        if (send(fd, q, len, 0) < 0)
            continue;
        unsigned char r[1024];
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 2000) <= 0)
            continue;
        ssize_t n = recv(fd, r, sizeof(r), 0);
        if (n < 12 || r[0] != q[0] || r[1] != q[1] || (r[3] & 0x0f) || !(r[6] | r[7]))
            continue;
        t[answered++] = now_us() - t0;
    }
    if (!answered) {
        fprintf(stderr, "dnsq: no answer for %s from %s\n", argv[1], argv[2]);
        return 1;
    }
    qsort(t, (size_t)answered, sizeof(double), cmp);
    printf("%.0f %.0f %.0f %d\n", t[answered / 2], t[(answered * 9) / 10], t[0], answered);
    return 0;
}
