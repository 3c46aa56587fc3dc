// SPDX-License-Identifier: BSD-2-Clause
// The engine: dispatch by event class, compiled patterns, per-rule keyed
// operation tables, contexts, alarm suppression and one timer heap, all on
// event time.
#include "sipwarden/rules/engine.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "compiled.h"
#include "keyed_table.h"
#include "sipwarden/json.h"
#include "sipwarden/record.h"

namespace sw::rules {
namespace internal {
namespace {

// An earlier event, kept as the text of the fields a rule needs later. The
// values are one buffer (a Call-ID, a User-Agent, a URI each outgrow a
// string's inline bytes: one allocation and one cache miss each otherwise).
struct Snapshot {
  EventType type = EventType::kSynthetic;
  int64_t ts = 0;
  bool has_flow = false;
  ev::Flow flow;
  std::string name;                       // synthetic events
  ByteBuf text;                           // the values, one after another
  absl::InlinedVector<uint32_t, 10> ends;  // by capture slot: where its value ends in text
  size_t size() const { return ends.size(); }
  std::string_view value(size_t slot) const {
    const uint32_t begin = slot ? ends[slot - 1] : 0;
    return std::string_view(text.data() + begin, ends[slot] - begin);
  }
  // n values: the ones past the old count empty, as a vector's resize did.
  void Resize(size_t n) {
    ends.resize(n, ends.empty() ? 0 : ends.back());
    text.Truncate(ends.empty() ? 0 : ends.back());
  }
};

struct AlarmHandle {
  uint32_t slot = kNoSlot;
  uint32_t gen = 0;
};

// Timestamps of the events in a sliding window, oldest first, at most cap of
// them. The buffer grows as events come, up to cap: most keys (a caller's
// address, a user) see a few events per window, and a ring of threshold 1000
// allocated whole for each would cost 8 KB per key.
class Ring {
 public:
  explicit Ring(size_t cap) : cap_(cap ? cap : 1) {}
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t front() const { return buf_[head_]; }
  void pop() {
    head_ = head_ + 1 == buf_.size() ? 0 : head_ + 1;
    --n_;
  }
  // Drops the oldest when cap are held.
  void push(int64_t t) {
    if (n_ == buf_.size()) {
      if (n_ == cap_) {
        pop();
      } else {
        Grow();
      }
    }
    const size_t at = head_ + n_;
    buf_[at < buf_.size() ? at : at - buf_.size()] = t;
    ++n_;
  }
  void clear() { head_ = n_ = 0; }
  // Empty, for a new window of at most cap (the buffer is kept).
  void Reset(size_t cap) {
    cap_ = cap ? cap : 1;
    head_ = n_ = 0;
    if (buf_.size() > cap_) buf_.resize(cap_);
  }

 private:
  void Grow() {
    absl::InlinedVector<int64_t, kInline> next(std::min(cap_, std::max(buf_.size() * 2, kInline)));
    for (size_t i = 0; i < n_; ++i) {
      const size_t at = head_ + i;
      next[i] = buf_[at < buf_.size() ? at : at - buf_.size()];
    }
    buf_ = std::move(next);
    head_ = 0;
  }
  static constexpr size_t kInline = 4;
  absl::InlinedVector<int64_t, kInline> buf_;
  size_t cap_, head_ = 0, n_ = 0;
};

// Per-key state of an operation (SEC's event correlation operation). Slots
// are reused: Reset() keeps the snapshot's string capacity, the ring and the
// distinct-value map (unused until taken again), so a warm table opens
// operations without allocating.
struct OpState {
  int64_t start = 0;    // window start (threshold rules), operation start otherwise
  int64_t start2 = 0;   // SingleWith2Thresholds: start of the second window
  uint64_t count = 0;   // events the operation took
  uint64_t count2 = 0;  // events in the current second window (fixed windows)
  uint8_t phase = 0;    // 0: counting; 1: fired (ignoring / watching for the end)
  bool has_snap = false;
  bool has_times = false, has_distinct = false;
  AlarmHandle alarm;
  std::unique_ptr<Ring> ring;
  std::unique_ptr<absl::flat_hash_map<uint64_t, int64_t>> seen;  // value hash -> last seen
  std::unique_ptr<Snapshot> snap;  // kept (with its strings) when the slot is reused
  const Snapshot* first() const { return has_snap ? snap.get() : nullptr; }
  // Timestamps of the window's events (sliding windows), or nullptr.
  Ring* times() const { return has_times ? ring.get() : nullptr; }
  Ring* TakeTimes(size_t cap) {
    if (ring) {
      ring->Reset(cap);
    } else {
      ring = std::make_unique<Ring>(cap);
    }
    has_times = true;
    return ring.get();
  }
  // Distinct values seen in the window (distinct: rules), or nullptr.
  absl::flat_hash_map<uint64_t, int64_t>* distinct() const {
    return has_distinct ? seen.get() : nullptr;
  }
  void TakeDistinct() {
    if (seen) {
      seen->clear();
    } else {
      seen = std::make_unique<absl::flat_hash_map<uint64_t, int64_t>>();
    }
    has_distinct = true;
  }
  Snapshot* TakeSnapshot() {
    if (!snap) snap = std::make_unique<Snapshot>();
    has_snap = true;
    return snap.get();
  }
  void Reset() {
    start = start2 = 0;
    count = count2 = 0;
    phase = 0;
    has_snap = false;
    has_times = has_distinct = false;
    alarm = AlarmHandle{};
  }
};

struct AlarmState {
  uint64_t count = 0;    // events so far
  uint64_t emitted = 0;  // count last reported
  int64_t first_ns = 0, last_ns = 0, last_emit_ns = 0;
  int64_t suppress_ns = 0, update_every_ns = 0;
  std::unique_ptr<Alarm> alarm;  // as last reported
  void Reset() { *this = AlarmState{}; }
};

struct ContextState {
  int32_t rule = -1;  // owner (whose on_expiry list runs), -1 for none
  int32_t list = -1;
  std::unique_ptr<Snapshot> snap;
  std::string op_key;  // the creating operation's key (what its alarms cover)
  void Reset() {
    rule = list = -1;
    snap.reset();
    op_key.clear();
  }
};

struct RuleRuntime {
  explicit RuleRuntime(const CompiledRule* r)
      : rule(r), ops(r->max_keys), alarms(std::max<size_t>(r->max_keys, 1024)) {
    stats.name = r->name;
  }
  const CompiledRule* rule;
  KeyedTable<OpState> ops;
  KeyedTable<AlarmState> alarms;
  int64_t next_calendar = kNever;  // the scheduled instant
  uint64_t timing_seq = 0;         // events seen, for sampled timings
  uint32_t calendar_gen = 0;
  size_t catchup = 0;
  uint64_t catchup_run = 0;
  RuleStats stats;
};

enum class TimerKind : uint8_t { kOp, kAlarm, kContext, kCalendar };

struct Timer {
  int64_t at;
  uint64_t seq;
  uint32_t rule;
  uint32_t slot;
  uint32_t gen;
  TimerKind kind;
};

struct TimerLater {
  bool operator()(const Timer& a, const Timer& b) const {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
};

// Timers armed "now + D" for one of the rule set's durations D come due in
// the order they were armed (the clock never goes back): a FIFO per D keeps
// them sorted at O(1) a timer. Everything else goes to a heap.
struct TimerFifo {
  int64_t duration = 0;
  std::deque<Timer> q;
};
constexpr size_t kMaxFifos = 32;

struct PendingScript {
  uint32_t rule;
  std::unique_ptr<Snapshot> snap;
  std::string op_key;
};

struct Queued {
  SyntheticEvent ev;
  int name_id = -1;
};

// Where an action list takes its values and what it reports into.
struct ActCtx {
  const EventView* live = nullptr;
  const Snapshot* snap = nullptr;
  const Snapshot* first = nullptr;
  uint64_t count = 1;
  int64_t ts = 0;
  std::string_view op_key;
  AlarmHandle* alarm_out = nullptr;
  int depth = 0;
  std::string_view rule;  // for ${rule}
};

}  // namespace

class EngineCore {
 public:
  EngineCore(std::shared_ptr<const RuleSet> rules, EngineSinks sinks, EngineOptions options,
             ScriptExecutor* executor)
      : sinks_(std::move(sinks)),
        options_(options),
        executor_(executor),
        contexts_(options.max_contexts) {
    Install(std::move(rules), false);
  }

  void Ingest(EventView& v, int depth, int name_id);
  void Advance(int64_t now);
  void OnScriptDone(const ScriptResult& r);
  void Reload(std::shared_ptr<const RuleSet> rules) { Install(std::move(rules), true); }

  int64_t now() const { return clock_; }
  const EngineStats& stats() const { return stats_; }
  std::vector<RuleStats> rule_stats() const {
    std::vector<RuleStats> v;
    for (const auto& rt : rules_) {
      RuleStats s = rt->stats;
      s.visited = rt->timing_seq;
      s.open = rt->ops.size();
      v.push_back(std::move(s));
    }
    return v;
  }
  bool HasContext(std::string_view name) const { return contexts_.Find(name) != kNoSlot; }
  size_t context_count() const { return contexts_.size(); }
  const RuleSet& rules() const { return *set_; }

 private:
  const RuleSetData& data() const { return set_->data(); }

  void Install(std::shared_ptr<const RuleSet> rules, bool reload);
  void Start(int64_t t);
  void ArmCalendar(uint32_t ri, int64_t after);
  void RunTimers(int64_t now);
  void Drain();
  void Dispatch(const EventView& v, int cls, int depth);
  int ClassOf(const EventView& v, int name_id) const;
  // The rules an event of class cls goes to (for some synthetic names, those
  // its method and status allow).
  const std::vector<std::pair<uint32_t, uint8_t>>& RulesFor(const EventView& v, int cls) const;

