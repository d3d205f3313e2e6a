/*
 * echo-client.c - closed-loop load generator for echo servers.
 *
 *   usage: echo-client --port N [--host 127.0.0.1] [--connections C]
 *                      [--size BYTES] [--duration SECONDS]
 *                      [--warmup SECONDS] [--json] [--phases] [--ws PATH]
 *          echo-client --port N [--host 127.0.0.1] --connections C --hold [--rate N]
 *
 * One thread, one epoll instance, C connections. Each connection sends one
 * message of SIZE bytes, waits until all SIZE bytes have come back (checking
 * that they are the bytes it sent), records the round-trip time and sends the
 * next message at once: exactly one message in flight per connection.
 *
 * Timeline: connect all C sockets (at most 10 s), run WARMUP seconds without
 * recording, then count for DURATION seconds. A message counts if its echo
 * completes inside the measurement window; its round-trip time is measured
 * from just before its first byte was written to when its last byte was read
 * (CLOCK_MONOTONIC). Latencies go into a log-linear histogram (128 buckets
 * per power of two, so percentiles are within 0.4%); the maximum is exact.
 *
 * Errors (refused or failed connects, resets, unexpected EOF, wrong echo
 * bytes) are counted; the connection is then dropped, not reopened. The exit
 * status is 1 if no connection could be made at all, 2 on bad usage.
 *
 * --ws PATH: WebSocket mode (RFC 6455). Once connected, each connection sends
 * an HTTP/1.1 Upgrade request for PATH (a fixed Sec-WebSocket-Key), and
 * checks the response head: the status line must be "HTTP/1.1 101 ", the head
 * must carry the Sec-WebSocket-Accept value that key calls for, and nothing
 * may follow the head (an echo server sends no frame unasked). Then the same
 * closed loop runs with frames: each message is one masked binary frame (FIN,
 * opcode 2, mask bit, 4-byte mask, SIZE bytes of payload), and its echo must be
 * the server's unmasked binary frame with the same payload, checked byte for
 * byte as it arrives. The frame is built (and masked) once, so a message costs
 * the client what a plain one does. A connection counts as connected (for the
 * connect timeout, the start of the warm-up, and the exit status 1) once its
 * handshake is through; a refused or broken handshake is an error.
 *
 * --phases: also print "phase: measure" on stderr when the measurement window
 * opens (after connect + warm-up) and "phase: done" when it closes, so that a
 * harness can sample the server's CPU time over exactly that window.
 *
 * --hold: idle mode. Open C connections (at most 256 connects in flight at a
 * time, so a listen backlog is never overrun), send nothing, print
 * "held N" (N = connections established) on stdout once every connect has
 * finished, then wait, doing nothing, until SIGINT or SIGTERM (exit 0). A held
 * connection that the server closes is counted as an error and dropped.
 * --rate N paces the connects at N per second (default: as fast as possible),
 * so that a server that accepts more slowly than that never sees its listen
 * backlog overflow (the kernel would drop SYNs, retried after 1 s, 3 s, ...).
 *
 * Build: cc -O2 -Wall -Wextra -o echo-client echo-client.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS       1024
#define CONNECT_TIMEOUT  (10ull * 1000000000ull) /* ns */
#define HOLD_TIMEOUT     (60ull * 1000000000ull) /* ns, for all of --hold's connects */
#define HOLD_INFLIGHT    256                      /* --hold: connects in flight at once */
#define WS_HEAD_MAX      2048                     /* --ws: longest 101 response head taken */

/* --ws: the RFC 6455 example key, and the Sec-WebSocket-Accept it calls for
 * (base64 of SHA-1 of key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"). */
#define WS_KEY           "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define WS_REQUEST       "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
                         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n"

/* ---- latency histogram ------------------------------------------------- */

/* Values below 2*SUB_COUNT ns are stored exactly; above that, each power of
 * two is split into SUB_COUNT equal buckets (bucket width / value < 1/128). */
#define SUB_BITS     7
#define SUB_COUNT    (1u << SUB_BITS)
#define HIST_BUCKETS ((65 - SUB_BITS) * SUB_COUNT)

static uint64_t hist[HIST_BUCKETS];
static uint64_t hist_total, hist_max;

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * SUB_COUNT)
        return (unsigned)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - SUB_BITS; /* >= 1 */
    unsigned sub = (unsigned)(v >> shift) - SUB_COUNT;
    return (unsigned)(shift + 1) * SUB_COUNT + sub;
}

