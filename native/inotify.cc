// inotify: one fd that becomes readable when watched paths change. The events are read with
// read(2) like any fd (sys.read) and parsed on the JavaScript side; here are only the three
// calls that make and change the watch list, and the IN_* constants.
#include "common.h"

#include <cerrno>
#include <climits>
#include <sys/inotify.h>

namespace er {

// inotify_init1(flags) -> fd (always IN_CLOEXEC).
static Napi::Value InotifyInit1(const Napi::CallbackInfo& info) {
  int flags = static_cast<int>(ArgIntOr(info, 0, "flags", 0, INT_MAX, 0));
  int fd = inotify_init1(flags | IN_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), errno, "inotify_init1");
  return Napi::Number::New(info.Env(), fd);
}

// inotify_add_watch(fd, path, mask) -> the watch descriptor (the same one again for a path
// already watched: the kernel replaces its mask, or ORs it with IN_MASK_ADD).
static Napi::Value InotifyAddWatch(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  std::string path = ArgString(info, 1, "path");
  uint32_t mask = static_cast<uint32_t>(ArgInt(info, 2, "mask", 0, UINT32_MAX));
  int wd = inotify_add_watch(fd, path.c_str(), mask);
  if (wd < 0) ThrowErrno(info.Env(), errno, "inotify_add_watch");
  return Napi::Number::New(info.Env(), wd);
}

// inotify_rm_watch(fd, wd) -> undefined. The kernel then queues IN_IGNORED for wd.
static Napi::Value InotifyRmWatch(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  int wd = static_cast<int>(ArgInt(info, 1, "wd", 0, INT_MAX));
  if (inotify_rm_watch(fd, wd) < 0) ThrowErrno(info.Env(), errno, "inotify_rm_watch");
  return info.Env().Undefined();
}

#define ER_INOTIFY_CONSTANTS(X)                                                                  \
  X(IN_NONBLOCK) X(IN_CLOEXEC) X(IN_ACCESS) X(IN_MODIFY) X(IN_ATTRIB) X(IN_CLOSE_WRITE)         \
  X(IN_CLOSE_NOWRITE) X(IN_OPEN) X(IN_MOVED_FROM) X(IN_MOVED_TO) X(IN_CREATE) X(IN_DELETE)      \
  X(IN_DELETE_SELF) X(IN_MOVE_SELF) X(IN_UNMOUNT) X(IN_Q_OVERFLOW) X(IN_IGNORED) X(IN_ONLYDIR)  \
  X(IN_DONT_FOLLOW) X(IN_EXCL_UNLINK) X(IN_MASK_ADD) X(IN_ISDIR) X(IN_ONESHOT) X(IN_ALL_EVENTS)

void InitInotify(Napi::Env env, Napi::Object exports) {
  SetFn(env, exports, "inotify_init1", InotifyInit1);
  SetFn(env, exports, "inotify_add_watch", InotifyAddWatch);
  SetFn(env, exports, "inotify_rm_watch", InotifyRmWatch);
  Napi::Object constants = exports.Get("constants").As<Napi::Object>();
#define X(name) constants.Set(#name, Napi::Number::New(env, static_cast<double>(name)));
  ER_INOTIFY_CONSTANTS(X)
#undef X
}

}  // namespace er
