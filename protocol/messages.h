// Zero-copy typed views of the message bodies pgmask looks into. Each Parse* validates the whole
// body first, so the views never point past it; a malformed body is an error, never a guess.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "protocol/frame_decoder.h"
#include "protocol/startup_packet.h"

namespace pgmask::protocol {

// A column value as sent on the wire: `size` bytes at `data`, or SQL NULL when size is -1.
struct WireValue {
  const uint8_t* data = nullptr;
  int32_t size = -1;
  bool is_null() const { return size < 0; }
  std::string_view text() const {
    return is_null() ? std::string_view() : std::string_view(reinterpret_cast<const char*>(data), size);
  }
};

struct FieldDescription {
  std::string_view name;
  uint32_t table_oid = 0;
  int16_t column = 0;
  uint32_t type_oid = 0;
  int16_t type_size = 0;
  int32_t type_modifier = 0;
  int16_t format = 0;  // 0 text, 1 binary
};

// RowDescription ('T'). Fills `fields`, reusing its capacity.
absl::Status ParseRowDescription(Bytes body, std::vector<FieldDescription>& fields);

// DataRow ('D'). Fills `values`, reusing its capacity.
absl::Status ParseDataRow(Bytes body, std::vector<WireValue>& values);

// PostgreSQL's NAMEDATALEN - 1: the bytes of a statement or portal name the server tells apart.
// Parse, Bind, Describe, Close and Execute views hold names cut to this length.
inline constexpr size_t kMaxNameBytes = 63;

// Format codes of Bind: 0 entries (all text), 1 (applies to all) or one per column.
class FormatCodes {
 public:
  FormatCodes() = default;
  FormatCodes(const uint8_t* raw, uint16_t count) : raw_(raw), count_(count) {}
  uint16_t count() const { return count_; }
  const uint8_t* raw() const { return raw_; }  // count() big-endian int16 codes
  // The format of column i of n, applying the protocol's 0/1/n rule.
  int16_t ForColumn(size_t i) const;

 private:
  const uint8_t* raw_ = nullptr;
  uint16_t count_ = 0;
};

struct BindView {
  std::string_view portal;
  std::string_view statement;
  FormatCodes parameter_formats;
  std::vector<WireValue> parameters;
  FormatCodes result_formats;
};
absl::StatusOr<BindView> ParseBind(Bytes body);

struct ParseView {
  std::string_view statement;
  std::string_view query;
  uint16_t parameter_type_count = 0;
  const uint8_t* parameter_types = nullptr;  // parameter_type_count big-endian OIDs
  uint32_t ParameterType(size_t i) const;
};
absl::StatusOr<ParseView> ParseParse(Bytes body);

// Describe ('D') and Close ('C') from the client: 'S' statement or 'P' portal, and its name.
struct TargetView {
  char kind;
  std::string_view name;
};
absl::StatusOr<TargetView> ParseDescribeOrClose(Bytes body);

// Execute ('E'): the portal and the row limit (0 = all rows).
struct ExecuteView {
  std::string_view portal;
  int32_t max_rows = 0;
};
absl::StatusOr<ExecuteView> ParseExecute(Bytes body);

// CopyInResponse, CopyOutResponse, CopyBothResponse: overall format (0 text, 1 binary) and one
// format per column.
struct CopyResponseView {
  int8_t format = 0;
  std::vector<int16_t> column_formats;
};
absl::StatusOr<CopyResponseView> ParseCopyResponse(Bytes body);

// Query ('Q'): the SQL text without its terminator.
absl::StatusOr<std::string_view> ParseQuery(Bytes body);

// ErrorResponse ('E') and NoticeResponse ('N') share one layout of typed fields.
struct ErrorNoticeField {
  char code;  // 'S' severity, 'V' non-localized severity, 'C' SQLSTATE, 'M' message, ...
  std::string_view value;
};
struct ErrorNoticeView {
  std::vector<ErrorNoticeField> fields;
  std::optional<std::string_view> Get(char code) const;
  std::string_view sqlstate() const { return Get('C').value_or(""); }
  std::string_view severity() const { return Get('V').value_or(Get('S').value_or("")); }
  std::string_view message() const { return Get('M').value_or(""); }
};
absl::StatusOr<ErrorNoticeView> ParseErrorNotice(Bytes body);

absl::StatusOr<CancelKey> ParseBackendKeyData(Bytes body);

// ReadyForQuery ('Z'): 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block.
absl::StatusOr<char> ParseReadyForQuery(Bytes body);

// Authentication ('R'): the request code (0 ok, 3 cleartext, 5 md5, 10 SASL, 11 continue, 12 final).
absl::StatusOr<int32_t> ParseAuthenticationCode(Bytes body);
inline constexpr int32_t kAuthenticationOk = 0;

struct ParameterStatusView {
  std::string_view name;
  std::string_view value;
};
absl::StatusOr<ParameterStatusView> ParseParameterStatus(Bytes body);

// NotificationResponse ('A'): the notifying backend's process ID, the channel and the payload.
struct NotificationView {
  int32_t process_id = 0;
  std::string_view channel;
  std::string_view payload;
};
absl::StatusOr<NotificationView> ParseNotification(Bytes body);

}  // namespace pgmask::protocol