/* Middle of a bucket's value range. */
static double bucket_value(unsigned idx)
{
    if (idx < 2 * SUB_COUNT)
        return idx;
    unsigned shift = idx / SUB_COUNT - 1;
    uint64_t low = (uint64_t)(SUB_COUNT + idx % SUB_COUNT) << shift;
    uint64_t width = (uint64_t)1 << shift;
    return (double)low + (double)(width - 1) / 2.0;
}

static void hist_record(uint64_t ns)
{
    hist[bucket_of(ns)]++;
    hist_total++;
    if (ns > hist_max)
        hist_max = ns;
}

/* Value at quantile q (0..1), in ns; the smallest bucket whose cumulative
 * count reaches ceil(q * total). */
static double hist_quantile(double q)
{
    if (hist_total == 0)
        return 0;
    double exact = q * (double)hist_total;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact || rank == 0)
        rank++;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank) {
            double v = bucket_value(i);
            return v > (double)hist_max ? (double)hist_max : v;
        }
    }
    return (double)hist_max;
}

/* ---- connections ----------------------------------------------------------- */

struct conn {
    int fd;              /* -1 once closed */
    int connected;       /* ready: connected and, with --ws, upgraded */
    int handshaking;     /* --ws: connected, the Upgrade request sent or being sent */
    char *head;          /* --ws: the 101 response head read so far (WS_HEAD_MAX) */
    size_t head_len;
    uint32_t events;     /* current epoll interest */
    size_t sent, received;
    uint64_t t_start;    /* when the current message started, ns */
};

static int epfd = -1;
static struct conn *conns;
static size_t msg_size;
static char *message;    /* the SIZE bytes every message carries */
static char *scratch;    /* receive buffer, echo_len bytes */

/* What a connection writes per message and what must come back: the message
 * itself, or with --ws a masked client frame and the server's unmasked frame
 * around it. */
static const char *out_msg, *echo_msg;
static size_t out_len, echo_len;
static const char *ws_path;        /* --ws PATH, or NULL */
static char *ws_request;           /* the Upgrade request */
static size_t ws_request_len;

static int pending_connects, live, ever_connected;
static uint64_t errors, messages;
static uint64_t warm_end = UINT64_MAX, measure_end = UINT64_MAX;
static int first_error_reported;
static const char *target_desc;
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fail_conn(struct conn *c, const char *what, int err)
{
    if (c->fd < 0)
        return;
    if (!first_error_reported) {
        fprintf(stderr, "echo-client: %s: %s: %s (further errors are only counted)\n",
                target_desc, what, err ? strerror(err) : "protocol error");
        first_error_reported = 1;
    }
    errors++;
    if (!c->connected)
        pending_connects--;
    close(c->fd);
    c->fd = -1;
    live--;
}

static void set_interest(struct conn *c, uint32_t events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = { .events = events, .data.ptr = c };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

/* Write as much of the current message (or --ws Upgrade request) as the
 * socket takes. Returns -1 if the connection failed. */
static int send_some(struct conn *c)
{
    const char *buf = c->handshaking ? ws_request : out_msg;
    size_t len = c->handshaking ? ws_request_len : out_len;
    if (c->sent < len) {
        ssize_t n = write(c->fd, buf + c->sent, len - c->sent);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fail_conn(c, "write", errno);
                return -1;
            }
            n = 0;
        }
        c->sent += (size_t)n;
    }
    /* Always read: the echo of a large message starts coming back before
     * we have finished sending it. */
    set_interest(c, EPOLLIN | (c->sent < len ? EPOLLOUT : 0));
    return 0;
}

static int start_message(struct conn *c, uint64_t now)
{
    c->sent = 0;
    c->received = 0;
    c->t_start = now;
    return send_some(c);
}

/* The connection is ready (connected, and upgraded with --ws). */
static void on_ready(struct conn *c)
{
    c->connected = 1;
    pending_connects--;
    ever_connected++;
    start_message(c, now_ns());
}

static void on_connected(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        fail_conn(c, "connect", err);
        return;
    }
    if (ws_path) {
        c->handshaking = 1;
        c->sent = 0;
        send_some(c);
        return;
    }
    on_ready(c);
}

/* --ws: read the response to the Upgrade request. The whole head must be
 * the 101 one; nothing may follow it, since no frame has been sent yet. */
