// SPDX-License-Identifier: BSD-2-Clause
#include "correlate.h"

#include <openssl/evp.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sipwarden/rules/alarm.h"

namespace sw {

absl::StatusOr<std::shared_ptr<const rules::RuleSet>> LoadAgentRules(
    const std::string& path, std::vector<rules::ConfigError>* errors, bool allow_scripts) {
  rules::LoadOptions options;
  options.allow_scripts = allow_scripts;
  if (path.empty()) {
    return rules::LoadRuleText(DefaultRulesYaml(), kDefaultRulesName, errors, options);
  }
  return rules::LoadRuleFile(path, errors, options);
}

std::string RulesetSha256(const std::string& path) {
  std::string text;
  if (path.empty()) {
    text = std::string(DefaultRulesYaml());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "";
    std::ostringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 15]);
  }
  return hex;
}

bool ToProfileRecord(const ev::CallRecord& c, std::string* ip, profiles::CallRecord* r) {
  r->account = !c.caller.user.empty() ? std::string_view(c.caller.user)
                                      : profiles::UriUser(c.caller.uri);
  r->callee = !c.callee.user.empty() ? std::string_view(c.callee.user)
                                     : profiles::UriUser(c.callee.uri);
  if (r->account.empty() || r->callee.empty() || c.start_ns <= 0) return false;
  *ip = c.caller_ip.ToString();
  r->caller_ip = *ip;
  r->start_us = c.start_ns / 1000;
  r->answered = c.disposition == ev::Disposition::kAnswered;
  r->billable_s = r->answered ? c.billable_s : 0;
  return true;
}

Correlator::Correlator(std::shared_ptr<const rules::RuleSet> rules, JsonLinesOut& alarms,
                       VerdictSinks verdicts, bool scripts)
    : out_(alarms), verdicts_(std::move(verdicts)) {
  if (scripts) executor_ = std::make_unique<rules::ProcessExecutor>();
  rules::EngineSinks sinks;
  sinks.alarm = [this](const rules::Alarm& a) { OnAlarm(a); };
  sinks.block = [this](const rules::BlockVerdict& v) {
    ++blocks_;
    blocked_.insert(v.prefix.ToString());
    if (verdicts_.block) verdicts_.block(v);
  };
  sinks.rate_limit = [this](const rules::RateLimitVerdict& v) {
    ++rate_limits_;
    limited_.insert(v.prefix.ToString());
    if (verdicts_.rate_limit) verdicts_.rate_limit(v);
  };
  sinks.watch = [this](const rules::WatchVerdict& v) {
    ++watches_;
    if (verdicts_.watch) verdicts_.watch(v);
  };
  if (verdicts_.synthetic) sinks.synthetic = verdicts_.synthetic;
  if (verdicts_.synthetic_wanted) sinks.synthetic_wanted = verdicts_.synthetic_wanted;
  sinks.compare_profiles = [this](const rules::ProfileCompare& pc) {
    if (profiles_) profiles_->Compare(pc.ts_ns, pc.account);
  };
  engine_ = std::make_unique<rules::Engine>(std::move(rules), std::move(sinks),
                                           rules::EngineOptions{}, executor_.get());
}

void Correlator::OnAlarm(const rules::Alarm& a) {
  if (a.update) {
    ++updates_;
  } else {
    ++alarms_;
    ++by_category_[a.category];
  }
  const std::string json = rules::ToJson(a);
  out_.Write(json);
  if (!a.update && verdicts_.alarm) verdicts_.alarm(a, json);
}

