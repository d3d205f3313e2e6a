// The drivers' glue with Node's own libuv loop, policy-free.
//
// Attached: a uv_poll_t watches our epoll fd on Node's loop, and calls back into JavaScript when
// it turns readable (its ready list is non-empty). Standalone: a uv_prepare_t calls back into
// JavaScript each time Node's loop is about to poll — where the standalone driver sleeps, in our
// own epoll set, which holds libuv's epoll fd — and a uv_idle_t, started on request, keeps that
// poll from blocking when we come back with work of ours to do. Every callback goes through
// napi_make_callback with an async context, so Node drains process.nextTick and promise jobs
// after it, exactly as after its own callbacks; an exception it throws is raised as
// 'uncaughtException'.
#include "common.h"

#include <uv.h>

#include <algorithm>
#include <cstdint>

namespace er {

struct DriverHandle;

// The live handles of one environment, and what its teardown waits for. Closing a uv handle
// is asynchronous: its close callback runs on a later loop turn, and that callback is code of
// this addon, which a worker thread's teardown unloads. So the environment's teardown is an
// async cleanup hook (napi_add_async_cleanup_hook): it closes what is open and Node keeps
// spinning the loop until the last close callback has run and removed the hook (issue #20).
// This struct is freed by whichever comes last, the hook or the last close callback — never
// by the instance data, which Node may free first.
struct PollSet {
  std::vector<DriverHandle*> live;
  int closing = 0;                               // uv_close callbacks still to come
  napi_async_cleanup_hook_handle hook = nullptr; // set once teardown has begun
};

enum class Kind { kPoll, kStandalone };

// One JavaScript callback on Node's loop, and the uv handles that call it.
struct DriverHandle {
  Kind kind;
  uv_poll_t poll;        // kPoll
  uv_prepare_t prepare;  // kStandalone
  uv_idle_t idle;        // kStandalone
  int open = 0;          // uv handles not yet closed
  napi_env env;
  Napi::FunctionReference callback;
  napi_async_context context = nullptr;
  PollSet* set;
};

// Teardown is over when it has begun and nothing is left closing.
static void FinishIfDone(PollSet* set) {
  if (set->hook == nullptr || set->closing > 0) return;
  napi_remove_async_cleanup_hook(set->hook);
  delete set;
}

static void OnClosed(uv_handle_t* handle) {
  auto* h = static_cast<DriverHandle*>(handle->data);
  if (--h->open > 0) return;
  PollSet* set = h->set;
  delete h;
  set->closing--;
  FinishIfDone(set);
}

static void Close(DriverHandle* h, uv_handle_t* handle) {
  h->open++;
  uv_close(handle, OnClosed);
}

static void Release(DriverHandle* h) {
  auto& live = h->set->live;
  live.erase(std::remove(live.begin(), live.end(), h), live.end());
  if (h->context) napi_async_destroy(h->env, h->context);
  h->context = nullptr;
  h->callback.Reset();
  h->set->closing++;
  if (h->kind == Kind::kPoll) {
    uv_poll_stop(&h->poll);
    Close(h, reinterpret_cast<uv_handle_t*>(&h->poll));
  } else {
    uv_prepare_stop(&h->prepare);
    uv_idle_stop(&h->idle);
    Close(h, reinterpret_cast<uv_handle_t*>(&h->prepare));
    Close(h, reinterpret_cast<uv_handle_t*>(&h->idle));
  }
}

// The environment is going away (a worker's end, or the main thread's): close every handle
// still open, and let Node wait for their close callbacks.
static void OnTeardown(napi_async_cleanup_hook_handle hook, void* arg) {
  auto* set = static_cast<PollSet*>(arg);
  set->hook = hook;
  while (!set->live.empty()) Release(set->live.back());
  FinishIfDone(set);
}

// Called by libuv, outside any Node-API callback: a C++ exception thrown here would reach
// libuv's C frames and end the process (std::terminate). So only the C API, its failures
// ignored — they happen while a worker is being terminated, when no JavaScript may run.
static void CallJs(DriverHandle* h, int status) {
  napi_env env = h->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value recv, fn, arg, result;
  // recv must be an object: napi_make_callback converts it.
  if (napi_get_global(env, &recv) == napi_ok && napi_get_reference_value(env, h->callback, &fn) == napi_ok && fn != nullptr &&
      napi_create_int32(env, status, &arg) == napi_ok &&
      napi_make_callback(env, h->context, recv, fn, 1, &arg, &result) == napi_pending_exception) {
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

static void OnReadable(uv_poll_t* poll, int status, int /*events*/) {
  CallJs(static_cast<DriverHandle*>(poll->data), status);
}

// Before Node's loop polls: its own idle request is over (it asks again if it wants the poll
// not to block), and the standalone driver takes its turn.
static void OnPrepare(uv_prepare_t* prepare) {
  auto* h = static_cast<DriverHandle*>(prepare->data);
  uv_idle_stop(&h->idle);
  CallJs(h, 0);
}

static void OnIdle(uv_idle_t* /*idle*/) {}

static uv_loop_t* NodeLoop(Napi::Env env, const char* syscall) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) ThrowErrno(env, ENOSYS, syscall);
  return loop;
}

static DriverHandle* NewHandle(const Napi::CallbackInfo& info, size_t i, Kind kind) {
  Napi::Env env = info.Env();
  if (!info[i].IsFunction()) ThrowArgType(env, "callback", "of type function", info[i]);
  auto* h = new DriverHandle();
  h->kind = kind;
  h->env = env;
  h->set = Data(env)->polls;
  h->callback = Napi::Persistent(info[i].As<Napi::Function>());
  napi_value name = Napi::String::New(env, "EpollReactor");
  napi_async_init(env, Napi::Object::New(env), name, &h->context);
  return h;
}

// uv_poll_start(epfd, callback) -> handle. The handle starts referenced (it keeps Node alive).
static Napi::Value AttachStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd = ArgFd(info, 0, "epfd");
  if (!info[1].IsFunction()) ThrowArgType(env, "callback", "of type function", info[1]);
  uv_loop_t* loop = NodeLoop(env, "uv_poll_init");
  DriverHandle* h = NewHandle(info, 1, Kind::kPoll);
  int r = uv_poll_init(loop, &h->poll, epfd);
  if (r < 0) {
    if (h->context) napi_async_destroy(env, h->context);
    delete h;
    ThrowErrno(env, -r, "uv_poll_init");
  }
  h->poll.data = h;
  h->set->live.push_back(h);
  r = uv_poll_start(&h->poll, UV_READABLE, OnReadable);
  if (r < 0) {
    Release(h);
    ThrowErrno(env, -r, "uv_poll_start");
  }
  return Napi::External<DriverHandle>::New(env, h);
}

