// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/profiles/engine.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_format.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/json.h"
#include "bytes.h"

namespace sw::profiles {
namespace {

constexpr int kM = kMetrics;
// Floors added to every bin's standard deviation (in the metric's unit), so
// that a bin that never varied in learning does not make any change infinite.
constexpr float kSdFloor[kM] = {0.5f, 0.5f, 15.0f, 0.05f, 0.05f, 0.05f, 0.5f};

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
bool Weekend(int64_t day) {
  const int64_t wd = ((day + 4) % 7 + 7) % 7;  // 1970-01-01 was a Thursday (4); 0 Sunday
  return wd == 0 || wd == 6;
}
// _Float16 to float without libgcc's soft conversion (no F16C assumed):
// shift into a float's bits and rescale the exponent (denormals included).
inline float F(_Float16 v) {
  const uint16_t h = std::bit_cast<uint16_t>(v);
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t rest = h & 0x7FFF;
  if (rest >= 0x7C00) return std::bit_cast<float>(sign | 0x7F800000u | (rest & 0x3FF) << 13);
  const float f = std::bit_cast<float>(rest << 13) * 0x1p112f;
  return std::bit_cast<float>(std::bit_cast<uint32_t>(f) | sign);
}
// float to _Float16, rounding to nearest even, without libgcc's soft
// conversion; values here are finite and below 65504.
inline _Float16 H(double d) {
  const float v = static_cast<float>(d);
  const uint32_t x = std::bit_cast<uint32_t>(v);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t ax = x & 0x7FFFFFFF;
  uint16_t h;
  if (ax >= 0x477FF000u) {  // rounds to 65520 or more: the largest half
    h = static_cast<uint16_t>(sign | 0x7BFF);
  } else if (ax < 0x38800000u) {  // below the smallest normal half: a denormal
    const float r = std::bit_cast<float>(ax) + 0.5f;  // 2^-1 shifts the mantissa into place
    h = static_cast<uint16_t>(sign | (std::bit_cast<uint32_t>(r) - 0x3F000000u));
  } else {
    const uint32_t odd = (ax >> 13) & 1;
    h = static_cast<uint16_t>(sign | ((ax + 0xC8000FFFu + odd) >> 13));
  }
  return std::bit_cast<_Float16>(h);
}
int RepeatClass(uint32_t n) { return n <= 1 ? 0 : n == 2 ? 1 : n <= 4 ? 2 : 3; }
uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
// An account's scale: the 90th percentile of its calibration distances.
constexpr double kScaleQuantile = 0.9;
double ScaleOf(std::vector<float> v, double q = kScaleQuantile) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const size_t k = static_cast<size_t>(q * (v.size() - 1));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

struct RingEntry {
  int32_t bin = std::numeric_limits<int32_t>::min();
  float c[3] = {};  // squared Euclidean, quadratic, Mahalanobis contributions
  uint16_t hc[kHellCounts] = {};
  uint16_t calls = 0;
  uint16_t slot = 0;
  float expected_calls = 0;  // the profile's mean calls of the bin's slot
  bool valid = false;  // compared (the bin learned enough)
  uint8_t top = 0;     // the metric deviating most (|z|)
  _Float16 top_x = 0, top_mu = 0;
};

}  // namespace

std::string_view MetricName(int m) {
  static constexpr std::string_view kNames[kM] = {
      "calls", "distinct_callees", "mean_duration_s", "share_international", "share_high_risk",
      "failed_ratio", "new_callees"};
  return m >= 0 && m < kM ? kNames[m] : "?";
}

uint64_t CalleeHash(std::string_view callee) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : callee) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

bool Profile::BloomTest(uint64_t h) const {
  if (bloom.empty()) return false;
  const uint64_t m = bloom.size() * 64 - 1, x = Mix(h), h2 = (x >> 32) | 1;
  for (int i = 0; i < 4; ++i) {
    const uint64_t b = (x + i * h2) & m;
    if (!(bloom[b >> 6] >> (b & 63) & 1)) return false;
  }
  return true;
}

void Profile::BloomAdd(uint64_t h) {
  if (bloom.empty()) return;
  const uint64_t m = bloom.size() * 64 - 1, x = Mix(h), h2 = (x >> 32) | 1;
  for (int i = 0; i < 4; ++i) {
    const uint64_t b = (x + i * h2) & m;
    bloom[b >> 6] |= uint64_t{1} << (b & 63);
  }
}

size_t Profile::Bytes() const {
  return sizeof(Profile) + n.capacity() + (mean.capacity() + sd.capacity()) * sizeof(_Float16) +
         bloom.capacity() * 8;
}

struct Engine::Learning {
  absl::flat_hash_set<uint64_t> callees;
  uint32_t intl_format = 0, national_format = 0;
  absl::flat_hash_map<int, uint32_t> cc;  // countries of callees dialled in E.164
  // Welford per slot, one cache line each: the sweep touches every
  // account's slot once a bin, so locality is what learning costs.
  struct alignas(64) Slot {
    uint32_t n = 0;
    float mean[kM] = {}, m2[kM] = {};
  };
  std::vector<Slot> slots;
  // pooled co-moments around each slot's mean, upper triangle (i <= j)
  float com[2][kM * (kM + 1) / 2] = {};
  double dof[2] = {};
  double hcount[2][kHellCounts] = {};
  int64_t last_stat_day = std::numeric_limits<int64_t>::min();
  int stat_days = 0;
  std::vector<float> calib[kDistances];
  Profile snap;
  bool snap_ready = false;
  uint8_t dirty = 0;  // day types (bit 0 weekday, 1 weekend) learned since snap

  size_t Bytes() const {
    size_t b = sizeof(Learning) + callees.capacity() * (sizeof(uint64_t) + 1) +
               cc.capacity() * (sizeof(std::pair<int, uint32_t>) + 1) +
               slots.capacity() * sizeof(Slot) + snap.Bytes() - sizeof(Profile);
    for (const auto& c : calib) b += c.capacity() * sizeof(float);
    return b;
  }
};

struct Engine::Account {
  std::string name;
  int64_t first_day = 0;
  int64_t open = std::numeric_limits<int64_t>::min();  // the bin being filled
  uint32_t calls = 0, answered = 0, intl = 0, risk = 0, newc = 0, distinct = 0;
  double dur = 0;
  uint16_t hc[kHellCounts] = {};
  int16_t home = 0;
  bool home_fixed = false;  // from the configuration or the account's own number
  uint8_t in_alarm = 0;
  uint8_t clean[kDistances + 1] = {};  // per distance, and the shared episode's
  float last_d[kDistances] = {NAN, NAN, NAN, NAN};
  // this day's callees: low 32 bits of the hash -> count | (bin in day + 1) << 16
  absl::flat_hash_map<uint32_t, uint32_t> today;
  std::unique_ptr<Learning> learning;
  std::unique_ptr<Profile> profile;
  std::vector<RingEntry> ring;
  // The sums over the ring's valid entries (the window), kept as bins come
  // and go instead of summed at every evaluation.
  struct Window {
    double c[3] = {};
    double q = 0, quiet_q = 0;  // expected calls (+ 0.05) of all, of those without calls
    uint32_t hc[kHellCounts] = {};
    uint32_t calls = 0;
    uint16_t valid = 0, busy = 0;  // entries, those with calls
    void Add(const RingEntry& e, int sign) {
      const double q1 = e.expected_calls + 0.05;
      for (int k = 0; k < 3; ++k) c[k] += sign * double(e.c[k]);
      for (int k = 0; k < kHellCounts; ++k) hc[k] += sign * e.hc[k];
      q += sign * q1;
      calls += sign * e.calls;
      valid += sign;
      if (e.calls) busy += sign;
      else quiet_q += sign * q1;
    }
  } win;
  std::string ip;
  bool class_alarmed = false;

