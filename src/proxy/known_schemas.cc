#include "proxy/known_schemas.h"

namespace longlink::proxy {

std::string KnownSchemas::KeyOf(std::string_view user, std::string_view schema) {
  std::string key;
  key.reserve(user.size() + 1 + schema.size());
  key.append(user);
  key.push_back('\0');
  key.append(schema);
  return key;
}

bool KnownSchemas::Known(std::string_view user, std::string_view schema) const {
  const std::string key = KeyOf(user, schema);
  std::lock_guard lock(mutex_);
  return known_.contains(key);
}

void KnownSchemas::Note(std::string_view user, std::string_view schema, bool exists) {
  if (schema.empty()) return;
  std::string key = KeyOf(user, schema);
  std::lock_guard lock(mutex_);
  if (!exists) {
    known_.erase(key);
    return;
  }
  if (known_.size() >= kCapacity && !known_.contains(key)) known_.clear();
  known_.insert(std::move(key));
}

std::size_t KnownSchemas::size() const {
  std::lock_guard lock(mutex_);
  return known_.size();
}

}  // namespace longlink::proxy
