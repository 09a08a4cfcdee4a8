// The leaf expressions of a libpg_query parse tree (constants, column and parameter references,
// current_user and the like, DEFAULT), each with the slot that holds it and the path of
// "Message.field" steps from the statement down to it. The analysis field-coverage test and the
// SQL mutant generator put other expressions in those slots.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <set>
#include <string>
#include <vector>

namespace pgmask::policy::testing {

struct Leaf {
  PgQuery__Node** slot;
  std::vector<std::string> path;  // "Message.field" from the root down to the leaf
};

inline bool IsLeafExpression(const PgQuery__Node& node) {
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_A_CONST:
    case PG_QUERY__NODE__NODE_COLUMN_REF:
    case PG_QUERY__NODE__NODE_PARAM_REF:
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:
    case PG_QUERY__NODE__NODE_SET_TO_DEFAULT:
      return true;
    default:
      return false;
  }
}

// The message a Node wraps: its one set case.
inline ProtobufCMessage* Wrapped(PgQuery__Node& node) {
  const ProtobufCMessageDescriptor* d = node.base.descriptor;
  char* base = reinterpret_cast<char*>(&node);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const ProtobufCFieldDescriptor& f = d->fields[i];
    if (f.type == PROTOBUF_C_TYPE_MESSAGE && *reinterpret_cast<uint32_t*>(base + f.quantifier_offset) == f.id) {
      return *reinterpret_cast<ProtobufCMessage**>(base + f.offset);
    }
  }
  return nullptr;
}

// A node type's name in paths; EXISTS sublinks apart, their target list returns nothing.
inline std::string StepName(const ProtobufCMessage* m) {
  if (m->descriptor == &pg_query__sub_link__descriptor &&
      reinterpret_cast<const PgQuery__SubLink*>(m)->sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK) {
    return "SubLink[EXISTS]";
  }
  return m->descriptor->short_name;
}

class LeafCollector {
 public:
  // `reached`, when given, collects every step of every leaf's path.
  explicit LeafCollector(std::set<std::string>* reached = nullptr) : reached_(reached) {}

  void Message(ProtobufCMessage* m) {
    if (m == nullptr) return;
    const ProtobufCMessageDescriptor* d = m->descriptor;
    seen.insert(d);
    char* base = reinterpret_cast<char*>(m);
    for (unsigned i = 0; i < d->n_fields; ++i) {
      const ProtobufCFieldDescriptor& f = d->fields[i];
      if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
      if ((f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 && *reinterpret_cast<uint32_t*>(base + f.quantifier_offset) != f.id) {
        continue;
      }
      path_.push_back(StepName(m) + "." + f.name);
      const bool node = f.descriptor == &pg_query__node__descriptor;
      if (f.label == PROTOBUF_C_LABEL_REPEATED) {
        const size_t count = *reinterpret_cast<size_t*>(base + f.quantifier_offset);
        auto** items = *reinterpret_cast<ProtobufCMessage***>(base + f.offset);
        for (size_t k = 0; k < count; ++k) {
          if (node) {
            Slot(reinterpret_cast<PgQuery__Node**>(&items[k]));
          } else {
            Message(items[k]);
          }
        }
      } else if (node) {
        Slot(reinterpret_cast<PgQuery__Node**>(base + f.offset));
      } else {
        Message(*reinterpret_cast<ProtobufCMessage**>(base + f.offset));
      }
      path_.pop_back();
    }
  }

  std::vector<Leaf> leaves;
  std::set<const ProtobufCMessageDescriptor*> seen;  // the node types met

 private:
  void Slot(PgQuery__Node** slot) {
    if (*slot == nullptr) return;
    if (IsLeafExpression(**slot)) {
      leaves.push_back({slot, path_});
      for (const std::string& step : path_) {
        if (reached_ == nullptr) break;
        reached_->insert(step.starts_with("SubLink[") ? "SubLink" + step.substr(step.find(']') + 1) : step);
      }
      return;
    }
    Message(Wrapped(**slot));
  }

  std::vector<std::string> path_;
  std::set<std::string>* reached_;
};

inline std::string JoinPath(const std::vector<std::string>& path) {
  std::string out;
  for (const std::string& step : path) {
    if (step == "List.items") continue;
    out += (out.empty() ? "" : " > ") + step;
  }
  return out;
}

}  // namespace pgmask::policy::testing