  const Profile* Model() const {
    if (profile) return profile.get();
    if (learning && learning->snap_ready) return &learning->snap;
    return nullptr;
  }
  size_t Bytes() const {
    size_t b = sizeof(Account) + (name.capacity() > 15 ? name.capacity() : 0) +
               (ip.capacity() > 15 ? ip.capacity() : 0) + ring.capacity() * sizeof(RingEntry) +
               today.capacity() * (sizeof(std::pair<uint32_t, uint32_t>) + 1);
    if (learning) b += learning->Bytes();
    if (profile) b += profile->Bytes();
    return b;
  }
};

Engine::Engine(const Config& config, Mode mode, AlarmSink sink)
    : config_(config), mode_(mode), sink_(std::move(sink)) {
  status_ = Validate(config_);
  if (status_.ok()) {
    bpd_ = config_.bins_per_day();
    status_ = plan_.SetHighRisk(config_.high_risk.empty() ? DefaultHighRisk() : config_.high_risk);
  }
}

Engine::~Engine() = default;

int64_t Engine::BinOf(int64_t us) const {
  return FloorDiv(us + int64_t{config_.tz_offset_minutes} * 60000000, BinUs());
}

void Engine::AddProfile(std::string account, Profile p) {
  auto a = std::make_unique<Account>();
  a->name = account;
  a->home = p.home;
  a->home_fixed = true;
  if (auto it = config_.account_home.find(account); it != config_.account_home.end())
    a->home = it->second;
  else if (config_.home_country) a->home = config_.home_country;
  a->profile = std::make_unique<Profile>(std::move(p));
  a->ring.resize(config_.window_bins);
  index_[std::move(account)] = accounts_.size();
  last_ = UINT32_MAX;
  accounts_.push_back(std::move(a));
  ++stats_.accounts;
}

void Engine::Add(const CallRecord& r) {
  if (!status_.ok()) return;
  ++stats_.calls;
  stats_.first_us = std::min(stats_.first_us, r.start_us);
  if (r.start_us > stats_.last_us) {
    stats_.last_us = r.start_us;
    // Detecting, every account's bins close as event time passes them, so
    // that alarms come on time. Learning raises nothing: an account's bins
    // close when its own next call comes (and at Flush), in one run over its
    // own memory instead of one visit per bin; the statistics are the same.
    if (mode_ == Mode::kDetect && !driven_) {
      const int64_t target = BinOf(r.start_us - int64_t{config_.lateness_minutes} * 60000000);
      if (target > swept_) Sweep(target);
    }
  }
  int64_t b = BinOf(r.start_us);
  const int bpd = bpd_;
  // Calls of one account often come together (LearnBatch groups them).
  uint32_t idx = last_;
  const bool same = idx < accounts_.size() && accounts_[idx]->name == r.account;
  bool inserted = false;
  if (!same) {
    auto [it, fresh] = index_.try_emplace(AV(r.account), accounts_.size());
    idx = last_ = it->second;
    inserted = fresh;
  }
  if (inserted) {
    auto a = std::make_unique<Account>();
    a->name = std::string(r.account);
    a->open = std::max(b, swept_);
    a->first_day = FloorDiv(a->open, bpd);
    a->ring.resize(config_.window_bins);
    a->learning = std::make_unique<Learning>();
    a->learning->slots.resize(2 * bpd);
    if (auto h = config_.account_home.find(a->name); h != config_.account_home.end()) {
      a->home = h->second, a->home_fixed = true;
    } else if (config_.home_country) {
      a->home = config_.home_country, a->home_fixed = true;
    } else if (std::string own = NumberPlan::OwnE164(r.account); !own.empty()) {
      a->home = CountryCode(own), a->home_fixed = true;
    }
    accounts_.push_back(std::move(a));
    ++stats_.accounts;
    if (mode_ == Mode::kDetect) ++stats_.new_accounts;
  }
  Account& a = *accounts_[idx];
  if (a.open == std::numeric_limits<int64_t>::min()) a.open = std::max(b, swept_);
  const int64_t day = FloorDiv(b, bpd);
  // Calls of exclusion days (holidays) are not learned, but compared: with
  // the weekend's profile (CloseBin), as fraud likes holidays.
  if (config_.Excluded(day)) ++stats_.excluded;
  if (b < a.open) {
    ++stats_.late;
    b = a.open;
  } else if (b > a.open) {
    CloseUpTo(a, b);
  }
  const Dialled dl = plan_.Classify(r.callee, a.home);
  if (a.learning && !a.home_fixed && dl.country) {
    Learning& L = *a.learning;
    if (!r.callee.empty() && (r.callee[0] == '+' || r.callee.substr(0, 2) == "00"))
      ++L.intl_format, ++L.cc[dl.country];
    else
      ++L.national_format;
  }
  const uint64_t h = CalleeHash(r.callee);
  bool is_new;
  if (a.learning) is_new = a.learning->callees.insert(h).second;
  else {
    is_new = !a.profile->BloomTest(h);
    if (is_new) a.profile->BloomAdd(h);
  }
  const uint32_t bin_tag = static_cast<uint32_t>(b - FloorDiv(b, bpd) * bpd + 1) << 16;
  auto [t, fresh] = a.today.try_emplace(static_cast<uint32_t>(h), 0);
  const uint32_t count = std::min<uint32_t>((t->second & 0xFFFF) + 1, 0xFFFF);
  if ((t->second & 0xFFFF0000u) != bin_tag) ++a.distinct;
  t->second = count | bin_tag;
  auto bump = [](uint16_t& v) { v = v == 0xFFFF ? v : v + 1; };
  bump(a.hc[RepeatClass(count)]);
  bump(a.hc[kRepeatClasses + (is_new ? 0 : 1)]);
  ++a.calls;
  if (r.answered) ++a.answered, a.dur += r.billable_s;
  a.intl += dl.international;
  a.risk += dl.high_risk;
  a.newc += is_new;
  if (!r.caller_ip.empty() && r.caller_ip != a.ip) a.ip = std::string(r.caller_ip);
}

void Engine::Sweep(int64_t bin) {
  // Every account closes its bin: prefetch the next ones' state, the sweep
  // is bound by memory, not arithmetic.
  const size_t n = accounts_.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + 4 < n) __builtin_prefetch(accounts_[i + 4].get());
    if (i + 2 < n) {
      const Account& next = *accounts_[i + 2];
      if (next.open != std::numeric_limits<int64_t>::min()) {
        const int64_t w = config_.window_bins;
        __builtin_prefetch(&next.ring[((next.open % w) + w) % w]);
        if (next.learning) {
          const int bpd = bpd_;
          const int64_t day = FloorDiv(next.open, bpd);
          const int slot = (Weekend(day) ? bpd : 0) + static_cast<int>(next.open - day * bpd);
          __builtin_prefetch(&next.learning->slots[slot], 1);
          __builtin_prefetch(next.learning->com, 1);
        }
      }
    }
    CloseUpTo(*accounts_[i], bin);
  }
  swept_ = bin;
}