void Correlator::EmitProfileAlarms() {
  for (profiles::Alarm& a : profiles_->TakeAlarms()) {
    ++alarms_;
    ++by_category_["anomaly"];
    out_.Write(a.json);
    rules::Alarm ra;
    ra.ts_ns = ra.first_ns = a.ts_us * 1000;
    ra.signature = a.signature;
    ra.category = "anomaly";
    ra.rule = a.rule;
    auto ip = IpAddress::Parse(a.src_ip);
    if (ip.ok()) ra.has_flow = true, ra.src = *ip;
    if (verdicts_.alarm) verdicts_.alarm(ra, a.json);
    // The rules see it as an event of their own (docs/profiles.md).
    rules::SyntheticEvent e;
    e.ts_ns = engine_->now();
    e.name = "profile-anomaly";
    if (ip.ok()) e.has_flow = true, e.flow.src = *ip, e.flow.ts_ns = e.ts_ns;
    e.Set("account", a.account);
    e.Set("distance", a.detector);
    e.Set("value", absl::StrCat(a.value));
    e.Set("threshold", absl::StrCat(a.threshold));
    e.Set("bin_end", profiles::FormatTime(a.ts_us));
    e.Set("rule", a.rule);
    if (verdicts_.synthetic) verdicts_.synthetic(e);
    engine_->OnSynthetic(e);
  }
}

ev::PipelineSinks Correlator::Tee(ev::PipelineSinks next) {
  ev::PipelineSinks s;
  s.sip = [this, n = std::move(next.sip)](const ev::SipEvent& e) {
    if (n) n(e);
    engine_->OnSip(e);
    AfterEngine();
  };
  s.mgcp = [this, n = std::move(next.mgcp)](const ev::MgcpEvent& e) {
    if (n) n(e);
    engine_->OnMgcp(e);
    AfterEngine();
  };
  s.rtp = [this, n = std::move(next.rtp)](const ev::RtpEvent& e) {
    if (n) n(e);
    engine_->OnRtp(e);
    AfterEngine();
  };
  s.call = [this, n = std::move(next.call)](const ev::CallRecord& c) {
    if (n) n(c);
    if (profiles_) {
      std::string ip;
      profiles::CallRecord r;
      if (ToProfileRecord(c, &ip, &r)) profiles_->Add(r);
      else profiles_->Skip();
    }
    engine_->OnCall(c);
    AfterEngine();
  };
  s.rejected = std::move(next.rejected);
  s.media_endpoint = std::move(next.media_endpoint);
  return s;
}

void Correlator::Advance(int64_t now_ns) {
  engine_->Advance(now_ns);
  AfterEngine();
}

void Correlator::PollScripts(int wait_ms) {
  if (!executor_) return;
  executor_->Poll([this](const rules::ScriptResult& r) { engine_->OnScriptDone(r); }, wait_ms);
  AfterEngine();
}

void Correlator::Finish(int64_t drain_ns) {
  engine_->Advance(engine_->now() + drain_ns);
  AfterEngine();
  if (executor_) {
    executor_->Drain([this](const rules::ScriptResult& r) { engine_->OnScriptDone(r); },
                     kScriptDrainMs);
    AfterEngine();
  }
  out_.Flush();
}

std::string Correlator::Summary() const {
  std::string s = absl::StrCat(alarms_, alarms_ == 1 ? " alarm" : " alarms");
  if (!by_category_.empty()) {
    absl::StrAppend(&s, " (",
                    absl::StrJoin(by_category_, ", ",
                                  [](std::string* o, const auto& kv) {
                                    absl::StrAppend(o, kv.first, " ", kv.second);
                                  }),
                    ")");
  }
  absl::StrAppend(&s, ", ", updates_, updates_ == 1 ? " update" : " updates");
  absl::StrAppend(&s, "; ", blocks_, blocks_ == 1 ? " block" : " blocks");
  if (!blocked_.empty()) {
    constexpr size_t kListed = 20;  // a summary, not a dump
    std::vector<std::string> listed(blocked_.begin(), blocked_.end());
    const size_t more = listed.size() > kListed ? listed.size() - kListed : 0;
    listed.resize(listed.size() - more);
    absl::StrAppend(&s, " of ", blocked_.size(), blocked_.size() == 1 ? " prefix (" : " prefixes (",
                    absl::StrJoin(listed, " "), more ? absl::StrCat(" and ", more, " more") : "",
                    ")");
  }
  absl::StrAppend(&s, "; ", rate_limits_, rate_limits_ == 1 ? " rate limit" : " rate limits");
  absl::StrAppend(&s, "; ", watches_, watches_ == 1 ? " media watch" : " media watches");
  return s;
}

}  // namespace sw
