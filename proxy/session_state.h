// The mutable state of one session that both directions read and write. Everything here is
// touched only on the session's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "policy/effective_action.h"
#include "protocol/copy_out_rewriter.h"
#include "proxy/pending_responses.h"
#include "proxy/proxy_state.h"
#include "proxy/result_masker.h"
#include "proxy/session_catalog.h"

namespace pgmask::proxy {

struct SessionState {
  explicit SessionState(ProxyState& p) : proxy(p) {}

  ProxyState& proxy;
  std::string id;
  StatementTimer timer{proxy.metrics.statement_overhead()};

  // Lifecycle.
  bool idle = false;  // the server said ReadyForQuery 'I' and the client sent nothing since
  bool shutdown_requested = false;
  bool goodbye_sent = false;
  bool upstream_sent_fatal = false;
  bool client_terminated = false;
  bool server_violation = false;

  // Where the conversation stands, for injecting pgmask's own statements only at safe points.
  char transaction_status = 'I';
  int outstanding_syncs = 0;  // Query, Sync and FunctionCall sent, ReadyForQuery not yet back
  bool in_extended = false;   // extended-protocol messages sent since the last Sync

  // The policy as this session applies it.
  SessionCatalog catalog;
  std::optional<policy::EffectiveActions> actions;
  bool all_clear = true;  // nothing to mask or refuse: the relay path does no per-message work
  ResultMasker masker{&proxy.metrics};
  bool suppress_until_ready = false;  // a result with a denied column is being dropped
  // What the server still owes, kept whenever a policy is configured (a reload can turn a clear
  // session into a restricted one mid-conversation).
  PendingResponses pending;
  bool execute_planned = false;  // the plan for the Execute at the front of `pending` is built
  // Prepared statements pgmask replaced by a refusal: their Binds carry NULLs instead of values.
  absl::flat_hash_set<std::string> refused_statements;

  // A COPY ... TO STDOUT of a restricted session: its options, its columns (from pgmask's own
  // Describe of an equivalent SELECT) and, once the data flows, the rewriter.
  std::optional<protocol::CopyOptions> copy_options;
  std::optional<std::vector<protocol::FieldDescription>> copy_fields;
  std::optional<protocol::CopyOutRewriter> copy_rewriter;
  void EndCopy() {
    copy_options.reset();
    copy_fields.reset();
    copy_rewriter.reset();
  }

  // A newer policy or DDL since the catalog was read: re-read it at the next safe point.
  uint64_t policy_generation = 0;
  bool catalog_stale = false;
  bool refresh_in_flight = false;
  bool refresh_failed = false;
  SessionCatalog pending_catalog;

  bool policy_enabled() const { return proxy.policies.enabled(); }

  // Makes `next` the session's catalog and derives the session's actions from it.
  void ActivateCatalog(SessionCatalog next);
};

}  // namespace pgmask::proxy
