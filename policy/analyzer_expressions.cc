// Expressions: lineage of values, and the comparisons and conditions protected columns take part in.
#include <array>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "policy/analyzer_internal.h"
#include "policy/function_rules.h"
#include "policy/name_resolution.h"
#include "policy/total_functions.h"

namespace pgmask::policy::analysis_internal {
namespace {

// Operators that compute a value rather than compare: everything else (=, <, ~~, ~, @>, &&, @@,
// ?, <<, ...) counts as a comparison, so an operator unknown here errs towards "predicate".
bool IsValueOperator(std::string_view op, bool prefix) {
  if (prefix) return true;  // -x, ~x, |/x, @x
  static constexpr std::array<std::string_view, 15> kValue = {"+",  "-",   "*",  "/",   "%", "^", "||", "->",
                                                              "->>", "#>", "#>>", "#-", "#", "&", "|"};
  for (std::string_view v : kValue) {
    if (op == v) return true;
  }
  return false;
}

bool IsEqualityOperator(std::string_view op) { return op == "=" || op == "<>" || op == "!="; }

bool RecordsItsOwnUse(const PgQuery__Node& n) {
  switch (n.node_case) {
    case PG_QUERY__NODE__NODE_A_EXPR: {
      if (n.a_expr->kind != PG_QUERY__A__EXPR__KIND__AEXPR_OP) return true;
      const std::vector<std::string_view> names = Names(n.a_expr->name, n.a_expr->n_name);
      return !IsValueOperator(names.empty() ? "" : names.back(), n.a_expr->lexpr == nullptr);
    }
    case PG_QUERY__NODE__NODE_NULL_TEST:
    case PG_QUERY__NODE__NODE_BOOLEAN_TEST:
      return true;
    case PG_QUERY__NODE__NODE_SUB_LINK:
      return n.sub_link->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK ||
             n.sub_link->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK ||
             n.sub_link->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ROWCOMPARE_SUBLINK;
    default:
      return false;
  }
}

}  // namespace

std::vector<std::string_view> Names(PgQuery__Node* const* nodes, size_t n) {
  std::vector<std::string_view> names;
  names.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (nodes[i] != nullptr && nodes[i]->node_case == PG_QUERY__NODE__NODE_STRING) names.push_back(Str(nodes[i]->string->sval));
  }
  return names;
}

std::optional<std::string> Analyzer::Literal(const PgQuery__Node* node) {
  out_.literal_sensitive = true;
  while (node != nullptr && node->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) node = node->type_cast->arg;
  if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_A_CONST || node->a_const->isnull) return std::nullopt;
  const PgQuery__AConst& c = *node->a_const;
  switch (c.val_case) {
    case PG_QUERY__A__CONST__VAL_SVAL: return std::string(Str(c.sval->sval));
    case PG_QUERY__A__CONST__VAL_IVAL: return std::to_string(c.ival->ival);
    case PG_QUERY__A__CONST__VAL_FVAL: return std::string(Str(c.fval->fval));
    case PG_QUERY__A__CONST__VAL_BOOLVAL: return std::string(c.boolval->boolval ? "true" : "false");
    default: return std::nullopt;
  }
}

