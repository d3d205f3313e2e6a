// Sockets: socket, bind, listen, accept4, connect, shutdown, getsockopt, setsockopt,
// getsockname, getpeername, send, recv.
//
// Addresses are strings; which kind (IPv4, IPv6, Unix path) is decided by the socket's own
// family (SO_DOMAIN), so "localhost" can never silently become a file name. Names are not
// resolved here: the address must be a literal.
#include "common.h"

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace er {

static Napi::Value Socket(const Napi::CallbackInfo& info) {
  int domain = static_cast<int>(ArgInt(info, 0, "domain", 0, INT_MAX));
  int type = static_cast<int>(ArgInt(info, 1, "type", 0, INT_MAX));
  int protocol = static_cast<int>(ArgIntOr(info, 2, "protocol", 0, INT_MAX, 0));
  int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) ThrowErrno(info.Env(), errno, "socket");
  return Napi::Number::New(info.Env(), fd);
}

// Builds a sockaddr for `fd`'s family from (address, port) arguments at i, i+1.
static socklen_t ArgSockaddr(const Napi::CallbackInfo& info, int fd, size_t i, struct sockaddr_storage* ss,
                             const char* syscall) {
  Napi::Env env = info.Env();
  std::string address = ArgString(info, i, "address");
  // A NUL inside the string would silently cut it short ("127.0.0.1\0junk", "/tmp/a\0b"); only an
  // abstract Unix name may hold NULs, and it starts with one.
  if (address.find('\0') != std::string::npos && address[0] != '\0') {
    ThrowArgType(env, "address", "a string without null bytes", info[i]);
  }
  int domain = 0;
  socklen_t dlen = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0) ThrowErrno(env, errno, syscall);
  memset(ss, 0, sizeof *ss);
  if (domain == AF_INET) {
    auto* sin = reinterpret_cast<struct sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(ArgInt(info, i + 1, "port", 0, 65535)));
    if (inet_pton(AF_INET, address.c_str(), &sin->sin_addr) != 1) {
      ThrowArgType(env, "address", "an IPv4 address literal for an AF_INET socket", info[i]);
    }
    return sizeof *sin;
  }
  if (domain == AF_INET6) {
    auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(ArgInt(info, i + 1, "port", 0, 65535)));
    std::string host = address;
    size_t pct = host.find('%');
    if (pct != std::string::npos) {
      sin6->sin6_scope_id = if_nametoindex(host.c_str() + pct + 1);
      host.resize(pct);
    }
    if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) != 1) {
      ThrowArgType(env, "address", "an IPv6 address literal for an AF_INET6 socket", info[i]);
    }
    return sizeof *sin6;
  }
  if (domain == AF_UNIX) {
    auto* sun = reinterpret_cast<struct sockaddr_un*>(ss);
    sun->sun_family = AF_UNIX;
    // A leading NUL names a socket in the abstract namespace; its length is exact, not
    // NUL-terminated.
    bool abstract = !address.empty() && address[0] == '\0';
    if (address.empty() || address.size() > sizeof sun->sun_path - (abstract ? 0 : 1)) {
      ThrowArgRange(env, "address", "a Unix socket path of 1 to 107 bytes", info[i]);
    }
    memcpy(sun->sun_path, address.data(), address.size());
    return static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + address.size() + (abstract ? 0 : 1));
  }
  ThrowErrno(env, EAFNOSUPPORT, syscall);
}

static Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  struct sockaddr_storage ss;
  socklen_t len = ArgSockaddr(info, fd, 1, &ss, "bind");
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&ss), len) < 0) ThrowErrno(info.Env(), errno, "bind");
  return info.Env().Undefined();
}

static Napi::Value Listen(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  int backlog = static_cast<int>(ArgIntOr(info, 1, "backlog", 0, INT_MAX, SOMAXCONN));
  if (listen(fd, backlog) < 0) ThrowErrno(info.Env(), errno, "listen");
  return info.Env().Undefined();
}

// The accepted fd, or -EAGAIN when the queue is empty. The new fd is always CLOEXEC.
static Napi::Value Accept4(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  int flags = static_cast<int>(ArgIntOr(info, 1, "flags", 0, INT_MAX, 0));
  int c = RetryEintr([&] { return accept4(fd, nullptr, nullptr, flags | SOCK_CLOEXEC); });
  return IoResult(info.Env(), c, "accept4");
}