void Engine::Flush(int64_t end_us) {
  const int64_t target = BinOf(end_us);
  if (target > swept_) Sweep(target);
}

bool Engine::FlushAccount(std::string_view account, int64_t end_us) {
  auto it = index_.find(AV(account));
  if (it == index_.end()) return false;
  Account& a = *accounts_[it->second];
  const int64_t target = BinOf(end_us);
  if (a.open != std::numeric_limits<int64_t>::min() && target > a.open) CloseUpTo(a, target);
  return true;
}

std::string Engine::ExportLearning() const {
  Writer w;
  uint32_t n = 0;
  for (const auto& a : accounts_) n += a->learning != nullptr;
  if (n == 0) return "";
  w.Put(n);
  for (const auto& a : accounts_) {
    if (!a->learning) continue;
    const Learning& L = *a->learning;
    w.Put<uint32_t>(a->name.size());
    w.Bytes(a->name.data(), a->name.size());
    w.Put(a->first_day);
    w.Put(a->home);
    w.Put<uint8_t>(a->home_fixed);
    w.Put(L.intl_format);
    w.Put(L.national_format);
    // sorted: the same learning gives the same bytes (hash sets' order
    // changes from run to run)
    std::vector<std::pair<int, uint32_t>> cc(L.cc.begin(), L.cc.end());
    std::sort(cc.begin(), cc.end());
    w.Put<uint32_t>(cc.size());
    for (const auto& [c, k] : cc) w.Put<int32_t>(c), w.Put(k);
    std::vector<uint64_t> callees(L.callees.begin(), L.callees.end());
    std::sort(callees.begin(), callees.end());
    w.Put<uint32_t>(callees.size());
    for (uint64_t h : callees) w.Put(h);
    w.Put<uint32_t>(L.slots.size());
    for (const Learning::Slot& st : L.slots) {
      w.Put(st.n);
      w.Bytes(st.mean, sizeof(st.mean));
      w.Bytes(st.m2, sizeof(st.m2));
    }
    w.Bytes(L.com, sizeof(L.com));
    w.Bytes(L.dof, sizeof(L.dof));
    w.Bytes(L.hcount, sizeof(L.hcount));
    w.Put(L.last_stat_day);
    w.Put<int32_t>(L.stat_days);
    for (const auto& c : L.calib) {
      w.Put<uint32_t>(c.size());
      w.Bytes(c.data(), c.size() * sizeof(float));
    }
  }
  return std::move(w.buf());
}

absl::Status Engine::ImportLearning(std::string_view bytes) {
  Reader r(bytes);
  uint32_t n = 0;
  if (!r.Get(&n)) return absl::DataLossError("learning state: truncated");
  const int bpd = bpd_;
  for (uint32_t i = 0; i < n; ++i) {
    auto bad = [&] {
      return absl::DataLossError(absl::StrFormat("learning state: account %d is damaged", i + 1));
    };
    uint32_t len = 0;
    if (!r.Get(&len) || len > 4096) return bad();
    auto a = std::make_unique<Account>();
    a->name.resize(len);
    auto L = std::make_unique<Learning>();
    uint8_t fixed = 0;
    uint32_t ncc = 0, ncallees = 0, nslots = 0;
    if (!r.Bytes(a->name.data(), len) || !r.Get(&a->first_day) || !r.Get(&a->home) ||
        !r.Get(&fixed) || !r.Get(&L->intl_format) || !r.Get(&L->national_format) || !r.Get(&ncc) ||
        ncc > 1000)
      return bad();
    a->home_fixed = fixed != 0;
    for (uint32_t k = 0; k < ncc; ++k) {
      int32_t cc;
      uint32_t cnt;
      if (!r.Get(&cc) || !r.Get(&cnt)) return bad();
      L->cc[cc] = cnt;
    }
    if (!r.Get(&ncallees) || ncallees > (1u << 24)) return bad();
    L->callees.reserve(ncallees);
    for (uint32_t k = 0; k < ncallees; ++k) {
      uint64_t h;
      if (!r.Get(&h)) return bad();
      L->callees.insert(h);
    }
    if (!r.Get(&nslots) || nslots != static_cast<uint32_t>(2 * bpd)) return bad();
    L->slots.resize(nslots);
    for (Learning::Slot& st : L->slots)
      if (!r.Get(&st.n) || !r.Bytes(st.mean, sizeof(st.mean)) || !r.Bytes(st.m2, sizeof(st.m2)))
        return bad();
    int32_t stat_days = 0;
    if (!r.Bytes(L->com, sizeof(L->com)) || !r.Bytes(L->dof, sizeof(L->dof)) ||
        !r.Bytes(L->hcount, sizeof(L->hcount)) || !r.Get(&L->last_stat_day) || !r.Get(&stat_days))
      return bad();
    L->stat_days = stat_days;
    for (auto& c : L->calib) {
      uint32_t m = 0;
      if (!r.Get(&m) || m > (1u << 24)) return bad();
      c.resize(m);
      if (!r.Bytes(c.data(), m * sizeof(float))) return bad();
    }
    if (index_.contains(a->name)) continue;  // a profile of its own came since
    a->ring.resize(config_.window_bins);
    a->learning = std::move(L);
    if (a->learning->stat_days > 0) RefreshSnapshot(*a);
    index_[a->name] = accounts_.size();
    last_ = UINT32_MAX;
    accounts_.push_back(std::move(a));
    ++stats_.accounts;
    if (mode_ == Mode::kDetect) ++stats_.new_accounts;
  }
  if (r.pos() != bytes.size()) return absl::DataLossError("learning state: bytes after the end");
  return absl::OkStatus();
}

std::vector<std::pair<std::string, Profile>> Engine::Profiles() const {
  std::vector<std::pair<std::string, Profile>> out;
  for (const auto& a : accounts_)
    if (a->profile) out.emplace_back(a->name, *a->profile);
  return out;
}

void Engine::CloseUpTo(Account& a, int64_t bin) {
  if (a.open == std::numeric_limits<int64_t>::min()) {
    a.open = bin;
    return;
  }
  while (a.open < bin) {
    CloseBin(a, a.open);
    ++a.open;
  }
}

