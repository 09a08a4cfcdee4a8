#include "proxy/client_sink.h"

#include "protocol/message_writer.h"
#include "protocol/messages.h"
#include "protocol/string_view_bridge.h"
#include "proxy/log.h"
#include "proxy/statement_guard.h"

namespace pgmask::proxy {

using protocol::MessageType;

bool ClientSink::NeedsWholeFrame(const protocol::FrameHeader& h) { return h.type() != MessageType::kCopyData; }

Verdict ClientSink::OnFrame(const protocol::FrameHeader& h, std::span<uint8_t> frame, OutputBatch& out) {
  s_.timer.ClientFrame();
  s_.idle = false;
  const MessageType type = h.type();
  if (type == MessageType::kTerminate) {
    s_.client_terminated = true;
    return Verdict::kForwardAndStop;
  }
  if (s_.policy_enabled()) MaybeRefreshCatalog(out);
  Verdict verdict = Verdict::kForward;
  if (!s_.all_clear && (type == MessageType::kQuery || type == MessageType::kParse)) {
    verdict = Guard(h, frame.subspan(protocol::kFrameHeaderSize), out);
  } else if (type == MessageType::kBind && !s_.refused_statements.empty()) {
    verdict = NullBindIfRefused(frame.subspan(protocol::kFrameHeaderSize), out);
  }
  Track(type);
  if (s_.policy_enabled()) Expect(type, frame.subspan(protocol::kFrameHeaderSize), out);
  return verdict;
}

void ClientSink::Expect(MessageType type, protocol::Bytes body, OutputBatch& out) {
  PendingResponses& pending = s_.pending;
  switch (type) {
    case MessageType::kQuery:
      pending.Push(PendingKind::kQuery);
      break;
    case MessageType::kFunctionCall:
      pending.Push(PendingKind::kFunctionCall);
      break;
    case MessageType::kParse:
      pending.Push(PendingKind::kParse);
      break;
    case MessageType::kSync:
      pending.Push(PendingKind::kSync);
      break;
    case MessageType::kBind: {
      const auto bind = protocol::ParseBind(body);
      const std::string_view portal = bind.ok() ? bind->portal : std::string_view();
      pending.MarkBound(portal);
      pending.Push(PendingKind::kBind, portal);
      break;
    }
    case MessageType::kDescribe: {
      const auto target = protocol::ParseDescribeOrClose(body);
      if (!target.ok() || target->kind == 'S') {
        pending.Push(PendingKind::kDescribeStatement);
        break;
      }
      pending.MarkDescribed(target->name);
      pending.Push(PendingKind::kDescribePortal, target->name);
      break;
    }
    case MessageType::kExecute: {
      const auto execute = protocol::ParseExecute(body);
      const std::string_view portal = execute.ok() ? execute->portal : std::string_view();
      if (!s_.all_clear && !pending.described(portal)) {
        const size_t start = out.scratch().size();
        protocol::MessageWriter w(out.scratch());
        w.Begin(protocol::FrontendTag(MessageType::kDescribe)).Int8('P').CString(portal);
        w.End();
        out.EmitCommitted(start);
        pending.MarkDescribed(portal);
        pending.Push(PendingKind::kDescribePortal, portal, /*injected=*/true);
      }
      pending.Push(PendingKind::kExecute, portal);
      break;
    }
    case MessageType::kClose: {
      const auto target = protocol::ParseDescribeOrClose(body);
      const bool portal = target.ok() && target->kind == 'P';
      if (portal) pending.ForgetPortal(target->name);
      if (target.ok() && !portal) s_.refused_statements.erase(ToAbsl(target->name));
      pending.Push(PendingKind::kClose, portal ? target->name : std::string_view(), false, portal);
      break;
    }
    default:
      break;  // Flush, COPY data and password messages get no answer of their own
  }
}

void ClientSink::Track(MessageType type) {
  switch (type) {
    case MessageType::kQuery:
    case MessageType::kFunctionCall:
      ++s_.outstanding_syncs;
      break;
    case MessageType::kSync:
      ++s_.outstanding_syncs;
      s_.in_extended = false;
      break;
    case MessageType::kParse:
    case MessageType::kBind:
    case MessageType::kDescribe:
    case MessageType::kExecute:
    case MessageType::kClose:
    case MessageType::kFlush:
      s_.in_extended = true;
      break;
    default:
      break;
  }
}

void ClientSink::MaybeRefreshCatalog(OutputBatch& out) {
  if (s_.refresh_in_flight || s_.outstanding_syncs != 0 || s_.in_extended || s_.transaction_status == 'E') return;
  const uint64_t generation = s_.proxy.policies.generation();
  if (!s_.catalog_stale && generation == s_.policy_generation) return;
  s_.policy_generation = generation;
  s_.catalog_stale = false;
  s_.refresh_in_flight = true;
  s_.refresh_failed = false;
  s_.pending_catalog = SessionCatalog{};
  s_.pending_catalog.policy = s_.proxy.policies.current();
  const size_t start = out.scratch().size();
  protocol::MessageWriter w(out.scratch());
  w.Begin(protocol::FrontendTag(MessageType::kQuery)).CString(CatalogQuery(*s_.pending_catalog.policy));
  w.End();
  out.EmitCommitted(start);
  ++s_.outstanding_syncs;
}

namespace {

std::optional<protocol::CopyOptions> CopyOptionsOf(const policy::CopyToClient& copy) {
  using protocol::CopyFormat;
  const CopyFormat format = copy.format == "csv" ? CopyFormat::kCsv
                            : copy.format == "binary" ? CopyFormat::kBinary
                                                      : CopyFormat::kText;
  protocol::CopyOptions options = protocol::CopyOptions::ForFormat(format);
  auto one_char = [](const std::optional<std::string>& v, char& out) {
    if (!v) return true;
    if (v->size() != 1) return false;
    out = (*v)[0];
    return true;
  };
  if (!one_char(copy.delimiter, options.delimiter) || !one_char(copy.quote, options.quote)) return std::nullopt;
  if (copy.quote && !copy.escape) options.escape = options.quote;
  if (!one_char(copy.escape, options.escape)) return std::nullopt;
  if (copy.null_string) options.null_string = *copy.null_string;
  options.header = copy.header;
  return options;
}

}  // namespace

void ClientSink::DescribeCopy(const policy::CopyToClient& copy, OutputBatch& out) {
  // The server describes a SELECT with the COPY's columns; its answer is pgmask's alone.
  const size_t start = out.scratch().size();
  protocol::MessageWriter w(out.scratch());
  w.Begin(protocol::FrontendTag(MessageType::kParse)).CString("").CString(copy.describe_sql).Int16(0);
  w.End();
  w.Begin(protocol::FrontendTag(MessageType::kDescribe)).Int8('S').CString("");
  w.End();
  w.Begin(protocol::FrontendTag(MessageType::kSync));
  w.End();
  out.EmitCommitted(start);
  s_.pending.Push(PendingKind::kParse, {}, /*injected=*/true);
  s_.pending.Push(PendingKind::kDescribeStatement, {}, /*injected=*/true);
  s_.pending.Push(PendingKind::kSync, {}, /*injected=*/true);
  s_.copy_options = CopyOptionsOf(copy);
  s_.copy_fields.reset();
  s_.copy_rewriter.reset();
}

Verdict ClientSink::NullBindIfRefused(protocol::Bytes body, OutputBatch& out) {
  const auto bind = protocol::ParseBind(body);
  if (!bind.ok() || !s_.refused_statements.contains(ToAbsl(bind->statement))) return Verdict::kForward;
  // The values would only reach a statement that raises; NULLs bind to any type in any format.
  const size_t start = out.scratch().size();
  AppendNullBind(*bind, out.scratch());
  out.EmitCommitted(start);
  return Verdict::kDrop;
}

Verdict ClientSink::Guard(const protocol::FrameHeader& h, protocol::Bytes body, OutputBatch& out) {
  std::optional<protocol::ParseView> parse;
  std::string_view sql;
  if (h.type() == MessageType::kQuery) {
    const auto query = protocol::ParseQuery(body);
    if (!query.ok()) return Verdict::kForward;  // PostgreSQL answers a malformed message itself
    sql = *query;
  } else {
    auto p = protocol::ParseParse(body);
    if (!p.ok()) return Verdict::kForward;
    parse = *p;
    sql = parse->query;
  }
  if (parse) s_.refused_statements.erase(ToAbsl(parse->statement));
  const StatementFacts& facts = AnalyzeStatement(sql, s_.catalog.policy);
  std::optional<std::string> refusal = CheckForDeniedOutput(facts, *s_.catalog.policy, *s_.actions);
  if (!refusal && !facts.copy_error.empty()) refusal = "pgmask: " + facts.copy_error;
  if (!refusal) {
    // COPY TO STDOUT sends no RowDescription: describe its columns first. Through the extended
    // protocol there is no safe point to do so, and its data is refused when it comes.
    if (facts.copy && !parse) DescribeCopy(*facts.copy, out);
    return Verdict::kForward;
  }
  Logf(LogLevel::kInfo, "session=%s statement refused: %s", s_.id, *refusal);
  s_.proxy.metrics.StatementRefused(StatementRefusal::kDeniedColumn);
  const size_t start = out.scratch().size();
  if (parse) {
    AppendRefusalParse(*parse, *refusal, out.scratch());
    s_.refused_statements.emplace(parse->statement);
  } else {
    AppendRefusalQuery(*refusal, out.scratch());
  }
  out.EmitCommitted(start);
  return Verdict::kDrop;
}

}  // namespace pgmask::proxy
