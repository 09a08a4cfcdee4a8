// Linked into pgmask only in the ThreadSanitizer build (PGMASK_TSAN). Debian's Abseil is not
// compiled with ThreadSanitizer, so absl::Mutex takes and releases its lock where TSan cannot see
// it, and every access an absl::Mutex guards would be reported as a data race. The linker routes
// pgmask's calls to those functions through the wrappers below (-Wl,--wrap, proxy/CMakeLists.txt),
// which tell TSan what the real function did, with the annotations Abseil itself makes when it is
// built with TSan. Races on data that no absl::Mutex guards are still reported.
//
// The names are the mangled ones of Debian's Abseil (inline namespace debian3); a member function
// takes `this` as its first argument.
#include <sanitizer/tsan_interface.h>

#include "absl/synchronization/mutex.h"

namespace {

void Acquired(absl::Mutex* mu) {
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
}

void Released(absl::Mutex* mu) {
  __tsan_mutex_pre_unlock(mu, 0);
  __tsan_mutex_post_unlock(mu, 0);
}

}  // namespace

extern "C" {

void __real__ZN4absl7debian35Mutex4LockEv(absl::Mutex* mu);
void __real__ZN4absl7debian35Mutex6UnlockEv(absl::Mutex* mu);
void __real__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(absl::Mutex* mu, const absl::Condition& cond);
void __real__ZN4absl7debian35MutexD1Ev(absl::Mutex* mu);
void __real__ZN4absl7debian37CondVar4WaitEPNS0_5MutexE(absl::CondVar* cv, absl::Mutex* mu);
bool __real__ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE(absl::CondVar* cv, absl::Mutex* mu,
                                                                              absl::Time deadline);

// Mutex::Lock()
void __wrap__ZN4absl7debian35Mutex4LockEv(absl::Mutex* mu) {
  __real__ZN4absl7debian35Mutex4LockEv(mu);
  Acquired(mu);
}

// Mutex::Unlock()
void __wrap__ZN4absl7debian35Mutex6UnlockEv(absl::Mutex* mu) {
  Released(mu);
  __real__ZN4absl7debian35Mutex6UnlockEv(mu);
}

// Mutex::Await(const Condition&): releases the lock until the condition holds, then holds it again.
void __wrap__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(absl::Mutex* mu, const absl::Condition& cond) {
  Released(mu);
  __real__ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(mu, cond);
  Acquired(mu);
}

// Mutex::~Mutex(): the inline constructor registered the mutex with TSan (__tsan_mutex_create).
void __wrap__ZN4absl7debian35MutexD1Ev(absl::Mutex* mu) {
  __tsan_mutex_destroy(mu, 0);
  __real__ZN4absl7debian35MutexD1Ev(mu);
}

// CondVar::Wait(Mutex*) and CondVar::WaitWithDeadline(Mutex*, Time): as Await.
void __wrap__ZN4absl7debian37CondVar4WaitEPNS0_5MutexE(absl::CondVar* cv, absl::Mutex* mu) {
  Released(mu);
  __real__ZN4absl7debian37CondVar4WaitEPNS0_5MutexE(cv, mu);
  Acquired(mu);
}

bool __wrap__ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE(absl::CondVar* cv, absl::Mutex* mu,
                                                                              absl::Time deadline) {
  Released(mu);
  const bool timed_out = __real__ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE(cv, mu, deadline);
  Acquired(mu);
  return timed_out;
}

}  // extern "C"
