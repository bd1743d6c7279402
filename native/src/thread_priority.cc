#include "thread_priority.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#if defined(__linux__)
#include <sched.h>
#endif

namespace infera {

Napi::Value SetThreadPolicy(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBoolean()) {
    Napi::TypeError::New(env, "setThreadPolicy(tid: number, idle: boolean)").ThrowAsJavaScriptException();
    return env.Null();
  }
  const int64_t tid = info[0].As<Napi::Number>().Int64Value();
  const bool idle = info[1].As<Napi::Boolean>().Value();
  if (tid <= 0 || tid > INT32_MAX) {
    Napi::RangeError::New(env, "setThreadPolicy: tid must be a positive thread id").ThrowAsJavaScriptException();
    return env.Null();
  }
#if defined(__linux__)
  // Linux schedules threads: a thread id names one thread of this (or another) process.
  sched_param param{};
  param.sched_priority = 0;
  if (sched_setscheduler(static_cast<pid_t>(tid), idle ? SCHED_IDLE : SCHED_OTHER, &param) == 0) {
    out.Set("ok", Napi::Boolean::New(env, true));
    return out;
  }
  out.Set("ok", Napi::Boolean::New(env, false));
  out.Set("reason", Napi::String::New(env, std::string("sched_setscheduler(") + (idle ? "SCHED_IDLE" : "SCHED_OTHER") + "): " + std::strerror(errno)));
#else
  out.Set("ok", Napi::Boolean::New(env, false));
  out.Set("reason", Napi::String::New(env, "thread scheduling classes are Linux only"));
#endif
  return out;
}

}  // namespace infera
