/*
 * timers.c - the plain-C baseline of the timer-lateness benchmark: what a
 * minimal C event loop on this machine achieves (the "practical limit").
 *
 *   usage: timers [--impl c] [--count 100000] [--min 1] [--max 100]
 *                 [--lead 0] [--seed 1] [--warmup 20000] [--passes 1] [--record 1]
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
 * recorded pass has exactly the delays above); the unrecorded ones draw from
 * rng(seed * 7919 + 17), as the JS child's warm-up passes do.
 *
 * Output: the JS child's format, one JSON line per basis (only "requested"
 * here; see LatenessResult in bench/lib/lateness.ts), then a
 * {"type":"meta",...} line. --print-delays prints the delays, one per line
 * with 17 significant digits, and exits: to check them against the JS child.
 *
 * Build: cc -O2 -Wall -Wextra -o timers timers.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

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

/* Math.ceil for 0 <= x < 2^64 (without libm, so that the build line is the
 * same as the other programs'). */
static uint64_t ceil_u64(double x)
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

/* ---- the delays: rng() in bench/children/timers.ts ------------------------ */

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

static void make_delays(double *delays, size_t count, uint32_t seed, double lead_ms, double min_ms,
                        double max_ms)
{
    rng_state = seed;
    for (size_t i = 0; i < count; i++) {
        /* The volatile keeps the compiler from fusing the multiply and the
         * add into one FMA (different rounding from JS's two steps). */
        volatile double spread = rng_next() * (max_ms - min_ms);
        delays[i] = lead_ms + min_ms + spread;
    }
}

/* ---- the loop: a min-heap of deadlines, one timerfd, epoll ---------------- */

struct timer {
    uint64_t deadline; /* ns, CLOCK_MONOTONIC */
    size_t index;      /* into the fired[] array of the current run */
};

static struct timer *heap;
static size_t heap_n;
static int epfd = -1, tfd = -1;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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

