/*
 * timer-common.c - options, delays, clock and output shared by timers.c and
 * uv-timers.c; see timer-common.h.
 */
#define _GNU_SOURCE
#include "timer-common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the lateness histogram: a copy of EDGES_US in bench/lib/lateness.ts --- */

/* Bucket i covers [EDGES_US[i], EDGES_US[i+1]) us. Keep identical to the
 * TypeScript list: the report pools these counts with the JS children's. */
static const double EDGES_US[] = {
    -INFINITY, -2000, -1000, -500, -200, -100, -50, -20, -10, 0, 10, 20, 50,
    100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, INFINITY,
};
#define BUCKETS ((int)(sizeof EDGES_US / sizeof EDGES_US[0]) - 1)

/* bucketOf() in bench/lib/lateness.ts. */
static int bucket_of(double us)
{
    for (int i = BUCKETS - 1; i >= 0; i--)
        if (us >= EDGES_US[i])
            return i;
    return 0;
}

/* Without libm, so that the build line is the same as the other programs'. */
uint64_t ceil_u64(double x)
{
    uint64_t r = (uint64_t)x;
    return (double)r < x ? r + 1 : r;
}

/* quantileSorted() in bench/lib/stats.ts: nearest rank,
 * rank = min(n, max(1, ceil(q * n))). */
static double quantile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    uint64_t rank = ceil_u64(q * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void die(const char *what)
{
    fprintf(stderr, "timers: %s: %s\n", what, strerror(errno));
    exit(1);
}

void *alloc_touched(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        die("malloc");
    memset(p, 0, size);
    return p;
}

/* ---- the delays: bench/lib/timer-delays.ts --------------------------------- */

/* mulberry32. JS does this in int32/uint32 steps (Math.imul, >>>, ^, and a +
 * whose double result ^ truncates back to 32 bits): exactly uint32 arithmetic. */
static uint32_t rng_state;

static double rng_next(void)
{
    rng_state += 0x6d2b79f5u;
    uint32_t t = rng_state;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    return (double)(t ^ (t >> 14)) / 4294967296.0;
}

/* The delays (ms) of COUNT timers from mulberry32(SEED): lead + min + rand() *
 * (max - min), or with --chains whole milliseconds, min + floor(rand() * (max -
 * min + 1)), exactly as bench/lib/timer-delays.ts computes them. */
static void make_delays(double *delays, size_t count, uint32_t seed, const struct timer_opts *o)
{
    rng_state = seed;
    for (size_t i = 0; i < count; i++) {
        if (o->chains > 0) {
            /* Math.floor of a non-negative double: the conversion truncates. */
            delays[i] = o->min_ms + (double)(uint64_t)(rng_next() * (o->max_ms - o->min_ms + 1));
            continue;
        }
        /* The volatile keeps the compiler from fusing the multiply and the
         * add into one FMA (different rounding from JS's two steps). */
        volatile double spread = rng_next() * (o->max_ms - o->min_ms);
        delays[i] = o->lead_ms + o->min_ms + spread;
    }
}

void maybe_print_delays(const struct timer_opts *o)
{
    if (!o->print_delays)
        return;
    size_t count = o->per_pass * o->record;
    double *delays = alloc_touched(count * sizeof *delays);
    make_delays(delays, count, o->seed, o);
    for (size_t i = 0; i < count; i++)
        printf("%.17g\n", delays[i]);
    exit(fflush(stdout) == 0 ? 0 : 1);
}

void alloc_timer_arrays(const struct timer_opts *o, struct timer_arrays *a)
{
    size_t unrecorded = o->warm_count * (o->passes - o->record);
    a->count = o->per_pass * o->record;
    a->slots = a->count;
    if (o->warm_count > a->slots)
        a->slots = o->warm_count;
    if (o->warmup + 1 > a->slots)
        a->slots = o->warmup + 1;
    a->delays = alloc_touched(a->count * sizeof *a->delays);
    a->warm_delays = alloc_touched(unrecorded * sizeof *a->warm_delays);
    make_delays(a->delays, a->count, o->seed, o);
    make_delays(a->warm_delays, unrecorded, o->warm_seed, o);
    /* The warm-up: the JS child's, and then a ~100 ms pause. */
    a->warmup = alloc_touched((o->warmup + 1) * sizeof *a->warmup);
    for (size_t i = 0; i < o->warmup; i++)
        a->warmup[i] = 1 + (4.0 * (double)i) / (double)o->warmup;
    a->warmup[o->warmup] = 105;
    a->due = alloc_touched(a->slots * sizeof *a->due);
    a->fired = alloc_touched(a->slots * sizeof *a->fired);
    a->late = alloc_touched(a->count * sizeof *a->late);
}

/* ---- options ----------------------------------------------------------------- */

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--impl IMPL] [--count N] [--min MS] [--max MS] [--lead MS] [--seed S]\n"
            "       [--warmup N] [--passes K] [--record R] [--warm-count M] [--chains C]\n"
            "       [--print-delays]\n"
            "defaults: --count 100000 --min 1 --max 100 --lead 0 --seed 1 --warmup 20000\n",
            prog);
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

static int is_count(double v, double max)
{
    return v == (double)(uint64_t)v && v <= max;
}

