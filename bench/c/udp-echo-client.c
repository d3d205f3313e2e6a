/*
 * udp-echo-client.c - closed-loop load generator for UDP echo servers.
 *
 *   usage: udp-echo-client --port N [--host 127.0.0.1] [--sockets S] [--window W]
 *                          [--size BYTES] [--duration SECONDS] [--warmup SECONDS]
 *                          [--json] [--phases]
 *
 * S connected UDP sockets (default 4), each keeping W datagrams in flight (default 16): every
 * echo that comes back releases one more datagram from that socket. One thread, one epoll
 * instance; replies are read with recvmmsg and the datagrams they release sent with sendmmsg.
 *
 * Each datagram carries its socket, a sequence number and its send time (CLOCK_MONOTONIC); a
 * reply must be the exact bytes sent (else it counts as an error). UDP may drop datagrams (a
 * server's receive buffer that overflows): a socket that has heard nothing for 100 ms while it
 * has datagrams out counts them lost and sends a fresh window, so the load never stalls.
 *
 * Timeline: WARMUP seconds without recording, then DURATION seconds counted: an echo counts if
 * it arrives inside the window; its round-trip time goes into a log-linear histogram (128
 * buckets per power of two; the maximum is exact).
 *
 * --phases: "phase: measure" on stderr when the window opens and "phase: done" when it closes,
 * so that a harness can sample the server's CPU time over exactly that window.
 * --json: one line {"messages":…,"msgs_per_s":…,"duration_s":…,"p50_us":…,"p90_us":…,
 * "p99_us":…,"max_us":…,"errors":…,"lost":…}.
 *
 * Build: cc -O2 -Wall -Wextra -o udp-echo-client udp-echo-client.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS 256
#define MAX_WINDOW  256
#define BATCH       64
#define MAX_SIZE    65507
#define LOSS_NS     (100ull * 1000000ull)
#define MAGIC       0x55445045u /* "UDPE" */

struct sock {
    int fd;
    uint32_t next_seq;
    int out;           /* datagrams in flight */
    uint64_t last_rx;  /* ns: last reply (or last refill) */
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Log-linear histogram of microseconds: 128 buckets per power of two. */
#define SUB 128
static uint64_t hist[64 * SUB];
static uint64_t hist_n, hist_max_ns;
static void hist_add(uint64_t ns) {
    if (ns > hist_max_ns) hist_max_ns = ns;
    uint64_t v = ns / 8 + 1; /* 8 ns units, >= 1 */
    int e = 63 - __builtin_clzll(v);
    int s = e >= 7 ? (int)((v >> (e - 7)) & (SUB - 1)) : (int)(v & (SUB - 1));
    hist[e * SUB + s]++;
    hist_n++;
}
static double hist_q(double q) {
    if (hist_n == 0) return 0;
    uint64_t want = (uint64_t)(q * (double)hist_n), seen = 0;
    for (int i = 0; i < 64 * SUB; i++) {
        seen += hist[i];
        if (seen > want) {
            int e = i / SUB, s = i % SUB;
            double v = e >= 7 ? (double)((uint64_t)(SUB + s) << (e - 7)) : (double)s;
            return v * 8 / 1000.0;
        }
    }
    return (double)hist_max_ns / 1000.0;
}

static size_t size = 64;

static void fill(char *buf, uint32_t idx, uint32_t seq) {
    uint32_t head[2] = {MAGIC ^ idx, seq};
    uint64_t t = now_ns();
    memcpy(buf, head, 8);
    memcpy(buf + 8, &t, 8);
    for (size_t i = 16; i < size; i++) buf[i] = (char)(idx + seq + i);
}

/* Whether `buf` (n bytes) is exactly what fill() made for socket idx; its send time in *t. */
static int check(const char *buf, size_t n, uint32_t idx, uint64_t *t) {
    uint32_t head[2];
    if (n != size) return 0;
    memcpy(head, buf, 8);
    memcpy(t, buf + 8, 8);
    if (head[0] != (MAGIC ^ idx)) return 0;
    for (size_t i = 16; i < size; i++) if (buf[i] != (char)(idx + head[1] + i)) return 0;
    return 1;
}

static char sbuf[BATCH][MAX_SIZE], rbuf[BATCH][MAX_SIZE];
static struct iovec siov[BATCH], riov[BATCH];
static struct mmsghdr smsg[BATCH], rmsg[BATCH];

/* Sends `count` fresh datagrams on socket s (in batches of BATCH). */
static void send_some(struct sock *s, uint32_t idx, int count) {
    while (count > 0) {
        int n = count < BATCH ? count : BATCH;
        for (int k = 0; k < n; k++) {
            fill(sbuf[k], idx, s->next_seq++);
            siov[k].iov_base = sbuf[k];
            siov[k].iov_len = size;
            memset(&smsg[k].msg_hdr, 0, sizeof smsg[k].msg_hdr);
            smsg[k].msg_hdr.msg_iov = &siov[k];
            smsg[k].msg_hdr.msg_iovlen = 1;
        }
        int done = 0;
        while (done < n) {
            int r = sendmmsg(s->fd, smsg + done, (unsigned)(n - done), 0);
            if (r > 0) done += r;
            else if (r < 0 && errno == EINTR) continue;
            else break; /* EAGAIN / ECONNREFUSED: the rest count as lost by the timeout */
        }
        s->out += n;
        count -= n;
    }
}

static void usage(void) {
    fprintf(stderr, "usage: udp-echo-client --port N [--host 127.0.0.1] [--sockets S] [--window W] [--size BYTES] "
                    "[--duration SECONDS] [--warmup SECONDS] [--json] [--phases]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1, nsock = 4, window = 16, json = 0, phases = 0;
    double duration = 5, warmup = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else if (!strcmp(argv[i], "--sockets") && i + 1 < argc) nsock = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--window") && i + 1 < argc) window = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--duration") && i + 1 < argc) duration = atof(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atof(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--phases")) phases = 1;
        else usage();
    }
    if (port <= 0 || port > 65535 || nsock < 1 || nsock > MAX_SOCKETS || window < 1 || window > MAX_WINDOW || size < 16 ||
        size > MAX_SIZE || !(duration > 0) || warmup < 0)
        usage();

    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) usage();
    int ep = epoll_create1(EPOLL_CLOEXEC);
    static struct sock socks[MAX_SOCKETS];
    for (int i = 0; i < nsock; i++) {
        socks[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (socks[i].fd < 0 || connect(socks[i].fd, (struct sockaddr *)&to, sizeof to) < 0) { perror("socket/connect"); return 1; }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, socks[i].fd, &ev);
    }
    for (int k = 0; k < BATCH; k++) {
        riov[k].iov_base = rbuf[k];
        riov[k].iov_len = MAX_SIZE;
        rmsg[k].msg_hdr.msg_iov = &riov[k];
        rmsg[k].msg_hdr.msg_iovlen = 1;
    }

