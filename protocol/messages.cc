#include "protocol/messages.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "protocol/byte_reader.h"

namespace pgmask::protocol {
namespace {

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrFormat("malformed %s message", what));
}

// Reads a count of format codes followed by the codes. Counts a client sends are unsigned, as
// PostgreSQL reads them; the codes are not checked here because PostgreSQL checks a parameter's
// only when there is a parameter, and a result's only when it sends a row.
std::optional<FormatCodes> ReadFormatCodes(ByteReader& r) {
  const auto count = r.U16();
  if (!count) return std::nullopt;
  const auto raw = r.Take(size_t(*count) * 2);
  if (!raw) return std::nullopt;
  return FormatCodes(raw->data(), *count);
}

// PostgreSQL keys prepared statements and portals by their first NAMEDATALEN - 1 bytes, so two
// names that differ only after them are one name to the server, and must be to pgmask.
std::string_view ServerName(std::string_view name) { return name.substr(0, kMaxNameBytes); }

// Reads `count` length-prefixed values (length -1 is NULL) into `values`.
bool ReadValues(ByteReader& r, size_t count, std::vector<WireValue>& values) {
  values.clear();
  for (size_t i = 0; i < count; ++i) {
    const auto size = r.I32();
    if (!size || *size < -1) return false;
    if (*size == -1) {
      values.push_back(WireValue{});
      continue;
    }
    const auto data = r.Take(static_cast<size_t>(*size));
    if (!data) return false;
    values.push_back(WireValue{data->data(), *size});
  }
  return true;
}

}  // namespace

absl::Status ParseRowDescription(Bytes body, std::vector<FieldDescription>& fields) {
  ByteReader r(body);
  fields.clear();
  const auto count = r.I16();
  if (!count || *count < 0) return Malformed("RowDescription");
  for (int i = 0; i < *count; ++i) {
    const auto name = r.CString();
    const auto table = r.U32();
    const auto column = r.I16();
    const auto type = r.U32();
    const auto size = r.I16();
    const auto modifier = r.I32();
    const auto format = r.I16();
    if (!name || !table || !column || !type || !size || !modifier || !format) {
      return Malformed("RowDescription");
    }
    fields.push_back({*name, *table, *column, *type, *size, *modifier, *format});
  }
  if (!r.at_end()) return Malformed("RowDescription");
  return absl::OkStatus();
}

absl::Status ParseDataRow(Bytes body, std::vector<WireValue>& values) {
  ByteReader r(body);
  const auto count = r.I16();
  if (!count || *count < 0 || !ReadValues(r, size_t(*count), values) || !r.at_end()) {
    return Malformed("DataRow");
  }
  return absl::OkStatus();
}

int16_t FormatCodes::ForColumn(size_t i) const {
  if (count_ == 0) return 0;
  if (count_ == 1) return LoadI16(raw_);
  return i < count_ ? LoadI16(raw_ + 2 * i) : 0;
}

absl::StatusOr<BindView> ParseBind(Bytes body) {
  ByteReader r(body);
  BindView b;
  const auto portal = r.CString();
  const auto statement = r.CString();
  if (!portal || !statement) return Malformed("Bind");
  b.portal = ServerName(*portal);
  b.statement = ServerName(*statement);
  const auto param_formats = ReadFormatCodes(r);
  if (!param_formats) return Malformed("Bind");
  b.parameter_formats = *param_formats;
  const auto param_count = r.U16();
  if (!param_count || !ReadValues(r, size_t(*param_count), b.parameters)) {
    return Malformed("Bind");
  }
  const auto result_formats = ReadFormatCodes(r);
  if (!result_formats || !r.at_end()) return Malformed("Bind");
  b.result_formats = *result_formats;
  return b;
}

uint32_t ParseView::ParameterType(size_t i) const { return LoadU32(parameter_types + 4 * i); }

absl::StatusOr<ParseView> ParseParse(Bytes body) {
  ByteReader r(body);
  ParseView p;
  const auto name = r.CString();
  const auto query = r.CString();
  const auto count = r.U16();
  if (!name || !query || !count) return Malformed("Parse");
  const auto types = r.Take(size_t(*count) * 4);
  if (!types || !r.at_end()) return Malformed("Parse");
  p.statement = ServerName(*name);
  p.query = *query;
  p.parameter_type_count = *count;
  p.parameter_types = types->data();
  return p;
}