void Engine::CloseBin(Account& a, int64_t b) {
  const int bpd = bpd_;
  const int64_t day = FloorDiv(b, bpd);
  const int bin_in_day = static_cast<int>(b - day * bpd);
  const bool excluded = config_.Excluded(day);
  // A holiday is compared with the weekend's bins and learned nowhere.
  const int dt = Weekend(day) || excluded ? 1 : 0;
  const int slot = dt * bpd + bin_in_day;
  float x[kM];
  x[kCalls] = a.calls;
  x[kDistinctCallees] = a.distinct;
  x[kMeanDuration] = a.answered ? static_cast<float>(a.dur / a.answered) : 0.f;
  x[kShareInternational] = a.calls ? float(a.intl) / a.calls : 0.f;
  x[kShareHighRisk] = a.calls ? float(a.risk) / a.calls : 0.f;
  x[kFailedRatio] = a.calls ? float(a.calls - a.answered) / a.calls : 0.f;
  x[kNewCallees] = a.newc;

  const size_t ri = RingIndex(b);
  RingEntry& e = a.ring[ri];
  if (e.valid) a.win.Add(e, -1);  // bin b - window_bins leaves the window
  e = RingEntry{};
  e.bin = static_cast<int32_t>(b);
  e.slot = static_cast<uint16_t>(slot);
  e.calls = static_cast<uint16_t>(std::min<uint32_t>(a.calls, 0xFFFF));
  std::copy(std::begin(a.hc), std::end(a.hc), e.hc);
  const Profile* model = a.Model();
  // While learning, bins are compared only from the day before calibration
  // starts (the first calibrated window needs a full window behind it).
  const bool compare = !a.learning || day - a.first_day >= config_.warmup_days +
                                                             config_.calibration_after_days - 1;
  if (compare && model && model->n[slot] >= config_.min_bin_samples) {
    float mu[kM], sd[kM], w[kM];
    float best = -1;
    for (int m = 0; m < kM; ++m) {
      mu[m] = F(model->mean[slot * kM + m]);
      sd[m] = F(model->sd[slot * kM + m]);
      w[m] = 1.f / (sd[m] * sd[m]);
      const float z = std::fabs(x[m] - mu[m]) / sd[m];
      if (z > best) best = z, e.top = m;
    }
    e.c[0] = static_cast<float>(EuclideanSq(x, mu, kM));
    e.c[1] = static_cast<float>(QuadraticSq(x, mu, w, kM));
    e.c[2] = static_cast<float>(MahalanobisSqPacked(x, mu, sd, model->rinv[dt], kM));
    e.top_x = H(std::min(x[e.top], 65000.f));
    e.top_mu = H(std::min(mu[e.top], 65000.f));
    e.expected_calls = std::max(0.f, mu[kCalls]);
    e.valid = true;
    a.win.Add(e, +1);
  }
  if (ri == 0) {  // once a window, the sums again from the entries: no rounding drifts
    a.win = {};
    for (const RingEntry& r : a.ring)
      if (r.valid) a.win.Add(r, +1);
  }
  if (!excluded && a.learning && day - a.first_day >= config_.warmup_days) {
    Learning& L = *a.learning;
    Learning::Slot& st = L.slots[slot];
    const uint32_t n = ++st.n;
    float* mean = st.mean;
    float* m2 = st.m2;
    float d_old[kM], d_new[kM];
    for (int m = 0; m < kM; ++m) {
      d_old[m] = x[m] - mean[m];
      mean[m] += d_old[m] / n;
      d_new[m] = x[m] - mean[m];
      m2[m] += d_old[m] * d_new[m];
    }
    if (n > 1) {
      // Welford's co-moment: d_old[i] d_new[j], d_new being d_old (n-1)/n.
      float* c = L.com[dt];
      const float f = float(n - 1) / n;
      for (int i = 0, k = 0; i < kM; ++i) {
        const float di = f * d_old[i];
        for (int j = i; j < kM; ++j, ++k) c[k] += di * d_old[j];
      }
      L.dof[dt] += 1;
    }
    for (int k = 0; k < kHellCounts; ++k) L.hcount[dt][k] += a.hc[k];
    L.dirty |= 1u << dt;
    if (day != L.last_stat_day) L.last_stat_day = day, ++L.stat_days;
  }
  a.calls = a.answered = a.intl = a.risk = a.newc = a.distinct = 0;
  a.dur = 0;
  std::fill(std::begin(a.hc), std::end(a.hc), 0);
  if (compare) Evaluate(a, b);
  // A profile follows its account's slow changes (a contact list that
  // grows, a new habit): each bin compared moves its slot toward what was
  // seen, with the weight of one day in adapt_days, unless an alarm
  // episode is open (an attack is not learned).
  if (!excluded && compare && a.profile && config_.adapt_days > 0 && a.in_alarm == 0) {
    Profile& P = *a.profile;
    const int n = P.n[slot];
    const double alpha = 1.0 / std::max(2, config_.adapt_days);
    if (n < 255) ++P.n[slot];
    for (int m = 0; m < kM; ++m) {
      const double mu = F(P.mean[slot * kM + m]), sd = F(P.sd[slot * kM + m]);
      const double d = x[m] - mu;
      const double var = (1 - alpha) * (sd * sd + alpha * d * d);
      // As learned: counts keep at least their Poisson variance, every
      // metric its floor (a quiet month does not make one call a surprise).
      const double next = mu + alpha * d;
      const bool count = m == kCalls || m == kDistinctCallees || m == kNewCallees;
      const double floor = (count ? std::max(0.0, next) : 0.0) + double(kSdFloor[m]) * kSdFloor[m];
      P.mean[slot * kM + m] = H(std::min(next, 65000.0));
      P.sd[slot * kM + m] = H(std::min(std::sqrt(std::max(var, floor)), 65000.0));
    }
    // The Hellinger references are sums of counts over the days learned:
    // they decay so that they hold about adapt_days of them.
    const double keep = 1.0 - 1.0 / (double(config_.adapt_days) * bpd);
    for (int k = 0; k < kHellCounts; ++k)
      P.href[dt][k] = static_cast<float>(P.href[dt][k] * keep + e.hc[k]);
  }
  if (bin_in_day == bpd - 1) {  // the day ends
    if (a.today.capacity() > 64) a.today = {};
    else a.today.clear();
    if (a.learning) {
      Learning& L = *a.learning;
      if (!a.home_fixed && L.intl_format >= 4 * L.national_format && !L.cc.empty()) {
        int best = 0;
        uint32_t most = 0;
        for (auto [cc, k] : L.cc)
          if (k > most || (k == most && cc < best)) best = cc, most = k;
        a.home = static_cast<int16_t>(best);
      }
      if (L.stat_days > 0 && (mode_ == Mode::kDetect ||
                              day + 1 - a.first_day >= config_.warmup_days +
                                                           config_.calibration_after_days - 1))
        RefreshSnapshot(a);
      if (mode_ == Mode::kDetect && day - a.first_day + 1 >= config_.learning_days)
        FinishLearning(a);
    }
  }
}

