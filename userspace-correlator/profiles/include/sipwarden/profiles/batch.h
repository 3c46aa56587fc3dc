// SPDX-License-Identifier: BSD-2-Clause
// Learning in batches: call records are buffered and handed to a learning
// Engine grouped by account, each account's records in their order, so that
// one account's state (its bins, window, callees) stays in the CPU's cache
// while its bins close, instead of being fetched again for every call.
//
// The profiles are the same as handing every record to Engine::Add in input
// order: learning closes an account's bins on its own calls only, and no
// account's learning looks at another's. (Detecting is not batched: there,
// event time closes every account's bins so that alarms come on time.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "sipwarden/profiles/engine.h"
#include "sipwarden/profiles/record.h"

namespace sw::profiles {

class LearnBatch {
 public:
  // engine must outlive the batch. Every max_records records the batch is
  // handed on (Drain); an engine that is not learning gets each record at
  // once.
  explicit LearnBatch(Engine& engine, size_t max_records = size_t{1} << 18);
  ~LearnBatch() { Drain(); }
  LearnBatch(const LearnBatch&) = delete;
  LearnBatch& operator=(const LearnBatch&) = delete;

  // Copies the record (its views may change after the call).
  void Add(const CallRecord& r);
  // Hands every buffered record to the engine, grouped by account in the
  // order the accounts first came, and empties the batch.
  void Drain();
  size_t size() const { return items_.size(); }

 private:
  struct Item {
    int64_t start_us;
    double billable_s;
    uint32_t account;  // index into names_
    uint32_t callee_len, ip_len;
    uint64_t text;     // offset in text_: callee then caller_ip
    bool answered;
  };
  Engine& engine_;
  size_t max_;
  std::vector<Item> items_;
  std::string text_;
  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
  std::vector<uint32_t> start_, order_;
};

}  // namespace sw::profiles