  // Rules.
  bool Handle(uint32_t ri, const EventView& e, uint8_t bits, int depth);
  bool HandleSingle(uint32_t ri, const EventView& e, int depth);
  bool HandleSuppress(uint32_t ri, const EventView& e, int depth);
  bool HandleThreshold(uint32_t ri, const EventView& e, int depth);
  bool HandlePair1(uint32_t ri, const EventView& e, int depth);
  bool HandlePair2(uint32_t ri, const EventView& e, int depth);
  bool HandleScript(uint32_t ri, const EventView& e, int depth);
  void OnOpTimer(uint32_t ri, uint32_t slot, int64_t at);
  void OnCalendar(uint32_t ri, int64_t at);

  // Conditions.
  bool Matches(const Pattern& p, const EventView& e, const Snapshot* first);
  bool Eval(const Pattern& p, const Expr& x, const EventView& e, const Snapshot* first);
  bool EvalCond(const Condition& c, const EventView& e, const Snapshot* first);
  bool Test(const Condition& c, const EventView& e, const Snapshot* first);
  // Results of the conditions several patterns share, for the event being
  // dispatched (valid while event == event_seq_).
  struct SharedCondition {
    uint64_t event = 0;
    bool result = false;
  };
  bool TestText(const Condition& c, std::string_view s);
  // A regular expression's result on s: the texts rules match expressions on
  // (User-Agents, numbers dialled) repeat, and a match costs a hundred
  // nanoseconds or more where a lookup costs a few tens.
  // The results are kept per expression in a direct-mapped table: a text
  // that collides with another replaces it, so a source varying its text
  // (a number per call) costs one match and no allocation once each slot's
  // string has grown to its texts.
  bool Regex(const Condition& c, std::string_view s);
  struct RegexMemoSlot {
    uint64_t hash = 0;
    bool used = false;
    bool result = false;
    std::string text;
  };
  static constexpr size_t kMemoSlots = 1024;   // per expression, a power of two
  static constexpr size_t kMaxMemoText = 256;  // longer texts are matched each time
  bool EvalCtx(const CtxExpr& x, const ActCtx& c);
  void BuildKey(const std::vector<FieldRef>& fields, const EventView& e, ByteBuf& out);
  // A field of the event being dispatched. A synthetic event carries its
  // fields as text, found by name and parsed: an "outcome" reaches a dozen
  // rules that read its method, status and has_auth, so each field is found
  // and parsed once per event (valid while syn_seq_[field] == event_seq_).
  Value Get(const EventView& e, const FieldRef& f, std::string* scratch) {
    if (e.type != EventType::kSynthetic || f.id == FieldId::kCustom) {
      return GetValue(e, f, scratch);
    }
    const size_t i = static_cast<size_t>(f.id);
    if (syn_seq_[i] != event_seq_) {
      syn_values_[i] = GetValue(e, f, scratch);
      syn_seq_[i] = event_seq_;
    }
    return syn_values_[i];
  }
  // The key of the event for one of the rule set's key specs, built and hashed
  // once per event however many rules use it.
  struct CachedKey {
    uint64_t event = 0;
    ByteBuf bytes;
    size_t hash = 0;
  };
  const CachedKey& Key(int spec, const EventView& e) {
    CachedKey& k = keys_[spec];
    if (k.event != event_seq_) {
      BuildKey(data().key_specs[spec], e, k.bytes);
      k.hash = KeyedTable<OpState>::Hash(k.bytes);
      k.event = event_seq_;
    }
    return k;
  }

  // Actions.
  void RunList(uint32_t ri, int list, ActCtx& c);
  void Execute(uint32_t ri, const ActionList& list, const Action& a, ActCtx& c);
  void DoAlarm(uint32_t ri, const ActionList& list, const Action& a, ActCtx& c);
  void BumpAlarm(uint32_t ri, AlarmHandle h, uint64_t n);
  void EmitUpdate(uint32_t ri, AlarmState& st, int64_t at);
  void DoContext(uint32_t ri, const Action& a, ActCtx& c);
  void DoVerdict(uint32_t ri, const Action& a, ActCtx& c);
  void DoEmit(const Action& a, ActCtx& c);
  void DoScript(uint32_t ri, const Action& a, ActCtx& c);
  void Render(const Template& t, const ActCtx& c, std::string& out);
  // One string per template: a script's program and arguments.
  void RenderArgv(const std::vector<Template>& ts, const ActCtx& c, std::vector<std::string>& out);
  void RenderField(const FieldRef& f, const ActCtx& c, std::string& out);
  Value FieldValue(const FieldRef& f, const ActCtx& c, std::string& text);
  void Capture(const CompiledRule& r, const ActCtx& c, Snapshot* s);
  std::unique_ptr<Snapshot> Capture(const CompiledRule& r, const ActCtx& c) {
    auto s = std::make_unique<Snapshot>();
    Capture(r, c, s.get());
    return s;
  }
  std::string EventJson(const ActCtx& c, const CompiledRule& r);
  bool Target(const Action& a, ActCtx& c, IpPrefix* out);

  // Timers.
  void Push(int64_t at, uint32_t rule, uint32_t slot, uint32_t gen, TimerKind kind) {
    const Timer t{at, seq_++, rule, slot, gen, kind};
    next_due_ = std::min(next_due_, at);
    if ((seq_ & 4095) == 0) MaybeCompactTimers();
    const int64_t d = at - clock_;
    for (size_t i = 0; i < fifos_.size(); ++i) {
      TimerFifo& f = fifos_[i];
      if (f.duration != d) continue;
      if (f.q.empty() || f.q.back().at <= at) {
        const bool first = f.q.empty();
        f.q.push_back(t);
        if (first) SetFront(i);
        return;
      }
      break;
    }
    heap_.push_back(t);
    std::push_heap(heap_.begin(), heap_.end(), TimerLater());
  }
  // The earliest timer (by deadline, then by the order armed): its FIFO's
  // index, -1 for the heap, -2 when none. The FIFOs' earliest front is kept
  // in a tournament tree (front_win_), so this reads its root instead of
  // scanning every FIFO for every timer that fires.
  int NextTimer() const {
    int src = front_win_.size() > 1 ? front_win_[1] : -1;
    if (src >= 0 && front_at_[src] == kNever) src = -1;  // every FIFO empty
    if (heap_.empty()) return src >= 0 ? src : -2;
    if (src < 0) return -1;
    const Timer& h = heap_.front();
    return front_at_[src] < h.at || (front_at_[src] == h.at && front_seq_[src] < h.seq) ? src : -1;
  }
  // Whether FIFO a's front comes before FIFO b's (-1, a padding leaf, and
  // an empty FIFO, kNever, come last).
  bool FrontBefore(int a, int b) const {
    if (a < 0 || front_at_[a] == kNever) return false;
    if (b < 0 || front_at_[b] == kNever) return true;
    return front_at_[a] < front_at_[b] ||
           (front_at_[a] == front_at_[b] && front_seq_[a] < front_seq_[b]);
  }
  // FIFO i's front changed: store it and replay its matches up the tree.
  void SetFront(size_t i) {
    const auto& q = fifos_[i].q;
    front_at_[i] = q.empty() ? kNever : q.front().at;
    front_seq_[i] = q.empty() ? 0 : q.front().seq;
    for (size_t p = (front_leaves_ + i) / 2; p >= 1; p /= 2) {
      const int a = front_win_[2 * p], b = front_win_[2 * p + 1];
      front_win_[p] = FrontBefore(b, a) ? b : a;
    }
  }
  // Every FIFO's front, and the tree over them, from the queues: each leaf
  // replayed in turn (an inner node's last replay comes after both its
  // children's).
  void RebuildFronts() {
    front_leaves_ = 1;
    while (front_leaves_ < fifos_.size()) front_leaves_ *= 2;
    front_at_.assign(fifos_.size(), kNever);
    front_seq_.assign(fifos_.size(), 0);
    front_win_.assign(2 * front_leaves_, -1);
    for (size_t i = 0; i < fifos_.size(); ++i) front_win_[front_leaves_ + i] = static_cast<int>(i);
    for (size_t i = 0; i < fifos_.size(); ++i) SetFront(i);
  }
  void PopFifo(int i) {
    fifos_[i].q.pop_front();
    SetFront(static_cast<size_t>(i));
  }
  void BuildFifos();
  // Timers of operations that ended early stay queued until their deadline;
  // under a flood of short-lived keys they are dropped here so that memory
  // stays proportional to the live state.
  bool TimerLive(const Timer& t) const;
  void MaybeCompactTimers();
  template <typename V>
  void Arm(KeyedTable<V>& t, uint32_t slot, int64_t at, uint32_t rule, TimerKind kind) {
    auto& e = t.at(slot);
    e.deadline = at;
    if (at == kNever || at >= e.timer_at) return;
    e.timer_at = at;
    Push(at, rule, slot, e.gen, kind);
  }
  // Pops the timer if it is current; returns false for stale ones (and re-arms
  // entries whose deadline moved later).
  template <typename V>
  bool Due(KeyedTable<V>& t, const Timer& tm) {
    if (!t.Valid(tm.slot, tm.gen)) return false;
    auto& e = t.at(tm.slot);
    if (e.timer_at != tm.at) return false;
    e.timer_at = kNever;
    if (e.deadline == kNever) return false;
    if (e.deadline != tm.at) {
      e.timer_at = e.deadline;
      Push(e.deadline, tm.rule, tm.slot, tm.gen, tm.kind);
      return false;
    }
    return true;
  }