void Engine::Evaluate(Account& a, int64_t b) {
  const Profile* model = a.Model();
  if (!model) return;
  const int W = config_.window_bins, bpd = bpd_;
  // The window: the ring's valid entries, bins (b - W, b] (every bin of an
  // account closes in turn, so an entry is in the window or invalid).
  const Account::Window& win = a.win;
#ifndef NDEBUG
  {  // Debug and sanitizer builds: the sums' bookkeeping against a recount
    Account::Window re;
    for (const RingEntry& e : a.ring) {
      if (!e.valid) continue;
      assert(e.bin > b - W && e.bin <= b);
      re.Add(e, +1);
    }
    assert(re.valid == win.valid && re.calls == win.calls && re.busy == win.busy);
    for (int k = 0; k < kHellCounts; ++k) assert(re.hc[k] == win.hc[k]);
  }
#endif
  const int valid = win.valid;
  const double sum_calls = win.calls, sum_q = std::max(0.0, win.q);
  if (valid * 2 < W) return;
  double hs[kHellCounts];
  for (int k = 0; k < kHellCounts; ++k) hs[k] = win.hc[k];
  double d[kDistances];
  const double scale = double(W) / valid;
  for (int k = 0; k < 3; ++k) d[k] = std::sqrt(std::max(0.0, win.c[k]) * scale);
  // Hellinger: the window's distributions mixed with hellinger_prior calls
  // of the profile's, so that a window of two calls is not a distribution.
  const int64_t day = FloorDiv(b, bpd);
  const int dt = Weekend(day) || config_.Excluded(day) ? 1 : 0;
  const double alpha = config_.hellinger_prior;
  auto smoothed = [&](const double* p, const float* q, int n, double* out, double* qd) {
    double sq = 0;
    for (int i = 0; i < n; ++i) sq += q[i];
    for (int i = 0; i < n; ++i) {
      qd[i] = sq > 0 ? q[i] / sq : 1.0 / n;
      out[i] = p[i] + alpha * qd[i];
    }
  };
  double ps[kHellCounts], qd[kHellCounts];
  smoothed(hs, model->href[dt], kRepeatClasses, ps, qd);
  const double ha = Hellinger(ps, qd, kRepeatClasses);
  smoothed(hs + kRepeatClasses, model->href[dt] + kRepeatClasses, 2, ps + kRepeatClasses,
           qd + kRepeatClasses);
  const double hb = Hellinger(ps + kRepeatClasses, qd + kRepeatClasses, 2);
  // Calls over the window's bins, p = calls + alpha q / sum q: as
  // Hellinger(p, q), with the bins without calls (most of them) summed at
  // once, sqrt(alpha q / sum q * q) being q sqrt(alpha / sum q).
  double hcl = 0;
  if (const double sp = sum_calls + alpha; sp > 0 && sum_q > 0) {
    const double aq = alpha / sum_q;
    double bc = std::sqrt(aq) * std::max(0.0, win.quiet_q);
    if (win.busy)
      for (const RingEntry& e : a.ring) {
        if (e.calls == 0 || !e.valid) continue;
        const double q = e.expected_calls + 0.05;
        bc += std::sqrt((e.calls + aq * q) * q);
      }
    const double h2 = 1 - bc / std::sqrt(sp * sum_q);
    // as Hellinger(): rounding of equal distributions is 0
    hcl = h2 < 8 * valid * std::numeric_limits<double>::epsilon() ? 0 : std::sqrt(h2);
  }
  // the root mean square of the parts compared (hellinger_parts)
  const double part[kHellParts] = {ha, hb, hcl};
  double sum = 0;
  int parts = 0;
  for (int i = 0; i < kHellParts; ++i)
    if (config_.HellingerHas(i)) sum += part[i] * part[i], ++parts;
  d[kHellinger] = std::sqrt(sum / parts);
  for (int k = 0; k < kDistances; ++k) a.last_d[k] = static_cast<float>(d[k]);
  ++stats_.evaluations;

  if (trace_ && a.name == trace_account_) {
    double thr[kDistances] = {};
    if (a.profile)
      for (int k = 0; k < kDistances; ++k)
        thr[k] = double(a.profile->scale[k]) *
                 calib_.Ratio(k, config_.alarm_each ? 1 : std::popcount(config_.alarm_distances));
    trace_((b + 1) * BinUs() - int64_t{config_.tz_offset_minutes} * 60000000, d, thr);
  }
  if (a.learning) {
    Learning& L = *a.learning;
    if (FloorDiv(b, bpd) - a.first_day >= config_.warmup_days + config_.calibration_after_days)
      for (int k = 0; k < kDistances; ++k) L.calib[k].push_back(static_cast<float>(d[k]));
    return;
  }
  // Alarms: every alarm distance passing its threshold (scale x the fleet's
  // ratio for this many alarm distances) opens one episode per account
  // (alarm_mode any) or per distance (each); rearm_bins below end it.
  const Profile& P = *a.profile;
  if (P.cls && !a.class_alarmed && !config_.known_bots.empty()) {
    if (!flagged_ready_) FlagClasses();
    if (P.cls <= flagged_.size() && flagged_[P.cls - 1] && !config_.known_bots.contains(a.name)) {
      a.class_alarmed = true;
      RaiseClassAlarm(a, b);
    }
  }
  const uint32_t alarming = config_.alarm_distances;
  const int shares = config_.alarm_each ? 1 : std::popcount(alarming);
  auto step = [&](int slot, int k, double thr, bool over) {
    const uint8_t bit = 1u << slot;
    if (over) {
      a.clean[slot] = 0;
      if (a.in_alarm & bit) return;
      a.in_alarm |= bit;
      RaiseAlarm(a, b, k, d, thr, sum_calls);
    } else if ((a.in_alarm & bit) && ++a.clean[slot] >= config_.rearm_bins) {
      a.in_alarm &= ~bit;
      a.clean[slot] = 0;
    }
  };
  if (config_.alarm_each) {
    for (int k = 0; k < kDistances; ++k) {
      if (!(alarming >> k & 1)) continue;
      const double thr = double(P.scale[k]) * calib_.Ratio(k, 1);
      step(k, k, thr, d[k] > thr);
    }
    return;
  }
  int worst = -1;
  double most = 0, worst_thr = 0;
  for (int k = 0; k < kDistances; ++k) {
    if (!(alarming >> k & 1)) continue;
    const double thr = double(P.scale[k]) * calib_.Ratio(k, shares);
    if (d[k] > thr && d[k] / thr > most) most = d[k] / thr, worst = k, worst_thr = thr;
  }
  step(kDistances, worst < 0 ? 0 : worst, worst_thr, worst >= 0);
}

// The start of an alarm's EVE line: time, source, the alert object.
static void AlertHead(JsonWriter& w, const Alarm& al) {
  w.BeginObject().Field("ts", FormatTime(al.ts_us)).Field("event_type", "alert");
  if (!al.src_ip.empty()) w.Field("src_ip", al.src_ip);
  w.Key("alert")
      .BeginObject()
      .Field("signature", al.signature)
      .Field("category", "anomaly")
      .Field("severity", 2)
      .Field("rule", al.rule)
      .EndObject();
}

void Engine::Emit(JsonWriter& w, Alarm& al) {
  w.Field("action", "allowed").Field("alarm_id", ++alarm_id_).EndObject();
  ++stats_.alarms;
  al.json = w.Take();
  if (sink_) sink_(al);
}

