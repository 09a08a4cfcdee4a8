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

namespace {

// A Parse of `statement` whose Execute raises; `type_of(i)` is the OID declared for parameter i.
template <typename TypeOf>
void WriteRefusalParse(protocol::MessageWriter& w, std::string_view statement, std::string_view message,
                       std::string_view sqlstate, size_t parameters, TypeOf type_of) {
  w.Begin(protocol::FrontendTag(protocol::MessageType::kParse))
      .CString(statement)
      .CString(RefusalStatement(message, sqlstate));
  w.Int16(static_cast<int16_t>(parameters));
  for (size_t i = 0; i < parameters; ++i) w.Int32(static_cast<int32_t>(type_of(i)));
  w.End();
}

constexpr uint32_t kTextOid = 25;

}  // namespace

void AppendRefusalParse(const protocol::ParseView& parse, std::string_view message, std::string& out,
                        std::string_view sqlstate) {
  protocol::MessageWriter w(out);
  const size_t count = std::max<size_t>(parse.parameter_type_count, policy::MaxParameterNumber(parse.query));
  WriteRefusalParse(w, parse.statement, message, sqlstate, count, [&](size_t i) {
    const uint32_t declared = i < parse.parameter_type_count ? parse.ParameterType(i) : 0;
    return declared != 0 ? declared : kTextOid;
  });
}

void AppendRefusalReplacement(const protocol::BindView& bind, std::string_view message, std::string& out) {
  protocol::MessageWriter w(out);
  w.Begin(protocol::FrontendTag(protocol::MessageType::kClose)).Int8('S').CString(bind.statement);
  w.End();
  WriteRefusalParse(w, bind.statement, message, kPermissionDenied, bind.parameters.size(), [](size_t) { return kTextOid; });
}

void AppendRefusalExecute(std::string_view name, std::string_view message, std::string& out,
                          std::string_view sqlstate) {
  protocol::MessageWriter w(out);
  w.Begin(protocol::FrontendTag(protocol::MessageType::kClose)).Int8('S').CString(name);
  w.End();
  w.Begin(protocol::FrontendTag(protocol::MessageType::kClose)).Int8('P').CString(name);
  w.End();
  WriteRefusalParse(w, name, message, sqlstate, 0, [](size_t) { return kTextOid; });
  w.Begin(protocol::FrontendTag(protocol::MessageType::kBind)).CString(name).CString(name);
  w.Int16(0).Int16(0).Int16(0);
  w.End();
  w.Begin(protocol::FrontendTag(protocol::MessageType::kExecute)).CString(name).Int32(0);
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
