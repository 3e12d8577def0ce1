// absl_sync_annotations.cc: linked into every executable of a
// ThreadSanitizer tree (-DSIGNET_SANITIZE=thread, scripts/sanitize.sh thread)
// and into nothing else.
//
// Debian's Abseil is not compiled with -fsanitize=thread, so absl::Mutex,
// absl::CondVar and absl::Notification (out of line in
// libabsl_synchronization.so) lack the __tsan_mutex_* annotations Abseil's
// mutex.cc emits when it is itself built under TSan. TSan then sees no
// happens-before edge from an Unlock to the next Lock, and reports every
// access to ABSL_GUARDED_BY data from two threads as a race whether or not
// the lock was held (ours, and gRPC's: gRPC 1.51's grpc_core::Mutex and gpr_mu
// are absl::Mutex).
//
// This file defines the out-of-line entry points of those classes (and
// absl::Status's unref, see the end). The
// executable comes first in the dynamic linker's lookup order, so these
// definitions are the ones called, by our code and through the PLT by gRPC and
// by libabsl_synchronization itself (Notification, ReleasableMutexLock). Each
// calls the library's definition (dlsym(RTLD_NEXT)) and adds the annotations
// Abseil's own mutex.cc adds under TSan, so TSan models absl::Mutex as a
// mutex (happens-before, lock-order checking) instead of ignoring it. The
// inline wrappers (MutexLock, WriterLock, ...) all end in one of these.
//
// The library's *WithTimeout functions tail-call its *WithDeadline ones
// through the PLT, which would run our *WithDeadline inside our *WithTimeout
// and annotate one unlock twice; ours therefore never call the library's
// *WithTimeout: they compute the deadline (now + timeout, as Abseil does) and
// call our *WithDeadline. No other entry point here reaches another one.
// Nothing here makes TSan ignore an access: the unlock/lock pairs only add
// the edges a real mutex provides.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/config.h"
#include "absl/base/dynamic_annotations.h"
#include "absl/base/options.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#ifndef ABSL_HAVE_THREAD_SANITIZER
#error "absl_sync_annotations.cc belongs in -fsanitize=thread builds only"
#endif
#if !ABSL_OPTION_USE_INLINE_NAMESPACE
#error "the mangled names below assume Abseil's inline namespace"
#endif

