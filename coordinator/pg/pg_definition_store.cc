#include "coordinator/pg/pg_definition_store.h"

#include <string>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <pqxx/pqxx>

#include "sdk/base/strings.h"

namespace saga::coordinator::pg {
namespace {

// The first key of the two-key advisory locks that serialize registrations of one name
// ("sdef" in ASCII); the second is hashtext(name).
constexpr int kRegisterLockClass = 0x73646566;

// The same content always gives the same bytes, so an unchanged definition is recognized.
std::string SerializeDeterministic(const saga::v1::SagaDefinition& definition) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    definition.SerializeToCodedStream(&coded);
  }
  return bytes;
}

// Columns: name, version, definition, created_at in microseconds since the epoch.
constexpr char kColumns[] =
    "name, version, definition, (extract(epoch FROM created_at) * 1000000)::bigint";

absl::StatusOr<saga::v1::SagaDefinition> FromRow(const pqxx::row& row) {
  saga::v1::SagaDefinition definition;
  pqxx::binarystring bytes(row[2]);
  if (!definition.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(saga::StrCat("stored definition ", row[0].c_str(), " version ",
                                            row[1].c_str(), " does not parse"));
  }
  definition.set_version(row[1].as<uint32_t>());
  int64_t micros = row[3].as<int64_t>();
  definition.mutable_create_time()->set_seconds(micros / 1000000);
  definition.mutable_create_time()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return definition;
}

}  // namespace

absl::StatusOr<StoredDefinition> PgDefinitionStore::Register(
    const saga::v1::SagaDefinition& definition) {
  const std::string bytes = SerializeDeterministic(definition);
  StoredDefinition stored;
  absl::Status status = pool_->Run("registering a definition", [&](pqxx::connection& conn) {
    pqxx::work tx(conn);
    tx.exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))", kRegisterLockClass,
                   definition.name());
    pqxx::result latest = tx.exec_params(
        saga::StrCat("SELECT ", kColumns,
                     " FROM saga_definitions WHERE name = $1 ORDER BY version DESC LIMIT 1"),
        definition.name());
    uint32_t next_version = 1;
    if (!latest.empty()) {
      pqxx::binarystring latest_bytes(latest[0][2]);
      if (latest_bytes.str() == bytes) {
        auto existing = FromRow(latest[0]);
        if (!existing.ok()) return existing.status();
        stored.definition = *std::move(existing);
        stored.created = false;
        return absl::OkStatus();
      }
      next_version = latest[0][1].as<uint32_t>() + 1;
    }
    pqxx::result inserted = tx.exec_params(
        saga::StrCat("INSERT INTO saga_definitions (name, version, definition) "
                     "VALUES ($1, $2, $3) RETURNING ",
                     kColumns),
        definition.name(), next_version, pqxx::binarystring(bytes));
    auto row = FromRow(inserted[0]);
    if (!row.ok()) return row.status();
    tx.commit();
    stored.definition = *std::move(row);
    stored.created = true;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return stored;
}

absl::StatusOr<saga::v1::SagaDefinition> PgDefinitionStore::Get(const std::string& name,
                                                                 uint32_t version) {
  absl::StatusOr<saga::v1::SagaDefinition> found =
      absl::NotFoundError(version == 0
                              ? saga::StrCat("no definition is named \"", name,
                                             "\"; register it first")
                              : saga::StrCat("definition \"", name, "\" has no version ", version));
  absl::Status status = pool_->Run("reading a definition", [&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    pqxx::result rows =
        version == 0
            ? tx.exec_params(saga::StrCat("SELECT ", kColumns,
                                          " FROM saga_definitions WHERE name = $1 "
                                          "ORDER BY version DESC LIMIT 1"),
                             name)
            : tx.exec_params(saga::StrCat("SELECT ", kColumns,
                                          " FROM saga_definitions WHERE name = $1 AND "
                                          "version = $2"),
                             name, version);
    if (!rows.empty()) found = FromRow(rows[0]);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return found;
}

absl::StatusOr<DefinitionPage> PgDefinitionStore::List(const DefinitionQuery& query) {
  DefinitionPage page;
  absl::Status status = pool_->Run("listing definitions", [&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    // Rows after the cursor (after_name, after_version) in (name ASC, version DESC) order;
    // an empty after_name means from the start. One row more than the limit tells if more follow.
    std::string source = query.all_versions
                             ? "saga_definitions"
                             : "(SELECT DISTINCT ON (name) * FROM saga_definitions "
                               "ORDER BY name, version DESC) AS latest";
    pqxx::result rows = tx.exec_params(
        saga::StrCat("SELECT ", kColumns, " FROM ", source,
                     " WHERE ($1 = '' OR name = $1)"
                     " AND ($2 = '' OR name > $2 OR (name = $2 AND version < $3))"
                     " ORDER BY name, version DESC LIMIT $4"),
        query.name, query.after_name, query.after_version, query.limit + 1);
    for (const auto& row : rows) {
      if (static_cast<int>(page.definitions.size()) == query.limit) {
        page.more = true;
        break;
      }
      auto definition = FromRow(row);
      if (!definition.ok()) return definition.status();
      page.definitions.push_back(*std::move(definition));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return page;
}

}  // namespace saga::coordinator::pg