static void die(const char *what)
{
    fprintf(stderr, "timers: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Run until the heap is empty; each fired timer's "callback" stores a fresh
 * clock read in fired[index]. */
static void run(uint64_t *fired)
{
    uint64_t armed = 0;
    while (heap_n > 0) {
        if (heap[0].deadline <= now_ns()) {
            size_t index = heap_pop().index;
            fired[index] = now_ns();
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

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--impl c] [--count N] [--min MS] [--max MS] [--lead MS] [--seed S]\n"
            "       [--warmup N] [--passes K] [--record R] [--print-delays]\n"
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

int main(int argc, char **argv)
{
    double count_d = 100000, min_ms = 1, max_ms = 100, lead_ms = 0, seed_d = 1, warmup_d = 20000;
    double passes_d = 1, record_d = 1;
    int print_delays = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--print-delays") == 0)
            print_delays = 1;
        else if (strcmp(a, "--impl") == 0 && has_value) {
            /* Accepted so that the harness can pass the JS child's options. */
            if (strcmp(argv[++i], "c") != 0)
                usage(argv[0]);
        } else if (strcmp(a, "--count") == 0 && has_value)
            count_d = parse_num(argv[++i], argv[0], 1);
        else if (strcmp(a, "--min") == 0 && has_value)
            min_ms = parse_num(argv[++i], argv[0], 0);
        else if (strcmp(a, "--max") == 0 && has_value)
            max_ms = parse_num(argv[++i], argv[0], 0);
        else if (strcmp(a, "--lead") == 0 && has_value)
            lead_ms = parse_num(argv[++i], argv[0], 0);
        else if (strcmp(a, "--seed") == 0 && has_value)
            seed_d = parse_num(argv[++i], argv[0], -4294967296.0);
        else if (strcmp(a, "--warmup") == 0 && has_value)
            warmup_d = parse_num(argv[++i], argv[0], 0);
        else if (strcmp(a, "--passes") == 0 && has_value)
            passes_d = parse_num(argv[++i], argv[0], 1);
        else if (strcmp(a, "--record") == 0 && has_value)
            record_d = parse_num(argv[++i], argv[0], 1);
        else
            usage(argv[0]);
    }
    if (!(max_ms >= min_ms) || count_d != (double)(uint64_t)count_d || count_d > 1e8 || warmup_d > 1e8 ||
        passes_d != (double)(uint64_t)passes_d || record_d != (double)(uint64_t)record_d || record_d > passes_d ||
        count_d * passes_d > 1e8)
        usage(argv[0]);
    size_t per_pass = (size_t)count_d;
    size_t passes = (size_t)passes_d, record = (size_t)record_d;
    size_t count = per_pass * record; /* recorded samples */
    size_t unrecorded = per_pass * (passes - record);
    size_t warmup = (size_t)warmup_d;
    /* JS: Number(seed) >>> 0, for the integer seeds the harness passes. */
    uint32_t seed = (uint32_t)(int64_t)seed_d;

    double *delays = malloc(count * sizeof *delays);
    double *warm_delays = malloc((unrecorded ? unrecorded : 1) * sizeof *warm_delays);
    if (!delays || !warm_delays)
        die("malloc");
    make_delays(delays, count, seed, lead_ms, min_ms, max_ms);
    make_delays(warm_delays, unrecorded, (uint32_t)(int64_t)(seed_d * 7919 + 17), lead_ms, min_ms, max_ms);
    if (print_delays) {
        for (size_t i = 0; i < count; i++)
            printf("%.17g\n", delays[i]);
        return 0;
    }

    size_t heap_cap = per_pass > warmup + 1 ? per_pass : warmup + 1;
    size_t fired_cap = count > heap_cap ? count : heap_cap;
    double *due = malloc(count * sizeof *due);
    uint64_t *fired = malloc(fired_cap * sizeof *fired);
    double *late = malloc(count * sizeof *late);
    heap = malloc(heap_cap * sizeof *heap);
    if (!due || !fired || !late || !heap)
        die("malloc");
    /* Touch every page now, so that the measurement takes no page faults. */
    memset(due, 0, count * sizeof *due);
    memset(fired, 0, fired_cap * sizeof *fired);
    memset(late, 0, count * sizeof *late);
    memset(heap, 0, heap_cap * sizeof *heap);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0)
        die("timerfd_create");
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = tfd };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) < 0)
        die("epoll_ctl");

    /* Warm-up: WARMUP timers over 1-5 ms, then one at 105 ms (a ~100 ms pause). */
    if (warmup > 0) {
        for (size_t i = 0; i < warmup; i++)
            schedule(1 + (4.0 * (double)i) / (double)warmup, i);
        schedule(105, warmup);
        run(fired);
    }

    /* The unrecorded passes (their samples land in fired[0, per_pass), overwritten below). */
    for (size_t p = 0; p + record < passes; p++) {
        for (size_t i = 0; i < per_pass; i++)
            schedule(warm_delays[p * per_pass + i], i);
        run(fired);
    }

    /* The measurement: the recorded passes, one after the other. */
    uint64_t started = now_ns();
    double schedule_ms = 0;
    for (size_t p = 0; p < record; p++) {
        uint64_t t0 = now_ns();
        for (size_t i = p * per_pass; i < (p + 1) * per_pass; i++)
            due[i] = schedule(delays[i], i);
        schedule_ms = (double)(now_ns() - t0) / 1e6;
        run(fired);
    }
    double total_ms = (double)(now_ns() - started) / 1e6;

    /* summarize() in bench/children/timers.ts. */
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

    printf("{\"impl\":\"c\",\"basis\":\"requested\",\"count\":%zu,\"fired\":%zu,\"early\":%zu", count, count, early);
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
    fputs("]}\n{\"type\":\"meta\",\"impl\":\"c\",\"count\":", stdout);
    printf("%zu,\"perPass\":%zu,\"passes\":%zu,\"record\":%zu,\"leadMs\":", count, per_pass, passes, record);
    put_num(lead_ms);
    fputs(",\"scheduleMs\":", stdout);
    put_num(schedule_ms);
    fputs(",\"totalMs\":", stdout);
    put_num(total_ms);
    fputs("}\n", stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}