void Engine::RaiseAlarm(Account& a, int64_t b, int k, const double* d, double thr,
                        double sum_calls) {
  const Profile& P = *a.profile;
  const int W = config_.window_bins;
  // The alarm: the bins contributing most, each with its most deviating metric.
  std::vector<const RingEntry*> top;
  for (const RingEntry& e : a.ring)
    if (e.valid && e.bin > b - W && e.bin <= b) top.push_back(&e);
  const int ck = k == kHellinger ? kQuadratic : k;
  std::sort(top.begin(), top.end(), [&](const RingEntry* x, const RingEntry* y) {
    return x->c[ck] != y->c[ck] ? x->c[ck] > y->c[ck] : x->bin > y->bin;
  });
  if (top.size() > 3) top.resize(3);
  const int64_t tz = int64_t{config_.tz_offset_minutes} * 60000000;
  const int64_t ts = (b + 1) * BinUs() - tz;
  const std::string top_desc =
      top.empty() ? std::string()
                  : absl::StrFormat(": %s %.3g against %.3g at %s", MetricName(top[0]->top),
                                    static_cast<float>(top[0]->top_x),
                                    static_cast<float>(top[0]->top_mu),
                                    FormatTime(top[0]->bin * BinUs() - tz).substr(0, 16));
  Alarm al;
  al.account = a.name;
  al.distance = k;
  al.ts_us = ts;
  al.signature = absl::StrFormat("account %s far from its profile: %s %.3g > %.3g over the last "
                                 "%d bins%s",
                                 a.name, DistanceName(k), d[k], thr, W, top_desc);
  al.detector = std::string(DistanceName(k));
  al.rule = absl::StrFormat("profile-%s", DistanceName(k));
  al.src_ip = a.ip;
  al.value = d[k];
  al.threshold = thr;
  JsonWriter w;
  AlertHead(w, al);
  w.Field("count", static_cast<uint64_t>(sum_calls));
  w.Key("anomaly").BeginObject().Field("account", a.name);
  w.Key("distance").BeginObject().Field("name", DistanceName(k)).Field("value", d[k]).EndObject();
  w.Field("threshold", thr);
  w.Key("window")
      .BeginObject()
      .Field("start", FormatTime((b + 1 - W) * BinUs() - tz))
      .Field("end", FormatTime(ts))
      .Field("bins", W)
      .EndObject();
  w.Key("bins").BeginArray();
  for (const RingEntry* e : top) {
    const double sd = static_cast<float>(P.sd[e->slot * kM + e->top]);
    const double ox = static_cast<float>(e->top_x), mu = static_cast<float>(e->top_mu);
    w.BeginObject()
        .Field("start", FormatTime(e->bin * BinUs() - tz))
        .Field("contribution", static_cast<double>(e->c[ck]))
        .Field("metric", MetricName(e->top))
        .Field("observed", ox)
        .Field("expected", mu)
        .Field("z", (ox - mu) / sd)
        .EndObject();
  }
  w.EndArray().Field("profile_days", static_cast<int>(P.days)).EndObject();
  Emit(w, al);
}

void Engine::RefreshSnapshot(Account& a) {
  Learning& L = *a.learning;
  Profile& P = L.snap;
  const int bpd = bpd_, slots = 2 * bpd;
  P.n.resize(slots);
  P.mean.resize(slots * kM);
  P.sd.resize(slots * kM);
  P.home = a.home;
  P.days = static_cast<uint16_t>(L.stat_days);
  const double n0 = config_.shrink_days;
  // A day type nothing was learned in since the last snapshot keeps its part.
  const uint8_t todo = L.snap_ready ? L.dirty : 3;
  L.dirty = 0;
  for (int dt = 0; dt < 2; ++dt) {
    if (!(todo >> dt & 1)) continue;
    double pool[kM] = {};
    int pooled = 0;
    for (int s = dt * bpd; s < (dt + 1) * bpd; ++s) {
      if (L.slots[s].n < 2) continue;
      ++pooled;
      for (int m = 0; m < kM; ++m) pool[m] += double(L.slots[s].m2[m]) / (L.slots[s].n - 1);
    }
    for (int m = 0; m < kM; ++m) pool[m] = pooled ? pool[m] / pooled : 0;
    for (int s = dt * bpd; s < (dt + 1) * bpd; ++s) {
      const Learning::Slot& st = L.slots[s];
      const double n = st.n;
      P.n[s] = static_cast<uint8_t>(std::min<uint32_t>(st.n, 255));
      for (int m = 0; m < kM; ++m) {
        const double var = n >= 2 ? std::max(0.0, double(st.m2[m])) / (n - 1) : 0;
        // Counts shrink toward a Poisson variance (their mean), the others
        // toward the day type's pooled variance.
        const bool count = m == kCalls || m == kDistinctCallees || m == kNewCallees;
        const double target = count ? std::max(0.0, double(st.mean[m])) : pool[m];
        const double shrunk = n + n0 > 0 ? (n * var + n0 * target) / (n + n0) : target;
        const double sd = std::sqrt(shrunk + double(kSdFloor[m]) * kSdFloor[m]);
        P.mean[s * kM + m] = H(std::min(double(st.mean[m]), 65000.0));
        P.sd[s * kM + m] = H(std::min(sd, 65000.0));
      }
    }
    // The correlation shared by the day type's bins, shrunk toward the
    // identity: lambda = max(0.1, metrics / degrees of freedom).
    double C[kM * kM];
    for (int i = 0, k = 0; i < kM; ++i)
      for (int j = i; j < kM; ++j, ++k) C[i * kM + j] = C[j * kM + i] = L.com[dt][k];
    double R[kM * kM], inv[kM * kM];
    for (int i = 0; i < kM; ++i)
      for (int j = 0; j < kM; ++j) {
        const double cii = C[i * kM + i], cjj = C[j * kM + j];
        double r = i == j ? 1.0 : (cii > 0 && cjj > 0 ? C[i * kM + j] / std::sqrt(cii * cjj) : 0.0);
        R[i * kM + j] = std::clamp(r, -1.0, 1.0);
      }
    const double lambda = std::clamp(double(kM) / std::max(1.0, L.dof[dt]), 0.1, 1.0);
    for (int i = 0; i < kM; ++i)
      for (int j = 0; j < kM; ++j)
        R[i * kM + j] = (1 - lambda) * 0.5 * (R[i * kM + j] + R[j * kM + i]) + (i == j ? lambda : 0);
    if (!Invert(R, inv, kM))
      for (int i = 0; i < kM * kM; ++i) inv[i] = i % (kM + 1) == 0 ? 1 : 0;
    for (int i = 0, k = 0; i < kM; ++i)
      for (int j = i; j < kM; ++j, ++k)
        P.rinv[dt][k] = static_cast<float>(0.5 * (inv[i * kM + j] + inv[j * kM + i]));
    for (int k = 0; k < kHellCounts; ++k) P.href[dt][k] = static_cast<float>(L.hcount[dt][k] + 0.5);
  }
  L.snap_ready = true;
}

void Engine::FinishLearning(Account& a) {
  Learning& L = *a.learning;
  RefreshSnapshot(a);
  auto p = std::make_unique<Profile>(std::move(L.snap));
  for (int k = 0; k < kDistances; ++k) {
    const double med = ScaleOf(L.calib[k]);
    p->scale[k] = std::isnan(med) ? calib_.scale_floor[k]
                                  : std::max<float>(med, calib_.scale_floor[k]);
  }
  size_t bits = 512;
  while (bits < 16 * L.callees.size() && bits < 16384) bits *= 2;
  p->bloom.assign(bits / 64, 0);
  for (uint64_t h : L.callees) p->BloomAdd(h);
  a.learning.reset();
  if (!classes_.centroids.empty()) {
    float f[kClassFeatures];
    classes_.Features(*p, bpd_, f);
    p->cls = static_cast<uint8_t>(classes_.Nearest(f) + 1);
  }
  a.profile = std::move(p);
  a.home_fixed = true;
  ++stats_.profiled_online;
}

std::string_view ClassFeatureName(int f) {
  static constexpr std::string_view kNames[kClassFeatures] = {
      "log_calls_per_day", "share_new_callees", "share_distinct_callees", "failed_ratio",
      "log_mean_duration_s", "share_international", "share_high_risk", "share_night",
      "share_weekend"};
  return f >= 0 && f < kClassFeatures ? kNames[f] : "?";
}