  std::shared_ptr<const RuleSet> set_;
  EngineSinks sinks_;
  EngineOptions options_;
  ScriptExecutor* executor_;
  EngineStats stats_;
  std::vector<std::unique_ptr<RuleRuntime>> rules_;
  KeyedTable<ContextState> contexts_;
  std::vector<Timer> heap_;
  std::vector<TimerFifo> fifos_;
  std::vector<int64_t> front_at_;  // each FIFO's first deadline (kNever: empty)
  std::vector<uint64_t> front_seq_;
  // A tournament over the FIFOs' fronts: leaves at [front_leaves_,
  // 2 * front_leaves_) hold FIFO indexes (-1 past the last), each inner node
  // p the earlier of its children 2p and 2p + 1, the root (1) the earliest.
  std::vector<int> front_win_;
  size_t front_leaves_ = 1;
  uint64_t timer_run_ = 0;
  int64_t next_due_ = kNever;  // no timer is due before this
  uint64_t seq_ = 0;
  std::deque<Queued> queue_;
  std::vector<SyntheticEvent> spare_;
  std::vector<CachedKey> keys_;
  std::vector<std::vector<RegexMemoSlot>> regex_memo_;  // by Condition::re_id, made on first use
  std::vector<SharedCondition> shared_;                 // by Condition::memo_id
  // Context names looked up for the event being dispatched (see EvalCtx):
  // the name's template text and whether it existed; valid while the event
  // and ctx_version_ (bumped whenever a context is created or dropped) hold.
  absl::InlinedVector<std::pair<const std::string*, bool>, 8> ctx_memo_;
  uint64_t ctx_memo_event_ = 0, ctx_memo_version_ = 0, ctx_version_ = 0;
  uint64_t event_seq_ = 0;
  static constexpr size_t kFields = static_cast<size_t>(FieldId::kCustom);
  std::array<Value, kFields> syn_values_;
  std::array<uint64_t, kFields> syn_seq_{};  // 0: never (event_seq_ starts at 1)
  absl::flat_hash_map<uint64_t, PendingScript> pending_;
  int max_depth_ = 16;
  size_t max_pending_ = 256;

  bool started_ = false;
  int64_t clock_ = 0;
  int64_t timer_target_ = 0;
  uint64_t alarm_seq_ = 0;
  uint64_t script_seq_ = 0;

