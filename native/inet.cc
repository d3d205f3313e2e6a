// What UDP needs besides recvmmsg/sendmmsg (udp.cc): connect(AF_UNSPEC), inet_pton / inet_ntop,
// if_nametoindex / if_indextoname, and builders for the multicast membership structs that
// setsockopt takes as bytes (udp.cc registers these with its own functions).
#include "common.h"

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace er {

// connect(fd, { sa_family: AF_UNSPEC }): dissolves a datagram socket's association (connect(2)).
// Linux answers EAFNOSUPPORT on some kernels after doing it; that is not a failure here.
static Napi::Value ConnectUnspec(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  struct sockaddr sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_family = AF_UNSPEC;
  if (connect(fd, &sa, sizeof sa) < 0 && errno != EAFNOSUPPORT) ThrowErrno(info.Env(), errno, "connect");
  return info.Env().Undefined();
}

static int ArgFamily(const Napi::CallbackInfo& info, size_t i, const char* syscall) {
  int af = static_cast<int>(ArgInt(info, i, "af", 0, INT_MAX));
  if (af != AF_INET && af != AF_INET6) ThrowErrno(info.Env(), EAFNOSUPPORT, syscall);
  return af;
}

// inet_pton(af, src) -> a Buffer of the 4 or 16 address bytes, or null when src is not an
// address of that family (C's 0).
static Napi::Value InetPton(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int af = ArgFamily(info, 0, "inet_pton");
  std::string src = ArgString(info, 1, "src");
  uint8_t out[16];
  if (src.find('\0') != std::string::npos || inet_pton(af, src.c_str(), out) != 1) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, out, af == AF_INET ? 4 : 16);
}

// inet_ntop(af, bytes) -> the text form of the first 4 (AF_INET) or 16 (AF_INET6) bytes.
static Napi::Value InetNtop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int af = ArgFamily(info, 0, "inet_ntop");
  Bytes b = ArgBytes(info, 1, "src");
  size_t need = af == AF_INET ? 4 : 16;
  if (b.len < need) ThrowArgRange(env, "src.byteLength", ">= " + std::to_string(need), Napi::Number::New(env, static_cast<double>(b.len)));
  uint8_t in[16];
  memcpy(in, b.data, need);
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(af, in, text, sizeof text) == nullptr) ThrowErrno(env, errno, "inet_ntop");
  return Napi::String::New(env, text);
}

// if_nametoindex(name) -> the interface's index; throws ENODEV (C returns 0) for no such interface.
static Napi::Value IfNametoindex(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  if (name.find('\0') != std::string::npos) ThrowArgType(info.Env(), "name", "a string without null bytes", info[0]);
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) ThrowErrno(info.Env(), errno != 0 ? errno : ENODEV, "if_nametoindex");
  return Napi::Number::New(info.Env(), idx);
}

// if_indextoname(index) -> the interface's name; throws ENXIO for no such index.
static Napi::Value IfIndextoname(const Napi::CallbackInfo& info) {
  unsigned idx = static_cast<unsigned>(ArgInt(info, 0, "index", 0, UINT32_MAX));
  char name[IF_NAMESIZE];
  if (if_indextoname(idx, name) == nullptr) ThrowErrno(info.Env(), errno, "if_indextoname");
  return Napi::String::New(info.Env(), name);
}

// An address literal of family af at argument i, for a struct builder.
static void ArgAddr(const Napi::CallbackInfo& info, size_t i, const char* name, int af, void* out) {
  std::string s = ArgString(info, i, name);
  if (s.find('\0') != std::string::npos || inet_pton(af, s.c_str(), out) != 1) {
    ThrowArgType(info.Env(), name, af == AF_INET ? "an IPv4 address literal" : "an IPv6 address literal", info[i]);
  }
}

template <typename T>
static Napi::Value StructBytes(Napi::Env env, const T& v) {
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(&v), sizeof v);
}

// ip_mreq(group, iface = '0.0.0.0'): struct ip_mreq for IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP.
static Napi::Value IpMreq(const Napi::CallbackInfo& info) {
  struct ip_mreq m;
  memset(&m, 0, sizeof m);
  ArgAddr(info, 0, "group", AF_INET, &m.imr_multiaddr);
  if (!info[1].IsUndefined()) ArgAddr(info, 1, "iface", AF_INET, &m.imr_interface);
  return StructBytes(info.Env(), m);
}

// ip_mreq_source(group, iface, source): for IP_ADD_SOURCE_MEMBERSHIP / IP_DROP_SOURCE_MEMBERSHIP.
static Napi::Value IpMreqSource(const Napi::CallbackInfo& info) {
  struct ip_mreq_source m;
  memset(&m, 0, sizeof m);
  ArgAddr(info, 0, "group", AF_INET, &m.imr_multiaddr);
  ArgAddr(info, 1, "iface", AF_INET, &m.imr_interface);
  ArgAddr(info, 2, "source", AF_INET, &m.imr_sourceaddr);
  return StructBytes(info.Env(), m);
}

// ipv6_mreq(group, ifindex = 0): for IPV6_ADD_MEMBERSHIP / IPV6_DROP_MEMBERSHIP.
static Napi::Value Ipv6Mreq(const Napi::CallbackInfo& info) {
  struct ipv6_mreq m;
  memset(&m, 0, sizeof m);
  ArgAddr(info, 0, "group", AF_INET6, &m.ipv6mr_multiaddr);
  m.ipv6mr_interface = static_cast<unsigned>(ArgIntOr(info, 1, "ifindex", 0, UINT32_MAX, 0));
  return StructBytes(info.Env(), m);
}

// group_source_req(ifindex, group, source): for MCAST_JOIN_SOURCE_GROUP / MCAST_LEAVE_SOURCE_GROUP
// (IPv4 or IPv6 addresses; both of one family).
static Napi::Value GroupSourceReq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct group_source_req g;
  memset(&g, 0, sizeof g);
  g.gsr_interface = static_cast<uint32_t>(ArgInt(info, 0, "ifindex", 0, UINT32_MAX));
  std::string group = ArgString(info, 1, "group");
  int af = group.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  for (size_t i = 1; i <= 2; i++) {
    auto* ss = i == 1 ? &g.gsr_group : &g.gsr_source;
    if (af == AF_INET) {
      auto* sin = reinterpret_cast<struct sockaddr_in*>(ss);
      sin->sin_family = AF_INET;
      ArgAddr(info, i, i == 1 ? "group" : "source", AF_INET, &sin->sin_addr);
    } else {
      auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(ss);
      sin6->sin6_family = AF_INET6;
      ArgAddr(info, i, i == 1 ? "group" : "source", AF_INET6, &sin6->sin6_addr);
    }
  }
  return StructBytes(env, g);
}

void InitInet(Napi::Env env, Napi::Object exports) {
  SetFn(env, exports, "connect_unspec", ConnectUnspec);
  SetFn(env, exports, "inet_pton", InetPton);
  SetFn(env, exports, "inet_ntop", InetNtop);
  SetFn(env, exports, "if_nametoindex", IfNametoindex);
  SetFn(env, exports, "if_indextoname", IfIndextoname);
  SetFn(env, exports, "ip_mreq", IpMreq);
  SetFn(env, exports, "ip_mreq_source", IpMreqSource);
  SetFn(env, exports, "ipv6_mreq", Ipv6Mreq);
  SetFn(env, exports, "group_source_req", GroupSourceReq);
}

}  // namespace er
