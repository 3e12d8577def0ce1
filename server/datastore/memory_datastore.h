// An in-memory Datastore for tests and for `database_type: memory`.
#ifndef SIGNET_SERVER_DATASTORE_MEMORY_DATASTORE_H_
#define SIGNET_SERVER_DATASTORE_MEMORY_DATASTORE_H_

#include <memory>

#include "server/datastore/datastore.h"

namespace signet::server {

// NewMemoryDatastore returns an empty, thread-safe in-memory Datastore with
// the same semantics as the SQLite one (nothing survives the process).
std::unique_ptr<Datastore> NewMemoryDatastore();

// SelectorsMatch reports whether `entry` selectors match `query` under `match`
// ("exact", "subset", "superset", "any"); shared with other implementations.
bool SelectorsMatch(const google::protobuf::RepeatedPtrField<signet::types::Selector>& entry,
                    const std::vector<signet::types::Selector>& query, const std::string& match);

}  // namespace signet::server

#endif  // SIGNET_SERVER_DATASTORE_MEMORY_DATASTORE_H_