// 0 when connected at once, -EINPROGRESS when a non-blocking connect is under way (wait for
// EPOLLOUT, then read SO_ERROR), -EAGAIN for a Unix socket whose listener's queue is full.
static Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  struct sockaddr_storage ss;
  socklen_t len = ArgSockaddr(info, fd, 1, &ss, "connect");
  int r = connect(fd, reinterpret_cast<struct sockaddr*>(&ss), len);
  // After EINTR the connect goes on asynchronously, exactly like EINPROGRESS.
  if (r < 0 && (errno == EINPROGRESS || errno == EINTR)) return Napi::Number::New(env, -EINPROGRESS);
  if (r < 0 && errno == EAGAIN) return Napi::Number::New(env, -EAGAIN);
  if (r < 0) ThrowErrno(env, errno, "connect");
  return Napi::Number::New(env, 0);
}

static Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  int how = static_cast<int>(ArgInt(info, 1, "how", 0, 2));
  if (shutdown(fd, how) < 0) ThrowErrno(info.Env(), errno, "shutdown");
  return info.Env().Undefined();
}

// getsockopt(fd, level, name) -> int; getsockopt(fd, level, name, buffer) -> bytes written into
// buffer (for struct-valued options such as SO_LINGER).
// Options whose value is a struct (raw bytes): only these. Some others carry pointers the kernel
// follows (TCP_ZEROCOPY_RECEIVE, filters), which bytes from JavaScript must never become.
static bool StructOption(int level, int name, bool get) {
  if (level == SOL_SOCKET) return name == SO_LINGER || name == SO_RCVTIMEO || name == SO_SNDTIMEO;
  if (level == IPPROTO_TCP) return get && name == TCP_INFO;
  // Multicast membership (udp.cc builds these structs): addresses and indexes, no pointers.
  bool mcast = name == MCAST_JOIN_SOURCE_GROUP || name == MCAST_LEAVE_SOURCE_GROUP;
  if (level == IPPROTO_IP) {
    return mcast || name == IP_ADD_MEMBERSHIP || name == IP_DROP_MEMBERSHIP || name == IP_ADD_SOURCE_MEMBERSHIP ||
           name == IP_DROP_SOURCE_MEMBERSHIP || name == IP_MULTICAST_IF;
  }
  if (level == IPPROTO_IPV6) return mcast || name == IPV6_ADD_MEMBERSHIP || name == IPV6_DROP_MEMBERSHIP;
  return false;
}

static Napi::Value Getsockopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  int level = static_cast<int>(ArgInt(info, 1, "level", 0, INT_MAX));
  int name = static_cast<int>(ArgInt(info, 2, "name", 0, INT_MAX));
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    if (!StructOption(level, name, true)) {
      ThrowArgRange(env, "name", "SO_LINGER, SO_RCVTIMEO, SO_SNDTIMEO, TCP_INFO or IP_MULTICAST_IF when a buffer is given", info[2]);
    }
    Bytes b = ArgBytes(info, 3, "buffer");
    socklen_t len = static_cast<socklen_t>(b.len > INT_MAX ? INT_MAX : b.len);
    if (getsockopt(fd, level, name, b.data, &len) < 0) ThrowErrno(env, errno, "getsockopt");
    return Napi::Number::New(env, len);
  }
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, level, name, &value, &len) < 0) ThrowErrno(env, errno, "getsockopt");
  return Napi::Number::New(env, value);
}

// setsockopt(fd, level, name, value): an int, or the raw bytes of a struct (SO_LINGER).
static Napi::Value Setsockopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  int level = static_cast<int>(ArgInt(info, 1, "level", 0, INT_MAX));
  int name = static_cast<int>(ArgInt(info, 2, "name", 0, INT_MAX));
  int r;
  if (info[3].IsNumber() || info[3].IsBoolean()) {
    int value = info[3].IsBoolean() ? info[3].As<Napi::Boolean>().Value()
                                    : static_cast<int>(ArgInt(info, 3, "value", INT_MIN, INT_MAX));
    r = setsockopt(fd, level, name, &value, sizeof value);
  } else {
    if (!StructOption(level, name, false)) {
      ThrowArgRange(env, "name", "SO_LINGER, SO_RCVTIMEO, SO_SNDTIMEO or a multicast membership option when the value is bytes", info[2]);
    }
    Bytes b = ArgBytes(info, 3, "value");
    r = setsockopt(fd, level, name, b.data, static_cast<socklen_t>(b.len > INT_MAX ? INT_MAX : b.len));
  }
  if (r < 0) ThrowErrno(env, errno, "setsockopt");
  return env.Undefined();
}