// standalone_start(callback) -> handle: the callback runs before each poll of Node's loop. The
// prepare handle is referenced (Node's loop runs on while we do); the idle one is not.
static Napi::Value StandaloneStart(const Napi::CallbackInfo& info) {
  uv_loop_t* loop = NodeLoop(info.Env(), "uv_prepare_init");
  DriverHandle* h = NewHandle(info, 0, Kind::kStandalone);
  uv_prepare_init(loop, &h->prepare);  // these two cannot fail
  uv_idle_init(loop, &h->idle);
  h->prepare.data = h;
  h->idle.data = h;
  uv_unref(reinterpret_cast<uv_handle_t*>(&h->idle));
  h->set->live.push_back(h);
  uv_prepare_start(&h->prepare, OnPrepare);
  return Napi::External<DriverHandle>::New(info.Env(), h);
}

static DriverHandle* ArgHandle(const Napi::CallbackInfo& info, Kind kind) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) ThrowArgType(env, "handle", "a handle of a driver", info[0]);
  DriverHandle* h = info[0].As<Napi::External<DriverHandle>>().Data();
  auto& live = Data(env)->polls->live;
  // A handle already stopped (or from another instance) is refused, never dereferenced.
  if (std::find(live.begin(), live.end(), h) == live.end() || h->kind != kind) ThrowErrno(env, EBADF, "uv_handle");
  return h;
}

// uv_ref / uv_unref: whether this handle keeps Node's loop (and so the process) alive.
static Napi::Value AttachRef(const Napi::CallbackInfo& info) {
  DriverHandle* h = ArgHandle(info, Kind::kPoll);
  if (!info[1].IsBoolean()) ThrowArgType(info.Env(), "ref", "of type boolean", info[1]);
  if (info[1].As<Napi::Boolean>().Value()) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&h->poll));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(&h->poll));
  }
  return info.Env().Undefined();
}