  // Reused buffers: nothing on the per-event path allocates once they are warm.
  std::string scratch_, scratch2_, text_, text2_, lower_, ctx_name_;
  ByteBuf key_, key2_, alarm_key_;
  std::string ctx_action_name_, target_text_;
};

namespace {

constexpr int kMaxQueue = 100000;

IpPrefix MakePrefix(const IpAddress& a, int len) {
  IpPrefix p;
  p.addr = a;
  const bool v4 = a.is_v4();
  const int max = v4 ? 32 : 128;
  if (len < 0 || len > max) len = max;
  p.length = len;
  const int bits = v4 ? 96 + len : len;  // prefix bits within the 16-byte form
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(bits - i * 8, 0, 8);
    p.addr.bytes[i] &= static_cast<uint8_t>(keep == 8 ? 0xff : (0xff << (8 - keep)) & 0xff);
  }
  return p;
}

}  // namespace

// ---- lifecycle ----

void EngineCore::Install(std::shared_ptr<const RuleSet> rules, bool reload) {
  std::vector<std::unique_ptr<RuleRuntime>> next;
  std::vector<int> old_to_new(rules_.size(), -1);
  absl::flat_hash_map<std::string, uint32_t> old_by_name;
  for (uint32_t i = 0; i < rules_.size(); ++i) old_by_name[rules_[i]->rule->name] = i;
  size_t kept = 0;
  for (const auto& r : rules->data().rules) {
    auto it = old_by_name.find(r->name);
    if (it != old_by_name.end() && rules_[it->second] &&
        rules_[it->second]->rule->fingerprint == r->fingerprint) {
      auto rt = std::move(rules_[it->second]);
      rt->rule = r.get();
      old_to_new[it->second] = static_cast<int>(next.size());
      next.push_back(std::move(rt));
      ++kept;
    } else {
      next.push_back(std::make_unique<RuleRuntime>(r.get()));
    }
  }
  rules_ = std::move(next);
  set_ = std::move(rules);
  keys_.assign(data().key_specs.size(), CachedKey{});
  regex_memo_.clear();  // ids are the new rule set's
  ++ctx_version_;       // a reload may drop contexts
  regex_memo_.resize(data().regex_count);
  shared_.assign(data().shared_conditions, SharedCondition{});
  BuildFifos();
  const Limits& lim = data().limits;
  max_depth_ = lim.max_synthetic_depth ? lim.max_synthetic_depth : options_.max_synthetic_depth;
  max_pending_ = lim.max_pending_scripts ? lim.max_pending_scripts : options_.max_pending_scripts;
  const size_t max_ctx = lim.max_contexts ? lim.max_contexts : options_.max_contexts;
  if (!reload) {
    contexts_ = KeyedTable<ContextState>(max_ctx);
    if (started_) {
      for (uint32_t i = 0; i < rules_.size(); ++i) ArmCalendar(i, clock_);
    }
    return;
  }
  ++stats_.reloads;
  stats_.rules_kept = kept;
  // Contexts and script runs follow their rules; the timer heap is rebuilt.
  KeyedTable<ContextState> contexts(max_ctx);
  contexts_.ForEachSlot([&](uint32_t, auto& e) {
    ContextState& st = e.value;
    if (st.rule >= 0) {
      const int nr = st.rule < static_cast<int>(old_to_new.size()) ? old_to_new[st.rule] : -1;
      if (nr < 0) return;  // its rule is gone or changed
      st.rule = nr;
    }
    bool evicted;
    const uint32_t s = contexts.Insert(e.key(), &evicted);
    if (evicted) ++stats_.contexts_evicted;
    contexts.at(s).value = std::move(st);
    contexts.at(s).deadline = e.deadline;
  });
  contexts_ = std::move(contexts);
  for (auto it = pending_.begin(); it != pending_.end();) {
    const int nr = it->second.rule < old_to_new.size() ? old_to_new[it->second.rule] : -1;
    if (nr < 0) {
      pending_.erase(it++);
    } else {
      it->second.rule = static_cast<uint32_t>(nr);
      ++it;
    }
  }
  heap_.clear();
  next_due_ = kNever;
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    RuleRuntime& rt = *rules_[i];
    rt.ops.ForEachSlot([&](uint32_t s, auto& e) {
      e.timer_at = kNever;
      Arm(rt.ops, s, e.deadline, i, TimerKind::kOp);
    });
    rt.alarms.ForEachSlot([&](uint32_t s, auto& e) {
      e.timer_at = kNever;
      Arm(rt.alarms, s, e.deadline, i, TimerKind::kAlarm);
    });
    if (rt.rule->type == RuleType::kCalendar && started_) {
      if (rt.next_calendar == kNever) {
        ArmCalendar(i, clock_);
      } else {
        ++rt.calendar_gen;
        Push(rt.next_calendar - 1, i, 0, rt.calendar_gen, TimerKind::kCalendar);
      }
    }
  }
  contexts_.ForEachSlot([&](uint32_t s, auto& e) {
    e.timer_at = kNever;
    Arm(contexts_, s, e.deadline, 0, TimerKind::kContext);
  });
}

void EngineCore::BuildFifos() {
  std::vector<int64_t> durations;
  auto add = [&](int64_t d) {
    if (d > 0 && std::find(durations.begin(), durations.end(), d) == durations.end()) {
      durations.push_back(d);
    }
  };
  for (const auto& r : data().rules) {
    add(r->window_ns);
    add(r->window2_ns);
    for (const auto& l : r->lists) {
      for (const auto& a : l.actions) {
        add(a.suppress_ns);
        add(a.lifetime_ns);
      }
    }
  }
  if (durations.size() > kMaxFifos) durations.resize(kMaxFifos);
  // Timers already queued move to the heap (a reload re-arms them all anyway).
  for (auto& f : fifos_) {
    for (const auto& t : f.q) {
      heap_.push_back(t);
      std::push_heap(heap_.begin(), heap_.end(), TimerLater());
    }
  }
  fifos_.clear();
  for (int64_t d : durations) fifos_.push_back(TimerFifo{d, {}});
  RebuildFronts();
}

bool EngineCore::TimerLive(const Timer& t) const {
  auto live = [&](const auto& table) {
    return table.Valid(t.slot, t.gen) && table.at(t.slot).timer_at == t.at;
  };
  switch (t.kind) {
    case TimerKind::kOp:
      return t.rule < rules_.size() && live(rules_[t.rule]->ops);
    case TimerKind::kAlarm:
      return t.rule < rules_.size() && live(rules_[t.rule]->alarms);
    case TimerKind::kContext:
      return live(contexts_);
    case TimerKind::kCalendar:
      return t.rule < rules_.size() && rules_[t.rule]->calendar_gen == t.gen;
  }
  return false;
}

void EngineCore::MaybeCompactTimers() {
  size_t queued = heap_.size(), live = contexts_.size();
  for (const auto& f : fifos_) queued += f.q.size();
  for (const auto& rt : rules_) live += rt->ops.size() + rt->alarms.size() + 1;
  if (queued <= std::max<size_t>(1 << 16, 4 * live)) return;
  auto stale = [&](const Timer& t) { return !TimerLive(t); };
  heap_.erase(std::remove_if(heap_.begin(), heap_.end(), stale), heap_.end());
  std::make_heap(heap_.begin(), heap_.end(), TimerLater());
  for (auto& f : fifos_) f.q.erase(std::remove_if(f.q.begin(), f.q.end(), stale), f.q.end());
  RebuildFronts();
  ++stats_.timer_compactions;
}

void EngineCore::Start(int64_t t) {
  started_ = true;
  clock_ = t;
  for (uint32_t i = 0; i < rules_.size(); ++i) ArmCalendar(i, t);
}

void EngineCore::ArmCalendar(uint32_t ri, int64_t after) {
  RuleRuntime& rt = *rules_[ri];
  if (rt.rule->type != RuleType::kCalendar) return;
  rt.next_calendar = rt.rule->calendar.Next(after);
  ++rt.calendar_gen;
  // Fires once the clock reaches the scheduled instant.
  if (rt.next_calendar != kNever)
    Push(rt.next_calendar - 1, ri, 0, rt.calendar_gen, TimerKind::kCalendar);
}

void EngineCore::Ingest(EventView& v, int depth, int name_id) {
  if (v.type == EventType::kSynthetic) {
    ++stats_.synthetic;
  } else {
    ++stats_.events;
  }
  if (!started_) Start(v.ts);
  if (v.ts < clock_) {
    ++stats_.late_events;
    v.ts = clock_;
  }
  RunTimers(v.ts);
  clock_ = v.ts;
  Dispatch(v, ClassOf(v, name_id), depth);
  Drain();
}

void EngineCore::Advance(int64_t now) {
  if (!started_) Start(now);
  if (now <= clock_) return;
  RunTimers(now);
  clock_ = now;
}

int EngineCore::ClassOf(const EventView& v, int name_id) const {
  switch (v.type) {
    case EventType::kSip:
      // Refused messages reach only the rules that ask for them.
      if (v.sip->malformed()) return kClassMalformed;
      if (v.sip->is_request) return MethodIndex(v.sip->method);
      return kClassResp + std::clamp(v.sip->status / 100, 1, 6) - 1;
    case EventType::kMgcp:
      return kClassMgcp;
    case EventType::kRtp:
      return kClassRtp;
    case EventType::kCall:
      return kClassCall;
    case EventType::kSynthetic: {
      if (name_id < 0) {
        auto it = data().synthetic_names.find(AV(v.syn->name));
        if (it != data().synthetic_names.end()) name_id = it->second;
      }
      return name_id < 0 ? kClassSynOther : kClassSynBase + name_id;
    }
  }
  return kClassSynOther;
}

const std::vector<std::pair<uint32_t, uint8_t>>& EngineCore::RulesFor(const EventView& v,
                                                                      int cls) const {
  const RuleSetData& d = data();
  if (cls >= kClassSynBase) {
    const size_t k = static_cast<size_t>(cls - kClassSynBase);
    if (k < d.syn_split.size() && d.syn_split[k]) {
      // The method and status as the rules' conditions read them (GetValue
      // on a synthetic event): empty text is absent, a status must parse.
      const SyntheticEvent& s = *v.syn;
      int m = kSynMethodAbsent;
      if (const std::string* t = s.Find("method"); t != nullptr && !t->empty()) {
        m = MethodIndex(*t);
      }
      int st = 0;
      int64_t status;
      if (const std::string* t = s.Find("status");
          t != nullptr && absl::SimpleAtoi(AV(*t), &status)) {
        st = SynStatusSlot(status);
      }
      return d.syn_dispatch[(k * kSynMethodSlots + static_cast<size_t>(m)) * kSynStatusSlots +
                            static_cast<size_t>(st)];
    }
  }
  return d.dispatch[cls];
}

void EngineCore::Dispatch(const EventView& v, int cls, int depth) {
  ++event_seq_;
  for (const auto& [ri, bits] : RulesFor(v, cls)) {
    // Rule timings, sampled per rule: every kTimingSample-th event a rule
    // sees is timed, and its time counts kTimingSample-fold (a prime period,
    // so that events alternating in a short cycle do not bias it).
    RuleRuntime& rt = *rules_[ri];
    if (++rt.timing_seq % kTimingSample != 0) {
      if (Handle(ri, v, bits, depth)) break;
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const bool stop = Handle(ri, v, bits, depth);
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);
    rt.stats.time_ns += static_cast<uint64_t>(ns.count()) * kTimingSample;
    if (stop) break;
  }
}

void EngineCore::Drain() {
  while (!queue_.empty()) {
    Queued q = std::move(queue_.front());
    queue_.pop_front();
    EventView v;
    v.type = EventType::kSynthetic;
    v.ts = std::max(q.ev.ts_ns, clock_);
    v.syn = &q.ev;
    v.flow = q.ev.has_flow ? &q.ev.flow : nullptr;
    ++stats_.synthetic;
    Dispatch(v, ClassOf(v, q.name_id), q.ev.depth);
    if (spare_.size() < 64) spare_.push_back(std::move(q.ev));
  }
}

void EngineCore::RunTimers(int64_t now) {
  if (now <= next_due_) return;  // timers fire once the clock passes them
  timer_target_ = now;
  ++timer_run_;  // resets the calendar catch-up counts
  for (;;) {
    const int src = NextTimer();
    if (src == -2) {
      next_due_ = kNever;
      break;
    }
    next_due_ = src == -1 ? heap_.front().at : fifos_[src].q.front().at;
    Timer tm;
    if (src == -1) {
      if (heap_.front().at >= now) break;  // next_due_ holds it
      std::pop_heap(heap_.begin(), heap_.end(), TimerLater());
      tm = heap_.back();
      heap_.pop_back();
    } else {
      auto& q = fifos_[src].q;
      if (q.front().at >= now) break;
      tm = q.front();
      PopFifo(src);
    }
    switch (tm.kind) {
      case TimerKind::kOp: {
        if (tm.rule >= rules_.size() || !Due(rules_[tm.rule]->ops, tm)) continue;
        clock_ = std::max(clock_, tm.at);
        ++stats_.timers;
        OnOpTimer(tm.rule, tm.slot, tm.at);
        break;
      }
      case TimerKind::kAlarm: {
        if (tm.rule >= rules_.size()) continue;
        auto& table = rules_[tm.rule]->alarms;
        if (!Due(table, tm)) continue;
        clock_ = std::max(clock_, tm.at);
        ++stats_.timers;
        AlarmState& st = table.at(tm.slot).value;
        if (st.count > st.emitted) EmitUpdate(tm.rule, st, tm.at);
        table.Erase(tm.slot);
        break;
      }
      case TimerKind::kContext: {
        if (!Due(contexts_, tm)) continue;
        clock_ = std::max(clock_, tm.at);
        ++stats_.timers;
        ++stats_.contexts_expired;
        ContextState st = std::move(contexts_.at(tm.slot).value);
        contexts_.Erase(tm.slot);
        ++ctx_version_;
        if (st.rule >= 0 && st.list >= 0 && static_cast<size_t>(st.rule) < rules_.size()) {
          ActCtx c;
          c.snap = st.snap.get();
          c.ts = tm.at;
          c.depth = 0;
          c.op_key = st.op_key;
          RunList(static_cast<uint32_t>(st.rule), st.list, c);
        }
        break;
      }
      case TimerKind::kCalendar: {
        if (tm.rule >= rules_.size() || rules_[tm.rule]->calendar_gen != tm.gen) continue;
        clock_ = std::max(clock_, tm.at);
        ++stats_.timers;
        OnCalendar(tm.rule, tm.at + 1);
        break;
      }
    }
    Drain();
  }
}

// ---- conditions ----

bool EngineCore::TestText(const Condition& c, std::string_view s) {
  if (c.nocase && c.op != Op::kRegex) {
    lower_.assign(s.data(), s.size());
    absl::AsciiStrToLower(&lower_);
    s = lower_;
  }
  switch (c.op) {
    case Op::kEq:
      if (!c.str_set.empty()) return c.str_set.contains(AV(s));
      for (const auto& x : c.strs) {
        if (x == s) return true;
      }
      return false;
    case Op::kPrefix:
      for (const auto& x : c.strs) {
        if (absl::StartsWith(AV(s), x)) return true;
      }
      return false;
    case Op::kSuffix:
      for (const auto& x : c.strs) {
        if (absl::EndsWith(AV(s), x)) return true;
      }
      return false;
    case Op::kContains:
      for (const auto& x : c.strs) {
        if (absl::StrContains(AV(s), x)) return true;
      }
      return false;
    case Op::kRegex:
      return Regex(c, s);
    default:
      return false;
  }
}

namespace {

// RE2::PartialMatch without submatches, minus its argument handling
// (PartialMatchN and DoMatch call this with the same arguments).
bool Search(const RE2& re, re2::StringPiece text) {
  return re.Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0);
}

}  // namespace

bool EngineCore::Regex(const Condition& c, std::string_view s) {
  const re2::StringPiece text(s.data(), s.size());
  if (c.re_id < 0 || static_cast<size_t>(c.re_id) >= regex_memo_.size() ||
      s.size() > kMaxMemoText) {
    return Search(*c.re, text);
  }
  auto& memo = regex_memo_[c.re_id];
  if (memo.empty()) memo.resize(kMemoSlots);
  const uint64_t h = absl::Hash<absl::string_view>{}(AV(s));
  RegexMemoSlot& slot = memo[h & (kMemoSlots - 1)];
  if (slot.used && slot.hash == h && slot.text == s) return slot.result;
  slot.result = Search(*c.re, text);
  slot.hash = h;
  slot.used = true;
  slot.text.assign(s);
  return slot.result;
}

bool EngineCore::EvalCond(const Condition& c, const EventView& e, const Snapshot* first) {
  if (c.implied) return true;  // the dispatch class already guarantees it
  if (c.memo_id < 0) return Test(c, e, first);
  SharedCondition& m = shared_[c.memo_id];
  if (m.event != event_seq_) {
    m.result = Test(c, e, first);
    m.event = event_seq_;
  }
  return m.result;
}