namespace {

int FigureColname(const PgQuery__Node* node, std::string& name, bool& unknown);

// The name PostgreSQL gives the first column of a subquery; unknown when a `*` expands there.
std::string FirstColumnName(const PgQuery__SelectStmt* select, bool& unknown) {
  if (select == nullptr) {
    unknown = true;
    return "?column?";
  }
  if (select->op != PG_QUERY__SET_OPERATION__SETOP_NONE) return FirstColumnName(select->larg, unknown);
  if (select->n_values_lists > 0) return "column1";
  const PgQuery__Node* first = select->n_target_list > 0 ? select->target_list[0] : nullptr;
  if (first == nullptr || first->node_case != PG_QUERY__NODE__NODE_RES_TARGET) {
    unknown = true;
    return "?column?";
  }
  const PgQuery__ResTarget& target = *first->res_target;
  if (!Str(target.name).empty()) return std::string(Str(target.name));
  const PgQuery__Node* val = target.val;
  auto ends_in_star = [](PgQuery__Node* const* items, size_t n) {
    return n > 0 && items[n - 1] != nullptr && items[n - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR;
  };
  if (val != nullptr && ((val->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
                          ends_in_star(val->column_ref->fields, val->column_ref->n_fields)) ||
                         (val->node_case == PG_QUERY__NODE__NODE_A_INDIRECTION &&
                          ends_in_star(val->a_indirection->indirection, val->a_indirection->n_indirection)))) {
    unknown = true;  // named by the catalog
    return "?column?";
  }
  std::string name;
  return FigureColname(val, name, unknown) > 0 ? name : "?column?";
}

// PostgreSQL's FigureColnameInternal (parser/parse_target.c), node for node: the name and how
// sure it is (2: a column's or function's name, 1: a type's name or "case", 0: none), so that
// a cast or CASE keeps a sure name of what is inside it.
int FigureColname(const PgQuery__Node* node, std::string& name, bool& unknown) {
  if (node == nullptr) return 0;
  auto named = [&name](std::string_view n, int strength) {
    name = std::string(n);
    return strength;
  };
  switch (node->node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF: {
      const std::vector<std::string_view> names = Names(node->column_ref->fields, node->column_ref->n_fields);
      return names.empty() ? 0 : named(names.back(), 2);
    }
    case PG_QUERY__NODE__NODE_A_INDIRECTION: {
      const std::vector<std::string_view> names =
          Names(node->a_indirection->indirection, node->a_indirection->n_indirection);
      return names.empty() ? FigureColname(node->a_indirection->arg, name, unknown) : named(names.back(), 2);
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
      const std::vector<std::string_view> names = Names(node->func_call->funcname, node->func_call->n_funcname);
      return names.empty() ? 0 : named(names.back(), 2);
    }
    case PG_QUERY__NODE__NODE_A_EXPR:
      return node->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF ? named("nullif", 2) : 0;
    case PG_QUERY__NODE__NODE_TYPE_CAST: {
      const int strength = FigureColname(node->type_cast->arg, name, unknown);
      if (strength > 1 || node->type_cast->type_name == nullptr) return strength;
      const std::vector<std::string_view> names =
          Names(node->type_cast->type_name->names, node->type_cast->type_name->n_names);
      return names.empty() ? strength : named(names.back(), 1);
    }
    case PG_QUERY__NODE__NODE_COLLATE_CLAUSE:
      return FigureColname(node->collate_clause->arg, name, unknown);
    case PG_QUERY__NODE__NODE_GROUPING_FUNC: return named("grouping", 2);
    case PG_QUERY__NODE__NODE_SUB_LINK:
      switch (node->sub_link->sub_link_type) {
        case PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK: return named("exists", 2);
        case PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK: return named("array", 2);
        case PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK: {
          const PgQuery__Node* sub = node->sub_link->subselect;
          const PgQuery__SelectStmt* select =
              sub != nullptr && sub->node_case == PG_QUERY__NODE__NODE_SELECT_STMT ? sub->select_stmt : nullptr;
          return named(FirstColumnName(select, unknown), 2);
        }
        default: return 0;
      }
    case PG_QUERY__NODE__NODE_CASE_EXPR: {
      const int strength = FigureColname(node->case_expr->defresult, name, unknown);
      return strength > 1 ? strength : named("case", 1);
    }
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR: return named("array", 2);
    case PG_QUERY__NODE__NODE_ROW_EXPR: return named("row", 2);
    case PG_QUERY__NODE__NODE_COALESCE_EXPR: return named("coalesce", 2);
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
      return named(node->min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_GREATEST ? "greatest" : "least", 2);
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:
      switch (node->sqlvalue_function->op) {
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE: return named("current_date", 2);
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME:
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME_N: return named("current_time", 2);
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP:
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N: return named("current_timestamp", 2);
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME:
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME_N: return named("localtime", 2);
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP:
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N: return named("localtimestamp", 2);
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE: return named("current_role", 2);
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER: return named("current_user", 2);
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER: return named("user", 2);
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER: return named("session_user", 2);
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG: return named("current_catalog", 2);
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA: return named("current_schema", 2);
        default: return 0;
      }
    case PG_QUERY__NODE__NODE_XML_EXPR:
      switch (node->xml_expr->op) {
        case PG_QUERY__XML_EXPR_OP__IS_XMLCONCAT: return named("xmlconcat", 2);
        case PG_QUERY__XML_EXPR_OP__IS_XMLELEMENT: return named("xmlelement", 2);
        case PG_QUERY__XML_EXPR_OP__IS_XMLFOREST: return named("xmlforest", 2);
        case PG_QUERY__XML_EXPR_OP__IS_XMLPARSE: return named("xmlparse", 2);
        case PG_QUERY__XML_EXPR_OP__IS_XMLPI: return named("xmlpi", 2);
        case PG_QUERY__XML_EXPR_OP__IS_XMLROOT: return named("xmlroot", 2);
        case PG_QUERY__XML_EXPR_OP__IS_XMLSERIALIZE: return named("xmlserialize", 2);
        default: return 0;
      }
    case PG_QUERY__NODE__NODE_XML_SERIALIZE: return named("xmlserialize", 2);
    default: return 0;
  }
}

}  // namespace

std::optional<std::string> FigureName(const PgQuery__Node* node) {
  std::string name;
  bool unknown = false;
  const int strength = FigureColname(node, name, unknown);
  if (unknown) return std::nullopt;
  return strength > 0 ? name : "?column?";
}

Lineage Analyzer::Expr(const PgQuery__Node* n, const Scope* scope) {
  if (n == nullptr) return {};
  DepthGuard guard(*this);
  if (guard.exceeded()) return Lineage::Everything();
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE__NOT_SET:
    case PG_QUERY__NODE__NODE_PARAM_REF:  // a value the client sends
    case PG_QUERY__NODE__NODE_A_CONST:
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:  // current_user, current_date, ...
    case PG_QUERY__NODE__NODE_SET_TO_DEFAULT:
    case PG_QUERY__NODE__NODE_CURRENT_OF_EXPR:
    case PG_QUERY__NODE__NODE_A_STAR:
      return {};
    case PG_QUERY__NODE__NODE_COLUMN_REF: return ColumnRef(*n->column_ref, scope);
    case PG_QUERY__NODE__NODE_TYPE_CAST: {
      const Lineage arg = Expr(n->type_cast->arg, scope);
      const PgQuery__TypeName* type = n->type_cast->type_name;
      const std::vector<std::string_view> names =
          type != nullptr ? Names(type->names, type->n_names) : std::vector<std::string_view>();
      // A name of three parts (database.schema.type) is not worth trusting.
      const bool cannot_fail = type != nullptr && type->n_array_bounds == 0 && !names.empty() && names.size() <= 2 &&
                               CastCannotFail(names.size() == 2 ? names[0] : std::string_view(), names.back());
      if (!cannot_fail) Fallible(arg);
      return arg.AsDerived();
    }
    case PG_QUERY__NODE__NODE_COLLATE_CLAUSE: return Expr(n->collate_clause->arg, scope).AsDerived();
    case PG_QUERY__NODE__NODE_A_EXPR: return AExpr(*n->a_expr, scope);
    case PG_QUERY__NODE__NODE_BOOL_EXPR: {
      Lineage acc;
      for (size_t i = 0; i < n->bool_expr->n_args; ++i) acc.MergeDerived(Condition(n->bool_expr->args[i], scope, clause_));
      return acc;
    }
    case PG_QUERY__NODE__NODE_NULL_TEST:
    case PG_QUERY__NODE__NODE_BOOLEAN_TEST: {
      const Lineage arg = Expr(n->node_case == PG_QUERY__NODE__NODE_NULL_TEST ? n->null_test->arg : n->boolean_test->arg, scope);
      Use(clause_, false, arg);
      return arg.AsDerived();
    }
    case PG_QUERY__NODE__NODE_SUB_LINK: return SubLink(*n->sub_link, scope);
    case PG_QUERY__NODE__NODE_FUNC_CALL: return FuncCall(*n->func_call, scope);
    case PG_QUERY__NODE__NODE_CASE_EXPR: {
      // The result reveals which branch was taken: the conditions count as inputs too.
      const PgQuery__CaseExpr& c = *n->case_expr;
      const Lineage arg = Expr(c.arg, scope);
      Lineage acc = arg.AsDerived();
      for (size_t i = 0; i < c.n_args; ++i) {
        const PgQuery__Node* w = c.args[i];
        if (w == nullptr || w->node_case != PG_QUERY__NODE__NODE_CASE_WHEN) continue;
        if (c.arg != nullptr) {
          // CASE x WHEN v: compares x with v.
          const Lineage value = Expr(w->case_when->expr, scope);
          Lineage compared = arg;
          compared.Merge(value);
          Use(clause_, false, compared);
          acc.MergeDerived(value);
        } else {
          acc.MergeDerived(Condition(w->case_when->expr, scope, clause_));
        }
        acc.MergeDerived(Expr(w->case_when->result, scope));
      }
      acc.MergeDerived(Expr(c.defresult, scope));
      return acc;
    }
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR: {
      // GREATEST and LEAST compare their arguments.
      Lineage compared;
      for (size_t i = 0; i < n->min_max_expr->n_args; ++i) compared.Merge(Expr(n->min_max_expr->args[i], scope));
      Use(clause_, false, compared);
      return compared.AsDerived();
    }
    case PG_QUERY__NODE__NODE_XML_EXPR: {
      const Lineage inputs = GenericChildren(&n->xml_expr->base, scope);
      switch (n->xml_expr->op) {
        case PG_QUERY__XML_EXPR_OP__IS_XMLCONCAT:
        case PG_QUERY__XML_EXPR_OP__IS_XMLELEMENT:
        case PG_QUERY__XML_EXPR_OP__IS_XMLFOREST:
          break;  // they escape text and nest xml values
        case PG_QUERY__XML_EXPR_OP__IS_DOCUMENT:
          Use(clause_, false, inputs);
          break;
        default:
          Fallible(inputs);  // XMLPARSE, XMLPI, XMLROOT reject some values
      }
      return inputs;
    }
    case PG_QUERY__NODE__NODE_XML_SERIALIZE: {
      const Lineage inputs = GenericChildren(&n->xml_serialize->base, scope);
      Fallible(inputs);  // DOCUMENT rejects a fragment
      return inputs;
    }
    case PG_QUERY__NODE__NODE_NAMED_ARG_EXPR: return Expr(n->named_arg_expr->arg, scope);
    case PG_QUERY__NODE__NODE_RES_TARGET: return Expr(n->res_target->val, scope);
    case PG_QUERY__NODE__NODE_MULTI_ASSIGN_REF: return Expr(n->multi_assign_ref->source, scope);
    case PG_QUERY__NODE__NODE_A_INDIRECTION: {
      Lineage acc = Expr(n->a_indirection->arg, scope).AsDerived();
      for (size_t i = 0; i < n->a_indirection->n_indirection; ++i) {
        const PgQuery__Node* step = n->a_indirection->indirection[i];
        if (step == nullptr || step->node_case != PG_QUERY__NODE__NODE_A_INDICES) continue;  // field names, *
        // A subscript decides which elements come out, so how many and of what shape: an array
        // constructor, || or array_agg over the result fails or not by the bound's value.
        Lineage bounds = Expr(step->a_indices->lidx, scope);
        bounds.MergeDerived(Expr(step->a_indices->uidx, scope));
        Fallible(bounds);
        acc.MergeDerived(bounds);
        // Like ->, a subscript of an array, jsonb or hstore is NULL or not by whether the value
        // has that element or key: a comparison of the subscript with the value's keys.
        Use(clause_, false, acc);
      }
      return acc;
    }
    default:
      // Constructors (ROW, ARRAY, XML), coalesce, subscripts, field selection, lists and any
      // node not named above: derived from everything inside it.
      return GenericChildren(&n->base, scope);
  }
}

