// A process-wide pool of compute threads for splitting one model run into
// row chunks. ParallelFor blocks its caller, which works on chunks itself, so
// a run on a libuv thread uses at most `n` threads in total and never waits
// on a queue of other work. Several callers may run at once (concurrent
// batches); their chunks interleave. Pure C++ (usable from AsyncWorkers).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace infera {
namespace exec {

class ThreadPool {
 public:
  // The pool: one helper thread per CPU this process may run on (its affinity
  // mask at first use), minus the caller; started on first use and never
  // destroyed (helpers idle on a condition variable).
  static ThreadPool& Instance();

  // Runs fn(0) .. fn(n-1), each exactly once, on the caller and on idle
  // helpers; returns when all have returned. fn must not throw.
  void ParallelFor(int n, const std::function<void(int)>& fn);

  // Helpers plus the caller: the most chunks that can run at once.
  int Concurrency() const { return static_cast<int>(helpers_.size()) + 1; }

 private:
  struct Job;
  explicit ThreadPool(int helpers);
  void HelperLoop();
  static bool ClaimOne(Job* job);
  void Unlist(Job* job);  // requires mu_

  std::mutex mu_;
  std::condition_variable work_cv_;  // a job was listed
  std::condition_variable done_cv_;  // a helper left a job
  std::deque<Job*> jobs_;
  std::vector<std::thread> helpers_;
};

}  // namespace exec
}  // namespace infera
