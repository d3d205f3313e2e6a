// Child processes: posix_spawn, pidfd_open, waitid, pidfd_send_signal, socketpair.
//
// posix_spawn rather than fork + exec from here: glibc runs the child on a fresh stack with
// clone(CLONE_VM | CLONE_VFORK), so nothing of this (multi-threaded) process runs in the child
// but glibc's own async-signal-safe steps, and an exec failure (ENOENT, EACCES) or a failed
// file action (chdir) comes back as posix_spawn's result. No policy here: the file actions and
// attributes are whatever JavaScript asks for (lib/process decides stdio, cwd, signals).
#include "common.h"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace er {

// P_PIDFD (linux/wait.h): an idtype_t enum value, absent from glibc's headers before 2.36.
constexpr int kPPidfd = 3;

// socketpair(domain, type, protocol?) -> [fd0, fd1], always SOCK_CLOEXEC.
static Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int domain = static_cast<int>(ArgInt(info, 0, "domain", 0, INT_MAX));
  int type = static_cast<int>(ArgInt(info, 1, "type", 0, INT_MAX));
  int protocol = static_cast<int>(ArgIntOr(info, 2, "protocol", 0, INT_MAX, 0));
  int fds[2];
  if (socketpair(domain, type | SOCK_CLOEXEC, protocol, fds) < 0) ThrowErrno(env, errno, "socketpair");
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, fds[0]));
  result.Set(1u, Napi::Number::New(env, fds[1]));
  return result;
}

// A string without NUL bytes: a C string would silently end at the first one.
static std::string CString(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsString()) ThrowArgType(env, name, "of type string", v);
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) ThrowArgType(env, name, "a string without null bytes", v);
  return s;
}

// An Array of strings, as the NULL-terminated char* array execve takes. `storage` owns the bytes.
static std::vector<char*> CStringArray(Napi::Env env, Napi::Value v, const char* name, std::vector<std::string>& storage) {
  if (!v.IsArray()) ThrowArgType(env, name, "an instance of Array", v);
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  storage.reserve(n);
  for (uint32_t i = 0; i < n; i++) storage.push_back(CString(env, a.Get(i), name));
  std::vector<char*> out;
  out.reserve(n + 1);
  for (auto& s : storage) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Owns a posix_spawn_file_actions_t / posix_spawnattr_t for the length of one call.
struct SpawnArgs {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnArgs() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnArgs() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

// One file action: ['dup2', fd, newfd] | ['close', fd] | ['open', fd, path, oflag, mode] |
// ['chdir', path]. Returns posix_spawn_file_actions_add*'s result (0 or an errno).
static int AddAction(Napi::Env env, posix_spawn_file_actions_t* fa, Napi::Value v) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() == 0) {
    ThrowArgType(env, "actions", "an Array of ['dup2' | 'close' | 'open' | 'chdir', ...] arrays", v);
  }
  Napi::Array a = v.As<Napi::Array>();
  std::string op = CString(env, a.Get(0u), "actions[i][0]");
  auto fd = [&](uint32_t k, const char* name) {
    Napi::Value x = a.Get(k);
    if (!x.IsNumber()) ThrowArgType(env, name, "of type number", x);
    double d = x.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= INT_MAX) || d != static_cast<double>(static_cast<int>(d))) {
      ThrowArgRange(env, name, ">= 0 && <= 2147483647", x);
    }
    return static_cast<int>(d);
  };
  if (op == "dup2") return posix_spawn_file_actions_adddup2(fa, fd(1, "fd"), fd(2, "newfd"));
  if (op == "close") return posix_spawn_file_actions_addclose(fa, fd(1, "fd"));
  if (op == "open") {
    std::string path = CString(env, a.Get(2u), "path");
    return posix_spawn_file_actions_addopen(fa, fd(1, "fd"), path.c_str(), fd(3, "oflag"), static_cast<mode_t>(fd(4, "mode")));
  }
  if (op == "chdir") {
    std::string path = CString(env, a.Get(1u), "path");
    return posix_spawn_file_actions_addchdir_np(fa, path.c_str());
  }
  ThrowArgRange(env, "actions[i][0]", "'dup2', 'close', 'open' or 'chdir'", a.Get(0u));
}