Lineage Analyzer::GenericChildren(const ProtobufCMessage* message, const Scope* scope) {
  Lineage acc;
  if (message == nullptr) return acc;
  DepthGuard guard(*this);
  if (guard.exceeded()) return Lineage::Everything();
  auto visit = [&](const ProtobufCMessage* child) {
    if (child == nullptr) return;
    if (child->descriptor == &pg_query__node__descriptor) {
      acc.MergeDerived(Expr(reinterpret_cast<const PgQuery__Node*>(child), scope));
    } else {
      acc.MergeDerived(GenericChildren(child, scope));
    }
  };
  const ProtobufCMessageDescriptor* d = message->descriptor;
  const char* base = reinterpret_cast<const char*>(message);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const ProtobufCFieldDescriptor& f = d->fields[i];
    if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      const size_t count = *reinterpret_cast<const size_t*>(base + f.quantifier_offset);
      const auto* items = *reinterpret_cast<ProtobufCMessage* const* const*>(base + f.offset);
      for (size_t k = 0; k < count; ++k) visit(items[k]);
      continue;
    }
    if ((f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
        *reinterpret_cast<const uint32_t*>(base + f.quantifier_offset) != f.id) {
      continue;
    }
    visit(*reinterpret_cast<ProtobufCMessage* const*>(base + f.offset));
  }
  return acc;
}

