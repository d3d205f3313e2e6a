/*
 * uv-timers.c - the timer-lateness benchmark on libuv, in C: the same timers
 * as timers.c (same options, same delays, same output: timer-common.c), each
 * a uv_timer_t on the default loop, run by uv_run().
 *
 *   usage: uv-timers [--impl uv] [--count 100000] [--min 1] [--max 100]
 *                    [--lead 0] [--seed 1] [--warmup 20000] [--passes 1]
 *                    [--record 1] [--warm-count N] [--chains C]
 *          uv-timers --print-delays [...]
 *
 * libuv counts timers in whole milliseconds from its loop time (uv_now(): the
 * clock read at the start of the loop iteration, in ms, rounded down), and its
 * poll timeout is in whole milliseconds too. So, as Node does with
 * setTimeout, a fractional delay is given to libuv truncated (at least 1 ms),
 * and lateness is reported twice: against the requested delay and against
 * that effective one ("requested" and "effective" lines, as for Node). With
 * --chains the delays are whole milliseconds and the two are the same.
 *
 * A pass's timers are scheduled from outside the loop, so the loop time is
 * brought up to date first (uv_update_time: a program scheduling from a
 * callback gets the iteration's time, which is that fresh). A chain's next
 * timer is started from its predecessor's callback with uv_timer_start() on
 * the same handle, against libuv's loop time as it stands — as any libuv
 * program and Node's timers do.
 *
 * Build: cc -O2 -Wall -Wextra -o uv-timers uv-timers.c timer-common.c -luv
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "timer-common.h"

/* One pass's timers, as in timers.c, plus the delay libuv was given. */
struct pass {
    const double *delays;
    double *due, *due_effective;
    uint64_t *fired;
    size_t count, chains;
};

/* A uv_timer_t and the timer it runs now (a chain's handle runs one after another). */
struct slot {
    uv_timer_t handle;
    size_t index;
    const struct pass *pass;
};

static struct slot *slots;

static void check(int err, const char *what)
{
    if (err < 0) {
        fprintf(stderr, "uv-timers: %s: %s\n", what, uv_strerror(err));
        exit(1);
    }
}

static void on_timer(uv_timer_t *h);

/* due = now + delay, as the JS child and timers.c measure; libuv gets whole ms. */
static void schedule(struct slot *s, size_t index)
{
    const struct pass *p = s->pass;
    double delay = p->delays[index];
    uint64_t ms = (uint64_t)delay;
    if (ms < 1)
        ms = 1;
    double t = (double)now_ns();
    p->due[index] = t + delay * 1e6;
    p->due_effective[index] = t + (double)ms * 1e6;
    s->index = index;
    check(uv_timer_start(&s->handle, on_timer, ms, 0), "uv_timer_start");
}

/* The "callback": a fresh clock read, then the chain's next timer. */
static void on_timer(uv_timer_t *h)
{
    struct slot *s = (struct slot *)h;
    const struct pass *p = s->pass;
    p->fired[s->index] = now_ns();
    size_t next = s->index + p->chains;
    if (p->chains > 0 && next < p->count)
        schedule(s, next);
}

/* Schedules the pass and runs it; returns how long the scheduling took (ms). */
static double run_pass(uv_loop_t *loop, const struct pass *p)
{
    size_t first = p->chains > 0 ? p->chains : p->count;
    uv_update_time(loop);
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < first; i++) {
        slots[i].pass = p;
        schedule(&slots[i], i);
    }
    double schedule_ms = (double)(now_ns() - t0) / 1e6;
    uv_run(loop, UV_RUN_DEFAULT); /* returns when no timer is active */
    return schedule_ms;
}

int main(int argc, char **argv)
{
    struct timer_opts o;
    struct timer_arrays a;
    parse_timer_opts(argc, argv, "uv", &o);
    maybe_print_delays(&o);
    alloc_timer_arrays(&o, &a);
    double *due_effective = alloc_touched(a.slots * sizeof *due_effective);
    slots = alloc_touched(a.slots * sizeof *slots);

    uv_loop_t *loop = uv_default_loop();
    for (size_t i = 0; i < a.slots; i++)
        check(uv_timer_init(loop, &slots[i].handle), "uv_timer_init");

    if (o.warmup > 0) {
        struct pass p = { a.warmup, a.due, due_effective, a.fired, o.warmup + 1, 0 };
        run_pass(loop, &p);
    }
    for (size_t k = 0; k + o.record < o.passes; k++) {
        struct pass p = { a.warm_delays + k * o.warm_count, a.due, due_effective, a.fired, o.warm_count, o.chains };
        run_pass(loop, &p);
    }

    uint64_t started = now_ns();
    double schedule_ms = 0;
    for (size_t k = 0; k < o.record; k++) {
        size_t base = k * o.per_pass;
        struct pass p = { a.delays + base, a.due + base, due_effective + base, a.fired + base, o.per_pass, o.chains };
        schedule_ms = run_pass(loop, &p);
    }
    double total_ms = (double)(now_ns() - started) / 1e6;

    print_lateness("uv", "requested", a.fired, a.due, a.count, a.late);
    print_lateness("uv", "effective", a.fired, due_effective, a.count, a.late);
    print_meta("uv", &o, schedule_ms, total_ms);

    for (size_t i = 0; i < a.slots; i++)
        uv_close((uv_handle_t *)&slots[i].handle, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    check(uv_loop_close(loop), "uv_loop_close");
    return fflush(stdout) == 0 ? 0 : 1;
}
