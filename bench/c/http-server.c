/*
 * http-server.c - the "practical limit" baseline for the HTTP benchmarks.
 *
 * A single-threaded, level-triggered epoll HTTP/1.1 server written the way a
 * competent C programmer would write it: no framework, no tricks, one read()
 * per readiness event, every pipelined request of that read answered with one
 * write(). It answers every request with the same fixed 200 response, so it
 * writes exactly the bytes the other servers in the comparison write.
 *
 *   usage: http-server --port N [--host 127.0.0.1] [--idle-thread]
 *
 * --idle-thread starts one more thread that never does anything. The server is
 * exactly the same; only the process is multi-threaded, as every Node process
 * is (V8's platform workers). That alone makes each fd syscall dearer: with the
 * fd table shared by several threads, the kernel takes and drops a reference on
 * the file (two atomic operations) in every read() and write(), where a
 * single-threaded process skips them (fdget/fput in a perf profile). The
 * benchmark runs both, to show that part of any Node server's cost apart from
 * the rest.
 *
 * Prints "listening on HOST:PORT" once the socket is listening (--port 0 picks
 * a free port and prints it). Exits with status 0 on SIGINT or SIGTERM.
 *
 * Build: cc -O2 -Wall -Wextra -o http-server http-server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-request.h"

#define READ_BUF_SIZE   (16 * 1024) /* per-connection input buffer */
#define MAX_EVENTS      512
#define LISTEN_BACKLOG  4096

struct conn {
    int fd;
    uint32_t events;     /* current epoll interest: EPOLLIN or EPOLLOUT */
    int closing;         /* last response queued: close once it is flushed */
    int draining;        /* write side shut down, discarding input until EOF */
    uint64_t body_left;  /* request body bytes still to be skipped */
    struct out_queue out; /* responses not yet written */
    struct conn *prev, *next; /* list of open connections, for shutdown */
    size_t in_len;
    char in[READ_BUF_SIZE];
};

static int epfd = -1;
static int spare_fd = -1; /* kept open so we can shed a connection on EMFILE */
static struct conn *conns;
static volatile sig_atomic_t stop_requested;

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
    close(c->fd); /* also removes it from the epoll set */
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->out.data);
    free(c);
}

/*
 * One write() of everything queued. On a partial write keep the rest and wait
 * for EPOLLOUT; while output is pending we do not read from the connection.
 * Returns -1 if the connection was closed.
 */
static int flush_output(struct conn *c)
{
    ssize_t n = write(c->fd, c->out.data + c->out.off, c->out.len - c->out.off);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            n = 0;
        else {
            close_conn(c); /* EPIPE, ECONNRESET, ... */
            return -1;
        }
    }
    c->out.off += (size_t)n;
    if (c->out.off < c->out.len) {
        set_interest(c, EPOLLOUT);
        return 0;
    }
    c->out.len = c->out.off = 0;
    if (c->closing) {
        /* Do not close() straight away: if unread input is still queued the
         * kernel would answer with a RST, which can destroy the response we
         * just sent before the client reads it. Send FIN, then discard input
         * until the client closes its side. */
        shutdown(c->fd, SHUT_WR);
        c->draining = 1;
    }
    set_interest(c, EPOLLIN);
    return 0;
}

static void on_readable(struct conn *c)
{
    ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
    if (n == 0) {
        close_conn(c); /* EOF */
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            close_conn(c); /* ECONNRESET, ... */
        return;
    }
    if (c->draining) {
        c->in_len = 0; /* throw it away; we are waiting for EOF */
        return;
    }
    c->in_len += (size_t)n;

    /* Answer every complete request in the buffer. */
    int closing = answer_requests(c->in, &c->in_len, &c->body_left, &c->out);
    if (closing < 0) {
        close_conn(c);
        return;
    }
    if (closing)
        c->closing = 1;
    if (c->out.len > 0)
        flush_output(c); /* all responses of this read in one write() */
}

static void on_event(struct conn *c)
{
    /* Dispatch on our own state rather than on the event bits: errors and
     * hang-ups then surface as a failing read() or write(). */
    if (c->out.off < c->out.len)
        flush_output(c);
    else
        on_readable(c);
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
                /* Out of descriptors. With level-triggered epoll the pending
                 * connection would wake us forever, so accept it with the
                 * spare descriptor and close it right away. */
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

        struct conn *c = malloc(sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->events = EPOLLIN;
        c->closing = c->draining = 0;
        c->body_left = 0;
        c->out = (struct out_queue){ 0 };
        c->in_len = 0;
        c->prev = NULL;
        c->next = conns;

        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_ctl(ADD)");
            close(fd);
            free(c);
            continue;
        }
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

/* The --idle-thread thread: blocks every signal (they stay the main thread's)
 * and sleeps until the process exits. */
static void *idle_thread(void *arg)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;)
        pause();
    return arg;
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s --port N [--host 127.0.0.1] [--idle-thread]\n", prog);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = -1;
    int with_idle_thread = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            port = strtol(argv[++i], &end, 10);
            if (*end != '\0' || port < 0 || port > 65535)
                usage(argv[0]);
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else if (strcmp(argv[i], "--idle-thread") == 0) {
            with_idle_thread = 1;
        } else {
            usage(argv[0]);
        }
    }
    if (port < 0)
        usage(argv[0]);

    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "http-server: --host must be an IPv4 address: %s\n", host);
        return 2;
    }

    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);

    /* SIGINT/SIGTERM stay blocked except while we sleep in epoll_pwait(), so
     * a signal can never slip in between the stop check and the wait. */
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

    if (with_idle_thread) {
        pthread_t t;
        int err = pthread_create(&t, NULL, idle_thread, NULL);
        if (err != 0) {
            fprintf(stderr, "http-server: pthread_create: %s\n", strerror(err));
            return 1;
        }
        pthread_detach(t);
    }

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
            if (events[i].data.ptr == NULL)
                accept_connections(lfd);
            else
                on_event(events[i].data.ptr);
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
