// epoll_create1, epoll_ctl, epoll_wait, epoll_pwait2, epoll_spin.
//
// epoll_wait writes the ready batch into a caller-owned Uint32Array: out[2i] = events,
// out[2i+1] = the 32-bit token given to epoll_ctl. One call per wakeup, no allocation per call
// or per event (the kernel-facing epoll_event array is per-instance scratch, grown once).
#include "common.h"

#include <cerrno>
#include <climits>
#include <ctime>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_epoll_pwait2
#define __NR_epoll_pwait2 441
#endif

namespace er {

// More events than this per call buys nothing and would let a huge array make us allocate
// gigabytes of scratch.
static constexpr size_t kMaxEvents = 1 << 16;

// epoll_wait(2) through syscall(2), as read_many and send_many do (batch.cc): glibc's epoll_wait
// is a pthread cancellation point, bracketed with __pthread_enable/disable_asynccancel, for a
// cancellation Node never requests (docs/decisions/007-recvfrom.md). It
// matters for epoll_spin, which calls it in a loop, and for the Loop on kernels without
// epoll_pwait2 (< 5.11), where every poll is an epoll_wait. Architectures without the epoll_wait
// syscall (arm64) get epoll_pwait with no signal mask, which is the same call.
static inline int RawEpollWait(int epfd, struct epoll_event* events, int maxevents, int timeout) {
#ifdef SYS_epoll_wait
  return static_cast<int>(syscall(SYS_epoll_wait, static_cast<long>(epfd), events, static_cast<long>(maxevents), static_cast<long>(timeout)));
#else
  return static_cast<int>(syscall(SYS_epoll_pwait, static_cast<long>(epfd), events, static_cast<long>(maxevents), static_cast<long>(timeout), nullptr, 0L));
#endif
}

static Napi::Value EpollCreate1(const Napi::CallbackInfo& info) {
  int flags = static_cast<int>(ArgIntOr(info, 0, "flags", 0, INT_MAX, 0));
  int fd = epoll_create1(flags | EPOLL_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), errno, "epoll_create1");
  return Napi::Number::New(info.Env(), fd);
}

static Napi::Value EpollCtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd = ArgFd(info, 0, "epfd");
  int op = static_cast<int>(ArgInt(info, 1, "op", INT_MIN, INT_MAX));
  int fd = ArgFd(info, 2, "fd");
  // Event masks are accepted as int32 too: in JavaScript `EPOLLIN | EPOLLET` is negative.
  uint32_t events = static_cast<uint32_t>(ArgIntOr(info, 3, "events", INT32_MIN, UINT32_MAX, 0));
  uint32_t data = static_cast<uint32_t>(ArgIntOr(info, 4, "data", 0, UINT32_MAX, fd));
  struct epoll_event ev;
  ev.events = events;
  ev.data.u64 = data;
  if (epoll_ctl(epfd, op, fd, &ev) < 0) ThrowErrno(env, errno, "epoll_ctl");
  return env.Undefined();
}

// The output array, and the scratch epoll_event array sized to match it.
static size_t PrepareBatch(const Napi::CallbackInfo& info, U32s* out) {
  *out = ArgTypedU32(info, 1, "events", napi_uint32_array, "an instance of Uint32Array or ArrayBuffer");
  if (out->len < 2 || out->len % 2 != 0) {
    ThrowArgRange(info.Env(), "events.length", "an even number >= 2", Napi::Number::New(info.Env(), out->len));
  }
  size_t capacity = out->len / 2 < kMaxEvents ? out->len / 2 : kMaxEvents;
  AddonData* d = Data(info.Env());
  if (d->events.size() < capacity) d->events.resize(capacity);
  return capacity;
}

static Napi::Value CopyBatch(Napi::Env env, int n, const U32s& out) {
  const struct epoll_event* ev = Data(env)->events.data();
  for (int i = 0; i < n; i++) {
    out.data[2 * i] = ev[i].events;
    out.data[2 * i + 1] = static_cast<uint32_t>(ev[i].data.u64);
  }
  return Napi::Number::New(env, n);
}

static Napi::Value EpollWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd = ArgFd(info, 0, "epfd");
  U32s out;
  int capacity = static_cast<int>(PrepareBatch(info, &out));
  int timeout = static_cast<int>(ArgInt(info, 2, "timeout", -1, INT_MAX));
  struct epoll_event* events = Data(env)->events.data();
  int n = RetryWaitEintr(timeout, 1000000, [&](int64_t t) { return RawEpollWait(epfd, events, capacity, static_cast<int>(t)); });
  if (n < 0) ThrowErrno(env, errno, "epoll_wait");
  return CopyBatch(env, n, out);
}

static Napi::Value EpollPwait2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd = ArgFd(info, 0, "epfd");
  U32s out;
  int capacity = static_cast<int>(PrepareBatch(info, &out));
  int64_t timeout_ns = ArgNs(env, info[2], "timeoutNs", -1);
  struct epoll_event* events = Data(env)->events.data();
  long n = RetryWaitEintr(timeout_ns, 1, [&](int64_t t) {
    struct timespec ts;
    ts.tv_sec = static_cast<time_t>(t / 1000000000);
    ts.tv_nsec = static_cast<long>(t % 1000000000);
    return syscall(__NR_epoll_pwait2, static_cast<long>(epfd), events, static_cast<long>(capacity), t >= 0 ? &ts : nullptr, nullptr, 0L);
  });
  if (n < 0) ThrowErrno(env, errno, "epoll_pwait2");
  return CopyBatch(env, static_cast<int>(n), out);
}

// epoll_spin(epfd, events, untilNs): look (epoll_wait with timeout 0) again and again until
// something is ready or CLOCK_MONOTONIC reaches untilNs; returns the events found (0 at the
// deadline). It never sleeps: the loop's `spinUs` stretch before a timer, in one crossing. Done
// from JavaScript, each look cost a crossing and a clock read that boxed a double — ~70,000
// garbage numbers per 2,000 timers, and the scavenges they caused were the lateness the spin was
// meant to remove. An untilNs already past looks exactly once.
static Napi::Value EpollSpin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd = ArgFd(info, 0, "epfd");
  U32s out;
  int capacity = static_cast<int>(PrepareBatch(info, &out));
  int64_t until = ArgNs(env, info[2], "untilNs", 0);
  struct epoll_event* events = Data(env)->events.data();
  int n;
  for (;;) {
    n = RetryEintr([&] { return RawEpollWait(epfd, events, capacity, 0); });
    if (n < 0) ThrowErrno(env, errno, "epoll_wait");
    if (n > 0 || MonotonicNs() >= until) break;
  }
  return CopyBatch(env, n, out);
}

void InitEpoll(Napi::Env env, Napi::Object exports) {
  SetFn(env, exports, "epoll_create1", EpollCreate1);
  SetFn(env, exports, "epoll_ctl", EpollCtl);
  SetFn(env, exports, "epoll_wait", EpollWait);
  SetFn(env, exports, "epoll_pwait2", EpollPwait2);
  SetFn(env, exports, "epoll_spin", EpollSpin);
}

}  // namespace er