Lineage Analyzer::Condition(const PgQuery__Node* node, const Scope* scope, UsageClause clause) {
  if (node == nullptr) return {};
  Restore<UsageClause> current(clause_, clause);
  if (node->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR) {
    Lineage acc;
    for (size_t i = 0; i < node->bool_expr->n_args; ++i) acc.MergeDerived(Condition(node->bool_expr->args[i], scope, clause));
    return acc;
  }
  const Lineage lineage = Expr(node, scope);
  // A comparison records its operands itself (it knows whether it is an equality); any other
  // value tested for truth is a predicate on everything it carries.
  if (!RecordsItsOwnUse(*node)) Use(clause, false, lineage);
  return lineage.AsDerived();
}

Lineage Analyzer::AExpr(const PgQuery__AExpr& e, const Scope* scope) {
  const std::vector<std::string_view> names = Names(e.name, e.n_name);
  const std::string_view op = names.empty() ? std::string_view() : names.back();
  // BETWEEN's names are keywords; it compares with the type's own <= and >=.
  const bool between = e.kind == PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN ||
                       e.kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN ||
                       e.kind == PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN_SYM ||
                       e.kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM;
  if (!between && RefusedOperator(names)) {
    Expr(e.lexpr, scope);
    Expr(e.rexpr, scope);
    return Lineage::Everything();
  }
  const Lineage left = Expr(e.lexpr, scope);
  const Lineage right = Expr(e.rexpr, scope);
  Lineage both = left;
  both.Merge(right);
  bool comparison = true;
  bool equality = false;
  switch (e.kind) {
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP:
      comparison = !IsValueOperator(op, e.lexpr == nullptr);
      equality = IsEqualityOperator(op);
      break;
    case PG_QUERY__A__EXPR__KIND__AEXPR_DISTINCT:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT:
      equality = true;
      break;
    default:
      // = ANY/ALL, NULLIF, IN, LIKE, ILIKE, SIMILAR TO, BETWEEN: comparisons beyond equality.
      break;
  }
  // Equality between two plain references to protected columns reveals only what their
  // tokens reveal; anything involving a literal or an unprotected value is a real predicate.
  if (comparison) Use(clause_, equality && left.DirectColumn() && right.DirectColumn(), both);
  // A key or path lookup is NULL or not by whether the document has that key: a comparison of
  // the key with the document's keys, whichever side is protected.
  const bool lookup = e.kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP && e.lexpr != nullptr &&
                      (op == "->" || op == "->>" || op == "#>" || op == "#>>");
  if (lookup) Use(clause_, false, both);
  if (!comparison && !OperatorCannotFail(op, e.lexpr == nullptr)) Fallible(both);
  return both.AsDerived();
}

