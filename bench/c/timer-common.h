/*
 * timer-common.h - what the two C timer programs (timers.c on timerfd + epoll,
 * uv-timers.c on libuv) share with each other and with the JS timer child
 * (bench/children/timers.ts): its options, its delays (the same generator, bit
 * for bit), its clock, and its output (the same histogram, quantiles and JSON).
 */
#ifndef TIMER_COMMON_H
#define TIMER_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The command line, as the JS child takes it. */
struct timer_opts {
    size_t per_pass;   /* --count: timers (or, with --chains, firings) per pass */
    size_t passes;     /* --passes K: passes in all ... */
    size_t record;     /* --record R: ... of which the last R are recorded */
    size_t warm_count; /* --warm-count: timers per unrecorded pass (default: --count) */
    size_t warmup;     /* --warmup N: throw-away timers over 1-5 ms first */
    size_t chains;     /* --chains C: C chains, each re-armed when it fires; 0: none */
    double min_ms, max_ms, lead_ms;
    uint32_t seed, warm_seed;
    int print_delays;  /* --print-delays: print the recorded delays and exit */
};

/* Parses argv (exit status 2 on bad usage); IMPL is the only --impl accepted. */
void parse_timer_opts(int argc, char **argv, const char *impl, struct timer_opts *o);

/* CLOCK_MONOTONIC in ns (what process.hrtime and performance.now read). */
uint64_t now_ns(void);

/* Math.ceil for 0 <= x < 2^64. */
uint64_t ceil_u64(double x);

/* A malloc that exits on failure and touches every page (no page faults in
 * the measurement). */
void *alloc_touched(size_t size);

/* What a run needs, allocated and touched up front: the delays (the same as
 * bench/lib/timer-delays.ts draws, bit for bit) and the samples. Slots (due, fired) are
 * indexed by timer within a pass; recorded pass k uses [k * per_pass, ...). */
struct timer_arrays {
    double *delays;      /* the recorded passes', from --seed */
    double *warm_delays; /* the unrecorded passes', from the warm-up seed */
    double *warmup;      /* --warmup: WARMUP timers over 1-5 ms, then one at 105 ms */
    double *due, *late;
    uint64_t *fired;
    size_t count; /* recorded samples: per_pass * record */
    size_t slots; /* the largest of: recorded samples, a warm pass, the warm-up */
};

void alloc_timer_arrays(const struct timer_opts *o, struct timer_arrays *a);

/* With --print-delays: print the recorded delays (%.17g, one a line), exit 0. */
void maybe_print_delays(const struct timer_opts *o);

/* One JSON lateness line (fired - due, in us; see LatenessResult in
 * bench/lib/lateness.ts). SCRATCH has room for COUNT doubles. */
void print_lateness(const char *impl, const char *basis, const uint64_t *fired, const double *due,
                    size_t count, double *scratch);

/* The {"type":"meta",...} line. */
void print_meta(const char *impl, const struct timer_opts *o, double schedule_ms, double total_ms);

/* Report a failed call (with errno) and exit 1. */
void die(const char *what);

#endif
