// Small status helpers: Debian's Abseil ships no status_macros.h.
#ifndef SIGNET_COMMON_STATUS_MACROS_H_
#define SIGNET_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SIGNET_CONCAT_INNER_(a, b) a##b
#define SIGNET_CONCAT_(a, b) SIGNET_CONCAT_INNER_(a, b)

// RETURN_IF_ERROR(expr): returns the status of `expr` from the enclosing
// function when it is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status signet_status_ = (expr);            \
    if (!signet_status_.ok()) return signet_status_;   \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (a StatusOr), returns its
// status when not OK, otherwise move-assigns its value to `lhs` (which may be
// a declaration such as `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  SIGNET_ASSIGN_OR_RETURN_IMPL_(SIGNET_CONCAT_(signet_statusor_, __LINE__), lhs, expr)

#define SIGNET_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return statusor.status();            \
  lhs = std::move(statusor).value()

#endif  // SIGNET_COMMON_STATUS_MACROS_H_
