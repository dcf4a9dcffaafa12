#include "diag/services.h"

#include <algorithm>
#include <array>
#include <utility>

namespace longlink::diag {
namespace {

// Sorted by port. Chosen for what connection churn usually goes to.
constexpr std::array<std::pair<std::uint16_t, std::string_view>, 31> kServices = {{
    {21, "ftp"},          {22, "ssh"},         {25, "smtp"},      {53, "dns"},
    {80, "http"},         {110, "pop3"},       {143, "imap"},     {389, "ldap"},
    {443, "https"},       {445, "smb"},        {465, "smtps"},    {587, "submission"},
    {636, "ldaps"},       {993, "imaps"},      {1433, "mssql"},   {1521, "oracle"},
    {2181, "zookeeper"},  {2379, "etcd"},      {3306, "mysql"},   {4369, "epmd"},
    {5432, "postgresql"}, {5672, "amqp"},      {6379, "redis"},   {8080, "http-alt"},
    {8443, "https-alt"},  {9042, "cassandra"}, {9092, "kafka"},   {9200, "elasticsearch"},
    {11211, "memcached"}, {27017, "mongodb"},  {33060, "mysqlx"},
}};

}  // namespace

std::optional<std::string_view> ServiceName(std::uint16_t port) {
  auto it = std::lower_bound(kServices.begin(), kServices.end(), port,
                             [](const auto& entry, std::uint16_t p) { return entry.first < p; });
  if (it == kServices.end() || it->first != port) return std::nullopt;
  return it->second;
}

}  // namespace longlink::diag
