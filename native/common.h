// Shared helpers for the native layer: argument validation, the one place where errno becomes
// a JavaScript error, and the per-instance addon state.
//
// Policy lives in TypeScript; this layer only checks that arguments cannot make a syscall touch
// memory it must not, converts results, and throws. Exceptions are C++ exceptions
// (NAPI_CPP_EXCEPTIONS, chosen in binding.gyp): node-addon-api turns a thrown Napi::Error into a
// JavaScript exception when the callback returns.
#pragma once

#include <cerrno>
#include <cstdint>
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <sys/epoll.h>
#include <sys/uio.h>
#include <poll.h>
#include <sys/types.h>

namespace er {

struct PollSet;  // attach.cc

// Everything the addon keeps between calls, one instance per Node environment (main thread or
// worker), never a process global. Freed by the environment's instance-data finalizer.
struct AddonData {
  std::vector<struct epoll_event> events;  // epoll_wait scratch, grown once, reused
  std::vector<struct iovec> iov;           // readv/writev scratch
  std::vector<napi_value> values;          // readv/writev: the array elements, valid during one call
  std::vector<struct pollfd> pollfds;      // poll scratch
  std::vector<int32_t> batch;              // read_many/send_many: a private copy of fds and ranges
  std::vector<uint64_t> mmsg;              // udp.cc: recvmmsg/sendmmsg headers, iovecs, addresses
  PollSet* polls = nullptr;                // live attach handles (attach.cc); outlives this struct
  void* signals = nullptr;                 // signals.cc: the private signal loop; outlives this struct
  std::vector<bool> owned;                 // fd.cc: fds to close at this environment's teardown
};

AddonData* Data(Napi::Env env);

// CLOCK_MONOTONIC in nanoseconds: EINTR retries compute the time left of a timeout with it.
int64_t MonotonicNs();

// A syscall interrupted by a signal handler (EINTR) did nothing: do it again. Every retry in
// native/ goes through one of these two.
template <typename Call>
inline auto RetryEintr(Call call) -> decltype(call()) {
  decltype(call()) r;
  do r = call();
  while (r < 0 && errno == EINTR);
  return r;
}

// A wait of `timeout` units of `unit_ns` (-1: forever, 0: a look) retried after EINTR with only
// what is left of it, never the whole timeout again; `wait(t)` waits t units. Returns wait's
// result, or 0 (nothing ready) when the time ran out during the interruptions.
template <typename Wait>
inline auto RetryWaitEintr(int64_t timeout, int64_t unit_ns, Wait wait) -> decltype(wait(timeout)) {
  int64_t start = timeout > 0 ? MonotonicNs() : 0;
  int64_t deadline = timeout > (INT64_MAX - start) / unit_ns ? INT64_MAX : start + timeout * unit_ns;  // no signed overflow
  decltype(wait(timeout)) r;
  while ((r = wait(timeout)) < 0 && errno == EINTR) {
    if (timeout <= 0) continue;
    int64_t left = deadline - MonotonicNs();
    if (left <= 0) return 0;
    timeout = (left + unit_ns - 1) / unit_ns;  // rounded up: never back early
  }
  return r;
}

// Throws an Error shaped like Node's SystemError:
//   message "EBADF: bad file descriptor, epoll_ctl", code "EBADF", errno -9, syscall "epoll_ctl".
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall);
Napi::Error MakeErrno(Napi::Env env, int err, const char* syscall);

// TypeError with code ERR_INVALID_ARG_TYPE, naming the argument.
[[noreturn]] void ThrowArgType(Napi::Env env, const char* name, const char* expected, Napi::Value got);
// RangeError with code ERR_OUT_OF_RANGE, naming the argument.
[[noreturn]] void ThrowArgRange(Napi::Env env, const char* name, const std::string& expected, Napi::Value got);

// An fd: an integer in [0, INT_MAX].
int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name);
// An integer in [min, max]; doubles with a fraction, NaN and infinities are rejected.
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max);
// Same, but `undefined` (or a missing argument) gives `dflt`.
int64_t ArgIntOr(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max,
                 int64_t dflt);
// A count of nanoseconds in [min, 2^63 - 1]: an integer Number (exact up to 2^53, then to the
// nearest double, a few ns at most: CLOCK_MONOTONIC passes 2^53 ns after ~104.25 days of
// uptime) or a BigInt (exact). NaN, fractions and infinities are rejected.
int64_t ArgNs(Napi::Env env, Napi::Value v, const char* name, int64_t min);
// A string argument.
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);

// The bytes of any ArrayBufferView (Buffer, Uint8Array, any TypedArray, DataView), or of a whole
// ArrayBuffer (the cheapest to look up: what the loop passes).
struct Bytes {
  uint8_t* data;
  size_t len;
};
Bytes BytesOf(Napi::Env env, napi_value v, const char* name);
Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name);
// ArgBytes narrowed by the optional (offset, length) arguments at i+1, i+2: offset defaults to 0,
// length to the rest of the view; both are checked against the view's bounds.
Bytes ArgByteRange(const Napi::CallbackInfo& info, size_t i, const char* name);

// A Uint32Array / Int32Array argument (or a whole ArrayBuffer, read as 32-bit words): its elements.
struct U32s {
  uint32_t* data;
  size_t len;
};
U32s ArgTypedU32(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type,
                 const char* type_name);

// Result of a hot-path I/O call: bytes as a number, -EAGAIN when it would block; any other error
// throws a SystemError naming `syscall`.
Napi::Value IoResult(Napi::Env env, ssize_t n, const char* syscall);

// Fills Data(env)->iov from an Array of ArrayBufferViews at argument i; returns the count
// (at most IOV_MAX: more buffers are cut, and the call transfers less, as it may anyway).
int ArgIov(const Napi::CallbackInfo& info, size_t i);

// Registration of each syscall family (one file each).
void InitConstants(Napi::Env env, Napi::Object exports);
void InitErrors(Napi::Env env, Napi::Object exports);
void InitEpoll(Napi::Env env, Napi::Object exports);
void InitFd(Napi::Env env, Napi::Object exports);
void InitTime(Napi::Env env, Napi::Object exports);
void InitSocket(Napi::Env env, Napi::Object exports);
void InitAttach(Napi::Env env, Napi::Object exports, AddonData* data);
void InitBatch(Napi::Env env, Napi::Object exports);
void InitUdp(Napi::Env env, Napi::Object exports);
void InitSignals(Napi::Env env, Napi::Object exports);
void InitInotify(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);  // after InitConstants: adds to its table

inline void SetFn(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback cb) {
  exports.Set(name, Napi::Function::New(env, cb, name));
}

}  // namespace er
