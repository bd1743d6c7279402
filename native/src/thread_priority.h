// N-API entry point for the calling thread's CPU scheduling class:
//   setThreadIdlePriority() -> { ok, reason? }
// Linux SCHED_IDLE: the thread runs only on CPU time no other thread of normal priority
// wants, and a normal thread that wakes up preempts it at once. For best-effort work that
// must not delay serving on the same cores (shadow traffic, src/runtime/background-runner.ts).
#pragma once

#define INFERA_NAPI
#include "common.h"

namespace infera {

Napi::Value SetThreadIdlePriority(const Napi::CallbackInfo& info);

}  // namespace infera