static void on_handshake_readable(struct conn *c)
{
    ssize_t n = read(c->fd, c->head + c->head_len, WS_HEAD_MAX - c->head_len);
    if (n == 0) {
        fail_conn(c, "server closed the connection during the WebSocket handshake", 0);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            fail_conn(c, "read", errno);
        return;
    }
    c->head_len += (size_t)n;
    char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->head_len == WS_HEAD_MAX)
            fail_conn(c, "WebSocket handshake: response head too long", 0);
        return;
    }
    size_t head_end = (size_t)(end - c->head) + 4;
    static const char status[] = "HTTP/1.1 101 ";
    if (c->head_len < sizeof status - 1 || memcmp(c->head, status, sizeof status - 1) != 0) {
        static char what[160];
        char *eol = memchr(c->head, '\r', c->head_len);
        int line_len = (int)(eol - c->head) < 100 ? (int)(eol - c->head) : 100;
        snprintf(what, sizeof what, "WebSocket handshake refused: \"%.*s\"", line_len, c->head);
        fail_conn(c, what, 0);
        return;
    }
    if (!memmem(c->head, head_end, WS_ACCEPT, sizeof WS_ACCEPT - 1)) {
        fail_conn(c, "WebSocket handshake: no (or a wrong) Sec-WebSocket-Accept", 0);
        return;
    }
    if (head_end != c->head_len) {
        fail_conn(c, "WebSocket handshake: bytes after the 101 response head", 0);
        return;
    }
    c->handshaking = 0;
    on_ready(c);
}

/* Returns -1 if the connection failed. */
static int on_readable(struct conn *c)
{
    ssize_t n = read(c->fd, scratch, echo_len - c->received);
    if (n == 0) {
        fail_conn(c, "server closed the connection", 0);
        return -1;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        fail_conn(c, "read", errno);
        return -1;
    }
    if (memcmp(scratch, echo_msg + c->received, (size_t)n) != 0) {
        fail_conn(c, ws_path ? "echoed frame differs from the expected binary frame" : "echoed bytes differ from the bytes sent", 0);
        return -1;
    }
    c->received += (size_t)n;
    if (c->received < echo_len)
        return 0;

    uint64_t now = now_ns();
    if (now >= warm_end && now < measure_end) {
        messages++;
        hist_record(now - c->t_start);
    }
    return start_message(c, now);
}

static int open_conn(struct conn *c, const struct sockaddr_in *addr)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->events = EPOLLOUT;
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    live++;
    pending_connects++;
    /* Completion (or failure) is reported as EPOLLOUT, even when connect()
     * finishes immediately, so there is a single code path. */
    if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) < 0 &&
        errno != EINPROGRESS)
        fail_conn(c, "connect", errno);
    return 0;
}

/* ---- --ws: frames ---------------------------------------------------------- */

/* One final binary frame (FIN + opcode 2) carrying len bytes of payload,
 * masked with mask when mask is not NULL (a client's frame), else unmasked (a
 * server's). Returns a malloc'ed buffer and its length in *frame_len. */
static char *ws_frame(const char *payload, size_t len, const unsigned char *mask, size_t *frame_len)
{
    unsigned char head[14];
    size_t h = 0;
    head[h++] = 0x82;
    unsigned char mask_bit = mask ? 0x80 : 0;
    if (len < 126) {
        head[h++] = mask_bit | (unsigned char)len;
    } else if (len <= 0xffff) {
        head[h++] = mask_bit | 126;
        head[h++] = (unsigned char)(len >> 8);
        head[h++] = (unsigned char)len;
    } else {
        head[h++] = mask_bit | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            head[h++] = (unsigned char)((uint64_t)len >> shift);
    }
    if (mask) {
        memcpy(head + h, mask, 4);
        h += 4;
    }
    char *frame = malloc(h + len);
    if (!frame)
        return NULL;
    memcpy(frame, head, h);
    for (size_t i = 0; i < len; i++)
        frame[h + i] = mask ? (char)(payload[i] ^ mask[i % 4]) : payload[i];
    *frame_len = h + len;
    return frame;
}

/* ---- --hold: idle connections -------------------------------------------- */

/* Open nconns connections, HOLD_INFLIGHT at a time, send nothing, report
 * "held N" and wait for SIGINT/SIGTERM. */