Lineage Analyzer::SubLink(const PgQuery__SubLink& link, const Scope* scope) {
  const std::vector<OutputColumn> outputs = Query(link.subselect, scope);
  Lineage sub;
  if (outputs.size() == 1 && !outputs[0].unlisted) {
    sub = outputs[0].lineage;
  } else {
    for (const OutputColumn& o : outputs) sub.MergeDerived(o.lineage);
  }
  switch (link.sub_link_type) {
    case PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK:
      // Its value is whether the subquery's conditions matched, recorded there.
      return {};
    case PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK:
      return sub;
    case PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK:
    case PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK:
    case PG_QUERY__SUB_LINK_TYPE__ROWCOMPARE_SUBLINK: {
      const Lineage test = Expr(link.testexpr, scope);
      const std::vector<std::string_view> names = Names(link.oper_name, link.n_oper_name);
      const std::string_view op = names.empty() ? std::string_view("=") : names.back();  // IN has none
      RefusedOperator(names);
      Lineage compared = test;
      compared.Merge(sub);
      Use(clause_, IsEqualityOperator(op) && test.DirectColumn() && sub.DirectColumn(), compared);
      return compared.AsDerived();
    }
    default:
      return sub.AsDerived();
  }
}

bool Analyzer::RefusedOperator(const std::vector<std::string_view>& names) {
  if (names.empty()) return false;
  const std::string_view op = names.back();
  const std::string_view schema = names.size() >= 2 ? names[names.size() - 2] : std::string_view();
  // An operator is a function call in disguise: one a user defined runs code pgmask does not see.
  // OPERATOR(schema.op) outside pg_catalog is someone's (pg_temp's too, which the catalog does not
  // list). Symbols pg_catalog defines count as built-in even when extensions overload them for
  // their own types (hstore's =), since operators are chosen by argument types the parse tree
  // lacks; any other symbol is someone's, or unknown.
  const std::string op_function = OperatorFunctionName(op);
  const bool user_defined = schema.empty() ? !catalog_.HasFunction(kCatalogSchema, op_function) &&
                                                 ResolveFunction(catalog_, "", op_function) != FunctionOrigin::kBuiltin
                                           : schema != kCatalogSchema;
  if (user_defined) Refuse(absl::StrFormat("operator %s is user-defined: the function behind it is not analysed", op));
  return user_defined;
}

