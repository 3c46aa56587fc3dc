// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/profiles/batch.h"

#include <algorithm>

#include "sipwarden/absl_compat.h"

namespace sw::profiles {

LearnBatch::LearnBatch(Engine& engine, size_t max_records)
    : engine_(engine), max_(max_records ? max_records : 1) {
  if (engine.mode() != Engine::Mode::kLearn) return;  // Add hands each record on at once
  items_.reserve(std::min<size_t>(max_, size_t{1} << 20));
}

void LearnBatch::Add(const CallRecord& r) {
  if (engine_.mode() != Engine::Mode::kLearn) {  // detecting: event time closes every bin
    engine_.Add(r);
    return;
  }
  auto [it, inserted] = ids_.try_emplace(AV(r.account), static_cast<uint32_t>(names_.size()));
  if (inserted) names_.emplace_back(r.account);
  items_.push_back(Item{r.start_us, r.billable_s, it->second,
                        static_cast<uint32_t>(r.callee.size()),
                        static_cast<uint32_t>(r.caller_ip.size()), text_.size(), r.answered});
  text_.append(r.callee).append(r.caller_ip);
  if (items_.size() >= max_) Drain();
}

void LearnBatch::Drain() {
  if (items_.empty()) return;
  // A counting sort by account: stable, so each account's records keep
  // their order; the accounts in the order they first came.
  const size_t n = names_.size();
  start_.assign(n + 1, 0);
  for (const Item& it : items_) ++start_[it.account + 1];
  for (size_t i = 0; i < n; ++i) start_[i + 1] += start_[i];
  order_.resize(items_.size());
  for (uint32_t i = 0; i < items_.size(); ++i) order_[start_[items_[i].account]++] = i;
  CallRecord r;
  // The items are scattered: fetch them early, and their text once they
  // have come.
  constexpr size_t kAhead = 16;
  for (size_t j = 0; j < order_.size(); ++j) {
    if (j + 2 * kAhead < order_.size()) __builtin_prefetch(&items_[order_[j + 2 * kAhead]]);
    if (j + kAhead < order_.size()) __builtin_prefetch(text_.data() + items_[order_[j + kAhead]].text);
    const Item& it = items_[order_[j]];
    r.account = names_[it.account];
    r.callee = std::string_view(text_).substr(it.text, it.callee_len);
    r.caller_ip = std::string_view(text_).substr(it.text + it.callee_len, it.ip_len);
    r.start_us = it.start_us;
    r.billable_s = it.billable_s;
    r.answered = it.answered;
    engine_.Add(r);
  }
  items_.clear();
  text_.clear();
  ids_.clear();
  names_.clear();
}

}  // namespace sw::profiles
