// SPDX-License-Identifier: BSD-2-Clause
#include "profile_watch.h"

#include <utility>

#include "sipwarden/profiles/record.h"

namespace sw {

absl::StatusOr<std::unique_ptr<ProfileWatch>> ProfileWatch::Open(const std::string& dir,
                                                                 const std::string& config_path,
                                                                 int64_t now_us) {
  std::unique_ptr<ProfileWatch> w(new ProfileWatch());
  w->dir_ = dir;
  if (!config_path.empty()) {
    if (auto st = profiles::LoadConfig(config_path, &w->config_); !st.ok()) return st;
  }
  auto set = profiles::LoadForDetect(dir, !config_path.empty(), &w->config_, now_us);
  if (!set.ok()) return set.status();
  w->meta_ = set->meta;
  ProfileWatch* self = w.get();
  w->engine_ = std::make_unique<profiles::Engine>(
      w->config_, profiles::Engine::Mode::kDetect,
      [self](const profiles::Alarm& a) { self->pending_.push_back(a); });
  if (!w->engine_->status().ok()) return w->engine_->status();
  w->engine_->SetDriven(true);
  w->engine_->SetCalibration(set->meta.calib);
  w->engine_->SetClasses(set->meta.classes);
  for (auto& [name, p] : set->profiles) w->engine_->AddProfile(std::move(name), std::move(p));
  return w;
}

void ProfileWatch::OnCall(const ev::CallRecord& c) {
  // As sipwarden-profiles reads a record (profiles/src/record.cc): the
  // caller's user, else the user part of its URI; likewise the callee.
  profiles::CallRecord r;
  r.account = !c.caller.user.empty() ? std::string_view(c.caller.user)
                                     : profiles::UriUser(c.caller.uri);
  r.callee = !c.callee.user.empty() ? std::string_view(c.callee.user)
                                    : profiles::UriUser(c.callee.uri);
  if (r.account.empty() || r.callee.empty() || c.start_ns <= 0) {
    ++stats_.skipped;
    return;
  }
  const std::string ip = c.caller_ip.ToString();
  r.caller_ip = ip;
  r.start_us = c.start_ns / 1000;
  r.answered = c.disposition == ev::Disposition::kAnswered;
  r.billable_s = r.answered ? c.billable_s : 0;
  ++stats_.calls;
  engine_->Add(r);
}

void ProfileWatch::Compare(const rules::ProfileCompare& pc) {
  ++stats_.compares;
  const int64_t end_us = pc.ts_ns / 1000 - int64_t{config_.lateness_minutes} * 60000000;
  if (pc.account.empty()) {
    engine_->Flush(end_us);
  } else if (!engine_->FlushAccount(pc.account, end_us)) {
    ++stats_.unknown_accounts;
  }
}

std::vector<profiles::Alarm> ProfileWatch::TakeAlarms() {
  stats_.alarms += pending_.size();
  return std::exchange(pending_, {});
}

absl::Status ProfileWatch::Save() {
  profiles::ProfileSet set;
  uint64_t learning = 0;
  set.profiles = engine_->Profiles(&learning);
  set.meta = meta_;
  set.meta.accounts = set.profiles.size();
  set.meta.records += stats_.calls;
  if (engine_->stats().last_us != INT64_MIN)
    set.meta.learned_until_us = std::max(set.meta.learned_until_us, engine_->stats().last_us);
  if (auto st = profiles::SaveProfiles(dir_, set); !st.ok()) return st;
  ++stats_.saves;
  return absl::OkStatus();
}

ProfileWatchStats ProfileWatch::stats() const {
  ProfileWatchStats s = stats_;
  const profiles::EngineStats& es = engine_->stats();
  s.profiles = es.accounts - es.new_accounts + es.profiled_online;
  s.learning = es.new_accounts - es.profiled_online;
  return s;
}

}  // namespace sw
