// N-API entry point for the calling thread's CPU scheduling class:
//   setThreadIdlePriority() -> { ok, reason? }            the calling thread to SCHED_IDLE
//   setThreadPolicy(tid, idle) -> { ok, reason? }         any thread of the process: SCHED_IDLE,
//                                                         or back to SCHED_OTHER (its nice value)
// Linux SCHED_IDLE: the thread runs only on CPU time no other thread of normal priority
// wants, and a normal thread that wakes up preempts it at once. For best-effort work that
// must not delay serving on the same cores (shadow traffic, src/runtime/background-runner.ts).
#pragma once

#define INFERA_NAPI
#include "common.h"

namespace infera {

Napi::Value SetThreadIdlePriority(const Napi::CallbackInfo& info);
Napi::Value SetThreadPolicy(const Napi::CallbackInfo& info);

}  // namespace infera
