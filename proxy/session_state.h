// The mutable state of one session that both directions read and write. Everything here is
// touched only on the session's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "policy/effective_action.h"
#include "protocol/copy_out_rewriter.h"
#include "proxy/pending_responses.h"
#include "proxy/proxy_state.h"
#include "proxy/query_plan.h"
#include "proxy/result_masker.h"
#include "proxy/session_audit.h"
#include "proxy/session_catalog.h"

namespace pgmask::proxy {

struct SessionState {
  explicit SessionState(ProxyState& p) : proxy(p) {}

  ProxyState& proxy;
  std::string id;
  // The client connection's TLS protocol version and cipher (as OpenSSL names them), empty for
  // plaintext: what the audit record reports as the session's transport.
  std::string tls_version;
  std::string tls_cipher;
  StatementTimer timer{proxy.metrics.statement_overhead()};
  // Who and from where, for the audit trail (application already sanitized).
  std::string user;
  std::string client;
  std::string application;
  // This session's side of the audit trail; null when no trail is kept.
  std::unique_ptr<SessionAudit> audit;
  // Lets the server's frames flow again once a held result's audit record is durable.
  std::function<void()> release_server;

  // Lifecycle.
  bool idle = false;  // the server said ReadyForQuery 'I' and the client sent nothing since
  bool shutdown_requested = false;
  bool goodbye_sent = false;
  bool upstream_sent_fatal = false;
  bool client_terminated = false;
  bool server_violation = false;
  // Restricted sessions: pgmask could not follow the conversation (a client message it cannot
  // read, or an answer that matches no request), so it can no longer tell which rows are whose.
  // The session ends with this text rather than relay unanalysed.
  std::string lost_track;

  // Where the conversation stands, for injecting pgmask's own statements only at safe points.
  char transaction_status = 'I';
  // Query, Sync and FunctionCall sent, ReadyForQuery not yet back: counted as sent when no policy
  // is loaded (see awaiting_ready).
  int outstanding_syncs = 0;
  bool in_extended = false;   // extended-protocol messages sent since the last Sync

  // The policy as this session applies it.
  SessionCatalog catalog;
  std::optional<policy::EffectiveActions> actions;
  // Some class is not clear for this session: its statements are masked, refused and scrubbed.
  bool restricted = false;
  // Neither restricted nor recorded: the relay path does no per-message work.
  bool all_clear = true;
  ResultMasker masker{&proxy.metrics};
  bool suppress_until_ready = false;  // a result with a denied column is being dropped
  // What the server still owes, kept whenever a policy is configured (a reload can turn a clear
  // session into a restricted one mid-conversation).
  PendingResponses pending;
  bool execute_planned = false;  // the plan for the Execute at the front of `pending` is built
  // Prepared statements pgmask replaced by a refusal: their Binds carry NULLs instead of values.
  absl::flat_hash_set<std::string> refused_statements;
  // Restricted sessions: the plans of prepared statements (Parse and SQL PREPARE share one
  // namespace in PostgreSQL) and of portals (Bind and DECLARE share one too), so that rows of an
  // Execute, EXECUTE or FETCH are treated like those of the query that defined them.
  absl::flat_hash_map<std::string, PlannedStatementPtr> prepared;
  absl::flat_hash_map<std::string, PlannedStatementPtr> portals;
  size_t query_statement = 0;  // the statement of the simple Query whose results are arriving
  // A statement may have changed search_path or the current role since the catalog was read:
  // until it is read again, outputs are redacted.
  bool settings_pending = false;
  bool settings_in_transaction = false;  // a ROLLBACK would undo a SET
  // Restricted sessions: a statement sent since the catalog was read may make names resolve
  // differently (DDL, search_path, role); until it is read again, nothing that reads is analysed.
  bool names_pending = false;
  // DDL was sent since the server was last idle: ending the transaction or rolling back to a
  // savepoint may undo it, and the catalog read in between.
  bool ddl_in_transaction = false;
  // The session prepared a transaction that ran DDL: any session may commit it at any moment, so
  // the catalog is read again after every ReadyForQuery from then on.
  bool ddl_prepared = false;
  // Set from the ParameterStatus messages of client_encoding and standard_conforming_strings
  // (at startup, then whenever they change): while the session reads SQL text differently from
  // the parser pgmask uses, every statement of a restricted session is refused.
  std::string text_settings_refusal;
  std::string encoding_refusal;
  std::string quoting_refusal;
  void NoteParameter(std::string_view name, std::string_view value);