bool EngineCore::Test(const Condition& c, const EventView& e, const Snapshot* first) {
  const Value v = Get(e, c.field, &scratch_);
  bool r = false;
  switch (c.op) {
    case Op::kExists:
      r = v.present;
      break;
    case Op::kEqField: {
      if (!v.present) break;
      const Value o = Get(e, c.other, &scratch2_);
      if (!o.present) break;
      text_.clear();
      text2_.clear();
      AppendText(v, c.field.kind(), text_);
      AppendText(o, c.other.kind(), text2_);
      r = text_ == text2_;
      break;
    }
    case Op::kEqFirst: {
      if (!v.present || first == nullptr || c.other.slot < 0 ||
          static_cast<size_t>(c.other.slot) >= first->size()) {
        break;
      }
      text_.clear();
      AppendText(v, c.field.kind(), text_);
      r = text_ == first->value(c.other.slot);
      break;
    }
    default:
      if (!v.present) break;
      switch (v.kind) {
        case ValueKind::kString:
          r = TestText(c, v.s);
          break;
        case ValueKind::kList:
          for (const auto& s : *v.list) {
            if (TestText(c, s)) {
              r = true;
              break;
            }
          }
          break;
        case ValueKind::kIp:
          for (const auto& p : c.prefixes) {
            if (p.Contains(v.ip)) {
              r = true;
              break;
            }
          }
          break;
        case ValueKind::kInt:
        case ValueKind::kDouble:
        case ValueKind::kBool: {
          const double x = v.Number();
          for (const auto& range : c.ranges) {
            if (range.Contains(x)) {
              r = true;
              break;
            }
          }
          break;
        }
      }
  }
  return r != c.negate;
}

bool EngineCore::Eval(const Pattern& p, const Expr& x, const EventView& e, const Snapshot* first) {
  switch (x.kind) {
    case Expr::Kind::kLeaf:
      return EvalCond(p.conds[x.leaf], e, first);
    case Expr::Kind::kAnd:
      for (const auto& k : x.kids) {
        if (!Eval(p, k, e, first)) return false;
      }
      return true;
    case Expr::Kind::kOr:
      for (const auto& k : x.kids) {
        if (Eval(p, k, e, first)) return true;
      }
      return false;
    case Expr::Kind::kNot:
      return x.kids.empty() || !Eval(p, x.kids[0], e, first);
  }
  return false;
}

bool EngineCore::Matches(const Pattern& p, const EventView& e, const Snapshot* first) {
  if (p.flat) {  // the common shape: conditions that must all hold
    for (const auto& c : p.conds) {
      if (!EvalCond(c, e, first)) return false;
    }
    return true;
  }
  return Eval(p, p.root, e, first);
}

bool EngineCore::EvalCtx(const CtxExpr& x, const ActCtx& c) {
  switch (x.kind) {
    case CtxExpr::Kind::kName: {
      // Rules test the same names for one event (invite-flood-source and
      // -peer both ask for sw-reg-peer:${src_ip}): a name made of text and
      // the live event's fields is looked up once per event while no context
      // is created or dropped.
      const bool memo = c.live != nullptr &&
                        std::all_of(x.name.segs.begin(), x.name.segs.end(), [](const Segment& s) {
                          return s.kind == Segment::Kind::kLiteral ||
                                 (s.kind == Segment::Kind::kField && !s.field.first);
                        });
      if (memo) {
        if (ctx_memo_event_ != event_seq_ || ctx_memo_version_ != ctx_version_) {
          ctx_memo_.clear();
          ctx_memo_event_ = event_seq_;
          ctx_memo_version_ = ctx_version_;
        }
        for (const auto& [text, found] : ctx_memo_) {
          if (*text == x.name.text) return found;
        }
      }
      ctx_name_.clear();
      Render(x.name, c, ctx_name_);
      const bool found = contexts_.Find(ctx_name_) != kNoSlot;
      if (memo && ctx_memo_.size() < 8) ctx_memo_.emplace_back(&x.name.text, found);
      return found;
    }
    case CtxExpr::Kind::kNot:
      return !EvalCtx(x.kids[0], c);
    case CtxExpr::Kind::kAnd:
      for (const auto& k : x.kids) {
        if (!EvalCtx(k, c)) return false;
      }
      return true;
    case CtxExpr::Kind::kOr:
      for (const auto& k : x.kids) {
        if (EvalCtx(k, c)) return true;
      }
      return false;
  }
  return false;
}

void EngineCore::BuildKey(const std::vector<FieldRef>& fields, const EventView& e, ByteBuf& out) {
  out.clear();
  for (const auto& f : fields) AppendKeyBytes(Get(e, f, &scratch_), f.kind(), out);
}

// ---- rules ----

bool EngineCore::Handle(uint32_t ri, const EventView& e, uint8_t bits, int depth) {
  const CompiledRule& r = *rules_[ri]->rule;
  switch (r.type) {
    case RuleType::kSingle:
      return HandleSingle(ri, e, depth) && !r.cont;
    case RuleType::kSingleWithSuppress:
      return HandleSuppress(ri, e, depth) && !r.cont;
    case RuleType::kSingleWithThreshold:
    case RuleType::kSingleWith2Thresholds:
      return HandleThreshold(ri, e, depth) && !r.cont;
    case RuleType::kPair:
    case RuleType::kPairWithWindow:
      // An event that completes an operation is not also taken as a first event.
      if ((bits & 2) && HandlePair2(ri, e, depth)) return !r.cont2;
      if (bits & 1) return HandlePair1(ri, e, depth) && !r.cont;
      return false;
    case RuleType::kSingleWithScript:
      return HandleScript(ri, e, depth) && !r.cont;
    case RuleType::kCalendar:
      return false;
  }
  return false;
}

bool EngineCore::HandleSingle(uint32_t ri, const EventView& e, int depth) {
  RuleRuntime& rt = *rules_[ri];
  const CompiledRule& r = *rt.rule;
  if (!Matches(r.match, e, nullptr)) return false;
  ActCtx c;
  c.live = &e;
  c.ts = clock_;
  c.depth = depth;
  c.rule = r.name;
  if (r.has_context && !EvalCtx(r.context, c)) return false;
  ++rt.stats.matched;
  BuildKey(r.key, e, key_);
  c.op_key = key_;
  ++rt.stats.fired;
  RunList(ri, 0, c);
  return true;
}

bool EngineCore::HandleSuppress(uint32_t ri, const EventView& e, int depth) {
  RuleRuntime& rt = *rules_[ri];
  const CompiledRule& r = *rt.rule;
  if (!Matches(r.match, e, nullptr)) return false;
  ActCtx c;
  c.live = &e;
  c.ts = clock_;
  c.depth = depth;
  c.rule = r.name;
  if (r.has_context && !EvalCtx(r.context, c)) return false;
  ++rt.stats.matched;
  const CachedKey& key = Key(r.key_spec, e);
  bool inserted, evicted;
  const uint32_t slot = rt.ops.FindOrInsert(key.bytes, key.hash, &inserted, &evicted);
  if (!inserted) {
    OpState& op = rt.ops.at(slot).value;
    ++op.count;
    ++rt.stats.absorbed;
    rt.ops.Touch(slot);
    BumpAlarm(ri, op.alarm, 1);
    return true;
  }
  if (evicted) {
    ++rt.stats.evicted;
    ++stats_.operations_evicted;
  }
  ++rt.stats.operations;
  OpState& op = rt.ops.at(slot).value;
  op.start = clock_;
  op.count = 1;
  Arm(rt.ops, slot, clock_ + r.window_ns, ri, TimerKind::kOp);
  c.op_key = rt.ops.at(slot).key();
  c.alarm_out = &op.alarm;
  ++rt.stats.fired;
  RunList(ri, 0, c);
  return true;
}

bool EngineCore::HandleThreshold(uint32_t ri, const EventView& e, int depth) {
  RuleRuntime& rt = *rules_[ri];
  const CompiledRule& r = *rt.rule;
  if (!Matches(r.match, e, nullptr)) return false;
  ActCtx c;
  c.live = &e;
  c.ts = clock_;
  c.depth = depth;
  c.rule = r.name;
  if (r.has_context && !EvalCtx(r.context, c)) return false;
  ++rt.stats.matched;
  const CachedKey& key = Key(r.key_spec, e);
  const bool two = r.type == RuleType::kSingleWith2Thresholds;
  bool inserted, evicted;
  const uint32_t slot = rt.ops.FindOrInsert(key.bytes, key.hash, &inserted, &evicted);
  if (inserted) {
    if (evicted) {
      ++rt.stats.evicted;
      ++stats_.operations_evicted;
    }
    ++rt.stats.operations;
    OpState& op = rt.ops.at(slot).value;
    op.start = clock_;
    if (!r.distinct.empty()) {
      op.TakeDistinct();
    } else if (r.sliding) {
      op.TakeTimes(r.threshold);
    }
    if (r.needs_snapshot) Capture(r, c, op.TakeSnapshot());
    Arm(rt.ops, slot, clock_ + r.window_ns, ri, TimerKind::kOp);
  } else {
    rt.ops.Touch(slot);
  }
  auto& entry = rt.ops.at(slot);
  OpState& op = entry.value;
  ++op.count;
  if (op.phase == 1) {
    ++rt.stats.absorbed;
    BumpAlarm(ri, op.alarm, 1);
    if (two) {
      if (r.sliding) {
        op.times()->push(clock_);
        if (op.times()->size() > r.threshold2) {
          op.start2 = op.times()->front();
          op.times()->pop();
          Arm(rt.ops, slot, op.start2 + r.window2_ns, ri, TimerKind::kOp);
        }
      } else {
        ++op.count2;
      }
    }
    return true;
  }
  uint64_t n;
  if (auto* seen = op.distinct()) {
    key2_.clear();
    for (const auto& f : r.distinct) AppendKeyBytes(Get(e, f, &scratch_), f.kind(), key2_);
    (*seen)[absl::Hash<absl::string_view>{}(AV(key2_.view()))] = clock_;
    n = seen->size();
  } else if (Ring* times = op.times()) {
    times->push(clock_);
    n = times->size();
  } else {
    n = op.count;
  }
  if (n < r.threshold) return true;
  // Threshold reached: act, then ignore the rest of the window (or watch for
  // the storm's end with the second threshold).
  op.phase = 1;
  if (op.times()) op.start = op.times()->front();
  if (op.distinct()) {
    int64_t oldest = clock_;
    for (const auto& [h, t] : *op.distinct()) oldest = std::min(oldest, t);
    op.start = oldest;
  }
  op.has_distinct = false;
  if (two) {
    op.start2 = clock_;
    op.count2 = 0;
    if (r.sliding) {
      op.TakeTimes(r.threshold2 + 1);
    } else {
      op.has_times = false;
    }
    Arm(rt.ops, slot, clock_ + r.window2_ns, ri, TimerKind::kOp);
  } else {
    op.has_times = false;
    Arm(rt.ops, slot, op.start + r.window_ns, ri, TimerKind::kOp);
  }
  c.count = n;
  c.op_key = entry.key();
  c.alarm_out = &op.alarm;
  ++rt.stats.fired;
  RunList(ri, 0, c);
  return true;
}