static int run_hold(int nconns, const struct sockaddr_in *addr, double rate)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct epoll_event events[MAX_EVENTS];
    uint64_t start = now_ns();
    uint64_t deadline = start + HOLD_TIMEOUT;
    int next = 0, announced = 0;
    while (!stop_requested) {
        /* With --rate, connection i may start only at start + i / rate. */
        int allowed = nconns;
        if (rate > 0) {
            double due = (double)(now_ns() - start) / 1e9 * rate + 1;
            if (due < nconns)
                allowed = (int)due;
        }
        while (next < allowed && pending_connects < HOLD_INFLIGHT) {
            if (open_conn(&conns[next], addr) < 0) {
                if (!first_error_reported) {
                    perror("echo-client: socket");
                    first_error_reported = 1;
                }
                errors++;
            }
            next++;
        }
        uint64_t now = now_ns();
        if (pending_connects > 0 && now >= deadline) {
            for (int i = 0; i < next; i++)
                if (conns[i].fd >= 0 && !conns[i].connected)
                    fail_conn(&conns[i], "connect", ETIMEDOUT);
        }
        if (!announced && next == nconns && pending_connects == 0) {
            printf("held %d\n", live);
            fflush(stdout);
            announced = 1;
        }
        int timeout_ms = pending_connects > 0 ? (int)((deadline - now + 999999) / 1000000) : -1;
        if (next < nconns && rate > 0)
            timeout_ms = 1; /* paced: come back for the next connects */
        int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("echo-client: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (!c->connected) {
                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                    err = errno;
                if (err) {
                    fail_conn(c, "connect", err);
                    continue;
                }
                c->connected = 1;
                pending_connects--;
                ever_connected++;
                set_interest(c, EPOLLIN | EPOLLRDHUP);
                continue;
            }
            /* A held connection became readable: the server closed it (or sent
             * something, which an idle echo server never does). */
            char b[256];
            ssize_t r = read(c->fd, b, sizeof b);
            if (r == 0)
                fail_conn(c, "server closed a held connection", 0);
            else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                fail_conn(c, "read", errno);
        }
    }
    for (int i = 0; i < nconns; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    close(epfd);
    if (ever_connected == 0) {
        fprintf(stderr, "echo-client: no connection to %s could be made\n", target_desc);
        return 1;
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s --port N [--host 127.0.0.1] [--connections C] [--size BYTES]\n"
            "       [--duration SECONDS] [--warmup SECONDS] [--json] [--phases] [--ws PATH]\n"
            "   or: %s --port N [--host 127.0.0.1] --connections C --hold [--rate PER_S]\n"
            "defaults: --connections 1 --size 64 --duration 10 --warmup 1\n",
            prog, prog);
    exit(2);
}

