/*
 * echo-server.c - the C baseline for the TCP echo benchmarks.
 *
 * A single-threaded, level-triggered epoll echo server: one read() of up to
 * 64 KiB per readiness event, written straight back with one write(). If the
 * write is partial, the rest is queued, the connection waits for EPOLLOUT and
 * is not read from until the queue has drained (so a client that does not
 * read cannot make the server buffer without bound).
 *
 *   usage: echo-server --port N [--host 127.0.0.1]
 *
 * Prints "listening on HOST:PORT" once the socket is listening (--port 0 picks
 * a free port and prints it). Exits with status 0 on SIGINT or SIGTERM.
 *
 * Build: cc -O2 -Wall -Wextra -o echo-server echo-server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUF_SIZE  (64 * 1024)
#define MAX_EVENTS     512
#define LISTEN_BACKLOG 4096

struct conn {
    int fd;
    uint32_t events;  /* current epoll interest: EPOLLIN or EPOLLOUT */
    char *pending;    /* bytes still to be echoed: pending[off..len) */
    size_t len, off, cap;
    struct conn *prev, *next; /* list of open connections, for shutdown */
};

static int epfd = -1;
static int spare_fd = -1; /* kept open so we can shed a connection on EMFILE */
static struct conn *conns;
static volatile sig_atomic_t stop_requested;
static char buf[READ_BUF_SIZE]; /* shared: data only stays here during one event */

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void set_interest(struct conn *c, uint32_t events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        perror("epoll_ctl(MOD)");
    c->events = events;
}

static void close_conn(struct conn *c)
{
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->pending);
    free(c);
}

static int is_transient(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static void on_readable(struct conn *c)
{
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && !is_transient(errno))) {
        close_conn(c); /* EOF, ECONNRESET, ... */
        return;
    }
    if (n < 0)
        return;

    ssize_t w = write(c->fd, buf, (size_t)n);
    if (w < 0) {
        if (!is_transient(errno)) {
            close_conn(c);
            return;
        }
        w = 0;
    }
    if (w == n)
        return;

    /* Partial write: keep the rest, stop reading until it is flushed. */
    size_t rest = (size_t)(n - w);
    if (rest > c->cap) {
        char *p = realloc(c->pending, rest);
        if (!p) {
            close_conn(c);
            return;
        }
        c->pending = p;
        c->cap = rest;
    }
    memcpy(c->pending, buf + w, rest);
    c->len = rest;
    c->off = 0;
    set_interest(c, EPOLLOUT);
}

static void on_writable(struct conn *c)
{
    ssize_t w = write(c->fd, c->pending + c->off, c->len - c->off);
    if (w < 0) {
        if (!is_transient(errno))
            close_conn(c);
        return;
    }
    c->off += (size_t)w;
    if (c->off == c->len) {
        c->len = c->off = 0;
        set_interest(c, EPOLLIN);
    }
}

static void accept_connections(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && spare_fd >= 0) {
                /* Out of descriptors: accept with the spare one and close,
                 * or level-triggered epoll would wake us forever. */
                close(spare_fd);
                fd = accept(lfd, NULL, NULL);
                if (fd >= 0)
                    close(fd);
                spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                continue;
            }
            perror("accept4");
            return;
        }

        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->events = EPOLLIN;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_ctl(ADD)");
            close(fd);
            free(c);
            continue;
        }
        c->next = conns;
        if (conns)
            conns->prev = c;
        conns = c;
    }
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s --port N [--host 127.0.0.1]\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = -1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            port = strtol(argv[++i], &end, 10);
            if (*end != '\0' || port < 0 || port > 65535)
                usage(argv[0]);
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else {
            usage(argv[0]);
        }
    }
    if (port < 0)
        usage(argv[0]);

    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "echo-server: --host must be an IPv4 address: %s\n", host);
        return 2;
    }

    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);

    /* SIGINT/SIGTERM are only delivered while we sleep in epoll_pwait(). */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        perror("socket");
        return 1;
    }
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(lfd, LISTEN_BACKLOG) < 0) {
        perror("listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        perror("epoll_create1");
        return 1;
    }
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("epoll_ctl(ADD listener)");
        return 1;
    }
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    printf("listening on %s:%d\n", host, ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event events[MAX_EVENTS];
    while (!stop_requested) {
        int n = epoll_pwait(epfd, events, MAX_EVENTS, -1, &waitmask);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_pwait");
            break;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL)
                accept_connections(lfd);
            else if (c->off < c->len)
                on_writable(c); /* errors surface as a failing write() */
            else
                on_readable(c); /* ... or as a failing read() */
        }
    }

    while (conns)
        close_conn(conns);
    close(lfd);
    close(epfd);
    if (spare_fd >= 0)
        close(spare_fd);
    return 0;
}
