// N-API entry point for a thread's CPU scheduling class:
//   setThreadPolicy(tid, idle) -> { ok, reason? }         a thread (Linux thread id): SCHED_IDLE,
//                                                         or back to SCHED_OTHER (its nice value)
// Linux SCHED_IDLE: the thread runs only on CPU time no other thread of normal priority
// wants, and a normal thread that wakes up preempts it at once. For best-effort work that
// must not delay serving on the same cores (shadow traffic, src/runtime/background-process.ts;
// monitoring, src/monitoring/thread/).
#pragma once

#define INFERA_NAPI
#include "common.h"

namespace infera {

Napi::Value SetThreadPolicy(const Napi::CallbackInfo& info);

}  // namespace infera
