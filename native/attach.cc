// The attached driver's one piece of native policy-free glue: watch an epoll fd with a libuv
// uv_poll_t on Node's own loop, and call back into JavaScript when it turns readable (its ready
// list is non-empty). The callback goes through napi_make_callback with an async context, so
// Node drains process.nextTick and promise jobs after it, exactly as after its own callbacks;
// an exception it throws is raised as 'uncaughtException'.
#include "common.h"

#include <uv.h>

#include <algorithm>

namespace er {

struct UvPollHandle {
  uv_poll_t poll;
  napi_env env;
  Napi::FunctionReference callback;
  napi_async_context context = nullptr;
  AddonData* data;
};

static void OnClosed(uv_handle_t* handle) { delete static_cast<UvPollHandle*>(handle->data); }

static void Release(UvPollHandle* h) {
  auto& polls = h->data->polls;
  polls.erase(std::remove(polls.begin(), polls.end(), h), polls.end());
  if (h->context) napi_async_destroy(h->env, h->context);
  h->context = nullptr;
  h->callback.Reset();
  uv_poll_stop(&h->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&h->poll), OnClosed);
}

static void OnReadable(uv_poll_t* poll, int status, int /*events*/) {
  auto* h = static_cast<UvPollHandle*>(poll->data);
  Napi::Env env(h->env);
  Napi::HandleScope scope(env);
  napi_value recv = env.Global();  // must be an object: napi_make_callback converts it
  napi_value arg = Napi::Number::New(env, status);
  napi_value result;
  napi_status s = napi_make_callback(h->env, h->context, recv, h->callback.Value(), 1, &arg, &result);
  if (s == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(h->env, &error);
    napi_fatal_exception(h->env, error);
  }
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
  h->data = Data(env);
  int r = uv_poll_init(loop, &h->poll, epfd);
  if (r < 0) {
    delete h;
    ThrowErrno(env, -r, "uv_poll_init");
  }
  h->poll.data = h;
  h->callback = Napi::Persistent(info[1].As<Napi::Function>());
  napi_value name = Napi::String::New(env, "EpollReactor");
  napi_async_init(env, Napi::Object::New(env), name, &h->context);
  h->data->polls.push_back(h);
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
  auto& polls = Data(env)->polls;
  // A handle already stopped (or from another instance) is refused, never dereferenced.
  if (std::find(polls.begin(), polls.end(), h) == polls.end()) ThrowErrno(env, EBADF, "uv_poll");
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

void InitAttach(Napi::Env env, Napi::Object exports) {
  SetFn(env, exports, "attach_start", AttachStart);
  SetFn(env, exports, "attach_ref", AttachRef);
  SetFn(env, exports, "attach_stop", AttachStop);
}

// Environment teardown: close every handle still open so the loop can close cleanly (workers).
void CloseAllPolls(AddonData* data) {
  while (!data->polls.empty()) Release(data->polls.back());
}

}  // namespace er
