// clock_gettime and timerfd_*. Times cross the boundary as nanoseconds. Going out they are a
// double: exact until CLOCK_MONOTONIC passes 2^53 ns (~104.25 days of uptime), then to the
// nearest representable double (2 ns at 2^53, 4 ns at 2^54 — 208 days). Coming in, a Number
// or a BigInt (exact) is accepted up to 2^63 − 1 ns (ArgNs), so a deadline computed from the
// clock is always accepted, however long the host has been up (issue #20).
#include "common.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <ctime>
#include <sys/timerfd.h>
#include <unistd.h>

namespace er {

static constexpr double kNsPerSec = 1e9;

static double NsOf(const struct timespec& ts) {
  return static_cast<double>(ts.tv_sec) * kNsPerSec + static_cast<double>(ts.tv_nsec);
}

static struct timespec TimespecOf(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}

static clockid_t ArgClock(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<clockid_t>(ArgInt(info, i, "clockid", 0, INT_MAX));
}

static Napi::Value ClockGettime(const Napi::CallbackInfo& info) {
  struct timespec ts;
  if (clock_gettime(ArgClock(info, 0), &ts) < 0) ThrowErrno(info.Env(), errno, "clock_gettime");
  return Napi::Number::New(info.Env(), NsOf(ts));
}

static Napi::Value TimerfdCreate(const Napi::CallbackInfo& info) {
  clockid_t clock = ArgClock(info, 0);
  int flags = static_cast<int>(ArgIntOr(info, 1, "flags", 0, INT_MAX, 0));
  int fd = timerfd_create(clock, flags | TFD_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), errno, "timerfd_create");
  return Napi::Number::New(info.Env(), fd);
}

static Napi::Object Itimerspec(Napi::Env env, const struct itimerspec& its) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("value", Napi::Number::New(env, NsOf(its.it_value)));
  o.Set("interval", Napi::Number::New(env, NsOf(its.it_interval)));
  return o;
}

static int64_t NsField(Napi::Env env, Napi::Object spec, const char* key, const char* name) {
  Napi::Value v = spec.Get(key);
  if (v.IsUndefined()) return 0;
  return ArgNs(env, v, name, 0);
}

// timerfd_settime(fd, flags, { value, interval }) -> the previous { value, interval }.
static Napi::Value TimerfdSettime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  int flags = static_cast<int>(ArgInt(info, 1, "flags", 0, INT_MAX));
  if (!info[2].IsObject()) ThrowArgType(env, "spec", "an object { value, interval }", info[2]);
  Napi::Object spec = info[2].As<Napi::Object>();
  struct itimerspec its, old;
  its.it_value = TimespecOf(NsField(env, spec, "value", "spec.value"));
  its.it_interval = TimespecOf(NsField(env, spec, "interval", "spec.interval"));
  if (timerfd_settime(fd, flags, &its, &old) < 0) ThrowErrno(env, errno, "timerfd_settime");
  return Itimerspec(env, old);
}

static Napi::Value TimerfdGettime(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  struct itimerspec its;
  if (timerfd_gettime(fd, &its) < 0) ThrowErrno(info.Env(), errno, "timerfd_gettime");
  return Itimerspec(info.Env(), its);
}

// Reads the 8-byte count of expirations since the last read (or settime); -EAGAIN when the
// timer has not expired and the fd is non-blocking.
static Napi::Value TimerfdRead(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  uint64_t count;
  ssize_t n = RetryEintr([&] { return read(fd, &count, sizeof count); });
  if (n < 0) {
    if (errno == EAGAIN) return Napi::Number::New(info.Env(), -EAGAIN);
    ThrowErrno(info.Env(), errno, "timerfd_read");
  }
  if (n != sizeof count) ThrowErrno(info.Env(), EINVAL, "timerfd_read");
  return Napi::Number::New(info.Env(), static_cast<double>(count));
}

void InitTime(Napi::Env env, Napi::Object exports) {
  SetFn(env, exports, "clock_gettime", ClockGettime);
  SetFn(env, exports, "timerfd_create", TimerfdCreate);
  SetFn(env, exports, "timerfd_settime", TimerfdSettime);
  SetFn(env, exports, "timerfd_gettime", TimerfdGettime);
  SetFn(env, exports, "timerfd_read", TimerfdRead);
}

}  // namespace er
