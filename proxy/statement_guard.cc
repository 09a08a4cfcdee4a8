#include "proxy/statement_guard.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "policy/identifier.h"
#include "policy/nesting_check.h"
#include "protocol/message_tags.h"
#include "protocol/message_writer.h"
#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {

std::string RefusalStatement(std::string_view message, std::string_view sqlstate) {
  const std::string literal = policy::EscapeStringLiteral(message);
  std::string tag = "$pgmask$";
  while (literal.find(tag) != std::string::npos) tag.insert(1, "x");
  // `sqlstate` is one of pgmask's own constants: five characters from [0-9A-Z].
  return absl::StrFormat("DO LANGUAGE plpgsql %sBEGIN RAISE EXCEPTION USING ERRCODE = '%s', MESSAGE = %s; END%s", tag,
                         sqlstate, literal, tag);
}

void AppendRefusalQuery(std::string_view message, std::string& out, std::string_view sqlstate) {
  protocol::MessageWriter w(out);
  w.Begin(protocol::FrontendTag(protocol::MessageType::kQuery)).CString(RefusalStatement(message, sqlstate));
  w.End();
}

void AppendRefusalParse(const protocol::ParseView& parse, std::string_view message, std::string& out,
                        std::string_view sqlstate) {
  protocol::MessageWriter w(out);
  w.Begin(protocol::FrontendTag(protocol::MessageType::kParse))
      .CString(parse.statement)
      .CString(RefusalStatement(message, sqlstate));
  constexpr int32_t kTextOid = 25;
  const size_t count = std::max<size_t>(parse.parameter_type_count, policy::MaxParameterNumber(parse.query));
  w.Int16(static_cast<int16_t>(count));
  for (size_t i = 0; i < count; ++i) {
    const uint32_t declared = i < parse.parameter_type_count ? parse.ParameterType(i) : 0;
    w.Int32(declared != 0 ? static_cast<int32_t>(declared) : kTextOid);
  }
  w.End();
}

void AppendNullBind(const protocol::BindView& bind, std::string& out) {
  protocol::MessageWriter w(out);
  w.Begin(protocol::FrontendTag(protocol::MessageType::kBind)).CString(bind.portal).CString(bind.statement);
  w.Int16(static_cast<int16_t>(bind.parameter_formats.count()));
  for (size_t i = 0; i < bind.parameter_formats.count(); ++i) w.Int16(bind.parameter_formats.ForColumn(i));
  w.Int16(static_cast<int16_t>(bind.parameters.size()));
  for (size_t i = 0; i < bind.parameters.size(); ++i) w.Int32(-1);
  w.Int16(static_cast<int16_t>(bind.result_formats.count()));
  for (size_t i = 0; i < bind.result_formats.count(); ++i) w.Int16(bind.result_formats.ForColumn(i));
  w.End();
}

}  // namespace pgmask::proxy
