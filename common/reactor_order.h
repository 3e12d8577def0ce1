// ReactorOrder: the ordering gRPC's C++ callback API guarantees between a
// server reactor's reactions, stated where ThreadSanitizer can see it.
//
// gRPC runs a reactor's reactions (OnWriteDone, OnCancel, OnDone) on its own
// threads and orders them through completion queues and refcounts inside
// libgrpc/libgrpc++. Debian's gRPC is not built with -fsanitize=thread, so
// TSan sees none of that ordering and reports, for instance, a reactor's
// mutex being locked in OnCancel and destroyed in OnDone as a race. A reactor
// marks the points of gRPC's contract with a ReactorOrder member; under TSan
// each mark is a release or acquire on the member's own addresses, in other
// builds it compiles to nothing. It adds exactly gRPC's guarantees:
//   - the method handler (construction, first writes) happens before every
//     reaction: Created() at the end of the handler, Reaction() at the start
//     of each reaction;
//   - a StartWrite happens before its OnWriteDone: WriteStarting() before
//     StartWrite, WriteDone() at the start of OnWriteDone (one write is in
//     flight at a time);
//   - every other reaction has returned before OnDone starts:
//     ReactionEnding() as the last statement of OnWriteDone and OnCancel,
//     Done() at the start of OnDone.
// Reactions are not ordered with each other (OnCancel may run during
// OnWriteDone), so races between them are still reported.
#ifndef SIGNET_COMMON_REACTOR_ORDER_H_
#define SIGNET_COMMON_REACTOR_ORDER_H_

#include "absl/base/config.h"

#ifdef ABSL_HAVE_THREAD_SANITIZER
#include <sanitizer/tsan_interface.h>
#endif

namespace signet {

class ReactorOrder {
 public:
  void Created() { Release(&created_); }
  void Reaction() { Acquire(&created_); }
  void WriteStarting() { Release(&write_); }
  void WriteDone() { Acquire(&write_); }
  void ReactionEnding() { Release(&reactions_); }
  void Done() {
    Acquire(&created_);
    Acquire(&reactions_);
  }

 private:
#ifdef ABSL_HAVE_THREAD_SANITIZER
  static void Release(char* addr) { __tsan_release(addr); }
  static void Acquire(char* addr) { __tsan_acquire(addr); }
#else
  static void Release(char*) {}
  static void Acquire(char*) {}
#endif

  // Only their addresses are used (TSan's synchronization objects).
  char created_ = 0;
  char write_ = 0;
  char reactions_ = 0;
};

}  // namespace signet

#endif  // SIGNET_COMMON_REACTOR_ORDER_H_