  // The data of a COPY ... TO STDOUT of a restricted session is flowing through this rewriter
  // (its options and columns are on its PlannedStatement's CopyDescription).
  std::optional<protocol::CopyOutRewriter> copy_rewriter;
  void EndCopy() { copy_rewriter.reset(); }

  // A newer policy or DDL since the catalog was read: re-read it at the next safe point.
  std::string database;
  uint64_t policy_generation = 0;
  bool catalog_stale = false;
  std::chrono::steady_clock::time_point catalog_read_at;
  // The snapshot of the last current read: a read inside a transaction whose snapshot does not see
  // all it saw (SET TRANSACTION SNAPSHOT of an older one) would take the catalog back in time.
  std::optional<XidSnapshot> current_read_through;
  // The policy in force was adopted without a read (a reload while no read could succeed or
  // start): where its protected columns are, and the plans made before it, are unknown.
  bool policy_unread = false;
  std::unique_ptr<CatalogRefresh> refresh;  // a read in flight
  int refresh_failures = 0;  // reads failed in a row
  // After a failed read, or one that was not current: not before.
  std::chrono::steady_clock::time_point refresh_retry_at;
  // The message now held was planned against a catalog without a relation it names, and the
  // catalog is being read again for it.
  bool catalog_read_for_message = false;
  bool refresh_in_flight() const { return refresh != nullptr; }
  // The catalog in force was read, as current, longer than catalog_recheck ago, or not for the
  // policy in force.
  bool catalog_outdated(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) const {
    return policy_unread || now - catalog_read_at > absl::ToChronoNanoseconds(proxy.config.catalog_recheck);
  }
  // A policy was loaded after the one this session applies.
  bool policy_behind() const { return proxy.policies.generation() != policy_generation; }
  // Lets the client's frames flow again once a catalog read completes (FramePump::Release).
  std::function<void()> release_client;

  bool policy_enabled() const { return proxy.policies.enabled(); }

  // Break-glass (proxy/break_glass.h): every class in clear until `expires`, the session still
  // analysed and audited.
  struct BreakGlass {
    std::string reason;
    absl::Time expires;
  };
  std::optional<BreakGlass> break_glass;
  // A ReadyForQuery is still to come: for a message of the client's, or for pgmask's catalog
  // read. With a policy loaded, from what the server still owes, which knows the Queries and
  // Syncs the server skips after an error and ignores during COPY FROM STDIN.
  bool awaiting_ready() const {
    return refresh_in_flight() || (policy_enabled() ? pending.owes_ready() : outstanding_syncs != 0);
  }
  // Nothing of the client's is in flight: actions may change without touching a result.
  bool between_statements() const { return !awaiting_ready() && !in_extended; }

  // Makes `next` the session's catalog and derives the session's actions from it.
  void ActivateCatalog(SessionCatalog next);
  // Derives the session's actions from its catalog and break-glass state. Only between
  // statements: it resets the masker.
  void ApplyActions();
  // The read in flight ended (ReadyForQuery): activate its result or keep the previous catalog.
  void FinishRefresh();
  // Applies `policy` with the roles and relations last read, until a
  // read for it succeeds: the plans made before are forgotten (their rows redacted whole), and
  // statements that name relations are refused meanwhile (catalog_outdated). Only between
  // statements.
  void AdoptPolicy(std::shared_ptr<const policy::Policy> policy);
  // Drops the plans of named state (DISCARD ALL, a policy that changed class indexes).
  void ForgetNamedState() {
    prepared.clear();
    portals.clear();
  }
};

}  // namespace pgmask::proxy