void Classes::Features(const Profile& p, int bpd, float out[kClassFeatures]) const {
  // Per day: a weekday's slots count 5/7, a weekend's 2/7.
  double calls = 0, fresh = 0, distinct = 0, failed = 0, dur = 0, answered = 0, intl = 0,
         risk = 0, night = 0, day_calls[2] = {0, 0};
  for (int s = 0; s < 2 * bpd; ++s) {
    const int dt = s >= bpd ? 1 : 0;
    const double w = dt ? 2.0 / 7 : 5.0 / 7;
    auto m = [&](int metric) { return double(static_cast<float>(p.mean[s * kMetrics + metric])); };
    const double c = std::max(0.0, m(kCalls)) * w;
    calls += c;
    day_calls[dt] += c / w;
    fresh += std::max(0.0, m(kNewCallees)) * w;
    distinct += std::max(0.0, m(kDistinctCallees)) * w;
    failed += m(kFailedRatio) * c;
    dur += m(kMeanDuration) * c * (1 - m(kFailedRatio));
    answered += c * (1 - m(kFailedRatio));
    intl += m(kShareInternational) * c;
    risk += m(kShareHighRisk) * c;
    if ((s % bpd) * (1440 / bpd) < 360) night += c;
  }
  const double n = std::max(calls, 1e-9);
  const double raw[kClassFeatures] = {
      std::log1p(calls),
      std::min(1.0, fresh / n),
      std::min(1.0, distinct / n),
      failed / n,
      std::log1p(answered > 0 ? dur / answered : 0),
      intl / n,
      risk / n,
      night / n,
      day_calls[0] + day_calls[1] > 0 ? day_calls[1] / (day_calls[0] + day_calls[1]) : 0};
  for (int f = 0; f < kClassFeatures; ++f)
    out[f] = static_cast<float>((raw[f] - mean[f]) / (sd[f] > 0 ? sd[f] : 1));
}

int Classes::Nearest(const float f[kClassFeatures]) const {
  int best = -1;
  double bd = 0;
  for (size_t c = 0; c < centroids.size(); ++c) {
    double d = 0;
    for (int i = 0; i < kClassFeatures; ++i) d += (f[i] - centroids[c][i]) * (f[i] - centroids[c][i]);
    if (best < 0 || d < bd) best = static_cast<int>(c), bd = d;
  }
  return best;
}

void Engine::LearnClasses(std::vector<std::pair<std::string, Profile>>& profiles) {
  classes_ = Classes{};
  const size_t n = profiles.size();
  const int k = static_cast<int>(std::min<size_t>(config_.classes, n));
  if (k == 0) return;
  const int bpd = bpd_;
  // Raw features first (mean 0, sd 1 leaves them as they are), then the
  // fleet's standardisation.
  for (int f = 0; f < kClassFeatures; ++f) classes_.sd[f] = 1;
  std::vector<std::array<float, kClassFeatures>> x(n);
  for (size_t i = 0; i < n; ++i) classes_.Features(profiles[i].second, bpd, x[i].data());
  for (int f = 0; f < kClassFeatures; ++f) {
    double sum = 0, sq = 0;
    for (const auto& v : x) sum += v[f], sq += double(v[f]) * v[f];
    const double mu = sum / n, var = std::max(0.0, sq / n - mu * mu);
    classes_.mean[f] = static_cast<float>(mu);
    classes_.sd[f] = static_cast<float>(std::max(1e-3, std::sqrt(var)));
    for (auto& v : x) v[f] = static_cast<float>((v[f] - mu) / classes_.sd[f]);
  }
  auto dist2 = [](const std::array<float, kClassFeatures>& a, const std::array<float, kClassFeatures>& b) {
    double d = 0;
    for (int f = 0; f < kClassFeatures; ++f) d += (a[f] - b[f]) * (a[f] - b[f]);
    return d;
  };
  // k-means++ seeding (a fixed seed: the same input gives the same classes),
  // then Lloyd's iterations until nothing moves (at most 100).
  std::mt19937_64 rng(0x5157a4d);
  auto& cent = classes_.centroids;
  cent.push_back(x[rng() % n]);
  std::vector<double> d2(n);
  while (static_cast<int>(cent.size()) < k) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      d2[i] = dist2(x[i], cent[0]);
      for (size_t c = 1; c < cent.size(); ++c) d2[i] = std::min(d2[i], dist2(x[i], cent[c]));
      total += d2[i];
    }
    if (total <= 0) break;
    double r = std::uniform_real_distribution<double>(0, total)(rng);
    size_t pick = n - 1;
    for (size_t i = 0; i < n; ++i) {
      if ((r -= d2[i]) <= 0) {
        pick = i;
        break;
      }
    }
    cent.push_back(x[pick]);
  }
  std::vector<int> of(n, -1);
  for (int it = 0; it < 100; ++it) {
    bool moved = false;
    for (size_t i = 0; i < n; ++i) {
      const int c = classes_.Nearest(x[i].data());
      if (c != of[i]) of[i] = c, moved = true;
    }
    if (!moved) break;
    std::vector<std::array<double, kClassFeatures>> sum(cent.size());
    std::vector<uint32_t> cnt(cent.size(), 0);
    for (auto& s : sum) s.fill(0);
    for (size_t i = 0; i < n; ++i) {
      ++cnt[of[i]];
      for (int f = 0; f < kClassFeatures; ++f) sum[of[i]][f] += x[i][f];
    }
    for (size_t c = 0; c < cent.size(); ++c)
      if (cnt[c])
        for (int f = 0; f < kClassFeatures; ++f) cent[c][f] = static_cast<float>(sum[c][f] / cnt[c]);
  }
  classes_.members.assign(cent.size(), 0);
  for (size_t i = 0; i < n; ++i) {
    profiles[i].second.cls = static_cast<uint8_t>(of[i] + 1);
    ++classes_.members[of[i]];
  }
}

void Engine::FlagClasses() {
  flagged_ready_ = true;
  flagged_.assign(classes_.centroids.size(), 0);
  flagged_by_.assign(classes_.centroids.size(), "");
  for (const std::string& bot : config_.known_bots) {
    auto it = index_.find(bot);
    if (it == index_.end()) continue;
    const Account& a = *accounts_[it->second];
    if (!a.profile || a.profile->cls == 0 || a.profile->cls > flagged_.size()) continue;
    flagged_[a.profile->cls - 1] = 1;
    std::string& by = flagged_by_[a.profile->cls - 1];
    if (by.size() < 200) by += by.empty() ? bot : "," + bot;
  }
}

void Engine::RaiseClassAlarm(Account& a, int64_t b) {
  const Profile& P = *a.profile;
  const int c = P.cls - 1;
  const int64_t ts = (b + 1) * BinUs() - int64_t{config_.tz_offset_minutes} * 60000000;
  float f[kClassFeatures];
  classes_.Features(P, bpd_, f);
  double d = 0;
  for (int i = 0; i < kClassFeatures; ++i)
    d += (f[i] - classes_.centroids[c][i]) * (f[i] - classes_.centroids[c][i]);
  d = std::sqrt(d);
  const uint32_t members = c < static_cast<int>(classes_.members.size()) ? classes_.members[c] : 0;
  Alarm al;
  al.account = a.name;
  al.distance = -1;
  al.detector = "class";
  al.ts_us = ts;
  al.signature = absl::StrFormat(
      "account %s behaves like a known bot (%s): profile class %d of %d accounts", a.name,
      flagged_by_[c], c + 1, members);
  al.rule = "profile-class";
  al.src_ip = a.ip;
  al.value = d;
  JsonWriter w;
  AlertHead(w, al);
  w.Key("anomaly").BeginObject().Field("account", a.name);
  w.Key("distance").BeginObject().Field("name", "class").Field("value", d).EndObject();
  w.Key("class")
      .BeginObject()
      .Field("id", c + 1)
      .Field("members", static_cast<uint64_t>(members))
      .Field("known_bots", flagged_by_[c]);
  w.Key("features").BeginObject();
  for (int i = 0; i < kClassFeatures; ++i)
    w.Field(ClassFeatureName(i), static_cast<double>(f[i]));
  w.EndObject().EndObject();
  w.Field("profile_days", static_cast<int>(P.days)).EndObject();
  Emit(w, al);
}