static Napi::Value AttachStop(const Napi::CallbackInfo& info) {
  Release(ArgHandle(info, Kind::kPoll));
  return info.Env().Undefined();
}

// standalone_idle(handle, on): whether Node's next poll must not block (uv_idle_start/stop).
static Napi::Value StandaloneIdle(const Napi::CallbackInfo& info) {
  DriverHandle* h = ArgHandle(info, Kind::kStandalone);
  if (!info[1].IsBoolean()) ThrowArgType(info.Env(), "on", "of type boolean", info[1]);
  if (info[1].As<Napi::Boolean>().Value()) {
    uv_idle_start(&h->idle, OnIdle);
  } else {
    uv_idle_stop(&h->idle);
  }
  return info.Env().Undefined();
}

static Napi::Value StandaloneStop(const Napi::CallbackInfo& info) {
  Release(ArgHandle(info, Kind::kStandalone));
  return info.Env().Undefined();
}

// ── The standalone driver's view of Node's loop ─────────────────────────────────────────────
// Standalone, we sleep and libuv does not: its epoll fd sits in our epoll set (uv_backend_fd),
// and our sleep ends by the instant libuv must run next (node_loop_next). Neither call runs
// libuv; the driver lets Node's loop take its turn by returning to it.

// uv_backend_fd(): the epoll fd libuv polls.
static Napi::Value UvBackendFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), uv_backend_fd(NodeLoop(info.Env(), "uv_backend_fd")));
}

static void EarliestTimer(uv_handle_t* handle, void* arg) {
  if (handle->type != UV_TIMER || !uv_is_active(handle)) return;
  auto* due = static_cast<uint64_t*>(arg);
  *due = std::min(*due, uv_timer_get_due_in(reinterpret_cast<uv_timer_t*>(handle)));
}

// node_loop_next() -> when libuv must run next, in uv_now()'s milliseconds (CLOCK_MONOTONIC):
// 0 if it has work now (a due timer, pending or closing callbacks, Node immediates), -1 if
// nothing but I/O can wake it (which reaches us through its epoll fd). uv_backend_timeout says
// 0 both for "work now" and for "nothing referenced at all"; in the second case the timers
// that are left are unreferenced ones, which still fire while our loop keeps the process up,
// so they are looked up one by one (there are few: Node keeps one uv timer for all of its own).
static Napi::Value NodeLoopNext(const Napi::CallbackInfo& info) {
  uv_loop_t* loop = NodeLoop(info.Env(), "uv_backend_timeout");
  double now = static_cast<double>(uv_now(loop));
  if (uv_loop_alive(loop)) {
    int timeout = uv_backend_timeout(loop);
    return Napi::Number::New(info.Env(), timeout < 0 ? -1 : timeout == 0 ? 0 : now + timeout);
  }
  uint64_t due = UINT64_MAX;
  uv_walk(loop, EarliestTimer, &due);
  if (due == UINT64_MAX) return Napi::Number::New(info.Env(), -1);
  return Napi::Number::New(info.Env(), due == 0 ? 0 : now + static_cast<double>(due));
}

void InitAttach(Napi::Env env, Napi::Object exports, AddonData* data) {
  data->polls = new PollSet();
  napi_async_cleanup_hook_handle ignored;
  if (napi_add_async_cleanup_hook(env, OnTeardown, data->polls, &ignored) != napi_ok) {
    delete data->polls;
    data->polls = nullptr;
    NAPI_THROW_VOID(Napi::Error::New(env, "epoll-reactor: napi_add_async_cleanup_hook failed"));
  }
  SetFn(env, exports, "attach_start", AttachStart);
  SetFn(env, exports, "attach_ref", AttachRef);
  SetFn(env, exports, "attach_stop", AttachStop);
  SetFn(env, exports, "standalone_start", StandaloneStart);
  SetFn(env, exports, "standalone_idle", StandaloneIdle);
  SetFn(env, exports, "standalone_stop", StandaloneStop);
  SetFn(env, exports, "uv_backend_fd", UvBackendFd);
  SetFn(env, exports, "node_loop_next", NodeLoopNext);
}

}  // namespace er
