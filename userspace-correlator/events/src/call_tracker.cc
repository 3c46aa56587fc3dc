// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/events/call_tracker.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace sw::ev {

Disposition DispositionForStatus(int status, bool cancelled) {
  if (status == 487 || cancelled) return Disposition::kCancelled;
  if (status == 486 || status == 600) return Disposition::kBusy;
  if (status == 408 || status == 480) return Disposition::kNoAnswer;
  if (status >= 500 && status < 600) return Disposition::kFailed;
  return Disposition::kRejected;  // 3xx, other 4xx, 603/604/606
}

CallTracker::CallTracker(Sink sink, CallTrackerLimits limits)
    : sink_(std::move(sink)), limits_(limits) {}

void CallTracker::AddMedia(Call& c, const SipEvent& e) {
  if (!e.sdp) return;
  for (const auto& m : e.sdp->media) {
    const bool known = std::any_of(c.rec.media.begin(), c.rec.media.end(), [&](const SdpMedia& x) {
      return x.conn == m.conn && x.port == m.port && x.type == m.type;
    });
    if (!known && c.rec.media.size() < 32) c.rec.media.push_back(m);
  }
}

void CallTracker::LinkNewest(Call& c) {
  c.older = newest_;
  c.newer = nullptr;
  if (newest_) {
    newest_->newer = &c;
  } else {
    oldest_ = &c;
  }
  newest_ = &c;
}

void CallTracker::Unlink(Call& c) {
  (c.older ? c.older->newer : oldest_) = c.newer;
  (c.newer ? c.newer->older : newest_) = c.older;
  c.older = c.newer = nullptr;
}

void CallTracker::Touch(Map::iterator it, int64_t ts) {
  Call& c = it->second;
  c.last_ns = std::max(c.last_ns, ts);
  if (newest_ == &c) return;
  Unlink(c);
  LinkNewest(c);
}

void CallTracker::Erase(Map::iterator it) {
  Unlink(it->second);
  calls_.erase(it);
}

void CallTracker::Retire(Map::iterator it) {
  // Bounded like the calls under way: the oldest ended call goes first.
  if (ended_.size() >= limits_.max_calls && !ended_order_.empty()) {
    ended_.erase(*ended_order_.front());
    ended_order_.pop_front();
  }
  const auto [e, fresh] =
      ended_.try_emplace(it->first, Ended{it->second.state_ns, it->second.invite_cseq});
  if (fresh) ended_order_.push_back(&e->first);
  Erase(it);
}

void CallTracker::OnEnded(EndedMap::iterator it, const SipEvent& e) {
  // As a call under way in its last state would: an INVITE of its own
  // transaction, or anything else of the call, is a retransmission.
  if (!(e.is_request && e.method == "INVITE") || e.cseq == it->second.invite_cseq) {
    ++stats_.retransmissions;
  }
}

void CallTracker::Finish(Call& c, int64_t end_ns, Disposition d, std::string_view ended_by) {
  if (c.state == State::kDone) return;
  c.rec.end_ns = std::max(end_ns, c.rec.start_ns);
  c.rec.disposition = d;
  c.rec.ended_by = std::string(ended_by);
  c.rec.duration_s = static_cast<double>(c.rec.end_ns - c.rec.start_ns) / 1e9;
  c.rec.billable_s =
      c.rec.answer_ns ? static_cast<double>(c.rec.end_ns - c.rec.answer_ns) / 1e9 : 0.0;
  c.state = State::kDone;
  c.state_ns = end_ns;
  ++stats_.calls_ended;
  sink_(c.rec);
}