std::vector<std::pair<std::string, Profile>> Engine::TakeProfiles(uint64_t* too_young) {
  std::vector<std::pair<std::string, Profile>> out;
  *too_young = 0;
  const int bpd = bpd_;
  std::vector<Account*> ready;
  for (auto& a : accounts_) {
    if (!a->learning) continue;
    const int64_t last_day = FloorDiv(a->open - 1, bpd);
    if (last_day - a->first_day + 1 < config_.min_learning_days || a->learning->stat_days == 0) {
      ++*too_young;
      continue;
    }
    ready.push_back(a.get());
  }
  // Thresholds: each account's distances are scaled by its own scale; one
  // ratio per distance for the fleet (threshold = scale x ratio) is chosen
  // so that the alarm logic of Evaluate, run over every account's series of
  // calibration distances (out of sample: each against the profile learned
  // before it), raises the target number of episodes per 1000 account-days.
  // Counting episodes, not exceedances: a deviation stays in the window for
  // up to window_bins evaluations, but one near the threshold comes and goes.
  const int W = config_.window_bins, G = config_.rearm_bins;
  for (int k = 0; k < kDistances; ++k) {
    std::vector<float> medians;
    for (Account* a : ready) {
      const double m = ScaleOf(a->learning->calib[k]);
      if (!std::isnan(m) && m > 0) medians.push_back(static_cast<float>(m));
    }
    // The smallest scale: a quarter of the fleet's median, so that an
    // account that hardly calls (distance 0 most of the time) is not
    // measured against nothing.
    float floor = 1e-6f;
    if (!medians.empty()) {
      const size_t i = medians.size() / 2;
      std::nth_element(medians.begin(), medians.begin() + i, medians.end());
      floor = std::max(floor, 0.25f * medians[i]);
    }
    calib_.scale_floor[k] = floor;
    std::vector<std::vector<float>> series;
    std::vector<float> ratios;
    for (Account* a : ready) {
      const double m = ScaleOf(a->learning->calib[k]);
      const float s = std::isnan(m) ? floor : std::max<float>(m, floor);
      std::vector<float>& v = series.emplace_back();
      v.reserve(a->learning->calib[k].size());
      for (float d : a->learning->calib[k]) v.push_back(d / s);
      ratios.insert(ratios.end(), v.begin(), v.end());
    }
    calib_.samples[k] = ratios.size();
    if (ratios.empty()) {
      for (float& r : calib_.ratio[k]) r = std::numeric_limits<float>::infinity();
      continue;
    }
    // Evaluate's episodes at ratio r: an evaluation over r opens one unless
    // the previous one over r came at most rearm_bins before.
    auto episodes = [&](float r) {
      uint64_t n = 0;
      for (const std::vector<float>& v : series) {
        int64_t last = std::numeric_limits<int64_t>::min() / 2;
        for (size_t i = 0; i < v.size(); ++i) {
          if (v[i] <= r) continue;
          if (int64_t(i) - last > G) ++n;
          last = int64_t(i);
        }
      }
      return n;
    };
    const double allowed = config_.target_false_alarms / 1000.0 * double(ratios.size()) / bpd;
    // Only the tail can hold the answer: the evaluations over a floor (the
    // quantile leaving 20 times the evaluations a target could use, one
    // episode lasting a window) are walked instead of every one.
    const double tail_share =
        std::min(1.0, 20 * config_.target_false_alarms / 1000.0 * W / bpd);
    const size_t fi = static_cast<size_t>(std::floor((1 - tail_share) * (ratios.size() - 1)));
    std::nth_element(ratios.begin(), ratios.begin() + fi, ratios.end());
    const float tail_floor = ratios[fi];
    std::vector<std::vector<std::pair<uint32_t, float>>> tails(series.size());
    for (size_t j = 0; j < series.size(); ++j)
      for (size_t i = 0; i < series[j].size(); ++i)
        if (series[j][i] >= tail_floor) tails[j].emplace_back(static_cast<uint32_t>(i), series[j][i]);
    auto tail_episodes = [&](float r) {
      uint64_t n = 0;
      for (const auto& t : tails) {
        int64_t last = std::numeric_limits<int64_t>::min() / 2;
        for (const auto& [i, x] : t) {
          if (x <= r) continue;
          if (int64_t(i) - last > G) ++n;
          last = int64_t(i);
        }
      }
      return n;
    };
    std::vector<float> candidates(ratios.begin() + fi, ratios.end());
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    // The smallest ratio that leaves no more episodes than allowed (the
    // count falls, nearly monotonically, as the ratio grows); sharing the
    // target with others, a distance gets its share.
    auto smallest = [](const std::vector<float>& c, double allowed, auto&& count) {
      size_t lo = 0, hi = c.size() - 1;
      while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (double(count(c[mid])) <= allowed) hi = mid;
        else lo = mid + 1;
      }
      return c[lo];
    };
    for (int sharing = 1; sharing <= kDistances; ++sharing) {
      const double share = allowed / sharing;
      if (double(tail_episodes(candidates.front())) > share) {
        calib_.ratio[k][sharing - 1] = smallest(candidates, share, tail_episodes);
        continue;
      }
      // The target is generous enough to reach below the tail: every ratio.
      std::vector<float> all = ratios;
      std::sort(all.begin(), all.end());
      all.erase(std::unique(all.begin(), all.end()), all.end());
      calib_.ratio[k][sharing - 1] = smallest(all, share, episodes);
    }
  }
  for (Account* a : ready) {
    FinishLearning(*a);
    --stats_.profiled_online;
    out.emplace_back(a->name, *a->profile);
  }
  LearnClasses(out);
  for (auto& [name, p] : out) accounts_[index_[name]]->profile->cls = p.cls;
  return out;
}

double Engine::BytesPerAccount(size_t* max_bytes, bool profiled_only) const {
  size_t total = 0, most = 0, n = 0;
  for (const auto& a : accounts_) {
    if (profiled_only && !a->profile) continue;
    ++n;
    const size_t b = a->Bytes() + sizeof(std::pair<std::string, uint32_t>) + 1;
    total += b;
    most = std::max(most, b);
  }
  if (max_bytes) *max_bytes = most;
  return n == 0 ? 0 : double(total) / n;
}

bool Engine::LastDistances(std::string_view account, double out[kDistances]) const {
  auto it = index_.find(AV(account));
  if (it == index_.end()) return false;
  for (int k = 0; k < kDistances; ++k) out[k] = accounts_[it->second]->last_d[k];
  return true;
}

}  // namespace sw::profiles
