// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/profiles/watch.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sw::profiles {

absl::StatusOr<std::unique_ptr<ProfileWatch>> ProfileWatch::Open(const std::string& dir,
                                                                 const std::string& config_path,
                                                                 int64_t now_us) {
  std::unique_ptr<ProfileWatch> w(new ProfileWatch());
  w->dir_ = dir;
  if (!config_path.empty()) {
    if (auto st = LoadConfig(config_path, &w->config_); !st.ok()) return st;
  }
  auto set = LoadForDetect(dir, !config_path.empty(), &w->config_, now_us);
  if (!set.ok()) return set.status();
  w->meta_ = set->meta;
  ProfileWatch* self = w.get();
  w->engine_ = std::make_unique<Engine>(
      w->config_, Engine::Mode::kDetect,
      [self](const Alarm& a) { self->pending_.push_back(a); });
  if (!w->engine_->status().ok()) return w->engine_->status();
  w->engine_->SetDriven(true);
  w->engine_->SetCalibration(set->meta.calib);
  w->engine_->SetClasses(set->meta.classes);
  for (auto& [name, p] : set->profiles) w->engine_->AddProfile(std::move(name), std::move(p));
  if (!set->learning.empty()) {
    if (auto st = w->engine_->ImportLearning(set->learning); !st.ok())
      return absl::DataLossError(absl::StrCat(dir, ": ", st.message()));
  }
  return w;
}

void ProfileWatch::Add(const CallRecord& r) {
  ++stats_.calls;
  engine_->Add(r);
}

void ProfileWatch::Compare(int64_t ts_ns, std::string_view account) {
  ++stats_.compares;
  const int64_t end_us = ts_ns / 1000 - int64_t{config_.lateness_minutes} * 60000000;
  if (account.empty()) {
    engine_->Flush(end_us);
  } else if (!engine_->FlushAccount(account, end_us)) {
    ++stats_.unknown_accounts;
  }
}

std::vector<Alarm> ProfileWatch::TakeAlarms() {
  stats_.alarms += pending_.size();
  return std::exchange(pending_, {});
}

absl::Status ProfileWatch::Save() {
  ProfileSet set;
  set.profiles = engine_->Profiles();
  set.learning = engine_->ExportLearning();
  set.meta = meta_;
  set.meta.accounts = set.profiles.size();
  set.meta.records += stats_.calls;
  if (engine_->stats().last_us != INT64_MIN)
    set.meta.learned_until_us = std::max(set.meta.learned_until_us, engine_->stats().last_us);
  if (auto st = SaveProfiles(dir_, set); !st.ok()) return st;
  ++stats_.saves;
  return absl::OkStatus();
}

ProfileWatchStats ProfileWatch::stats() const {
  ProfileWatchStats s = stats_;
  const EngineStats& es = engine_->stats();
  s.profiles = es.accounts - es.new_accounts + es.profiled_online;
  s.learning = es.new_accounts - es.profiled_online;
  return s;
}

}  // namespace sw::profiles
