// Break-glass: a role listed under `break_glass: { roles, max_minutes }` in the policy may send
//   SET pgmask.break_glass = 'INC-123: why'
// to see every class in clear for the rest of the session, at most max_minutes; `RESET
// pgmask.break_glass` (or SET ... TO DEFAULT) ends it early; an empty reason is refused. The
// session stays analysed and audited: break_glass_start (with the reason and expiry), every
// statement (with `break_glass` set to the reason) and break_glass_end (expired, reset or
// session_end) go to the trail, which must be configured for break-glass to be allowed at all.
// Starting, ending and expiring take effect between statements (never under a result in flight). The SET itself goes on to PostgreSQL,
// which keeps pgmask.* as a placeholder setting, so SHOW works and nothing errors.
//
// PGMASK_BREAK_GLASS_SECONDS, when set, caps the duration further (in seconds; it can only
// shorten the policy's max_minutes): for tests of expiry that cannot wait minutes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace pgmask::proxy {

struct SessionState;

struct BreakGlassCommand {
  enum class Kind { kNone, kStart, kEnd, kInvalid };
  Kind kind = Kind::kNone;
  std::string reason;   // kStart
  std::string problem;  // kInvalid: why it is refused
};

// A simple Query's text: a break-glass SET or RESET alone, a SET or RESET of pgmask.break_glass
// in another form or with other statements (refused), or anything else (kNone).
BreakGlassCommand ParseBreakGlassCommand(std::string_view sql);

// Why the session may not be in break-glass under its current policy and roles (not configured,
// role not listed, no audit trail); nullopt when it may.
std::optional<std::string> BreakGlassRefusal(const SessionState& s);
// Starts break-glass; the refusal message (42501) when the role, the reason or the session does
// not allow it.
std::optional<std::string> StartBreakGlass(SessionState& s, std::string reason);
// Ends it, recording `outcome` ("reset", "revoked", "session_end"); harmless when not active. An expired
// one ends as "expired" at its expiry time whatever the outcome given.
void EndBreakGlass(SessionState& s, std::string_view outcome);
// Ends it if it has expired.
void ExpireBreakGlass(SessionState& s);

// How long break-glass may last under `max_minutes`.
absl::Duration BreakGlassDuration(int max_minutes);

}  // namespace pgmask::proxy
