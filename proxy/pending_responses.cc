#include "proxy/pending_responses.h"

#include "protocol/string_view_bridge.h"

namespace pgmask::proxy {

void PendingResponses::Push(PendingKind kind, std::string_view portal, bool injected, bool closes_portal) {
  items_.push_back({kind, injected, closes_portal, std::string(portal)});
}

void PendingResponses::Pop() {
  if (empty()) return;
  ++head_;
  if (head_ == items_.size()) {
    items_.clear();
    head_ = 0;
  }
}

void PendingResponses::DropUntilSync() {
  while (!empty() && front().kind != PendingKind::kSync) Pop();
}

bool PendingResponses::described(std::string_view portal) const {
  const auto it = described_.find(ToAbsl(portal));
  return it != described_.end() && it->second;
}

void PendingResponses::MarkBound(std::string_view portal) { described_[ToAbsl(portal)] = false; }

void PendingResponses::MarkDescribed(std::string_view portal) { described_[ToAbsl(portal)] = true; }

void PendingResponses::ForgetPortal(std::string_view portal) { described_.erase(ToAbsl(portal)); }

void PendingResponses::DropPortalFields(const std::string& portal) { portal_fields_.erase(portal); }

void PendingResponses::SetPortalFields(const std::string& portal,
                                       const std::vector<protocol::FieldDescription>& fields) {
  std::vector<protocol::FieldDescription>& stored = portal_fields_[portal];
  stored = fields;
  // The names point into a message buffer that is about to be reused; the plan needs none.
  for (protocol::FieldDescription& f : stored) f.name = {};
}

const std::vector<protocol::FieldDescription>* PendingResponses::PortalFields(const std::string& portal) const {
  const auto it = portal_fields_.find(portal);
  return it == portal_fields_.end() ? nullptr : &it->second;
}

}  // namespace pgmask::proxy
