// Module entry: per-instance state, then one Init per syscall family.
#include "common.h"

namespace er {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted by node-addon-api's finalizer at teardown
  InitConstants(env, exports);
  InitErrors(env, exports);
  InitEpoll(env, exports);
  InitFd(env, exports);  // before InitAttach: its teardown hook must run after attach's (fd.cc)
  InitTime(env, exports);
  InitSocket(env, exports);
  InitAttach(env, exports, data);
  InitBatch(env, exports);
  InitUdp(env, exports);
  InitSignals(env, exports);
  InitInotify(env, exports);
  InitProcess(env, exports);
  return exports;
}

}  // namespace er

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return er::Init(env, exports); }

NODE_API_MODULE(epoll_reactor, InitModule)