bool EngineCore::HandlePair2(uint32_t ri, const EventView& e, int depth) {
  RuleRuntime& rt = *rules_[ri];
  const CompiledRule& r = *rt.rule;
  if (rt.ops.size() == 0) return false;
  if (!r.match2.uses_first && !Matches(r.match2, e, nullptr)) return false;
  const CachedKey& key = Key(r.key2_spec, e);
  const uint32_t slot = rt.ops.Find(key.bytes, key.hash);
  if (slot == kNoSlot) return false;
  auto& entry = rt.ops.at(slot);
  OpState& op = entry.value;
  if (r.match2.uses_first && !Matches(r.match2, e, op.first())) return false;
  ActCtx c;
  c.live = &e;
  c.first = op.first();
  c.ts = clock_;
  c.depth = depth;
  c.rule = r.name;
  if (r.has_context2 && !EvalCtx(r.context2, c)) return false;
  ++rt.stats.matched;
  c.count = op.count;
  c.op_key = entry.key();
  c.alarm_out = &op.alarm;
  ++rt.stats.fired;
  RunList(ri, 1, c);
  rt.ops.Erase(slot);
  return true;
}

bool EngineCore::HandlePair1(uint32_t ri, const EventView& e, int depth) {
  RuleRuntime& rt = *rules_[ri];
  const CompiledRule& r = *rt.rule;
  if (!Matches(r.match, e, nullptr)) return false;
  ActCtx c;
  c.live = &e;
  c.ts = clock_;
  c.depth = depth;
  c.rule = r.name;
  if (r.has_context && !EvalCtx(r.context, c)) return false;
  ++rt.stats.matched;
  const CachedKey& key = Key(r.key_spec, e);
  bool inserted, evicted;
  const uint32_t slot = rt.ops.FindOrInsert(key.bytes, key.hash, &inserted, &evicted);
  if (!inserted) {  // a running operation takes repeats of its first event
    OpState& op = rt.ops.at(slot).value;
    ++op.count;
    ++rt.stats.absorbed;
    rt.ops.Touch(slot);
    BumpAlarm(ri, op.alarm, 1);
    return true;
  }
  if (evicted) {
    ++rt.stats.evicted;
    ++stats_.operations_evicted;
  }
  ++rt.stats.operations;
  auto& entry = rt.ops.at(slot);
  OpState& op = entry.value;
  op.start = clock_;
  op.count = 1;
  if (r.needs_snapshot) Capture(r, c, op.TakeSnapshot());
  if (r.window_ns > 0) Arm(rt.ops, slot, clock_ + r.window_ns, ri, TimerKind::kOp);
  if (r.type == RuleType::kPair && !r.lists[0].actions.empty()) {
    c.op_key = entry.key();
    c.alarm_out = &op.alarm;
    ++rt.stats.fired;
    RunList(ri, 0, c);
  }
  return true;
}

bool EngineCore::HandleScript(uint32_t ri, const EventView& e, int depth) {
  RuleRuntime& rt = *rules_[ri];
  const CompiledRule& r = *rt.rule;
  if (!Matches(r.match, e, nullptr)) return false;
  ActCtx c;
  c.live = &e;
  c.ts = clock_;
  c.depth = depth;
  c.rule = r.name;
  if (r.has_context && !EvalCtx(r.context, c)) return false;
  ++rt.stats.matched;
  if (executor_ == nullptr || pending_.size() >= max_pending_) {
    ++stats_.scripts_refused;
    return true;
  }
  ScriptRequest req;
  req.id = ++script_seq_;
  RenderArgv(r.script, c, req.argv);
  req.input = EventJson(c, r);
  req.timeout_ns = r.script_timeout_ns;
  req.rule = r.name;
  const uint64_t id = req.id;
  if (!executor_->Submit(std::move(req))) {
    ++stats_.scripts_refused;
    return true;
  }
  ++stats_.scripts_submitted;
  BuildKey(r.key, e, key_);
  pending_[id] = PendingScript{ri, Capture(r, c), std::string(key_.view())};
  return true;
}

void EngineCore::OnScriptDone(const ScriptResult& res) {
  auto it = pending_.find(res.id);
  if (it == pending_.end()) return;  // a script action, or its rule was dropped
  PendingScript p = std::move(it->second);
  pending_.erase(it);
  ++stats_.scripts_done;
  RuleRuntime& rt = *rules_[p.rule];
  ActCtx c;
  c.snap = p.snap.get();
  c.ts = clock_;
  c.op_key = p.op_key;
  ++rt.stats.fired;
  RunList(p.rule, res.ok() ? 0 : 1, c);
  Drain();
}

void EngineCore::OnOpTimer(uint32_t ri, uint32_t slot, int64_t at) {
  RuleRuntime& rt = *rules_[ri];
  const CompiledRule& r = *rt.rule;
  auto& entry = rt.ops.at(slot);
  OpState& op = entry.value;
  auto run_end = [&](int list) {
    // The list may emit events but never touches this table; erase afterwards.
    ActCtx c;
    c.snap = op.first();
    c.ts = at;
    c.count = op.count;
    c.op_key = entry.key();
    c.alarm_out = &op.alarm;
    ++rt.stats.fired;
    RunList(ri, list, c);
  };
  switch (r.type) {
    case RuleType::kSingleWithSuppress:
    case RuleType::kPair:
      rt.ops.Erase(slot);
      return;
    case RuleType::kPairWithWindow:
      run_end(0);
      rt.ops.Erase(slot);
      return;
    case RuleType::kSingleWithThreshold:
    case RuleType::kSingleWith2Thresholds:
      break;
    default:
      rt.ops.Erase(slot);
      return;
  }
  if (op.phase == 0) {
    // The window ended below the threshold: fixed windows end; sliding ones
    // drop the events that fell out and go on from the next one.
    if (Ring* times = op.times()) {
      while (!times->empty() && times->front() <= at - r.window_ns) times->pop();
      if (!times->empty()) {
        op.start = times->front();
        Arm(rt.ops, slot, op.start + r.window_ns, ri, TimerKind::kOp);
        return;
      }
    } else if (auto* seen = op.distinct(); seen && r.sliding) {
      int64_t oldest = kNever;
      for (auto it = seen->begin(); it != seen->end();) {
        if (it->second <= at - r.window_ns) {
          seen->erase(it++);
        } else {
          oldest = std::min(oldest, it->second);
          ++it;
        }
      }
      if (!seen->empty()) {
        op.start = oldest;
        Arm(rt.ops, slot, op.start + r.window_ns, ri, TimerKind::kOp);
        return;
      }
    }
    rt.ops.Erase(slot);
    return;
  }
  if (r.type == RuleType::kSingleWithThreshold) {
    if (!r.lists[1].actions.empty()) run_end(1);
    rt.ops.Erase(slot);
    return;
  }
  // SingleWith2Thresholds, watching for the end of the storm.
  if (!r.sliding && op.count2 > r.threshold2) {
    op.start2 += r.window2_ns;
    op.count2 = 0;
    Arm(rt.ops, slot, op.start2 + r.window2_ns, ri, TimerKind::kOp);
    return;
  }
  if (!r.lists[1].actions.empty()) run_end(1);
  rt.ops.Erase(slot);
}

void EngineCore::OnCalendar(uint32_t ri, int64_t at) {
  RuleRuntime& rt = *rules_[ri];
  const CompiledRule& r = *rt.rule;
  ActCtx c;
  c.ts = at;
  c.rule = r.name;
  if (!r.has_context || EvalCtx(r.context, c)) {
    ++rt.stats.matched;
    ++rt.stats.fired;
    ++stats_.calendar_fired;
    const std::string empty;
    c.op_key = empty;
    RunList(ri, 0, c);
  }
  int64_t next = r.calendar.Next(at);
  if (rt.catchup_run != timer_run_) {
    rt.catchup_run = timer_run_;
    rt.catchup = 0;
  }
  if (next <= timer_target_ && ++rt.catchup >= options_.max_calendar_catchup) {
    // The clock jumped far: skip to the first schedule not yet due.
    ++stats_.calendar_skipped;
    next = r.calendar.Next(timer_target_ - 1);
  }
  rt.next_calendar = next;
  ++rt.calendar_gen;
  if (next != kNever) Push(next - 1, ri, 0, rt.calendar_gen, TimerKind::kCalendar);
}

// ---- actions ----

void EngineCore::RunList(uint32_t ri, int list, ActCtx& c) {
  const CompiledRule& r = *rules_[ri]->rule;
  if (list < 0 || static_cast<size_t>(list) >= r.lists.size()) return;
  const ActionList& l = r.lists[list];
  c.rule = r.name;
  for (const Action& a : l.actions) Execute(ri, l, a, c);
}

