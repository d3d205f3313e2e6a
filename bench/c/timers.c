/*
 * timers.c - the plain-C baseline of the timer-lateness benchmark: what a
 * minimal C event loop on this machine achieves (the "practical limit").
 *
 *   usage: timers [--impl c] [--count 100000] [--min 1] [--max 100]
 *                 [--lead 0] [--seed 1] [--warmup 20000] [--passes 1] [--record 1]
 *                 [--warm-count N] [--chains C]
 *          timers --print-delays [--count N --min MS --max MS --lead MS --seed S]
 *
 * It takes the options of bench/children/timers.ts and schedules exactly the
 * same delays: the same mulberry32 generator (uint32 arithmetic, which is what
 * Math.imul and >>> 0 compute) and the same formula,
 * delay = lead + min + rand() * (max - min), in doubles.
 *
 * For timer i, due = CLOCK_MONOTONIC read right before scheduling it + its
 * delay (in ns, as a double, like the JS child's hrtime + delay * 1e6). The
 * timers go into a binary min-heap of deadlines (ceil(due) in whole ns). The
 * loop fires every timer whose deadline has passed, each "callback" recording
 * fired = a fresh CLOCK_MONOTONIC read; otherwise it arms one timerfd
 * (CLOCK_MONOTONIC, TFD_TIMER_ABSTIME) at the earliest deadline and sleeps in
 * epoll_wait (timeout -1) until it expires. No spinning, no timer slack
 * tuning, no pinning, no real-time priority: the point is what an ordinary
 * one-thread loop gets from this kernel and (virtual) machine.
 *
 * --warmup N first schedules and fires N throw-away timers over 1-5 ms and
 * one more at 105 ms (so the loop then sleeps about 100 ms), as the JS child
 * does, so that neither code nor the measurement's pages are cold.
 *
 * --passes K --record R, as in the JS child: K passes of COUNT timers, each
 * scheduled when the previous one's have all fired; the last R are recorded.
 * The recorded passes take the delays rng(seed) draws, in order (so a single
 * recorded pass has exactly the delays above); the unrecorded ones (of
 * --warm-count timers each, default COUNT) draw from rng(seed * 7919 + 17), as
 * the JS child's warm-up passes do.
 *
 * --chains C: the chained workload. A pass is COUNT firings of C independent
 * chains: chain c fires timers c, c + C, c + 2C, ..., each scheduled (due =
 * the clock then + its delay) by the previous one's callback, right after it
 * recorded its own firing. The delays are whole milliseconds from MIN to MAX.
 *
 * Output: the JS child's format, one JSON line per basis (only "requested"
 * here; see LatenessResult in bench/lib/lateness.ts), then a
 * {"type":"meta",...} line. --print-delays prints the delays, one per line
 * with 17 significant digits, and exits: to check them against the JS child.
 *
 * The options, the delays and the output are timer-common.c's, shared with
 * uv-timers.c (the same workload on libuv).
 *
 * Build: cc -O2 -Wall -Wextra -o timers timers.c timer-common.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "timer-common.h"

/* ---- the loop: a min-heap of deadlines, one timerfd, epoll ---------------- */

struct timer {
    uint64_t deadline; /* ns, CLOCK_MONOTONIC */
    size_t index;      /* into the fired[] array of the current run */
};

static struct timer *heap;
static size_t heap_n;
static int epfd = -1, tfd = -1;

static void heap_push(uint64_t deadline, size_t index)
{
    size_t i = heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap[parent].deadline <= deadline)
            break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i].deadline = deadline;
    heap[i].index = index;
}

static struct timer heap_pop(void)
{
    struct timer top = heap[0];
    struct timer last = heap[--heap_n];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap_n)
            break;
        if (child + 1 < heap_n && heap[child + 1].deadline < heap[child].deadline)
            child++;
        if (last.deadline <= heap[child].deadline)
            break;
        heap[i] = heap[child];
        i = child;
    }
    if (heap_n > 0)
        heap[i] = last;
    return top;
}

/* Schedule a timer: due = now + delay (the JS child's formula), returned so
 * that lateness can be measured against it. The heap holds ceil(due): a timer
 * never fires before its due time. */
static double schedule(double delay_ms, size_t index)
{
    double due = (double)now_ns() + delay_ms * 1e6;
    heap_push(ceil_u64(due), index);
    return due;
}

/* One pass's timers: fired[i] and due[i] for i in [0, count); with chains,
 * timer i schedules timer i + chains when it fires. */
struct pass {
    const double *delays;
    double *due;
    uint64_t *fired;
    size_t count, chains;
};

static void start_pass(const struct pass *p)
{
    size_t first = p->chains > 0 ? p->chains : p->count;
    for (size_t i = 0; i < first; i++)
        p->due[i] = schedule(p->delays[i], i);
}

/* The "callback": a fresh clock read, then the chain's next timer. */
static void fire(const struct pass *p, size_t index)
{
    p->fired[index] = now_ns();
    size_t next = index + p->chains;
    if (p->chains > 0 && next < p->count)
        p->due[next] = schedule(p->delays[next], next);
}

/* Run until the heap is empty. */
static void run(const struct pass *p)
{
    uint64_t armed = 0;
    while (heap_n > 0) {
        if (heap[0].deadline <= now_ns()) {
            fire(p, heap_pop().index);
            continue;
        }
        uint64_t next = heap[0].deadline;
        if (next != armed) {
            struct itimerspec its = {
                .it_value = { .tv_sec = (time_t)(next / 1000000000ull), .tv_nsec = (long)(next % 1000000000ull) },
            };
            if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
                die("timerfd_settime");
            armed = next;
        }
        struct epoll_event ev;
        int n = epoll_wait(epfd, &ev, 1, -1);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        if (n > 0) {
            uint64_t expirations;
            if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                die("read(timerfd)");
        }
    }
}

static void setup_loop(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0)
        die("timerfd_create");
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = tfd };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) < 0)
        die("epoll_ctl");
}

int main(int argc, char **argv)
{
    struct timer_opts o;
    struct timer_arrays a;
    parse_timer_opts(argc, argv, "c", &o);
    maybe_print_delays(&o);
    alloc_timer_arrays(&o, &a);
    heap = alloc_touched(a.slots * sizeof *heap);
    setup_loop();

    /* Warm-up, then the unrecorded passes (their samples are overwritten below). */
    if (o.warmup > 0) {
        struct pass p = { a.warmup, a.due, a.fired, o.warmup + 1, 0 };
        start_pass(&p);
        run(&p);
    }
    for (size_t k = 0; k + o.record < o.passes; k++) {
        struct pass p = { a.warm_delays + k * o.warm_count, a.due, a.fired, o.warm_count, o.chains };
        start_pass(&p);
        run(&p);
    }

    /* The measurement: the recorded passes, one after the other. */
    uint64_t started = now_ns();
    double schedule_ms = 0;
    for (size_t k = 0; k < o.record; k++) {
        size_t base = k * o.per_pass;
        struct pass p = { a.delays + base, a.due + base, a.fired + base, o.per_pass, o.chains };
        uint64_t t0 = now_ns();
        start_pass(&p);
        schedule_ms = (double)(now_ns() - t0) / 1e6;
        run(&p);
    }
    double total_ms = (double)(now_ns() - started) / 1e6;

    print_lateness("c", "requested", a.fired, a.due, a.count, a.late);
    print_meta("c", &o, schedule_ms, total_ms);
    return fflush(stdout) == 0 ? 0 : 1;
}