// posix_spawn(path, argv, envp, actions?, flags?) -> pid.
// flags: POSIX_SPAWN_* bits. With POSIX_SPAWN_SETSIGDEF every signal is set to its default
// action in the child; with POSIX_SPAWN_SETSIGMASK the child's signal mask is empty;
// POSIX_SPAWN_SETPGROUP puts the child in a new process group of its own.
static Napi::Value PosixSpawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = CString(env, info[0], "path");
  std::vector<std::string> argvStore, envStore;
  std::vector<char*> argv = CStringArray(env, info[1], "argv", argvStore);
  std::vector<char*> envp = CStringArray(env, info[2], "envp", envStore);
  int flags = static_cast<int>(ArgIntOr(info, 4, "flags", 0, INT16_MAX, 0));
  SpawnArgs sa;
  if (!info[3].IsUndefined()) {
    if (!info[3].IsArray()) ThrowArgType(env, "actions", "an instance of Array", info[3]);
    Napi::Array actions = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < actions.Length(); i++) {
      int rc = AddAction(env, &sa.actions, actions.Get(i));
      if (rc != 0) ThrowErrno(env, rc, "posix_spawn");
    }
  }
  if (flags & POSIX_SPAWN_SETSIGDEF) {
    // Every bit set, not sigfillset(): that leaves out glibc's internal signals (32, 33), and
    // glibc's posix_spawn sets those to SIG_IGN in the child, which exec would then keep.
    sigset_t all;
    memset(&all, 0xff, sizeof all);
    posix_spawnattr_setsigdefault(&sa.attr, &all);
  }
  if (flags & POSIX_SPAWN_SETSIGMASK) {
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&sa.attr, &none);
  }
  int rc = posix_spawnattr_setflags(&sa.attr, static_cast<short>(flags));
  if (rc != 0) ThrowErrno(env, rc, "posix_spawn");
  pid_t pid;
  rc = posix_spawn(&pid, path.c_str(), &sa.actions, &sa.attr, argv.data(), envp.data());
  if (rc != 0) ThrowErrno(env, rc, "posix_spawn");
  return Napi::Number::New(env, pid);
}

// pidfd_open(pid, flags?) -> a pidfd (the kernel makes it close-on-exec). It turns readable
// when the process exits.
static Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int pid = static_cast<int>(ArgInt(info, 0, "pid", 1, INT_MAX));
  unsigned flags = static_cast<unsigned>(ArgIntOr(info, 1, "flags", 0, INT_MAX, 0));
  long fd = syscall(SYS_pidfd_open, pid, flags);
  if (fd < 0) ThrowErrno(info.Env(), errno, "pidfd_open");
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

// pidfd_send_signal(pidfd, sig, flags?): no siginfo (the kernel fills it as kill(2) does).
static Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "pidfd");
  int sig = static_cast<int>(ArgInt(info, 1, "sig", 0, INT_MAX));
  unsigned flags = static_cast<unsigned>(ArgIntOr(info, 2, "flags", 0, INT_MAX, 0));
  if (syscall(SYS_pidfd_send_signal, fd, sig, nullptr, flags) < 0) ThrowErrno(info.Env(), errno, "pidfd_send_signal");
  return info.Env().Undefined();
}

// waitid(idtype, id, options) -> { pid, code, status }, or null when WNOHANG found no child in
// a waitable state. code is si_code (CLD_EXITED: status is the exit code; CLD_KILLED,
// CLD_DUMPED: status is the signal number; CLD_STOPPED, CLD_CONTINUED).
static Napi::Value Waitid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int idtype = static_cast<int>(ArgInt(info, 0, "idtype", 0, INT_MAX));
  int64_t id = ArgInt(info, 1, "id", 0, INT_MAX);
  int options = static_cast<int>(ArgInt(info, 2, "options", 0, INT_MAX));
  siginfo_t si;
  si.si_pid = 0;  // waitid(2): with WNOHANG and nothing waitable, si_pid stays 0 (zero it first)
  int r = RetryEintr([&] { return waitid(static_cast<idtype_t>(idtype), static_cast<id_t>(id), &si, options); });
  if (r < 0) ThrowErrno(env, errno, "waitid");
  if (si.si_pid == 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, si.si_pid));
  o.Set("code", Napi::Number::New(env, si.si_code));
  o.Set("status", Napi::Number::New(env, si.si_status));
  return o;
}

void InitProcess(Napi::Env env, Napi::Object exports) {
  SetFn(env, exports, "socketpair", Socketpair);
  SetFn(env, exports, "posix_spawn", PosixSpawn);
  SetFn(env, exports, "pidfd_open", PidfdOpen);
  SetFn(env, exports, "pidfd_send_signal", PidfdSendSignal);
  SetFn(env, exports, "waitid", Waitid);
  Napi::Object constants = exports.Get("constants").As<Napi::Object>();
#define X(name) constants.Set(#name, Napi::Number::New(env, static_cast<double>(name)));
  X(POSIX_SPAWN_SETSIGDEF) X(POSIX_SPAWN_SETSIGMASK) X(POSIX_SPAWN_SETPGROUP) X(POSIX_SPAWN_SETSID)
  X(P_PID) X(P_ALL) X(WEXITED) X(WNOHANG) X(WNOWAIT) X(WSTOPPED) X(WCONTINUED)
  X(CLD_EXITED) X(CLD_KILLED) X(CLD_DUMPED) X(CLD_STOPPED) X(CLD_CONTINUED) X(O_RDONLY) X(O_WRONLY) X(O_RDWR)
#undef X
  constants.Set("P_PIDFD", Napi::Number::New(env, kPPidfd));
  constants.Set("PIDFD_NONBLOCK", Napi::Number::New(env, O_NONBLOCK));  // linux/pidfd.h defines it as O_NONBLOCK
}

}  // namespace er
