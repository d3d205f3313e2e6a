// Datagrams: recvmmsg, sendmmsg (1:1) and their many-socket batches recvmmsg_many /
// sendmmsg_many (inet.cc has the address and interface helpers UDP needs besides).
//
// Messages are described by a caller-owned Int32Array (or its ArrayBuffer), MMSG_WORDS words per
// message, never by an object per message:
//   [0] offset in the data buffer    [1] length (recv: room in; bytes received out)
//   [2] recv: msg_flags out (MSG_TRUNC …); send: bytes sent out (batches: or −errno)
//   [3] batches: index of the message's fd in the fds list (recv: out; send: in)
//   [4] address family (AF_INET, AF_INET6; 0 = none: a connected socket's send)
//   [5] port   [6] IPv6 scope id   [7] IPv6 flow info   [8..11] the address's bytes (4 or 16)
// Every field is read ONCE into native scratch and validated there before any syscall, so
// nothing sharing memory with the array (another thread's SharedArrayBuffer, the data buffer
// itself) can change an offset between its check and its use.
#include "common.h"

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace er {

static constexpr size_t kWords = 12;
// The kernel takes at most UIO_MAXIOV (1024) messages per call and silently ignores the rest;
// scratch is never grown past that.
static constexpr size_t kMaxVlen = 1024;

union SockAddr {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
};

// One message's kernel-facing state. Kept in AddonData::mmsg (a vector of uint64_t, so that
// common.h need not know this type): headers and iovecs must be contiguous arrays, so the
// scratch holds [kMaxVlen mmsghdr][kMaxVlen iovec][kMaxVlen SockAddr][kMaxVlen int32 × 3].
struct Scratch {
  struct mmsghdr* hdr;
  struct iovec* iov;
  SockAddr* addr;
  int32_t* off;    // validated copies of [0]
  int32_t* len;    // [1]
  int32_t* index;  // [3]
};

static Scratch GetScratch(Napi::Env env) {
  constexpr size_t bytes = kMaxVlen * (sizeof(struct mmsghdr) + sizeof(struct iovec) + sizeof(SockAddr) + 3 * sizeof(int32_t));
  std::vector<uint64_t>& v = Data(env)->mmsg;
  if (v.empty()) v.resize((bytes + 7) / 8);
  auto* base = reinterpret_cast<uint8_t*>(v.data());
  Scratch s;
  s.hdr = reinterpret_cast<struct mmsghdr*>(base);
  base += kMaxVlen * sizeof(struct mmsghdr);
  s.iov = reinterpret_cast<struct iovec*>(base);
  base += kMaxVlen * sizeof(struct iovec);
  s.addr = reinterpret_cast<SockAddr*>(base);
  base += kMaxVlen * sizeof(SockAddr);
  s.off = reinterpret_cast<int32_t*>(base);
  s.len = s.off + kMaxVlen;
  s.index = s.len + kMaxVlen;
  return s;
}

static inline int32_t* Msg(U32s msgs, size_t i) { return reinterpret_cast<int32_t*>(msgs.data) + i * kWords; }

// Writes the sender's address of a received message into its descriptor.
static void PutAddress(int32_t* m, const SockAddr& a, socklen_t len) {
  memset(m + 4, 0, 8 * sizeof(int32_t));
  if (len >= sizeof(struct sockaddr_in) && a.sa.sa_family == AF_INET) {
    m[4] = AF_INET;
    m[5] = ntohs(a.in.sin_port);
    memcpy(m + 8, &a.in.sin_addr, 4);
  } else if (len >= sizeof(struct sockaddr_in6) && a.sa.sa_family == AF_INET6) {
    m[4] = AF_INET6;
    m[5] = ntohs(a.in6.sin6_port);
    m[6] = static_cast<int32_t>(a.in6.sin6_scope_id);
    m[7] = static_cast<int32_t>(a.in6.sin6_flowinfo);
    memcpy(m + 8, &a.in6.sin6_addr, 16);
  }
}

// Builds the destination of message i from its descriptor (a copy, made here); 0 = no address.
static socklen_t GetAddress(Napi::Env env, const int32_t* m, SockAddr* a) {
  int32_t w[kWords];
  memcpy(w, m, sizeof w);
  memset(a, 0, sizeof *a);
  if (w[4] == 0) return 0;
  if (w[5] < 0 || w[5] > 65535) ThrowArgRange(env, "msgs[i].port", "an integer >= 0 and <= 65535", Napi::Number::New(env, w[5]));
  if (w[4] == AF_INET) {
    a->in.sin_family = AF_INET;
    a->in.sin_port = htons(static_cast<uint16_t>(w[5]));
    memcpy(&a->in.sin_addr, w + 8, 4);
    return sizeof a->in;
  }
  if (w[4] == AF_INET6) {
    a->in6.sin6_family = AF_INET6;
    a->in6.sin6_port = htons(static_cast<uint16_t>(w[5]));
    a->in6.sin6_scope_id = static_cast<uint32_t>(w[6]);
    a->in6.sin6_flowinfo = static_cast<uint32_t>(w[7]);
    memcpy(&a->in6.sin6_addr, w + 8, 16);
    return sizeof a->in6;
  }
  ThrowArgRange(env, "msgs[i].family", "0, AF_INET or AF_INET6", Napi::Number::New(env, w[4]));
}

// Reads and checks (offset, length) of message i against a data buffer of `size` bytes.
static void GetRange(Napi::Env env, const int32_t* m, size_t size, int32_t* off, int32_t* len) {
  int32_t o = m[0];
  int32_t l = m[1];
  if (o < 0 || static_cast<size_t>(o) > size) {
    ThrowArgRange(env, "msgs[i].offset", "an offset inside the buffer", Napi::Number::New(env, o));
  }
  if (l < 0 || static_cast<size_t>(l) > size - static_cast<size_t>(o)) {
    ThrowArgRange(env, "msgs[i].length", "a length that stays inside the buffer", Napi::Number::New(env, l));
  }
  *off = o;
  *len = l;
}

static U32s ArgMsgs(const Napi::CallbackInfo& info, size_t i) {
  return ArgTypedU32(info, i, "msgs", napi_int32_array, "an instance of Int32Array or ArrayBuffer");
}

// How many messages argument i asks for: 0 .. what msgs holds, clamped to UIO_MAXIOV as the
// kernel clamps vlen.
static size_t ArgVlen(const Napi::CallbackInfo& info, size_t i, U32s msgs) {
  size_t n = static_cast<size_t>(ArgInt(info, i, "vlen", 0, static_cast<int64_t>(msgs.len / kWords)));
  return n > kMaxVlen ? kMaxVlen : n;
}

static inline int RawRecvmmsg(int fd, struct mmsghdr* h, size_t n, int flags) {
  return RetryEintr([&] { return static_cast<int>(syscall(SYS_recvmmsg, static_cast<long>(fd), h, static_cast<long>(n), static_cast<long>(flags), nullptr)); });
}

static inline int RawSendmmsg(int fd, struct mmsghdr* h, size_t n, int flags) {
  return RetryEintr([&] { return static_cast<int>(syscall(SYS_sendmmsg, static_cast<long>(fd), h, static_cast<long>(n), static_cast<long>(flags))); });
}

static void SetHeader(Scratch& s, size_t k, uint8_t* data, socklen_t namelen) {
  s.iov[k].iov_base = data + s.off[k];
  s.iov[k].iov_len = static_cast<size_t>(s.len[k]);
  memset(&s.hdr[k], 0, sizeof s.hdr[k]);
  s.hdr[k].msg_hdr.msg_iov = &s.iov[k];
  s.hdr[k].msg_hdr.msg_iovlen = 1;
  s.hdr[k].msg_hdr.msg_name = namelen > 0 ? &s.addr[k] : nullptr;
  s.hdr[k].msg_hdr.msg_namelen = namelen;
}

// recvmmsg(fd, buffer, msgs, vlen, flags = 0) -> messages received, or -EAGAIN.
// Message i lands in buffer[msgs[i][0], + msgs[i][1]); on return, for each message received,
// [1] is its length, [2] its msg_flags and [4..11] the sender. No timeout (NULL).
// The arguments of the 1:1 calls: (fd, buffer, msgs, vlen, flags = 0).
struct MmsgArgs {
  int fd;
  Bytes buf;
  U32s msgs;
  size_t n;
  int flags;
};

static MmsgArgs ArgMmsg(const Napi::CallbackInfo& info) {
  MmsgArgs a;
  a.fd = ArgFd(info, 0, "fd");
  a.buf = ArgBytes(info, 1, "buffer");
  a.msgs = ArgMsgs(info, 2);
  a.n = ArgVlen(info, 3, a.msgs);
  a.flags = static_cast<int>(ArgIntOr(info, 4, "flags", 0, INT_MAX, 0));
  return a;
}

static Napi::Value Recvmmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MmsgArgs a = ArgMmsg(info);
  Scratch s = GetScratch(env);
  for (size_t k = 0; k < a.n; k++) {
    GetRange(env, Msg(a.msgs, k), a.buf.len, &s.off[k], &s.len[k]);
    SetHeader(s, k, a.buf.data, sizeof(SockAddr));
  }
  int r = RawRecvmmsg(a.fd, s.hdr, a.n, a.flags);
  if (r < 0) return IoResult(env, -1, "recvmmsg");
  for (int k = 0; k < r; k++) {
    int32_t* m = Msg(a.msgs, static_cast<size_t>(k));
    m[1] = static_cast<int32_t>(s.hdr[k].msg_len);
    m[2] = s.hdr[k].msg_hdr.msg_flags;
    PutAddress(m, s.addr[k], s.hdr[k].msg_hdr.msg_namelen);
  }
  return Napi::Number::New(env, r);
}