namespace {

#define SIGNET_TSAN_STR2(x) #x
#define SIGNET_TSAN_STR(x) SIGNET_TSAN_STR2(x)

// Real returns the library's definition of absl::<inline namespace>::`rest`
// (a mangled name without its "_ZN[K]4absl<ns>" prefix; K for a const member
// function), the next one after ours in lookup order. Aborts when there is
// none: running without the library's definitions would make every lock a
// no-op.
template <typename Fn>
Fn Real(const char* rest, bool const_member = false) {
  const std::string ns = SIGNET_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name =
      std::string(const_member ? "_ZNK" : "_ZN") + "4absl" + std::to_string(ns.size()) + ns + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    fprintf(stderr, "absl_sync_annotations: %s not found: %s\n", name.c_str(), dlerror());
    abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// The writer bit of absl::Mutex's word (kMuWriter in Abseil's mutex.cc, the
// same in every release): set while held exclusively, clear while held shared.
constexpr intptr_t kMuWriter = 0x0008;

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

ABSL_NO_THREAD_SAFETY_ANALYSIS Mutex::~Mutex() {
  static const auto real = Real<void (*)(Mutex*)>("5MutexD1Ev");
  real(this);
  __tsan_mutex_destroy(this, __tsan_mutex_not_static);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  const bool locked = real(this);
  __tsan_mutex_post_lock(
      this, locked ? __tsan_mutex_try_lock : __tsan_mutex_try_lock | __tsan_mutex_try_lock_failed,
      0);
  return locked;
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_read_lock);
  const bool locked = real(this);
  __tsan_mutex_post_lock(
      this, locked ? __tsan_mutex_try_read_lock : __tsan_mutex_try_read_lock_failed, 0);
  return locked;
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::LockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex8LockWhenERKNS0_9ConditionE");
  __tsan_mutex_pre_lock(this, 0);
  real(this, cond);
  __tsan_mutex_post_lock(this, 0, 0);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this, cond);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::LockWhenWithTimeout(const Condition& cond,
                                                               absl::Duration timeout) {
  return LockWhenWithDeadline(cond, absl::Now() + timeout);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::LockWhenWithDeadline(const Condition& cond,
                                                                absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_mutex_pre_lock(this, 0);
  const bool res = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, 0, 0);
  return res;
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond,
                                                                     absl::Duration timeout) {
  return ReaderLockWhenWithDeadline(cond, absl::Now() + timeout);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond,
                                                                      absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  const bool res = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
  return res;
}

// Await and CondVar waits release the held mutex while blocked and hold it
// again on return; annotated as an unlock followed by a lock, in the mode
// (exclusive or shared) the caller holds it, as Abseil does.
#define SIGNET_TSAN_RELOCKING_CALL(mu, call)                                                      \
  const unsigned how =                                                                            \
      ((mu)->mu_.load(std::memory_order_relaxed) & kMuWriter) != 0 ? 0u : __tsan_mutex_read_lock; \
  __tsan_mutex_pre_unlock((mu), how);                                                             \
  call;                                                                                           \
  __tsan_mutex_post_unlock((mu), how);                                                            \
  __tsan_mutex_pre_lock((mu), how);                                                               \
  __tsan_mutex_post_lock((mu), how, 0)

ABSL_NO_THREAD_SAFETY_ANALYSIS void Mutex::Await(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex5AwaitERKNS0_9ConditionE");
  SIGNET_TSAN_RELOCKING_CALL(this, real(this, cond));
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::AwaitWithTimeout(const Condition& cond,
                                                            absl::Duration timeout) {
  return AwaitWithDeadline(cond, absl::Now() + timeout);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool Mutex::AwaitWithDeadline(const Condition& cond,
                                                             absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool res;
  SIGNET_TSAN_RELOCKING_CALL(this, res = real(this, cond, deadline));
  return res;
}

ABSL_NO_THREAD_SAFETY_ANALYSIS void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  SIGNET_TSAN_RELOCKING_CALL(mu, real(this, mu));
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  return WaitWithDeadline(mu, absl::Now() + timeout);
}

ABSL_NO_THREAD_SAFETY_ANALYSIS bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  bool res;
  SIGNET_TSAN_RELOCKING_CALL(mu, res = real(this, mu, deadline));
  return res;
}

#undef SIGNET_TSAN_RELOCKING_CALL

// Notification: Notify() publishes with a release store inside the library;
// HasBeenNotified() reads the flag with an acquire load inline in our
// (instrumented) code, and the waits' fast paths read it inside the library.
// The release is made visible on the flag's address, which the inline load
// and the waits below acquire.
void Notification::Notify() {
  static const auto real = Real<void (*)(Notification*)>("12Notification6NotifyEv");
  __tsan_release(&notified_yet_);
  real(this);
}

void Notification::WaitForNotification() const {
  static const auto real =
      Real<void (*)(const Notification*)>("12Notification19WaitForNotificationEv", true);
  real(this);
  __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Duration)>(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", true);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Time)>(
      "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", true);
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
  return notified;
}

// absl::Status: the last Unref deletes the shared representation inside
// libabsl_status, after a decrement TSan cannot see. called_from_lib:
// /libabsl_status.so (scripts/tsan.supp) ignores what the library's calls
// into the allocator do, but the library tail-calls operator delete, so the
// delete is attributed to our caller instead; the library's part of the call
// is ignored here the same way.
void Status::UnrefNonInlined(uintptr_t rep) {
  static const auto real = Real<void (*)(uintptr_t)>("6Status15UnrefNonInlinedEm");
  ABSL_ANNOTATE_IGNORE_READS_AND_WRITES_BEGIN();
  real(rep);
  ABSL_ANNOTATE_IGNORE_READS_AND_WRITES_END();
}

ABSL_NAMESPACE_END
}  // namespace absl