Lineage Analyzer::FuncCall(const PgQuery__FuncCall& call, const Scope* scope) {
  const std::vector<std::string_view> names = Names(call.funcname, call.n_funcname);
  if (names.empty()) return Lineage::Everything();
  const std::string_view name = names.back();
  const std::string_view schema = names.size() >= 2 ? names[names.size() - 2] : std::string_view();
  const FunctionOrigin origin = ResolveFunction(catalog_, schema, name);
  const bool trusted = TrustedFunction(schema, name, origin);
  FunctionUse use{std::string(schema), std::string(name), origin, trusted};
  if (std::find(out_.functions.begin(), out_.functions.end(), use) == out_.functions.end()) {
    out_.functions.push_back(use);
  }
  const std::string qualified = schema.empty() ? std::string(name) : absl::StrFormat("%s.%s", schema, name);
  const std::optional<std::string_view> forbidden = ForbiddenFunctionReason(name);
  const std::optional<std::string_view> channel = OutOfBandChannel(name);
  if (forbidden) {
    Refuse(absl::StrFormat("function %s is not allowed: %s", qualified, *forbidden));
  } else if (stored_expression_ && channel) {
    // pgmask follows what these change (a setting, a notification) only when a statement it
    // analyses runs them.
    Refuse(absl::StrFormat("function %s is not allowed in a default, constraint, policy or other expression the server "
                           "keeps: it would change %s later, where pgmask does not see it",
                           qualified, *channel));
  } else if (!trusted) {
    Refuse(absl::StrFormat("function %s is not built in and not listed in settings.trusted_functions", qualified));
  }
  Lineage result;
  std::vector<Lineage> args;
  args.reserve(call.n_args);
  for (size_t i = 0; i < call.n_args; ++i) {
    args.push_back(Expr(call.args[i], scope));
    result.MergeDerived(args.back());
    if (!args.back().empty() && (origin != FunctionOrigin::kBuiltin || !ArgumentCannotFail(call, name, i))) {
      Fallible(args.back());
    }
  }
  // A search is a comparison, in whichever clause it stands (a condition in the select list).
  if (origin == FunctionOrigin::kBuiltin && (SearchesItsText(name) || SubstringByPattern(call, name))) {
    Use(clause_, false, result);
  }
  // FILTER decides which rows an aggregate counts: a condition, and an input of the result.
  if (call.agg_filter != nullptr) result.MergeDerived(Condition(call.agg_filter, scope, clause_));
  for (size_t i = 0; i < call.n_agg_order; ++i) {
    const PgQuery__Node* s = call.agg_order[i];
    if (s == nullptr || s->node_case != PG_QUERY__NODE__NODE_SORT_BY) continue;
    Restore<UsageClause> current(clause_, UsageClause::kOrderBy);
    RefusedOperator(Names(s->sort_by->use_op, s->sort_by->n_use_op));
    const Lineage sorted = Expr(s->sort_by->node, scope);
    Use(UsageClause::kOrderBy, false, sorted);
    // WITHIN GROUP: the sorted values are the aggregate's input (percentile_disc returns one).
    if (call.agg_within_group) result.MergeDerived(sorted);
  }
  if (call.over != nullptr) Window(*call.over, scope);
  if (name == "set_config") {
    std::optional<std::string> setting = call.n_args > 0 ? Literal(call.args[0]) : std::nullopt;
    if (setting) absl::AsciiStrToLower(&*setting);  // names match without regard to case
    std::optional<std::string> value = call.n_args > 1 ? Literal(call.args[1]) : std::nullopt;
    if (setting) {
      if (std::optional<std::string> reason = SettingChangeReason(*setting, value)) Refuse(*std::move(reason));
    } else if (!value || CouldBeSettingWord(*value)) {
      Refuse("set_config with a setting name known only at run time, and a value that could change how SQL "
             "text is read");
    }
    // A name known only at run time with a value no text-reading setting accepts (pg_dump sets
    // restrict_nonsystem_relation_kind to 'view, foreign-table' this way) is recorded as a change
    // of an unknown setting: the proxy reads search_path again after it.
    out_.settings.push_back({setting.value_or(""), std::move(value)});
  }
  if (channel) Write(std::string(*channel), result);
  // What a function reads beyond its arguments is known only for built-in and trusted ones.
  if (forbidden || !trusted) return Lineage::Everything();
  return result;
}