void EngineCore::Execute(uint32_t ri, const ActionList& list, const Action& a, ActCtx& c) {
  switch (a.kind) {
    case ActionKind::kAlarm:
      DoAlarm(ri, list, a, c);
      return;
    case ActionKind::kBlock:
    case ActionKind::kRateLimit:
    case ActionKind::kWatch:
      DoVerdict(ri, a, c);
      return;
    case ActionKind::kEmit:
      DoEmit(a, c);
      return;
    case ActionKind::kCreateContext:
    case ActionKind::kSetContext:
    case ActionKind::kDeleteContext:
      DoContext(ri, a, c);
      return;
    case ActionKind::kScript:
      DoScript(ri, a, c);
      return;
    case ActionKind::kCompareProfiles: {
      ++stats_.profile_compares;
      if (!sinks_.compare_profiles) return;
      ProfileCompare pc;
      pc.ts_ns = c.ts;
      pc.rule = std::string(c.rule);
      Render(a.account, c, pc.account);
      sinks_.compare_profiles(pc);
      return;
    }
  }
}

Value EngineCore::FieldValue(const FieldRef& f, const ActCtx& c, std::string& text) {
  if (f.first) {
    if (c.first && f.slot >= 0 && static_cast<size_t>(f.slot) < c.first->size()) {
      return ParseText(c.first->value(f.slot), f.kind());
    }
    return Value{};
  }
  if (c.live) return Get(*c.live, f, &text);
  if (c.snap && f.slot >= 0 && static_cast<size_t>(f.slot) < c.snap->size()) {
    return ParseText(c.snap->value(f.slot), f.kind());
  }
  return Value{};
}

void EngineCore::RenderField(const FieldRef& f, const ActCtx& c, std::string& out) {
  if (f.first) {
    if (c.first && f.slot >= 0 && static_cast<size_t>(f.slot) < c.first->size()) {
      out.append(c.first->value(f.slot));
    }
    return;
  }
  if (c.live) {
    AppendText(Get(*c.live, f, &scratch2_), f.kind(), out);
    return;
  }
  if (c.snap && f.slot >= 0 && static_cast<size_t>(f.slot) < c.snap->size()) {
    out.append(c.snap->value(f.slot));
  }
}

void EngineCore::RenderArgv(const std::vector<Template>& ts, const ActCtx& c,
                            std::vector<std::string>& out) {
  out.resize(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) Render(ts[i], c, out[i]);
}

void EngineCore::Render(const Template& t, const ActCtx& c, std::string& out) {
  for (const auto& s : t.segs) {
    switch (s.kind) {
      case Segment::Kind::kLiteral:
        out += s.literal;
        break;
      case Segment::Kind::kField:
        RenderField(s.field, c, out);
        break;
      case Segment::Kind::kCount:
        absl::StrAppend(&out, c.count);
        break;
      case Segment::Kind::kRule:
        out += c.rule;
        break;
      case Segment::Kind::kTime:
        out += FormatRfc3339(c.ts);
        break;
    }
  }
}

void EngineCore::Capture(const CompiledRule& r, const ActCtx& c, Snapshot* s) {
  s->name.clear();
  s->has_flow = false;
  if (c.live) {
    const EventView& e = *c.live;
    s->type = e.type;
    s->ts = e.ts;
    if (e.flow) {
      s->has_flow = true;
      s->flow = *e.flow;
    } else if (e.type == EventType::kCall) {
      s->has_flow = true;
      s->flow.ts_ns = e.ts;
      s->flow.src = e.call->caller_ip;
    }
    if (e.syn) s->name = e.syn->name;
    s->text.clear();
    s->ends.clear();
    for (const FieldRef& f : r.capture) {
      AppendText(Get(e, f, &scratch2_), f.kind(), s->text);
      s->ends.push_back(static_cast<uint32_t>(s->text.size()));
    }
  } else if (c.snap) {
    if (c.snap != s) *s = *c.snap;
    s->Resize(r.capture.size());
  } else {
    s->type = EventType::kSynthetic;  // as a fresh snapshot: it may be a reused one
    s->ts = c.ts;
    s->text.clear();
    s->ends.assign(r.capture.size(), 0);
  }
}

void EngineCore::DoAlarm(uint32_t ri, const ActionList& list, const Action& a, ActCtx& c) {
  RuleRuntime& rt = *rules_[ri];
  const CompiledRule& r = *rt.rule;
  // What one alarm covers: the rule's key (or the alarm's own), per action.
  alarm_key_.clear();
  alarm_key_.Append(reinterpret_cast<const char*>(&a.index), sizeof(a.index));
  if (a.has_alarm_key) {
    for (const auto& f : a.alarm_key) {
      std::string text;
      AppendKeyBytes(FieldValue(f, c, text), f.kind(), alarm_key_);
    }
  } else {
    alarm_key_.Append(c.op_key);
  }
  uint32_t slot = a.suppress_ns > 0 ? rt.alarms.Find(alarm_key_) : kNoSlot;
  if (slot != kNoSlot) {
    const AlarmHandle h{slot, rt.alarms.at(slot).gen};
    BumpAlarm(ri, h, c.count);
    if (c.alarm_out) *c.alarm_out = h;
    return;
  }
  auto al = std::make_unique<Alarm>();
  al->id = ++alarm_seq_;
  al->ts_ns = c.ts;
  al->first_ns = c.ts;
  Render(a.signature, c, al->signature);
  al->category = a.category;
  al->severity = a.severity;
  al->rule = r.name;
  al->count = c.count;
  al->action = list.outcome;
  const ev::Flow* flow = nullptr;
  if (c.live) {
    flow = c.live->flow;
    if (flow == nullptr && c.live->type == EventType::kCall) {
      al->has_flow = true;
      al->src = c.live->call->caller_ip;
    }
  } else if (c.snap && c.snap->has_flow) {
    flow = &c.snap->flow;
  }
  if (flow) {
    al->has_flow = true;
    al->src = flow->src;
    al->dst = flow->dst;
    al->sport = flow->sport;
    al->dport = flow->dport;
    al->transport = flow->transport;
  }
  // The rule names the accused (or the target) when the event's own flow is
  // another party's: the media of a BYE attack comes from the victim.
  auto place = [&](const Template& t, IpAddress* addr, uint16_t* port) {
    if (t.segs.empty() && t.text.empty()) return;
    std::string text;
    Render(t, c, text);
    IpAddress ip;
    uint16_t p = 0;
    if (ParseHostPort(text, &ip, &p).ok()) {
      *addr = ip;
      *port = p;
    } else if (auto bare = IpAddress::Parse(text); bare.ok()) {
      *addr = *bare;
      *port = 0;
    } else {
      ++stats_.bad_targets;
      return;
    }
    al->has_flow = true;
  };
  place(a.alarm_src, &al->src, &al->sport);
  place(a.alarm_dest, &al->dst, &al->dport);
  for (const auto& [role, t] : a.parties) {
    std::string v;
    Render(t, c, v);
    al->parties.emplace_back(role, std::move(v));
  }
  if (list.source != Source::kNone) {
    RenderField(a.sip[0], c, al->call_id);
    RenderField(a.sip[1], c, al->from);
    RenderField(a.sip[2], c, al->to);
    RenderField(a.sip[3], c, al->user_agent);
    RenderField(a.sip[4], c, al->method);
    std::string status;
    RenderField(a.sip[5], c, status);
    if (!status.empty() && !absl::SimpleAtoi(status, &al->status)) al->status = 0;
  }
  ++stats_.alarms;
  ++rt.stats.alarms;
  if (sinks_.alarm) sinks_.alarm(*al);
  if (a.suppress_ns <= 0) return;
  bool evicted;
  slot = rt.alarms.Insert(alarm_key_, &evicted);
  if (evicted) ++stats_.alarm_states_evicted;
  auto& e = rt.alarms.at(slot);
  AlarmState& st = e.value;
  st.count = st.emitted = c.count;
  st.first_ns = st.last_ns = st.last_emit_ns = c.ts;
  st.suppress_ns = a.suppress_ns;
  st.update_every_ns = a.update_every_ns;
  st.alarm = std::move(al);
  Arm(rt.alarms, slot, c.ts + a.suppress_ns, ri, TimerKind::kAlarm);
  if (c.alarm_out) *c.alarm_out = AlarmHandle{slot, e.gen};
}

void EngineCore::BumpAlarm(uint32_t ri, AlarmHandle h, uint64_t n) {
  RuleRuntime& rt = *rules_[ri];
  if (h.slot == kNoSlot || !rt.alarms.Valid(h.slot, h.gen)) return;
  AlarmState& st = rt.alarms.at(h.slot).value;
  st.count += n;
  st.last_ns = clock_;
  if (st.update_every_ns > 0 && clock_ - st.last_emit_ns >= st.update_every_ns) {
    EmitUpdate(ri, st, clock_);
  }
  Arm(rt.alarms, h.slot, st.last_ns + st.suppress_ns, ri, TimerKind::kAlarm);
}

void EngineCore::EmitUpdate(uint32_t, AlarmState& st, int64_t at) {
  st.emitted = st.count;
  st.last_emit_ns = at;
  if (!st.alarm) return;
  st.alarm->update = true;
  st.alarm->ts_ns = at;
  st.alarm->count = st.count;
  ++stats_.alarm_updates;
  if (sinks_.alarm) sinks_.alarm(*st.alarm);
}

