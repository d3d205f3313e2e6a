// Plain fds: read, write, readv, writev, close, pipe2, eventfd, fcntl, poll.
//
// The would-block path is not an exception: read/write/readv/writev return -EAGAIN (a negative
// number) when the fd is non-blocking and not ready. EINTR is retried here. Every other failure
// throws a SystemError.
#include "common.h"

#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <limits.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

namespace er {

static Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  Bytes b = ArgByteRange(info, 1, "buffer");
  ssize_t n = RetryEintr([&] { return read(fd, b.data, b.len); });
  return IoResult(info.Env(), n, "read");
}

static Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  Bytes b = ArgByteRange(info, 1, "buffer");
  ssize_t n = RetryEintr([&] { return write(fd, b.data, b.len); });
  return IoResult(info.Env(), n, "write");
}

static Napi::Value Readv(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  int count = ArgIov(info, 1);
  struct iovec* iov = Data(info.Env())->iov.data();
  ssize_t n = RetryEintr([&] { return readv(fd, iov, count); });
  return IoResult(info.Env(), n, "readv");
}

static Napi::Value Writev(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  int count = ArgIov(info, 1);
  struct iovec* iov = Data(info.Env())->iov.data();
  ssize_t n = RetryEintr([&] { return writev(fd, iov, count); });
  return IoResult(info.Env(), n, "writev");
}

static void Disown(Napi::Env env, int fd);

static Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  Disown(info.Env(), fd);  // whatever close says: the number is released (or was not ours)
  // No retry on EINTR: Linux has released the fd already, and a retry could close a new owner's.
  if (close(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

static Napi::Value Pipe2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int flags = static_cast<int>(ArgIntOr(info, 0, "flags", 0, INT_MAX, 0));
  int fds[2];
  if (pipe2(fds, flags | O_CLOEXEC) < 0) ThrowErrno(env, errno, "pipe2");
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, fds[0]));
  result.Set(1u, Napi::Number::New(env, fds[1]));
  return result;
}

static Napi::Value Eventfd(const Napi::CallbackInfo& info) {
  unsigned initval = static_cast<unsigned>(ArgIntOr(info, 0, "initval", 0, UINT32_MAX, 0));
  int flags = static_cast<int>(ArgIntOr(info, 1, "flags", 0, INT_MAX, 0));
  int fd = eventfd(initval, flags | EFD_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), errno, "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

// The counter as a number (exact up to 2^53), or -EAGAIN.
// read(2) and write(2) themselves, not glibc's eventfd_read/eventfd_write: those return -1 with
// errno left as it was on a short transfer (EOF, or an fd that is not an eventfd), which would
// surface as a bogus error, or as a false EAGAIN. A short transfer is EINVAL, as for timerfd_read.
static Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  eventfd_t value;
  ssize_t n = RetryEintr([&] { return read(fd, &value, sizeof value); });
  if (n < 0) {
    if (errno == EAGAIN) return Napi::Number::New(info.Env(), -EAGAIN);
    ThrowErrno(info.Env(), errno, "eventfd_read");
  }
  if (n != sizeof value) ThrowErrno(info.Env(), EINVAL, "eventfd_read");
  return Napi::Number::New(info.Env(), static_cast<double>(value));
}

static Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  eventfd_t value = static_cast<eventfd_t>(ArgInt(info, 1, "value", 0, INT64_C(9007199254740991)));
  ssize_t n = RetryEintr([&] { return write(fd, &value, sizeof value); });
  if (n < 0) {
    if (errno == EAGAIN) return Napi::Number::New(info.Env(), -EAGAIN);
    ThrowErrno(info.Env(), errno, "eventfd_write");
  }
  if (n != sizeof value) ThrowErrno(info.Env(), EINVAL, "eventfd_write");
  return Napi::Number::New(info.Env(), 0);
}

// Only the commands whose argument is an int: any other command takes a pointer, which a
// JavaScript number must never become. F_DUPFD is left out because its fd would not be CLOEXEC.
static bool IntArgCommand(int cmd) {
  switch (cmd) {
    case F_GETFL: case F_SETFL: case F_GETFD: case F_SETFD: case F_DUPFD_CLOEXEC:
    case F_GETPIPE_SZ: case F_SETPIPE_SZ:
      return true;
    default:
      return false;
  }
}

static Napi::Value Fcntl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  int cmd = static_cast<int>(ArgInt(info, 1, "cmd", INT_MIN, INT_MAX));
  if (!IntArgCommand(cmd)) {
    ThrowArgRange(env, "cmd", "one of F_GETFL, F_SETFL, F_GETFD, F_SETFD, F_DUPFD_CLOEXEC, F_GETPIPE_SZ, F_SETPIPE_SZ",
                  info[1]);
  }
  int arg = static_cast<int>(ArgIntOr(info, 2, "arg", INT_MIN, INT_MAX, 0));
  int r = fcntl(fd, cmd, arg);
  if (r < 0) ThrowErrno(env, errno, "fcntl");
  return Napi::Number::New(env, r);
}