    uint64_t start = now_ns();
    uint64_t open_at = start + (uint64_t)(warmup * 1e9), close_at = open_at + (uint64_t)(duration * 1e9);
    for (int i = 0; i < nsock; i++) {
        socks[i].last_rx = start;
        send_some(&socks[i], (uint32_t)i, window);
    }
    unsigned long long messages = 0, errors = 0, lost = 0;
    int measuring = 0;
    for (;;) {
        uint64_t t = now_ns();
        if (!measuring && t >= open_at) {
            measuring = 1;
            if (phases) { fprintf(stderr, "phase: measure\n"); fflush(stderr); }
        }
        if (t >= close_at) break;
        struct epoll_event evs[MAX_SOCKETS];
        int n = epoll_wait(ep, evs, MAX_SOCKETS, 20);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int e = 0; e < n; e++) {
            uint32_t idx = evs[e].data.u32;
            struct sock *s = &socks[idx];
            int got = recvmmsg(s->fd, rmsg, BATCH, 0, NULL);
            if (got < 0) {
                if (errno != EAGAIN && errno != EINTR) errors++; /* ECONNREFUSED: server gone */
                continue;
            }
            uint64_t rx = now_ns();
            int good = 0;
            for (int k = 0; k < got; k++) {
                uint64_t sent;
                if (!check(rbuf[k], rmsg[k].msg_len, idx, &sent)) { errors++; continue; }
                good++;
                if (measuring && rx < close_at) {
                    messages++;
                    hist_add(rx - sent);
                }
            }
            s->out -= got;
            if (s->out < 0) s->out = 0; /* a late echo of a datagram already counted lost */
            s->last_rx = rx;
            send_some(s, idx, window - s->out);
            (void)good;
        }
        uint64_t now = now_ns();
        for (int i = 0; i < nsock; i++) {
            struct sock *s = &socks[i];
            if (s->out > 0 && now - s->last_rx > LOSS_NS) {
                lost += (unsigned long long)s->out;
                s->out = 0;
                s->last_rx = now;
                send_some(s, (uint32_t)i, window);
            }
        }
    }
    double secs = duration;
    if (phases) { fprintf(stderr, "phase: done\n"); fflush(stderr); }
    if (json) {
        printf("{\"messages\":%llu,\"msgs_per_s\":%.1f,\"duration_s\":%.3f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
               "\"max_us\":%.1f,\"errors\":%llu,\"lost\":%llu}\n",
               messages, messages / secs, secs, hist_q(0.5), hist_q(0.9), hist_q(0.99), hist_max_ns / 1000.0, errors, lost);
    } else {
        printf("%llu echoes in %.1f s: %.0f/s, p50 %.1f us, p99 %.1f us, max %.1f us; %llu errors, %llu lost\n", messages, secs,
               messages / secs, hist_q(0.5), hist_q(0.99), hist_max_ns / 1000.0, errors, lost);
    }
    return messages > 0 ? 0 : 1;
}
