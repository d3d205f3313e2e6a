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
#include <ctype.h>
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
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUF_SIZE   (16 * 1024) /* per-connection input buffer */
#define MAX_HEADER_SIZE (8 * 1024)  /* request line + headers + blank line */
#define MAX_EVENTS      512
#define LISTEN_BACKLOG  4096

/* The fixed response. Every server in the comparison sends exactly these
 * bytes (no Date header, on purpose). */
static const char RESPONSE_OK[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    "Hello, World!";

/* Same response for a request that asked for the connection to be closed
 * (Connection: close, or HTTP/1.0 without keep-alive). */
static const char RESPONSE_OK_CLOSE[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "Connection: close\r\n"
    "\r\n"
    "Hello, World!";

static const char RESPONSE_400[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n"
    "\r\n";

static const char RESPONSE_431[] =
    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n"
    "\r\n";

struct conn {
    int fd;
    uint32_t events;     /* current epoll interest: EPOLLIN or EPOLLOUT */
    int closing;         /* last response queued: close once it is flushed */
    int draining;        /* write side shut down, discarding input until EOF */
    uint64_t body_left;  /* request body bytes still to be skipped */
    char *out;           /* responses not yet written: out[out_off..out_len) */
    size_t out_len, out_off, out_cap;
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
    free(c->out);
    free(c);
}

/* Queue bytes for the next write(). Returns -1 if out of memory. */
static int append_output(struct conn *c, const char *data, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p)
            return -1;
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

/*
 * One write() of everything queued. On a partial write keep the rest and wait
 * for EPOLLOUT; while output is pending we do not read from the connection.
 * Returns -1 if the connection was closed.
 */
static int flush_output(struct conn *c)
{
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            n = 0;
        else {
            close_conn(c); /* EPIPE, ECONNRESET, ... */
            return -1;
        }
    }
    c->out_off += (size_t)n;
    if (c->out_off < c->out_len) {
        set_interest(c, EPOLLOUT);
        return 0;
    }
    c->out_len = c->out_off = 0;
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

static int is_tchar(unsigned char ch)
{
    return isalnum(ch) || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Case-insensitive "does the comma-separated list [v, end) contain token?" */
static int has_token(const char *v, const char *end, const char *token)
{
    size_t tlen = strlen(token);
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        const char *s = v;
        while (v < end && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tlen && strncasecmp(s, token, tlen) == 0)
            return 1;
    }
    return 0;
}

static int header_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/*
 * Parse one request head: p[0..len) runs from the request line up to and
 * including the terminating "\r\n\r\n". Only what this server needs is
 * looked at: the request line's shape, Content-Length and Connection.
 * Returns 0 on success, -1 for a malformed request.
 */
static int parse_request(const char *p, size_t len, uint64_t *content_length,
                         int *keep_alive)
{
    const char *end = p + len - 2; /* the final CRLF */
    const char *eol = memmem(p, len, "\r\n", 2);
    const char *s = p;

    /* METHOD SP target SP HTTP/1.x */
    while (s < eol && is_tchar((unsigned char)*s))
        s++;
    if (s == p || s == eol || *s != ' ')
        return -1;
    const char *target = ++s;
    while (s < eol && (unsigned char)*s > ' ' && *s != 0x7f)
        s++;
    if (s == target || s == eol || *s != ' ')
        return -1;
    s++;
    if (eol - s != 8 || memcmp(s, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)s[7]))
        return -1;
    *keep_alive = s[7] != '0'; /* HTTP/1.1 defaults to keep-alive, 1.0 to close */
    *content_length = 0;

    for (const char *line = eol + 2; line < end; line = eol + 2) {
        eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon || colon == line)
            return -1;
        size_t name_len = (size_t)(colon - line);
        const char *v = colon + 1, *vend = eol;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;

        if (header_is(line, name_len, "content-length")) {
            if (v == vend || vend - v > 18)
                return -1;
            uint64_t n = 0;
            for (const char *d = v; d < vend; d++) {
                if (!isdigit((unsigned char)*d))
                    return -1;
                n = n * 10 + (uint64_t)(*d - '0');
            }
            *content_length = n;
        } else if (header_is(line, name_len, "transfer-encoding")) {
            return -1; /* chunked request bodies are not supported */
        } else if (header_is(line, name_len, "connection")) {
            if (has_token(v, vend, "close"))
                *keep_alive = 0;
            else if (has_token(v, vend, "keep-alive"))
                *keep_alive = 1;
        }
    }
    return 0;
}

/* Answer with an error, then close once it has been written. */
static void fail_request(struct conn *c, const char *response, size_t len)
{
    if (append_output(c, response, len) < 0) {
        close_conn(c);
        return;
    }
    c->in_len = 0;
    c->closing = 1;
    flush_output(c);
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
    size_t pos = 0;
    while (pos < c->in_len) {
        if (c->body_left > 0) {
            size_t skip = c->in_len - pos;
            if (skip > c->body_left)
                skip = (size_t)c->body_left;
            pos += skip;
            c->body_left -= skip;
            continue;
        }
        const char *start = c->in + pos;
        size_t avail = c->in_len - pos;
        const char *term = memmem(start, avail, "\r\n\r\n", 4);
        if (!term) {
            if (avail >= MAX_HEADER_SIZE) {
                fail_request(c, RESPONSE_431, sizeof RESPONSE_431 - 1);
                return;
            }
            break; /* incomplete request: wait for more */
        }
        size_t head_len = (size_t)(term - start) + 4;
        if (head_len > MAX_HEADER_SIZE) {
            fail_request(c, RESPONSE_431, sizeof RESPONSE_431 - 1);
            return;
        }
        uint64_t content_length;
        int keep_alive;
        if (parse_request(start, head_len, &content_length, &keep_alive) < 0) {
            fail_request(c, RESPONSE_400, sizeof RESPONSE_400 - 1);
            return;
        }
        pos += head_len;
        c->body_left = content_length;
        int rc = keep_alive
            ? append_output(c, RESPONSE_OK, sizeof RESPONSE_OK - 1)
            : append_output(c, RESPONSE_OK_CLOSE, sizeof RESPONSE_OK_CLOSE - 1);
        if (rc < 0) {
            close_conn(c);
            return;
        }
        if (!keep_alive) {
            c->closing = 1;
            pos = c->in_len; /* ignore anything pipelined after it */
            break;
        }
    }

    /* Keep the unparsed tail (a partial request) at the front of the buffer. */
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;

    if (c->out_len > 0)
        flush_output(c); /* all responses of this read in one write() */
}

static void on_event(struct conn *c)
{
    /* Dispatch on our own state rather than on the event bits: errors and
     * hang-ups then surface as a failing read() or write(). */
    if (c->out_off < c->out_len)
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
        c->out = NULL;
        c->out_len = c->out_off = c->out_cap = 0;
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