absl::StatusOr<TargetView> ParseDescribeOrClose(Bytes body) {
  ByteReader r(body);
  const auto kind = r.U8();
  const auto name = r.CString();
  if (!kind || !name || (*kind != 'S' && *kind != 'P') || !r.at_end()) return Malformed("Describe/Close");
  return TargetView{static_cast<char>(*kind), ServerName(*name)};
}

absl::StatusOr<ExecuteView> ParseExecute(Bytes body) {
  ByteReader r(body);
  const auto portal = r.CString();
  const auto max_rows = r.I32();
  if (!portal || !max_rows || !r.at_end()) return Malformed("Execute");
  return ExecuteView{ServerName(*portal), *max_rows};
}

absl::StatusOr<CopyResponseView> ParseCopyResponse(Bytes body) {
  ByteReader r(body);
  const auto format = r.U8();
  const auto count = r.I16();
  if (!format || *format > 1 || !count || *count < 0) return Malformed("Copy response");
  CopyResponseView view;
  view.format = static_cast<int8_t>(*format);
  for (int i = 0; i < *count; ++i) {
    const auto f = r.I16();
    if (!f || (*f != 0 && *f != 1)) return Malformed("Copy response");
    view.column_formats.push_back(*f);
  }
  if (!r.at_end()) return Malformed("Copy response");
  return view;
}

absl::StatusOr<std::string_view> ParseQuery(Bytes body) {
  ByteReader r(body);
  const auto query = r.CString();
  if (!query || !r.at_end()) return Malformed("Query");
  return *query;
}

std::optional<std::string_view> ErrorNoticeView::Get(char code) const {
  for (const ErrorNoticeField& f : fields) {
    if (f.code == code) return f.value;
  }
  return std::nullopt;
}

absl::StatusOr<ErrorNoticeView> ParseErrorNotice(Bytes body) {
  ByteReader r(body);
  ErrorNoticeView view;
  while (true) {
    const auto code = r.U8();
    if (!code) return Malformed("ErrorResponse/NoticeResponse");
    if (*code == 0) break;
    const auto value = r.CString();
    if (!value) return Malformed("ErrorResponse/NoticeResponse");
    view.fields.push_back({static_cast<char>(*code), *value});
  }
  if (!r.at_end()) return Malformed("ErrorResponse/NoticeResponse");
  return view;
}

absl::StatusOr<CancelKey> ParseBackendKeyData(Bytes body) {
  ByteReader r(body);
  const auto pid = r.U32();
  const auto secret = r.U32();
  if (!pid || !secret || !r.at_end()) return Malformed("BackendKeyData");
  return CancelKey{*pid, *secret};
}

absl::StatusOr<char> ParseReadyForQuery(Bytes body) {
  if (body.size() != 1 || (body[0] != 'I' && body[0] != 'T' && body[0] != 'E')) {
    return Malformed("ReadyForQuery");
  }
  return static_cast<char>(body[0]);
}

absl::StatusOr<int32_t> ParseAuthenticationCode(Bytes body) {
  ByteReader r(body);
  const auto code = r.I32();
  if (!code) return Malformed("Authentication");
  return *code;
}

absl::StatusOr<ParameterStatusView> ParseParameterStatus(Bytes body) {
  ByteReader r(body);
  const auto name = r.CString();
  const auto value = r.CString();
  if (!name || !value || !r.at_end()) return Malformed("ParameterStatus");
  return ParameterStatusView{*name, *value};
}

absl::StatusOr<NotificationView> ParseNotification(Bytes body) {
  ByteReader r(body);
  const auto pid = r.I32();
  const auto channel = r.CString();
  const auto payload = r.CString();
  if (!pid || !channel || !payload || !r.at_end()) return Malformed("NotificationResponse");
  return NotificationView{*pid, *channel, *payload};
}

}  // namespace pgmask::protocol