bool Analyzer::SubstringByPattern(const PgQuery__FuncCall& call, std::string_view name) {
  // substring(x FROM 'regex') and substring(x SIMILAR 'pattern' ESCAPE '#') search; substring(x FROM 2
  // FOR 3) does not. Only an integer constant says which, so the plan holds only for this text's
  // constants.
  if (name != "substring" || call.n_args < 2) return false;
  out_.literal_sensitive = true;
  const PgQuery__Node* from = call.args[1];
  return from == nullptr || from->node_case != PG_QUERY__NODE__NODE_A_CONST ||
         from->a_const->val_case != PG_QUERY__A__CONST__VAL_IVAL;
}

bool Analyzer::ArgumentCannotFail(const PgQuery__FuncCall& call, std::string_view name, size_t i) {
  // length(bytea, encoding) checks the bytes are valid in the encoding, which must exist.
  if (name == "length" && call.n_args > 1) return false;
  if (CannotFailOnArgument(name, i)) return true;
  // format: only %I rejects a value (NULL), and * takes a width from an argument.
  if (name == "format" && i >= 1) {
    const std::optional<std::string> format = Literal(call.args[0]);
    return format && format->find_first_of("I*") == std::string::npos;
  }
  // convert_to(x, 'UTF8') re-encodes nothing; another encoding rejects what it cannot hold.
  if (name == "convert_to" && i == 0 && call.n_args == 2) {
    const std::optional<std::string> encoding = Literal(call.args[1]);
    return encoding && IsUtf8EncodingName(*encoding);
  }
  return false;
}

void Analyzer::Window(const PgQuery__WindowDef& w, const Scope* scope) {
  Restore<UsageClause> current(clause_, UsageClause::kWindow);
  // Partitions are formed by sorting on the values, and the rows come out in that order: more
  // than equality (as DISTINCT ON).
  for (size_t i = 0; i < w.n_partition_clause; ++i) Use(UsageClause::kWindow, false, Expr(w.partition_clause[i], scope));
  for (size_t i = 0; i < w.n_order_clause; ++i) {
    const PgQuery__Node* s = w.order_clause[i];
    if (s == nullptr || s->node_case != PG_QUERY__NODE__NODE_SORT_BY) continue;
    RefusedOperator(Names(s->sort_by->use_op, s->sort_by->n_use_op));
    Use(UsageClause::kWindow, false, Expr(s->sort_by->node, scope));
  }
  Use(UsageClause::kWindow, false, Expr(w.start_offset, scope));
  Use(UsageClause::kWindow, false, Expr(w.end_offset, scope));
}

bool Analyzer::TrustedFunction(std::string_view schema, std::string_view name, FunctionOrigin origin) const {
  if (origin == FunctionOrigin::kBuiltin) return true;
  const std::vector<FunctionName>& trusted = policy_.settings().trusted_functions;
  for (const FunctionName& t : trusted) {
    if (t.name == name && t.schema.empty()) return true;
  }
  // Every schema the call may resolve to must be trusted for this name.
  std::vector<std::string_view> candidates;
  if (!schema.empty()) {
    candidates.push_back(schema);
  } else if (const std::vector<std::string>* schemas = catalog_.FunctionSchemas(name)) {
    const std::vector<std::string>& path = catalog_.search_path();
    for (const std::string& s : *schemas) {
      if (s != kCatalogSchema && std::find(path.begin(), path.end(), s) != path.end()) candidates.push_back(s);
    }
  }
  if (candidates.empty()) return false;
  for (std::string_view c : candidates) {
    bool covered = false;
    for (const FunctionName& t : trusted) covered = covered || (t.name == name && t.schema == c);
    if (!covered) return false;
  }
  return true;
}