void CallTracker::OnSip(const SipEvent& e) {
  const int64_t ts = e.flow.ts_ns;
  if (e.call_id.empty()) return;
  auto it = calls_.find(e.call_id);
  if (it == calls_.end() && !ended_.empty()) {
    if (auto en = ended_.find(e.call_id); en != ended_.end()) {
      OnEnded(en, e);
      return;
    }
  }

  if (e.is_request && e.method == "INVITE") {
    if (it == calls_.end()) {
      if (!e.to.tag.empty()) {  // a re-INVITE of a dialog we never saw start
        ++stats_.unknown_dialog;
        return;
      }
      while (calls_.size() >= limits_.max_calls && oldest_ != nullptr) {
        auto old = calls_.find(oldest_->rec.call_id);  // its key
        Finish(old->second, old->second.last_ns, Disposition::kFailed, "evicted");
        ++stats_.evicted;
        Erase(old);
      }
      it = calls_.emplace(e.call_id, Call{}).first;
      Call& c = it->second;
      LinkNewest(c);
      c.rec.call_id = e.call_id;
      c.rec.caller = e.from;
      c.rec.callee = e.to;
      if (c.rec.callee.user.empty()) c.rec.callee.user = e.request_user;
      c.rec.contact = e.contact;
      c.rec.caller_ip = e.flow.src;
      c.rec.user_agent = e.user_agent;
      c.rec.start_ns = ts;
      c.invite_cseq = e.cseq;
      c.state = State::kTrying;
      c.state_ns = ts;
      c.last_ns = ts;
      AddMedia(c, e);
      ++stats_.calls_started;
      return;
    }
    Call& c = it->second;
    Touch(it, ts);
    if (e.cseq == c.invite_cseq) {
      ++stats_.retransmissions;
      return;
    }
    if (c.state == State::kChallenged && e.cseq > c.invite_cseq) {
      // The caller answers the challenge with credentials: same call, new transaction.
      c.invite_cseq = e.cseq;
      c.state = State::kTrying;
      c.state_ns = ts;
      AddMedia(c, e);
      return;
    }
    if (c.state == State::kConfirmed) AddMedia(c, e);  // re-INVITE: media may move
    return;
  }

  if (it == calls_.end()) {
    if (e.is_request && (e.method == "BYE" || e.method == "CANCEL")) ++stats_.unknown_dialog;
    return;
  }
  Call& c = it->second;
  Touch(it, ts);

  if (e.is_request) {
    if (e.method == "CANCEL") {
      c.cancelled = true;
    } else if (e.method == "BYE") {
      if (c.state == State::kConfirmed) {
        Finish(c, ts, Disposition::kAnswered, "bye");
      } else {
        // BYE before any answer: the caller gave up (or an attacker tore it down).
        Finish(c, ts, Disposition::kCancelled, "bye");
      }
      Retire(it);
    }
    return;
  }

  // Responses: only those to the call's INVITE transaction shape the record.
  if (e.cseq_method != "INVITE" || e.cseq != c.invite_cseq) return;
  if (e.status < 200) {
    if (c.state == State::kTrying) {
      c.state = State::kEarly;
      c.state_ns = ts;
    }
    return;
  }
  if (e.status < 300) {
    if (c.state != State::kConfirmed) {
      c.rec.answer_ns = ts;
      c.rec.setup_ms = (ts - c.rec.start_ns) / 1'000'000;
      c.rec.status = e.status;
      c.state = State::kConfirmed;
      c.state_ns = ts;
      if (c.rec.callee.tag.empty()) c.rec.callee.tag = e.to.tag;
    }
    AddMedia(c, e);
    return;
  }
  if (c.state == State::kConfirmed) return;  // a forked branch failing after the answer
  c.rec.status = e.status;
  c.rec.setup_ms = (ts - c.rec.start_ns) / 1'000'000;
  if (e.status == 401 || e.status == 407) {
    c.state = State::kChallenged;
    c.state_ns = ts;
    return;
  }
  Finish(c, ts, DispositionForStatus(e.status, c.cancelled), "response");
  Retire(it);
}

void CallTracker::OnMedia(const std::string& call_id, int64_t ts) {
  auto it = calls_.find(call_id);
  if (it == calls_.end() || it->second.state != State::kConfirmed) return;
  Touch(it, ts);
}

void CallTracker::Advance(int64_t now) {
  // A full scan costs O(open calls); do it at most once per event-time second.
  if (now - last_advance_ < 1'000'000'000) return;
  last_advance_ = now;
  auto timed_out = [&](const Call& c) {
    const int64_t in_state = now - c.state_ns;
    switch (c.state) {
      case State::kTrying: return in_state > limits_.no_response_timeout_ns;
      case State::kEarly: return in_state > limits_.provisional_timeout_ns;
      case State::kChallenged: return in_state > limits_.challenge_timeout_ns;
      case State::kConfirmed: return now - c.last_ns > limits_.idle_call_timeout_ns;
      case State::kDone: return false;
    }
    return false;
  };
  std::vector<Map::iterator> due;
  for (auto it = calls_.begin(); it != calls_.end(); ++it) {
    if (timed_out(it->second)) due.push_back(it);
  }
  // Reported in start order, whatever order the table keeps (its hash is
  // seeded per process): a replay gives the same records in the same order.
  std::sort(due.begin(), due.end(), [](Map::iterator a, Map::iterator b) {
    return std::tie(a->second.rec.start_ns, a->first) < std::tie(b->second.rec.start_ns, b->first);
  });
  for (auto it : due) {
    Call& c = it->second;
    if (c.state == State::kChallenged) {
      Finish(c, c.state_ns, Disposition::kRejected, "timeout");
    } else if (c.state == State::kConfirmed) {
      Finish(c, c.last_ns, Disposition::kAnswered, "timeout");
    } else {
      Finish(c, c.last_ns, c.cancelled ? Disposition::kCancelled : Disposition::kNoAnswer,
             "timeout");
    }
  }
  for (auto it : due) Retire(it);
  while (!ended_order_.empty()) {
    const auto en = ended_.find(*ended_order_.front());
    if (now - en->second.end_ns <= limits_.linger_ns) break;
    ended_.erase(en);
    ended_order_.pop_front();
  }
}

void CallTracker::Flush() {
  // Report in start order so output is deterministic.
  std::vector<Call*> open;
  for (auto& [id, c] : calls_) {
    if (c.state != State::kDone) open.push_back(&c);
  }
  std::sort(open.begin(), open.end(),
            [](const Call* a, const Call* b) { return a->rec.start_ns < b->rec.start_ns; });
  for (Call* c : open) {
    Disposition d = Disposition::kNoAnswer;
    if (c->state == State::kConfirmed) d = Disposition::kAnswered;
    if (c->state == State::kChallenged) d = Disposition::kRejected;
    if (c->cancelled && c->state != State::kConfirmed) d = Disposition::kCancelled;
    Finish(*c, c->last_ns, d, "end_of_input");
  }
  calls_.clear();
  oldest_ = newest_ = nullptr;
  ended_.clear();
  ended_order_.clear();
}

}  // namespace sw::ev