bool EngineCore::Target(const Action& a, ActCtx& c, IpPrefix* out) {
  std::string& text = target_text_;
  text.clear();
  Render(a.target, c, text);
  std::string_view t = text;
  if (t.size() > 2 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
  auto ip = IpAddress::Parse(t);
  if (!ip.ok()) {
    auto p = IpPrefix::Parse(t);
    if (!p.ok()) {
      ++stats_.bad_targets;
      return false;
    }
    *out = *p;
    return true;
  }
  *out = MakePrefix(*ip, a.prefix_len);
  return true;
}

void EngineCore::DoVerdict(uint32_t ri, const Action& a, ActCtx& c) {
  const CompiledRule& r = *rules_[ri]->rule;
  if (a.kind == ActionKind::kBlock) {
    BlockVerdict v;
    if (!Target(a, c, &v.prefix)) return;
    v.ts_ns = c.ts;
    v.ttl_ns = a.ttl_ns;
    v.rule = r.name;
    v.reason = a.reason;
    ++stats_.blocks;
    if (sinks_.block) sinks_.block(v);
    return;
  }
  if (a.kind == ActionKind::kRateLimit) {
    RateLimitVerdict v;
    if (!Target(a, c, &v.prefix)) return;
    v.ts_ns = c.ts;
    v.ttl_ns = a.ttl_ns;
    v.rate = a.rate;
    v.burst = a.burst;
    v.rule = r.name;
    ++stats_.rate_limits;
    if (sinks_.rate_limit) sinks_.rate_limit(v);
    return;
  }
  WatchVerdict v;
  std::string media;
  Render(a.media, c, media);
  for (absl::string_view part : absl::StrSplit(media, ' ', absl::SkipEmpty())) {
    MediaEndpoint ep;
    if (ParseEndpoint(SV(part), &ep.addr, &ep.port)) {
      if (std::find(v.endpoints.begin(), v.endpoints.end(), ep) == v.endpoints.end()) {
        v.endpoints.push_back(ep);
      }
    }
  }
  if (v.endpoints.empty()) {
    ++stats_.bad_targets;
    return;
  }
  if (a.call_id.slot >= 0 || c.live) RenderField(a.call_id, c, v.call_id);
  v.ts_ns = c.ts;
  v.ttl_ns = a.ttl_ns;
  v.rule = r.name;
  ++stats_.watches;
  if (sinks_.watch) sinks_.watch(v);
}

void EngineCore::DoEmit(const Action& a, ActCtx& c) {
  if (c.depth + 1 > max_depth_ || queue_.size() >= static_cast<size_t>(kMaxQueue)) {
    ++stats_.synthetic_dropped;
    return;
  }
  if (data().dispatch[kClassSynBase + a.name_id].empty() &&
      (!sinks_.synthetic || (sinks_.synthetic_wanted && !sinks_.synthetic_wanted(a.name)))) {
    ++stats_.synthetic;  // nothing would read it: counted as Drain counts it, not made
    return;
  }
  Queued q;
  if (!spare_.empty()) {  // reuse an event's strings
    q.ev = std::move(spare_.back());
    spare_.pop_back();
  }
  q.name_id = a.name_id;
  SyntheticEvent& s = q.ev;
  s.ts_ns = c.ts;
  s.name = a.name;
  s.depth = c.depth + 1;
  s.has_flow = false;
  const ev::Flow* flow = nullptr;
  if (a.flow_from_first) {
    if (c.first && c.first->has_flow) flow = &c.first->flow;
  } else if (c.live) {
    flow = c.live->flow;
  } else if (c.snap && c.snap->has_flow) {
    flow = &c.snap->flow;
  }
  if (flow) {
    s.has_flow = true;
    s.flow = *flow;
    s.flow.ts_ns = c.ts;
  }
  s.fields.resize(a.fields.size());
  for (size_t i = 0; i < a.fields.size(); ++i) {
    s.fields[i].first = a.fields[i].first;
    s.fields[i].second.clear();
    Render(a.fields[i].second, c, s.fields[i].second);
  }
  if (sinks_.synthetic) sinks_.synthetic(s);
  queue_.push_back(std::move(q));
}

void EngineCore::DoContext(uint32_t ri, const Action& a, ActCtx& c) {
  std::string& name = ctx_action_name_;  // reused: names outgrow the inline buffer
  name.clear();
  Render(a.ctx_name, c, name);
  uint32_t slot = contexts_.Find(name);
  if (a.kind == ActionKind::kDeleteContext) {
    if (slot != kNoSlot) {
      contexts_.Erase(slot);
      ++ctx_version_;
      ++stats_.contexts_deleted;
    }
    return;
  }
  if (a.kind == ActionKind::kSetContext && slot == kNoSlot) return;
  if (slot == kNoSlot) {
    bool evicted;
    slot = contexts_.Insert(name, &evicted);
    ++ctx_version_;
    if (evicted) ++stats_.contexts_evicted;
    ++stats_.contexts_created;
  } else {
    contexts_.Touch(slot);
  }
  // create replaces the expiry actions (with none if none are given); set
  // keeps them unless it gives new ones.
  ContextState& st = contexts_.at(slot).value;
  if (a.on_expiry >= 0) {
    st.rule = static_cast<int32_t>(ri);
    st.list = a.on_expiry;
    if (st.snap) {  // a context created again keeps its snapshot's storage
      Capture(*rules_[ri]->rule, c, st.snap.get());
    } else {
      st.snap = Capture(*rules_[ri]->rule, c);
    }
    st.op_key.assign(c.op_key);
  } else if (a.kind == ActionKind::kCreateContext) {
    st = ContextState{};
  }
  Arm(contexts_, slot, a.lifetime_ns > 0 ? c.ts + a.lifetime_ns : kNever, 0, TimerKind::kContext);
}

std::string EngineCore::EventJson(const ActCtx& c, const CompiledRule& r) {
  if (c.live) {
    const EventView& e = *c.live;
    switch (e.type) {
      case EventType::kSip:
        return ev::ToJson(*e.sip);
      case EventType::kMgcp:
        return ev::ToJson(*e.mgcp);
      case EventType::kRtp:
        return ev::ToJson(*e.rtp);
      case EventType::kCall:
        return ev::ToJson(*e.call);
      case EventType::kSynthetic:
        return ToJson(*e.syn);
    }
  }
  JsonWriter w;
  w.BeginObject();
  if (c.snap) {
    w.Field("type", EventTypeName(c.snap->type)).Field("ts", FormatRfc3339(c.snap->ts));
    if (!c.snap->name.empty()) w.Field("name", c.snap->name);
    if (c.snap->has_flow) {
      w.Field("src_ip", c.snap->flow.src.ToString());
      w.Field("src_port", static_cast<uint32_t>(c.snap->flow.sport));
      w.Field("dst_ip", c.snap->flow.dst.ToString());
      w.Field("dst_port", static_cast<uint32_t>(c.snap->flow.dport));
    }
    w.Key("fields").BeginObject();
    for (size_t i = 0; i < r.capture.size() && i < c.snap->size(); ++i) {
      w.Field(r.capture[i].name(), c.snap->value(i));
    }
    w.EndObject();
  } else {
    w.Field("type", "calendar").Field("ts", FormatRfc3339(c.ts));
  }
  w.Field("rule", r.name);
  w.EndObject();
  return w.Take();
}

void EngineCore::DoScript(uint32_t ri, const Action& a, ActCtx& c) {
  const CompiledRule& r = *rules_[ri]->rule;
  if (executor_ == nullptr) {
    ++stats_.scripts_refused;
    return;
  }
  ScriptRequest req;
  req.id = ++script_seq_;
  RenderArgv(a.command, c, req.argv);
  req.input = EventJson(c, r);
  req.timeout_ns = a.timeout_ns;
  req.rule = r.name;
  if (executor_->Submit(std::move(req))) {
    ++stats_.scripts_submitted;
  } else {
    ++stats_.scripts_refused;
  }
}

}  // namespace internal

// ---- the public face ----

using internal::EventView;

Engine::Engine(std::shared_ptr<const RuleSet> rules, EngineSinks sinks, EngineOptions options,
               ScriptExecutor* executor)
    : core_(std::make_unique<internal::EngineCore>(std::move(rules), std::move(sinks), options,
                                                   executor)) {}
Engine::~Engine() = default;

void Engine::OnSip(const ev::SipEvent& e) {
  EventView v;
  v.type = EventType::kSip;
  v.ts = e.flow.ts_ns;
  v.flow = &e.flow;
  v.sip = &e;
  core_->Ingest(v, 0, -1);
}

void Engine::OnMgcp(const ev::MgcpEvent& e) {
  EventView v;
  v.type = EventType::kMgcp;
  v.ts = e.flow.ts_ns;
  v.flow = &e.flow;
  v.mgcp = &e;
  core_->Ingest(v, 0, -1);
}

void Engine::OnRtp(const ev::RtpEvent& e) {
  EventView v;
  v.type = EventType::kRtp;
  v.ts = e.flow.ts_ns;
  v.flow = &e.flow;
  v.rtp = &e;
  core_->Ingest(v, 0, -1);
}

void Engine::OnCall(const ev::CallRecord& c) {
  EventView v;
  v.type = EventType::kCall;
  v.ts = c.end_ns;
  v.call = &c;
  core_->Ingest(v, 0, -1);
}

void Engine::OnSynthetic(const SyntheticEvent& e) {
  EventView v;
  v.type = EventType::kSynthetic;
  v.ts = e.ts_ns;
  v.flow = e.has_flow ? &e.flow : nullptr;
  v.syn = &e;
  core_->Ingest(v, e.depth, -1);
}

void Engine::Advance(int64_t now_ns) { core_->Advance(now_ns); }
void Engine::OnScriptDone(const ScriptResult& result) { core_->OnScriptDone(result); }
void Engine::Reload(std::shared_ptr<const RuleSet> rules) { core_->Reload(std::move(rules)); }
int64_t Engine::now() const { return core_->now(); }
const EngineStats& Engine::stats() const { return core_->stats(); }
std::vector<RuleStats> Engine::rule_stats() const { return core_->rule_stats(); }
bool Engine::HasContext(std::string_view name) const { return core_->HasContext(name); }
size_t Engine::context_count() const { return core_->context_count(); }
const RuleSet& Engine::rules() const { return core_->rules(); }

}  // namespace sw::rules