// sendmmsg(fd, buffer, msgs, vlen, flags = 0) -> messages sent, or -EAGAIN. MSG_NOSIGNAL is
// always added. Message i is buffer[msgs[i][0], + msgs[i][1]) to the address in [4..11] (family
// 0: none, for a connected socket); [2] becomes the bytes sent for each message that went.
static Napi::Value Sendmmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MmsgArgs a = ArgMmsg(info);
  Scratch s = GetScratch(env);
  for (size_t k = 0; k < a.n; k++) {
    const int32_t* m = Msg(a.msgs, k);
    GetRange(env, m, a.buf.len, &s.off[k], &s.len[k]);
    SetHeader(s, k, a.buf.data, GetAddress(env, m, &s.addr[k]));
  }
  int r = RawSendmmsg(a.fd, s.hdr, a.n, a.flags | MSG_NOSIGNAL);
  if (r < 0) return IoResult(env, -1, "sendmmsg");
  for (int k = 0; k < r; k++) Msg(a.msgs, static_cast<size_t>(k))[2] = static_cast<int32_t>(s.hdr[k].msg_len);
  return Napi::Number::New(env, r);
}

// The fd list of a batch: `count` fds, copied (into the per-instance batch scratch, followed by
// `count` words of per-fd state zeroed for the caller) and checked.
struct FdList {
  int32_t* fds;
  int32_t* state;
  size_t count;
};