void parse_timer_opts(int argc, char **argv, const char *impl, struct timer_opts *o)
{
    double count = 100000, seed = 1, warmup = 20000, passes = 1, record = 1, warm_count = -1, chains = 0;
    memset(o, 0, sizeof *o);
    o->min_ms = 1;
    o->max_ms = 100;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--print-delays") == 0)
            o->print_delays = 1;
        else if (strcmp(a, "--impl") == 0 && has_value) {
            /* Accepted so that the harness can pass the JS child's options. */
            if (strcmp(argv[++i], impl) != 0)
                usage(argv[0]);
        } else if (strcmp(a, "--count") == 0 && has_value)
            count = parse_num(argv[++i], argv[0], 1);
        else if (strcmp(a, "--min") == 0 && has_value)
            o->min_ms = parse_num(argv[++i], argv[0], 0);
        else if (strcmp(a, "--max") == 0 && has_value)
            o->max_ms = parse_num(argv[++i], argv[0], 0);
        else if (strcmp(a, "--lead") == 0 && has_value)
            o->lead_ms = parse_num(argv[++i], argv[0], 0);
        else if (strcmp(a, "--seed") == 0 && has_value)
            seed = parse_num(argv[++i], argv[0], -4294967296.0);
        else if (strcmp(a, "--warmup") == 0 && has_value)
            warmup = parse_num(argv[++i], argv[0], 0);
        else if (strcmp(a, "--passes") == 0 && has_value)
            passes = parse_num(argv[++i], argv[0], 1);
        else if (strcmp(a, "--record") == 0 && has_value)
            record = parse_num(argv[++i], argv[0], 1);
        else if (strcmp(a, "--warm-count") == 0 && has_value)
            warm_count = parse_num(argv[++i], argv[0], 1);
        else if (strcmp(a, "--chains") == 0 && has_value)
            chains = parse_num(argv[++i], argv[0], 0);
        else
            usage(argv[0]);
    }
    if (warm_count < 0)
        warm_count = count;
    if (!(o->max_ms >= o->min_ms) || !is_count(count, 1e8) || !is_count(warmup, 1e8) || !is_count(passes, 1e6) ||
        !is_count(record, passes) || !is_count(warm_count, 1e8) || !is_count(chains, count) ||
        chains > warm_count || count * record + warm_count * (passes - record) > 1e8)
        usage(argv[0]);
    /* --chains: whole-millisecond delays of at least 1 ms, no lead. */
    if (chains > 0 && (o->min_ms < 1 || o->min_ms != (double)(uint64_t)o->min_ms ||
                       o->max_ms != (double)(uint64_t)o->max_ms || o->lead_ms != 0))
        usage(argv[0]);
    o->per_pass = (size_t)count;
    o->passes = (size_t)passes;
    o->record = (size_t)record;
    o->warm_count = (size_t)warm_count;
    o->warmup = (size_t)warmup;
    o->chains = (size_t)chains;
    /* JS: Number(seed) >>> 0, for the integer seeds the harness passes. */
    o->seed = (uint32_t)(int64_t)seed;
    o->warm_seed = (uint32_t)(int64_t)(seed * 7919 + 17);
}

/* ---- output ---------------------------------------------------------------- */

/* A double as JSON, in its shortest form of 15-17 significant digits that
 * reads back to the same value (JSON.stringify prints the shortest). */
static void put_num(double v)
{
    char buf[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, stdout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* summarize() in bench/children/timers.ts. */
void print_lateness(const char *impl, const char *basis, const uint64_t *fired, const double *due,
                    size_t count, double *late)
{
    long long hist[BUCKETS] = { 0 };
    size_t early = 0;
    double sum = 0;
    for (size_t i = 0; i < count; i++) {
        double us = ((double)fired[i] - due[i]) / 1000;
        late[i] = us;
        if (us < 0)
            early++;
        sum += us;
        hist[bucket_of(us)]++;
    }
    qsort(late, count, sizeof *late, cmp_double);

    printf("{\"impl\":\"%s\",\"basis\":\"%s\",\"count\":%zu,\"fired\":%zu,\"early\":%zu", impl, basis, count,
           count, early);
    const struct {
        const char *name;
        double value;
    } fields[] = {
        { "minUs", late[0] },
        { "p50Us", quantile_sorted(late, count, 0.5) },
        { "p90Us", quantile_sorted(late, count, 0.9) },
        { "p99Us", quantile_sorted(late, count, 0.99) },
        { "p999Us", quantile_sorted(late, count, 0.999) },
        { "maxUs", late[count - 1] },
        { "meanUs", sum / (double)count },
    };
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        printf(",\"%s\":", fields[f].name);
        put_num(fields[f].value);
    }
    fputs(",\"hist\":[", stdout);
    for (int b = 0; b < BUCKETS; b++)
        printf("%s%lld", b ? "," : "", hist[b]);
    fputs("]}\n", stdout);
}

void print_meta(const char *impl, const struct timer_opts *o, double schedule_ms, double total_ms)
{
    printf("{\"type\":\"meta\",\"impl\":\"%s\",\"count\":%zu,\"perPass\":%zu,\"passes\":%zu,\"record\":%zu,"
           "\"chains\":%zu,\"leadMs\":",
           impl, o->per_pass * o->record, o->per_pass, o->passes, o->record, o->chains);
    put_num(o->lead_ms);
    fputs(",\"scheduleMs\":", stdout);
    put_num(schedule_ms);
    fputs(",\"totalMs\":", stdout);
    put_num(total_ms);
    fputs("}\n", stdout);
}
