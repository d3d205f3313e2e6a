// Signals as fd readiness, policy-free.
//
// A private uv_loop_t per environment holds uv_signal_t handles. libuv coordinates the
// sigaction handlers of all its loops process-wide (Node's own process.on('SIGTERM') included),
// and writes each caught signal into the private loop's signal pipe, which makes the private
// loop's backend epoll fd readable. JavaScript watches that fd in its own epoll set and, when it
// is readable, calls signalPoll(): one UV_RUN_NOWAIT turn, returning the signal numbers caught
// since the last call. See docs/decisions/020-signals.md.
#include "common.h"

#include <uv.h>

#include <vector>

namespace er {

struct SignalSet {
  uv_loop_t loop;
  bool open = false;
  std::vector<uv_signal_t*> handles;  // index = id; nullptr once stopped
  std::vector<int32_t> pending;       // signal numbers caught, in order
};

static SignalSet* Set(Napi::Env env) {
  return static_cast<SignalSet*>(Data(env)->signals);
}

static void OnSignal(uv_signal_t* h, int signum) {
  auto* set = static_cast<SignalSet*>(h->data);
  set->pending.push_back(signum);
}

static void OnClosed(uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); }

// Close every handle and the loop itself; synchronous, the loop is ours.
static void CloseSet(SignalSet* set) {
  if (!set->open) return;
  for (auto*& h : set->handles) {
    if (h != nullptr) uv_close(reinterpret_cast<uv_handle_t*>(h), OnClosed);
    h = nullptr;
  }
  uv_run(&set->loop, UV_RUN_DEFAULT);  // runs the close callbacks; nothing else is active
  uv_loop_close(&set->loop);
  set->open = false;
  set->handles.clear();
  set->pending.clear();
}

static void Cleanup(void* arg) {
  auto* set = static_cast<SignalSet*>(arg);
  CloseSet(set);
  delete set;
}

// signalOpen() -> the private loop's backend fd (watch it for EPOLLIN).
static Napi::Value SignalOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = Data(env);
  if (data->signals == nullptr) {
    auto* set = new SignalSet();
    data->signals = set;
    napi_add_env_cleanup_hook(env, Cleanup, set);
  }
  SignalSet* set = Set(env);
  if (!set->open) {
    int rc = uv_loop_init(&set->loop);
    if (rc != 0) ThrowErrno(env, -rc, "uv_loop_init");
    set->open = true;
  }
  return Napi::Number::New(env, uv_backend_fd(&set->loop));
}

// signalStart(signum) -> id
static Napi::Value SignalStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SignalSet* set = Set(env);
  if (set == nullptr || !set->open) ThrowErrno(env, EBADF, "uv_signal_start");
  int signum = info[0].As<Napi::Number>().Int32Value();
  auto* h = new uv_signal_t();
  int rc = uv_signal_init(&set->loop, h);
  if (rc != 0) {
    delete h;
    ThrowErrno(env, -rc, "uv_signal_init");
  }
  h->data = set;
  rc = uv_signal_start(h, OnSignal, signum);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(h), OnClosed);
    uv_run(&set->loop, UV_RUN_NOWAIT);
    ThrowErrno(env, -rc, "uv_signal_start");
  }
  set->handles.push_back(h);
  // libuv adds the signal pipe to the backend epoll set only when the loop polls: one turn now,
  // so the backend fd turns readable when a signal arrives.
  uv_run(&set->loop, UV_RUN_NOWAIT);
  return Napi::Number::New(env, static_cast<double>(set->handles.size() - 1));
}

// signalStop(id)
static Napi::Value SignalStop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SignalSet* set = Set(env);
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (set == nullptr || !set->open || id >= set->handles.size() || set->handles[id] == nullptr) {
    return env.Undefined();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(set->handles[id]), OnClosed);
  set->handles[id] = nullptr;
  uv_run(&set->loop, UV_RUN_NOWAIT);  // the close callback
  return env.Undefined();
}

// signalPoll() -> signal numbers caught since the last call
static Napi::Value SignalPoll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SignalSet* set = Set(env);
  if (set == nullptr || !set->open) return Napi::Array::New(env, 0);
  uv_run(&set->loop, UV_RUN_NOWAIT);
  Napi::Array out = Napi::Array::New(env, set->pending.size());
  for (size_t i = 0; i < set->pending.size(); i++) out.Set(static_cast<uint32_t>(i), set->pending[i]);
  set->pending.clear();
  return out;
}

// signalClose(): stop every handle and close the private loop (its fds with it).
static Napi::Value SignalClose(const Napi::CallbackInfo& info) {
  SignalSet* set = Set(info.Env());
  if (set != nullptr) CloseSet(set);
  return info.Env().Undefined();
}

void InitSignals(Napi::Env env, Napi::Object exports) {
  exports.Set("signalOpen", Napi::Function::New(env, SignalOpen, "signalOpen"));
  exports.Set("signalStart", Napi::Function::New(env, SignalStart, "signalStart"));
  exports.Set("signalStop", Napi::Function::New(env, SignalStop, "signalStop"));
  exports.Set("signalPoll", Napi::Function::New(env, SignalPoll, "signalPoll"));
  exports.Set("signalClose", Napi::Function::New(env, SignalClose, "signalClose"));
}

}  // namespace er
