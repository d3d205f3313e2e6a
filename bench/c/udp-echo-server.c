/*
 * udp-echo-server.c - the practical limit for the UDP echo benchmark: a single-threaded
 * epoll server that reads with recvmmsg(2) and answers with sendmmsg(2).
 *
 *   usage: udp-echo-server --port N [--host 127.0.0.1] [--batch 64] [--idle-thread]
 *
 * Each wake-up: one recvmmsg of up to BATCH datagrams from the socket (level-triggered, so what
 * is left is reported again by the next epoll_wait), then every datagram goes back to its sender
 * with one sendmmsg (more if the kernel stops early). The same syscalls per wake-up as the
 * runtime's dgram (epoll_wait, recvmmsg, sendmmsg), so the difference between the two is what the
 * runtime does around them. A datagram the kernel refuses (EAGAIN: send buffer full) is dropped,
 * as UDP allows; the count is printed on exit.
 *
 * --idle-thread: start one thread that sleeps forever (a multi-threaded process, as every Node
 * process is: see http-server.c for what that costs the kernel per fd syscall).
 *
 * Prints "listening on HOST:PORT" once bound. Exits 0 on SIGTERM or SIGINT.
 *
 * Build: cc -O2 -Wall -Wextra -pthread -o udp-echo-server udp-echo-server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define SLOT      65536 /* room per datagram: the largest UDP payload fits */

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void *idle_thread(void *arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: udp-echo-server --port N [--host 127.0.0.1] [--batch 64] [--idle-thread]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1, batch = 64, idle = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--idle-thread")) idle = 1;
        else usage();
    }
    if (port < 0 || port > 65535 || batch < 1 || batch > MAX_BATCH) usage();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR and the loop ends */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (idle) {
        pthread_t t;
        if (pthread_create(&t, NULL, idle_thread, NULL) != 0) { perror("pthread_create"); return 1; }
    }

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("socket"); return 1; }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "bad --host %s\n", host); return 2; }
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
    socklen_t alen = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    printf("listening on %s:%d\n", host, ntohs(addr.sin_port));
    fflush(stdout);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) { perror("epoll"); return 1; }

    static char data[MAX_BATCH][SLOT];
    static struct mmsghdr msgs[MAX_BATCH];
    static struct iovec iov[MAX_BATCH];
    static struct sockaddr_in6 peers[MAX_BATCH]; /* room for either family */
    unsigned long long echoed = 0, dropped = 0;
    while (!stop) {
        struct epoll_event out[8];
        int n = epoll_wait(ep, out, 8, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int k = 0; k < batch; k++) {
            iov[k].iov_base = data[k];
            iov[k].iov_len = SLOT;
            memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
            msgs[k].msg_hdr.msg_name = &peers[k];
            msgs[k].msg_hdr.msg_namelen = sizeof peers[k];
        }
        int got = recvmmsg(fd, msgs, (unsigned)batch, 0, NULL);
        if (got <= 0) continue; /* EAGAIN (a spurious wake-up) or EINTR */
        for (int k = 0; k < got; k++) iov[k].iov_len = msgs[k].msg_len; /* answer exactly what came */
        for (int sent = 0; sent < got;) {
            int r = sendmmsg(fd, msgs + sent, (unsigned)(got - sent), MSG_NOSIGNAL);
            if (r > 0) {
                sent += r;
                echoed += (unsigned long long)r;
            } else if (r < 0 && errno == EINTR) {
                continue;
            } else { /* EAGAIN, or an error for this datagram (e.g. ECONNREFUSED): skip it */
                dropped++;
                sent++;
            }
        }
    }
    fprintf(stderr, "udp-echo-server: %llu datagrams echoed, %llu dropped\n", echoed, dropped);
    return 0;
}
