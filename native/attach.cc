// The attached driver's one piece of native policy-free glue: watch an epoll fd with a libuv
// uv_poll_t on Node's own loop, and call back into JavaScript when it turns readable (its ready
// list is non-empty). The callback goes through napi_make_callback with an async context, so
// Node drains process.nextTick and promise jobs after it, exactly as after its own callbacks;
// an exception it throws is raised as 'uncaughtException'.
#include "common.h"

#include <uv.h>

#include <algorithm>

namespace er {

struct UvPollHandle;

// The live handles of one environment, and what its teardown waits for. Closing a uv handle
// is asynchronous: its close callback runs on a later loop turn, and that callback is code of
// this addon, which a worker thread's teardown unloads. So the environment's teardown is an
// async cleanup hook (napi_add_async_cleanup_hook): it closes what is open and Node keeps
// spinning the loop until the last close callback has run and removed the hook (issue #20).
// This struct is freed by whichever comes last, the hook or the last close callback — never
// by the instance data, which Node may free first.
struct PollSet {
  std::vector<UvPollHandle*> live;
  int closing = 0;                               // uv_close callbacks still to come
  napi_async_cleanup_hook_handle hook = nullptr; // set once teardown has begun
};

struct UvPollHandle {
  uv_poll_t poll;
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
  auto* h = static_cast<UvPollHandle*>(handle->data);
  PollSet* set = h->set;
  delete h;
  set->closing--;
  FinishIfDone(set);
}

static void Release(UvPollHandle* h) {
  auto& live = h->set->live;
  live.erase(std::remove(live.begin(), live.end(), h), live.end());
  if (h->context) napi_async_destroy(h->env, h->context);
  h->context = nullptr;
  h->callback.Reset();
  uv_poll_stop(&h->poll);
  h->set->closing++;
  uv_close(reinterpret_cast<uv_handle_t*>(&h->poll), OnClosed);
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
static void OnReadable(uv_poll_t* poll, int status, int /*events*/) {
  auto* h = static_cast<UvPollHandle*>(poll->data);
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

// uv_poll_start(epfd, callback) -> handle. The handle starts referenced (it keeps Node alive).
static Napi::Value AttachStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd = ArgFd(info, 0, "epfd");
  if (!info[1].IsFunction()) ThrowArgType(env, "callback", "of type function", info[1]);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) ThrowErrno(env, ENOSYS, "uv_poll_init");
  auto* h = new UvPollHandle();
  h->env = env;
  h->set = Data(env)->polls;
  int r = uv_poll_init(loop, &h->poll, epfd);
  if (r < 0) {
    delete h;
    ThrowErrno(env, -r, "uv_poll_init");
  }
  h->poll.data = h;
  h->callback = Napi::Persistent(info[1].As<Napi::Function>());
  napi_value name = Napi::String::New(env, "EpollReactor");
  napi_async_init(env, Napi::Object::New(env), name, &h->context);
  h->set->live.push_back(h);
  r = uv_poll_start(&h->poll, UV_READABLE, OnReadable);
  if (r < 0) {
    Release(h);
    ThrowErrno(env, -r, "uv_poll_start");
  }
  return Napi::External<UvPollHandle>::New(env, h);
}

static UvPollHandle* ArgHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) ThrowArgType(env, "handle", "a handle returned by attach_start", info[0]);
  UvPollHandle* h = info[0].As<Napi::External<UvPollHandle>>().Data();
  auto& live = Data(env)->polls->live;
  // A handle already stopped (or from another instance) is refused, never dereferenced.
  if (std::find(live.begin(), live.end(), h) == live.end()) ThrowErrno(env, EBADF, "uv_poll");
  return h;
}

// uv_ref / uv_unref: whether this handle keeps Node's loop (and so the process) alive.
static Napi::Value AttachRef(const Napi::CallbackInfo& info) {
  UvPollHandle* h = ArgHandle(info);
  if (!info[1].IsBoolean()) ThrowArgType(info.Env(), "ref", "of type boolean", info[1]);
  if (info[1].As<Napi::Boolean>().Value()) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&h->poll));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(&h->poll));
  }
  return info.Env().Undefined();
}

static Napi::Value AttachStop(const Napi::CallbackInfo& info) {
  Release(ArgHandle(info));
  return info.Env().Undefined();
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
}

}  // namespace er
