// read_many / send_many: read(2) and send(2), done for a list of fds in one crossing of the
// JavaScript/native boundary (on a socket the read is a recvfrom(2), see RawRead).
//
// A loop iteration that finds 100 sockets readable would otherwise cross into native code 100
// times to read and 100 times to answer; each crossing costs more than the JavaScript around it.
// No policy here: the caller says which fd reads into (or sends from) which byte range of one
// buffer, and gets one result per entry back in place — bytes moved, or −errno. Nothing throws
// for a per-fd failure; bad arguments throw before any syscall.
#include "common.h"

#include <cerrno>
#include <climits>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace er {

// The syscalls are made through syscall(2) rather than glibc's read() and send(): those are
// pthread cancellation points, and in a multi-threaded process (Node always is) glibc brackets
// each one with __pthread_enable_asynccancel / __pthread_disable_asynccancel, paid per socket
// (docs/decisions/007-recvfrom.md). Nothing here is ever cancelled (Node does not use
// pthread_cancel), so the bracket buys nothing. Same syscalls, same results, errno as usual.
// (syscall() reads its arguments as longs: the ints are widened explicitly.)
//
// A read is recvfrom(fd, buf, n, 0, NULL, NULL): on a socket read(2) by definition, minus the VFS
// path; a non-socket answers ENOTSOCK and is read with read(2). Sends are sendto(2) likewise.
// docs/decisions/007-recvfrom.md.
static inline ssize_t RawRead(int fd, void* buf, size_t n) {
  ssize_t r = static_cast<ssize_t>(syscall(SYS_recvfrom, static_cast<long>(fd), buf, n, 0L, nullptr, nullptr));
  if (r < 0 && errno == ENOTSOCK) r = static_cast<ssize_t>(syscall(SYS_read, static_cast<long>(fd), buf, n));
  return r;
}
static inline ssize_t RawSend(int fd, const void* buf, size_t n, int flags) {
  return static_cast<ssize_t>(syscall(SYS_sendto, static_cast<long>(fd), buf, n, static_cast<long>(flags), nullptr, 0L));
}

// The arguments, copied: fds and (offset, length) pairs are read ONCE into per-instance scratch
// and validated there, so nothing that shares memory with them (the buffer being read into, a
// SharedArrayBuffer written by another thread) can change them between the check and the use.
struct Batch {
  int32_t* fds;     // copy: fds[i]
  int32_t* ranges;  // copy: ranges[2i], ranges[2i+1]
  size_t count;
  uint8_t* data;
  size_t size;
  int32_t* out;  // the caller's ranges array, where results are written back
};

// (fds: Int32Array, count, buffer: ArrayBufferView, ranges: Int32Array; each may also be given
// as its whole ArrayBuffer), checked before any syscall: count within fds, two range slots per
// entry, fds >= 0, lengths >= 0.
static Batch ArgBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  U32s fds = ArgTypedU32(info, 0, "fds", napi_int32_array, "an instance of Int32Array or ArrayBuffer");
  size_t count = static_cast<size_t>(ArgInt(info, 1, "count", 0, static_cast<int64_t>(fds.len)));
  Bytes buf = ArgBytes(info, 2, "buffer");
  U32s ranges = ArgTypedU32(info, 3, "ranges", napi_int32_array, "an instance of Int32Array or ArrayBuffer");
  if (ranges.len < 2 * count) {
    ThrowArgRange(env, "ranges.length", "at least 2 * count", Napi::Number::New(env, static_cast<double>(ranges.len)));
  }
  std::vector<int32_t>& scratch = Data(env)->batch;
  if (scratch.size() < 3 * count) scratch.resize(3 * count);
  Batch b{scratch.data(), scratch.data() + count, count, buf.data, buf.len, reinterpret_cast<int32_t*>(ranges.data)};
  const int32_t* in_fds = reinterpret_cast<const int32_t*>(fds.data);
  for (size_t i = 0; i < count; i++) {
    b.fds[i] = in_fds[i];
    b.ranges[2 * i] = b.out[2 * i];
    b.ranges[2 * i + 1] = b.out[2 * i + 1];
    if (b.fds[i] < 0) ThrowArgRange(env, "fds[i]", "an fd >= 0", Napi::Number::New(env, b.fds[i]));
    if (b.ranges[2 * i + 1] < 0) {
      ThrowArgRange(env, "ranges[2i+1]", "a length >= 0", Napi::Number::New(env, b.ranges[2 * i + 1]));
    }
  }
  return b;
}

// read_many(fds, count, buffer, ranges, start = 0) -> end
// Packed reads: fd i reads up to ranges[2i+1] bytes into the buffer right after the bytes of the
// previous read (the first at `start`), so the buffer fills without gaps. On return ranges[2i]
// is where fd i's bytes start and ranges[2i+1] the result: bytes read, 0 for EOF, -errno
// (-EAGAIN: nothing there; -ENOBUFS: the buffer was full, nothing was read). Returns the offset
// just past the last byte read.
static Napi::Value ReadMany(const Napi::CallbackInfo& info) {
  Batch b = ArgBatch(info);
  size_t pos = static_cast<size_t>(ArgIntOr(info, 4, "start", 0, static_cast<int64_t>(b.size), 0));
  for (size_t i = 0; i < b.count; i++) {
    size_t want = static_cast<size_t>(b.ranges[2 * i + 1]);
    if (want > b.size - pos) want = b.size - pos;
    b.ranges[2 * i] = static_cast<int32_t>(pos);
    if (want == 0) {
      b.ranges[2 * i + 1] = -ENOBUFS;
      continue;
    }
    ssize_t n = RetryEintr([&] { return RawRead(b.fds[i], b.data + pos, want); });
    if (n > 0) pos += static_cast<size_t>(n);
    b.ranges[2 * i + 1] = n >= 0 ? static_cast<int32_t>(n) : -errno;
  }
  for (size_t i = 0; i < 2 * b.count; i++) b.out[i] = b.ranges[i];
  return Napi::Number::New(info.Env(), static_cast<double>(pos));
}

// send_many(fds, count, buffer, ranges) -> count
// fd i sends buffer[ranges[2i], ranges[2i] + ranges[2i+1]) with MSG_NOSIGNAL; ranges[2i+1] becomes
// the result: bytes sent, or -errno (-EAGAIN when the socket buffer is full).
static Napi::Value SendMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Batch b = ArgBatch(info);
  for (size_t i = 0; i < b.count; i++) {
    int64_t off = b.ranges[2 * i];
    if (off < 0 || off + b.ranges[2 * i + 1] > static_cast<int64_t>(b.size)) {
      ThrowArgRange(env, "ranges[2i]", "an (offset, length) pair inside the buffer", Napi::Number::New(env, static_cast<double>(off)));
    }
  }
  for (size_t i = 0; i < b.count; i++) {
    ssize_t n = RetryEintr([&] { return RawSend(b.fds[i], b.data + b.ranges[2 * i], static_cast<size_t>(b.ranges[2 * i + 1]), MSG_NOSIGNAL); });
    b.out[2 * i + 1] = n >= 0 ? static_cast<int32_t>(n) : -errno;
  }
  return Napi::Number::New(env, static_cast<double>(b.count));
}

void InitBatch(Napi::Env env, Napi::Object exports) {
  SetFn(env, exports, "read_many", ReadMany);
  SetFn(env, exports, "send_many", SendMany);
}

}  // namespace er
