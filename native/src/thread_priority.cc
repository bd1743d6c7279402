#include "thread_priority.h"

#include <cerrno>
#include <cstring>
#include <string>

#if defined(__linux__)
#include <sched.h>
#endif

namespace infera {

Napi::Value SetThreadIdlePriority(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
#if defined(__linux__)
  // pid 0 is the calling thread (Linux schedules threads, not processes).
  sched_param param{};
  param.sched_priority = 0;
  if (sched_setscheduler(0, SCHED_IDLE, &param) == 0) {
    out.Set("ok", Napi::Boolean::New(env, true));
    return out;
  }
  out.Set("ok", Napi::Boolean::New(env, false));
  out.Set("reason", Napi::String::New(env, std::string("sched_setscheduler(SCHED_IDLE): ") + std::strerror(errno)));
#else
  out.Set("ok", Napi::Boolean::New(env, false));
  out.Set("reason", Napi::String::New(env, "SCHED_IDLE is Linux only"));
#endif
  return out;
}

}  // namespace infera