bool CouldBeSettingWord(std::string_view value) {
  // Booleans, encoding names and backslash_quote's values are single words; an encoding name is
  // read with everything but its letters and digits dropped ('S J I S' is SJIS).
  if (value.empty() || CouldBeEncodingName(value)) return true;
  for (char c : value) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

bool IsSystemColumn(std::string_view name) {
  for (std::string_view system : {"tableoid", "xmin", "xmax", "cmin", "cmax", "ctid"}) {
    if (name == system) return true;
  }
  return false;
}

Lineage Analyzer::ColumnRef(const PgQuery__ColumnRef& ref, const Scope* scope) {
  const std::vector<std::string_view> names = Names(ref.fields, ref.n_fields);
  const bool star = ref.n_fields > 0 && ref.fields[ref.n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR;
  if (star) {
    if (names.empty()) {
      // A bare * inside an expression: the whole FROM list of this level.
      Lineage l;
      if (scope != nullptr) {
        for (const RangeColumn& c : scope->star) l.MergeDerived(c.lineage);
      }
      return l;
    }
    const std::string_view schema = names.size() >= 2 ? names[names.size() - 2] : std::string_view();
    const RangeItem* item = FindItem(scope, schema, names.back());
    return item != nullptr ? WholeRow(*item) : Lineage::Everything();
  }
  if (names.empty() || names.size() != ref.n_fields) return Lineage::Everything();
  if (names.size() == 1) return ColumnByName(scope, names[0], nullptr);
  const std::string_view column = names.back();
  const std::string_view qualifier = names[names.size() - 2];
  const std::string_view schema = names.size() >= 3 ? names[names.size() - 3] : std::string_view();
  if (const RangeItem* item = FindItem(scope, schema, qualifier)) {
    Lineage open;
    bool has_open = false;
    for (const RangeColumn& c : item->columns) {
      if (!c.unlisted && c.name == column) return c.lineage;
      if (c.unlisted) {
        open.Merge(c.lineage);
        has_open = true;
      }
    }
    if (item->system_columns && IsSystemColumn(column)) return Lineage();
    return has_open ? open : Lineage::Everything();
  }
  // `a.b` with no FROM item `a`: field b of composite column a.
  if (names.size() == 2) return ColumnByName(scope, qualifier, nullptr).AsDerived();
  return Lineage::Everything();
}

Lineage Analyzer::ColumnByName(const Scope* scope, std::string_view name, bool* resolved) {
  // PostgreSQL takes the innermost query level that has the column. A level with unlisted
  // columns may have it too, so its unlisted lineage counts and the search goes on outwards.
  Lineage acc;
  bool open = false;
  for (const Scope* s = scope; s != nullptr; s = s->parent) {
    Lineage found;
    bool definite = false;
    for (const RangeItem& item : s->items) {
      for (const RangeColumn& c : item.columns) {
        if (!c.unlisted && c.name == name) {
          found.Merge(c.lineage);
          definite = true;
        }
      }
    }
    if (!definite && IsSystemColumn(name)) {
      for (const RangeItem& item : s->items) definite = definite || item.system_columns;
    }
    if (definite) {
      acc.Merge(found);
      if (resolved != nullptr) *resolved = true;
      return acc;
    }
    for (const RangeItem& item : s->items) {
      for (const RangeColumn& c : item.columns) {
        if (c.unlisted) {
          acc.Merge(c.lineage);
          open = true;
        }
      }
    }
  }
  // No column of that name: a whole-row reference to a FROM item (`SELECT p FROM patients p`).
  if (const RangeItem* item = FindItem(scope, "", name)) {
    acc.MergeDerived(WholeRow(*item));
    open = true;
  }
  if (resolved != nullptr) *resolved = open;
  return open ? acc : Lineage::Everything();
}

}  // namespace pgmask::policy::analysis_internal