static double parse_num(const char *s, const char *prog, double min)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= min))
        usage(prog);
    return v;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = -1;
    int nconns = 1, json = 0, phases = 0, hold = 0;
    double duration = 10, warmup = 1, hold_rate = 0;
    msg_size = 64;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--json") == 0)
            json = 1;
        else if (strcmp(a, "--phases") == 0)
            phases = 1;
        else if (strcmp(a, "--hold") == 0)
            hold = 1;
        else if (strcmp(a, "--rate") == 0 && has_value)
            hold_rate = parse_num(argv[++i], argv[0], 0);
        else if (strcmp(a, "--port") == 0 && has_value)
            port = (long)parse_num(argv[++i], argv[0], 1);
        else if (strcmp(a, "--host") == 0 && has_value)
            host = argv[++i];
        else if (strcmp(a, "--connections") == 0 && has_value)
            nconns = (int)parse_num(argv[++i], argv[0], 1);
        else if (strcmp(a, "--size") == 0 && has_value)
            msg_size = (size_t)parse_num(argv[++i], argv[0], 1);
        else if (strcmp(a, "--duration") == 0 && has_value)
            duration = parse_num(argv[++i], argv[0], 0.001);
        else if (strcmp(a, "--warmup") == 0 && has_value)
            warmup = parse_num(argv[++i], argv[0], 0);
        else if (strcmp(a, "--ws") == 0 && has_value && argv[i + 1][0] == '/')
            ws_path = argv[++i];
        else
            usage(argv[0]);
    }
    if (port < 1 || port > 65535 || (hold && ws_path))
        usage(argv[0]);

    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "echo-client: --host must be an IPv4 address: %s\n", host);
        return 2;
    }
    char desc[64];
    snprintf(desc, sizeof desc, "%s:%ld", host, port);
    target_desc = desc;

    /* 1000 connections need more than the usual 1024-descriptor soft limit
     * leaves once stdio and epoll are counted; take what the hard limit allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)nconns + 16 > rl.rlim_cur)
            fprintf(stderr, "echo-client: warning: descriptor limit %llu is too low for %d connections\n",
                    (unsigned long long)rl.rlim_cur, nconns);
    }
    signal(SIGPIPE, SIG_IGN);

    message = malloc(msg_size);
    conns = calloc((size_t)nconns, sizeof *conns);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!message || !conns || epfd < 0) {
        perror("echo-client: setup");
        return 1;
    }
    for (size_t i = 0; i < msg_size; i++)
        message[i] = (char)('a' + i % 26);
    out_msg = echo_msg = message;
    out_len = echo_len = msg_size;
    if (ws_path) {
        static const unsigned char mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
        char *out = ws_frame(message, msg_size, mask, &out_len);
        char *echo = ws_frame(message, msg_size, NULL, &echo_len);
        int n = snprintf(NULL, 0, WS_REQUEST, ws_path, desc);
        ws_request = malloc((size_t)n + 1);
        char *heads = malloc((size_t)nconns * WS_HEAD_MAX);
        if (!out || !echo || !ws_request || !heads) {
            perror("echo-client: setup");
            return 1;
        }
        snprintf(ws_request, (size_t)n + 1, WS_REQUEST, ws_path, desc);
        ws_request_len = (size_t)n;
        for (int i = 0; i < nconns; i++)
            conns[i].head = heads + (size_t)i * WS_HEAD_MAX;
        out_msg = out;
        echo_msg = echo;
    }
    scratch = malloc(echo_len);
    if (!scratch) {
        perror("echo-client: setup");
        return 1;
    }
    if (hold)
        return run_hold(nconns, &addr, hold_rate);

    uint64_t connect_deadline = now_ns() + CONNECT_TIMEOUT;
    for (int i = 0; i < nconns; i++) {
        if (open_conn(&conns[i], &addr) < 0) {
            if (!first_error_reported) {
                perror("echo-client: socket");
                first_error_reported = 1;
            }
            errors++;
        }
    }

    struct epoll_event events[MAX_EVENTS];
    uint64_t now = now_ns();
    int measure_marked = 0;
    while (live > 0) {
        now = now_ns();
        if (pending_connects > 0 && now >= connect_deadline) {
            for (int i = 0; i < nconns; i++)
                if (conns[i].fd >= 0 && !conns[i].connected)
                    fail_conn(&conns[i], "connect", ETIMEDOUT);
        }
        if (pending_connects == 0 && warm_end == UINT64_MAX) {
            warm_end = now + (uint64_t)(warmup * 1e9);
            measure_end = warm_end + (uint64_t)(duration * 1e9);
        }
        if (phases && !measure_marked && now >= warm_end) {
            fputs("phase: measure\n", stderr);
            measure_marked = 1;
        }
        if (now >= measure_end)
            break;

        uint64_t deadline = pending_connects > 0 ? connect_deadline
                          : phases && !measure_marked ? warm_end
                          : measure_end;
        int timeout_ms = (int)((deadline - now + 999999) / 1000000);
        int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("echo-client: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (c->handshaking) {
                if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                    on_handshake_readable(c);
                if (c->fd >= 0 && c->handshaking && (events[i].events & EPOLLOUT))
                    send_some(c);
                continue;
            }
            if (!c->connected) {
                on_connected(c);
                continue;
            }
            if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && on_readable(c) < 0)
                continue;
            if ((events[i].events & EPOLLOUT) && c->sent < out_len)
                send_some(c);
        }
    }
    if (phases)
        fputs("phase: done\n", stderr);
    if (warm_end == UINT64_MAX)
        warm_end = now; /* never got going: nothing was measured */

    for (int i = 0; i < nconns; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    close(epfd);

    uint64_t end = now < measure_end ? now : measure_end;
    double measured_s = end > warm_end ? (double)(end - warm_end) / 1e9 : 0;
    double rate = measured_s > 0 ? (double)messages / measured_s : 0;
    double p50 = hist_quantile(0.50) / 1e3, p90 = hist_quantile(0.90) / 1e3;
    double p99 = hist_quantile(0.99) / 1e3, max = (double)hist_max / 1e3;

    if (json) {
        printf("{\"connections\":%d,\"size\":%zu,\"duration_s\":%.3f,\"messages\":%llu,"
               "\"msgs_per_s\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
               "\"max_us\":%.1f,\"errors\":%llu}\n",
               nconns, msg_size, measured_s, (unsigned long long)messages, rate,
               p50, p90, p99, max, (unsigned long long)errors);
    } else {
        printf("echo-client: %s, %d connections (%d connected), %zu-byte messages\n",
               target_desc, nconns, ever_connected, msg_size);
        printf("  measured:   %.3f s after %.3f s warmup%s\n", measured_s, warmup,
               live == 0 ? " (stopped early: every connection failed)" : "");
        printf("  messages:   %llu  (%.0f msg/s)\n", (unsigned long long)messages, rate);
        printf("  round trip: p50 %.1f us  p90 %.1f us  p99 %.1f us  max %.1f us\n",
               p50, p90, p99, max);
        printf("  errors:     %llu\n", (unsigned long long)errors);
    }
    fflush(stdout);

    if (ever_connected == 0) {
        fprintf(stderr, "echo-client: no connection to %s could be made\n", target_desc);
        return 1;
    }
    return 0;
}
