// Constants straight from the C headers: the TypeScript side never retypes a number.
#include "common.h"

#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>

namespace er {

#define ER_CONSTANTS(X)                                                                          \
  X(EPOLLIN) X(EPOLLOUT) X(EPOLLRDHUP) X(EPOLLPRI) X(EPOLLERR) X(EPOLLHUP) X(EPOLLET)            \
  X(EPOLLONESHOT) X(EPOLLEXCLUSIVE) X(EPOLLWAKEUP) X(EPOLL_CTL_ADD) X(EPOLL_CTL_MOD)             \
  X(EPOLL_CTL_DEL) X(EPOLL_CLOEXEC) X(O_NONBLOCK) X(O_CLOEXEC) X(F_GETFL) X(F_SETFL) X(F_GETFD)   \
  X(F_SETFD) X(F_DUPFD_CLOEXEC) X(F_GETPIPE_SZ) X(F_SETPIPE_SZ) X(FD_CLOEXEC) X(TFD_NONBLOCK)   \
  X(TFD_CLOEXEC) X(TFD_TIMER_ABSTIME) X(CLOCK_MONOTONIC) X(CLOCK_REALTIME) X(CLOCK_BOOTTIME)  \
  X(CLOCK_PROCESS_CPUTIME_ID) X(CLOCK_THREAD_CPUTIME_ID)     \
  X(AF_INET) X(AF_INET6) X(AF_UNIX) X(SOCK_STREAM) X(SOCK_DGRAM) X(SOCK_NONBLOCK) X(SOCK_CLOEXEC) \
  X(SOL_SOCKET) X(SO_REUSEADDR) X(SO_REUSEPORT) X(SO_ERROR) X(SO_KEEPALIVE) X(SO_RCVBUF)          \
  X(SO_SNDBUF) X(SO_LINGER) X(SO_DOMAIN) X(SO_TYPE) X(SO_ACCEPTCONN) X(IPPROTO_TCP)              \
  X(TCP_NODELAY) X(TCP_KEEPIDLE) X(TCP_KEEPINTVL) X(TCP_KEEPCNT) X(SHUT_RD) X(SHUT_WR)           \
  X(SHUT_RDWR) X(EFD_NONBLOCK) X(EFD_CLOEXEC) X(EFD_SEMAPHORE) X(MSG_NOSIGNAL) X(MSG_PEEK)       \
  X(MSG_DONTWAIT) X(POLLIN) X(POLLOUT) X(POLLPRI) X(POLLERR) X(POLLHUP) X(POLLNVAL) X(POLLRDHUP)  \
  X(SOMAXCONN)

#define ER_ERRNOS(X)                                                                             \
  X(EPERM) X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(ENXIO) X(E2BIG) X(ENOEXEC) X(EBADF) X(ECHILD)    \
  X(EAGAIN) X(EWOULDBLOCK) X(ENOMEM) X(EACCES) X(EFAULT) X(EBUSY) X(EEXIST) X(EXDEV) X(ENODEV)   \
  X(ENOTDIR) X(EISDIR) X(EINVAL) X(ENFILE) X(EMFILE) X(ENOTTY) X(EFBIG) X(ENOSPC) X(ESPIPE)      \
  X(EROFS) X(EMLINK) X(EPIPE) X(ERANGE) X(ENAMETOOLONG) X(ENOSYS) X(ENOTEMPTY) X(ELOOP)          \
  X(ENOTSOCK) X(EDESTADDRREQ) X(EMSGSIZE) X(EPROTOTYPE) X(ENOPROTOOPT) X(EPROTONOSUPPORT)       \
  X(EOPNOTSUPP) X(EAFNOSUPPORT) X(EADDRINUSE) X(EADDRNOTAVAIL) X(ENETDOWN) X(ENETUNREACH)        \
  X(ECONNABORTED) X(ECONNRESET) X(ENOBUFS) X(EISCONN) X(ENOTCONN) X(ETIMEDOUT) X(ECONNREFUSED)   \
  X(EHOSTUNREACH) X(EALREADY) X(EINPROGRESS) X(ECANCELED)

void InitConstants(Napi::Env env, Napi::Object exports) {
  Napi::Object constants = Napi::Object::New(env);
#define X(name) constants.Set(#name, Napi::Number::New(env, static_cast<double>(name)));
  ER_CONSTANTS(X)
#undef X
  Napi::Object errnos = Napi::Object::New(env);
#define X(name) errnos.Set(#name, Napi::Number::New(env, name));
  ER_ERRNOS(X)
#undef X
  exports.Set("constants", constants);
  exports.Set("errno", errnos);
}

}  // namespace er