// poll(fds, timeout): fds is an Int32Array of (fd, events, revents) triples; revents is written
// back. Returns the number of entries with non-zero revents. Used by the course to compare the
// cost of poll (O(n) per call) with epoll_wait (O(ready)).
static Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  U32s arr = ArgTypedU32(info, 0, "fds", napi_int32_array, "an instance of Int32Array or ArrayBuffer");
  if (arr.len % 3 != 0) ThrowArgRange(env, "fds.length", "a multiple of 3", Napi::Number::New(env, arr.len));
  int timeout = static_cast<int>(ArgInt(info, 1, "timeout", -1, INT_MAX));
  int32_t* t = reinterpret_cast<int32_t*>(arr.data);
  size_t n = arr.len / 3;
  struct rlimit lim;
  // The kernel refuses more entries than RLIMIT_NOFILE; refuse before allocating scratch for them.
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && n > lim.rlim_cur) ThrowErrno(env, EINVAL, "poll");
  std::vector<struct pollfd>& pfds = Data(env)->pollfds;
  if (pfds.size() < n) pfds.resize(n);
  for (size_t k = 0; k < n; k++) {
    pfds[k].fd = t[3 * k];
    pfds[k].events = static_cast<short>(t[3 * k + 1]);
    pfds[k].revents = 0;
  }
  // As epoll_wait: a signal does not restart the whole timeout, only what is left of it.
  int r = RetryWaitEintr(timeout, 1000000, [&](int64_t ms) { return poll(pfds.data(), n, static_cast<int>(ms)); });
  if (r < 0) ThrowErrno(env, errno, "poll");
  for (size_t k = 0; k < n; k++) t[3 * k + 2] = static_cast<uint16_t>(pfds[k].revents);
  return Napi::Number::New(env, r);
}

// ── Teardown: the fds an environment owns ───────────────────────────────────────────────────
// A worker that ends, or is terminated (no JavaScript runs then), without closing its loops
// would leave their fds open in the process. The library's own objects mark the fds they open
// and will close themselves (a loop's epoll fd and alarm, sockets, servers, wakers) with
// own_fd(); close() unmarks; the environment's cleanup hook closes what is still marked. Only an
// fd that is closed through close() may be marked: one closed another way would leave a number
// that the teardown would close under its next owner.

static void Disown(Napi::Env env, int fd) {
  std::vector<bool>& owned = Data(env)->owned;
  if (static_cast<size_t>(fd) < owned.size()) owned[fd] = false;
}

// own_fd(fd): close fd at this environment's teardown unless close() closes it first. EBADF for
// an fd that is not open (which also bounds the table by RLIMIT_NOFILE).
static Napi::Value OwnFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  if (fcntl(fd, F_GETFD) < 0) ThrowErrno(env, errno, "fcntl");
  std::vector<bool>& owned = Data(env)->owned;
  if (static_cast<size_t>(fd) >= owned.size()) owned.resize(static_cast<size_t>(fd) + 1);
  owned[fd] = true;
  return env.Undefined();
}

// owned_fds() -> the fds marked now, ascending: what the teardown would close.
static Napi::Value OwnedFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<bool>& owned = Data(env)->owned;
  Napi::Array result = Napi::Array::New(env);
  uint32_t n = 0;
  for (size_t fd = 0; fd < owned.size(); fd++) {
    if (owned[fd]) result.Set(n++, Napi::Number::New(env, static_cast<double>(fd)));
  }
  return result;
}

// Runs before the instance data is freed (Node-API's own hook, which frees it, was registered
// when the addon loaded, before ours, and hooks run last-registered first), and after attach.cc's
// teardown has stopped libuv's poll of our epoll fds (registered after ours; see addon.cc).
static void CloseOwned(void* arg) {
  std::vector<bool>& owned = static_cast<AddonData*>(arg)->owned;
  for (size_t fd = 0; fd < owned.size(); fd++) {
    if (owned[fd]) close(static_cast<int>(fd));  // no retry on EINTR: the fd is released anyway
  }
  owned.clear();
}

void InitFd(Napi::Env env, Napi::Object exports) {
  if (napi_add_env_cleanup_hook(env, CloseOwned, Data(env)) != napi_ok) {
    NAPI_THROW_VOID(Napi::Error::New(env, "epoll-reactor: napi_add_env_cleanup_hook failed"));
  }
  SetFn(env, exports, "own_fd", OwnFd);
  SetFn(env, exports, "owned_fds", OwnedFds);
  SetFn(env, exports, "read", Read);
  SetFn(env, exports, "write", Write);
  SetFn(env, exports, "readv", Readv);
  SetFn(env, exports, "writev", Writev);
  SetFn(env, exports, "close", Close);
  SetFn(env, exports, "pipe2", Pipe2);
  SetFn(env, exports, "eventfd", Eventfd);
  SetFn(env, exports, "eventfd_read", EventfdRead);
  SetFn(env, exports, "eventfd_write", EventfdWrite);
  SetFn(env, exports, "fcntl", Fcntl);
  SetFn(env, exports, "poll", Poll);
}

}  // namespace er