static Napi::Value AddressObject(Napi::Env env, const struct sockaddr_storage& ss, socklen_t len) {
  Napi::Object o = Napi::Object::New(env);
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = "";
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const struct sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    o.Set("address", text);
    o.Set("port", ntohs(sin->sin_port));
    o.Set("family", "IPv4");
  } else if (ss.ss_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const struct sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    o.Set("address", text);
    o.Set("port", ntohs(sin6->sin6_port));
    o.Set("family", "IPv6");
  } else if (ss.ss_family == AF_UNIX) {
    auto* sun = reinterpret_cast<const struct sockaddr_un*>(&ss);
    size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
    // Pathname sockets carry a terminating NUL inside len; abstract ones start with NUL.
    if (n > 0 && sun->sun_path[0] != '\0') n = strnlen(sun->sun_path, n);
    o.Set("address", Napi::String::New(env, sun->sun_path, n));
    o.Set("port", -1);
    o.Set("family", "Unix");
  } else {
    o.Set("address", "");
    o.Set("port", -1);
    o.Set("family", Napi::Number::New(env, ss.ss_family));
  }
  return o;
}

static Napi::Value Getsockname(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) < 0) ThrowErrno(info.Env(), errno, "getsockname");
  return AddressObject(info.Env(), ss, len);
}

static Napi::Value Getpeername(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) < 0) ThrowErrno(info.Env(), errno, "getpeername");
  return AddressObject(info.Env(), ss, len);
}

// send(fd, buffer, offset?, length?, flags?): MSG_NOSIGNAL is always added, so writing to a peer
// that has gone away gives EPIPE and never SIGPIPE.
static Napi::Value Send(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  Bytes b = ArgByteRange(info, 1, "buffer");
  int flags = static_cast<int>(ArgIntOr(info, 4, "flags", 0, INT_MAX, 0));
  ssize_t n = RetryEintr([&] { return send(fd, b.data, b.len, flags | MSG_NOSIGNAL); });
  return IoResult(info.Env(), n, "send");
}

static Napi::Value Recv(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  Bytes b = ArgByteRange(info, 1, "buffer");
  int flags = static_cast<int>(ArgIntOr(info, 4, "flags", 0, INT_MAX, 0));
  ssize_t n = RetryEintr([&] { return recv(fd, b.data, b.len, flags); });
  return IoResult(info.Env(), n, "recv");
}

// sendmsg(fd, buffers): writev for sockets, with MSG_NOSIGNAL so a gone peer gives EPIPE, not
// SIGPIPE. Returns bytes sent or -EAGAIN.
static Napi::Value Sendmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "fd");
  int count = ArgIov(info, 1);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = Data(env)->iov.data();
  msg.msg_iovlen = static_cast<size_t>(count);
  ssize_t n = RetryEintr([&] { return sendmsg(fd, &msg, MSG_NOSIGNAL); });
  return IoResult(env, n, "sendmsg");
}

void InitSocket(Napi::Env env, Napi::Object exports) {
  SetFn(env, exports, "socket", Socket);
  SetFn(env, exports, "bind", Bind);
  SetFn(env, exports, "listen", Listen);
  SetFn(env, exports, "accept4", Accept4);
  SetFn(env, exports, "connect", Connect);
  SetFn(env, exports, "shutdown", Shutdown);
  SetFn(env, exports, "getsockopt", Getsockopt);
  SetFn(env, exports, "setsockopt", Setsockopt);
  SetFn(env, exports, "getsockname", Getsockname);
  SetFn(env, exports, "getpeername", Getpeername);
  SetFn(env, exports, "send", Send);
  SetFn(env, exports, "recv", Recv);
  SetFn(env, exports, "sendmsg", Sendmsg);
}

}  // namespace er