static FdList ArgFdList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  U32s fds = ArgTypedU32(info, 0, "fds", napi_int32_array, "an instance of Int32Array or ArrayBuffer");
  size_t count = static_cast<size_t>(ArgInt(info, 1, "count", 0, static_cast<int64_t>(fds.len)));
  std::vector<int32_t>& scratch = Data(env)->batch;
  if (scratch.size() < 2 * count) scratch.resize(2 * count);
  FdList l{scratch.data(), scratch.data() + count, count};
  const int32_t* in = reinterpret_cast<const int32_t*>(fds.data);
  for (size_t i = 0; i < count; i++) {
    l.fds[i] = in[i];
    l.state[i] = 0;
    if (l.fds[i] < 0) ThrowArgRange(env, "fds[i]", "an fd >= 0", Napi::Number::New(env, l.fds[i]));
  }
  return l;
}

// recvmmsg_many(fds, count, buffer, start, slot, msgs, results) -> messages received in all.
// For each fd i in turn: recvmmsg into slots of `slot` bytes laid end to end from the current
// position (at first `start`) — as many as results[i] asks, the msgs left and the room left
// allow — then the datagrams are moved down to follow each other without gaps, so the buffer
// fills only by what arrived and no byte before the new position is ever written again. The
// messages are described in msgs in arrival order ([3] = i); results[i] becomes the count, or
// -errno (-EAGAIN: nothing there; -ENOBUFS: no room or no msgs left, nothing read). Nothing
// throws per fd.
static Napi::Value RecvmmsgMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Scratch s = GetScratch(env);
  FdList l = ArgFdList(info);
  size_t count = l.count;
  Bytes buf = ArgBytes(info, 2, "buffer");
  size_t pos = static_cast<size_t>(ArgInt(info, 3, "start", 0, static_cast<int64_t>(buf.len)));
  size_t slot = static_cast<size_t>(ArgInt(info, 4, "slot", 1, 1 << 30));
  U32s msgs = ArgMsgs(info, 5);
  U32s results = ArgTypedU32(info, 6, "results", napi_int32_array, "an instance of Int32Array or ArrayBuffer");
  if (results.len < count) {
    ThrowArgRange(env, "results.length", "at least count", Napi::Number::New(env, static_cast<double>(results.len)));
  }
  int32_t* res = reinterpret_cast<int32_t*>(results.data);
  for (size_t i = 0; i < count; i++) s.index[i] = res[i];  // wanted, read once
  size_t capacity = msgs.len / kWords;
  size_t used = 0;
  for (size_t i = 0; i < count; i++) {
    size_t k = s.index[i] > 0 ? static_cast<size_t>(s.index[i]) : 0;
    size_t room = (buf.len - pos) / slot;
    if (k > capacity - used) k = capacity - used;
    if (k > room) k = room;
    if (k > kMaxVlen) k = kMaxVlen;
    if (k == 0) {
      res[i] = s.index[i] > 0 ? -ENOBUFS : 0;
      continue;
    }
    for (size_t j = 0; j < k; j++) {
      s.off[j] = static_cast<int32_t>(pos + j * slot);
      s.len[j] = static_cast<int32_t>(slot);
      SetHeader(s, j, buf.data, sizeof(SockAddr));
    }
    int r = RawRecvmmsg(l.fds[i], s.hdr, k, 0);
    if (r < 0) {
      res[i] = -errno;
      continue;
    }
    for (int j = 0; j < r; j++) {
      size_t n = s.hdr[j].msg_len;
      if (j > 0) memmove(buf.data + pos, buf.data + s.off[j], n);  // down: pos <= s.off[j]
      int32_t* m = Msg(msgs, used++);
      m[0] = static_cast<int32_t>(pos);
      m[1] = static_cast<int32_t>(n);
      m[2] = s.hdr[j].msg_hdr.msg_flags;
      m[3] = static_cast<int32_t>(i);
      PutAddress(m, s.addr[j], s.hdr[j].msg_hdr.msg_namelen);
      pos += n;
    }
    res[i] = r;
  }
  return Napi::Number::New(env, static_cast<double>(used));
}

