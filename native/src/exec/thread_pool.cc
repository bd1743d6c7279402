// Process-wide compute pool (see thread_pool.h).
//
// A Job lives on its caller's stack. Helpers take a pointer under mu_ and
// count themselves in `users`; the caller returns only when every chunk is
// done and no helper still holds the pointer, so no helper ever touches a
// finished Job. Chunks are claimed with an atomic counter.
#include "exec/thread_pool.h"

#include <algorithm>
#include <atomic>

#if defined(__linux__)
#include <sched.h>
#endif

namespace infera {
namespace exec {

struct ThreadPool::Job {
  Job(const std::function<void(int)>& f, int count) : fn(f), n(count) {}
  const std::function<void(int)>& fn;
  const int n;
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  int users = 0;  // helpers holding this job; guarded by mu_
};

namespace {

// CPUs this process may run on: its affinity mask (taskset, cpusets) where the
// OS has one, else every CPU. hardware_concurrency() counts the machine's CPUs,
// so a process pinned to one core got helpers that could only preempt its own
// thread (the same rule as os.availableParallelism() on the JS side).
int UsableCpus() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

ThreadPool& ThreadPool::Instance() {
  // Leaked on purpose: joining helpers from static destructors at process
  // exit can deadlock inside Node; the OS reclaims them.
  static ThreadPool* pool = new ThreadPool(UsableCpus() - 1);
  return *pool;
}

ThreadPool::ThreadPool(int helpers) {
  for (int i = 0; i < helpers; ++i) {
    helpers_.emplace_back([this] { HelperLoop(); });
    helpers_.back().detach();
  }
}

bool ThreadPool::ClaimOne(Job* job) {
  const int i = job->next.fetch_add(1, std::memory_order_relaxed);
  if (i >= job->n) return false;
  job->fn(i);
  job->done.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

void ThreadPool::Unlist(Job* job) {
  auto it = std::find(jobs_.begin(), jobs_.end(), job);
  if (it != jobs_.end()) jobs_.erase(it);
}

void ThreadPool::HelperLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return !jobs_.empty(); });
    Job* job = jobs_.front();
    if (job->next.load(std::memory_order_relaxed) >= job->n) {
      Unlist(job);  // every chunk is claimed: nothing left to help with
      continue;
    }
    ++job->users;
    lock.unlock();
    while (ClaimOne(job)) {
    }
    lock.lock();
    --job->users;
    Unlist(job);
    done_cv_.notify_all();
  }
}

void ThreadPool::ParallelFor(int n, const std::function<void(int)>& fn) {
  if (n <= 0) return;
  if (n == 1 || helpers_.empty()) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  Job job(fn, n);
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(&job);
  }
  // Wake at most the helpers that can get a chunk (the caller takes one).
  for (int i = 1; i < n && i <= static_cast<int>(helpers_.size()); ++i) {
    work_cv_.notify_one();
  }
  while (ClaimOne(&job)) {
  }
  std::unique_lock<std::mutex> lock(mu_);
  Unlist(&job);
  done_cv_.wait(lock, [&job] {
    return job.done.load(std::memory_order_acquire) == job.n && job.users == 0;
  });
}

}  // namespace exec
}  // namespace infera