// Checks message k's descriptor against the buffer and the fd list; lays it out in slot `slot`.
static void LayOut(Napi::Env env, Scratch& s, size_t slot, const int32_t* m, Bytes buf, size_t count) {
  GetRange(env, m, buf.len, &s.off[slot], &s.len[slot]);
  int32_t idx = m[3];
  if (idx < 0 || static_cast<size_t>(idx) >= count) {
    ThrowArgRange(env, "msgs[i].fdIndex", "an index into fds below count", Napi::Number::New(env, idx));
  }
  s.index[slot] = idx;
  SetHeader(s, slot, buf.data, GetAddress(env, m, &s.addr[slot]));
}

// sendmmsg_many(fds, count, buffer, msgs, n) -> n
// Sends messages [0, n) of msgs, message j from fd fds[msgs[j][3]]: each run of consecutive
// messages of one fd is one sendmmsg (more if the kernel stops early, or past UIO_MAXIOV). [2]
// becomes each message's result: bytes sent, or -errno. A message that fails is reported and the
// run goes on after it; once an fd says EAGAIN, it and every later message of that fd get
// -EAGAIN (not sent, so that its order holds).
static Napi::Value SendmmsgMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Scratch s = GetScratch(env);
  FdList l = ArgFdList(info);
  Bytes buf = ArgBytes(info, 2, "buffer");
  U32s msgs = ArgMsgs(info, 3);
  size_t n = static_cast<size_t>(ArgInt(info, 4, "n", 0, static_cast<int64_t>(msgs.len / kWords)));
  // Every message is checked before the first is sent: a bad one throws with nothing sent. (The
  // chunks below check their copies again: what they use is what they checked.)
  for (size_t k = 0; k < n; k++) LayOut(env, s, 0, Msg(msgs, k), buf, l.count);
  int32_t* blocked = l.state;
  for (size_t base = 0; base < n; base += kMaxVlen) {
    size_t chunk = n - base < kMaxVlen ? n - base : kMaxVlen;
    for (size_t k = 0; k < chunk; k++) LayOut(env, s, k, Msg(msgs, base + k), buf, l.count);
    for (size_t k = 0; k < chunk;) {
      size_t end = k + 1;
      while (end < chunk && s.index[end] == s.index[k]) end++;
      int32_t idx = s.index[k];
      while (k < end) {
        if (blocked[idx]) {
          Msg(msgs, base + k++)[2] = -EAGAIN;
          continue;
        }
        int r = RawSendmmsg(l.fds[idx], s.hdr + k, end - k, MSG_NOSIGNAL);
        if (r > 0) {
          for (int j = 0; j < r; j++, k++) Msg(msgs, base + k)[2] = static_cast<int32_t>(s.hdr[k].msg_len);
        } else if (r == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
          blocked[idx] = 1;
        } else {
          Msg(msgs, base + k++)[2] = -errno;
        }
      }
    }
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

void InitInet(Napi::Env env, Napi::Object exports);  // inet.cc

#define ER_UDP_CONSTANTS(X)                                                                     \
  X(AF_UNSPEC) X(IPPROTO_IP) X(IPPROTO_IPV6) X(IPPROTO_UDP) X(IP_TTL) X(IP_MULTICAST_TTL)         \
  X(IP_MULTICAST_LOOP) X(IP_MULTICAST_IF) X(IP_ADD_MEMBERSHIP) X(IP_DROP_MEMBERSHIP)              \
  X(IP_ADD_SOURCE_MEMBERSHIP) X(IP_DROP_SOURCE_MEMBERSHIP) X(IPV6_V6ONLY) X(IPV6_UNICAST_HOPS)    \
  X(IPV6_MULTICAST_HOPS) X(IPV6_MULTICAST_LOOP) X(IPV6_MULTICAST_IF) X(IPV6_ADD_MEMBERSHIP)       \
  X(IPV6_DROP_MEMBERSHIP) X(MCAST_JOIN_SOURCE_GROUP) X(MCAST_LEAVE_SOURCE_GROUP) X(SO_BROADCAST)  \
  X(MSG_TRUNC) X(MSG_CTRUNC) X(MSG_WAITFORONE) X(UIO_MAXIOV)

void InitUdp(Napi::Env env, Napi::Object exports) {
  Napi::Object constants = exports.Get("constants").As<Napi::Object>();
#define X(name) constants.Set(#name, Napi::Number::New(env, static_cast<double>(name)));
  ER_UDP_CONSTANTS(X)
#undef X
  constants.Set("MMSG_WORDS", Napi::Number::New(env, kWords));
  Napi::Object errnos = exports.Get("errno").As<Napi::Object>();
  errnos.Set("ENODEV", Napi::Number::New(env, ENODEV));
  errnos.Set("EMSGSIZE", Napi::Number::New(env, EMSGSIZE));
  SetFn(env, exports, "recvmmsg", Recvmmsg);
  SetFn(env, exports, "sendmmsg", Sendmmsg);
  SetFn(env, exports, "recvmmsg_many", RecvmmsgMany);
  SetFn(env, exports, "sendmmsg_many", SendmmsgMany);
  InitInet(env, exports);
}

}  // namespace er
