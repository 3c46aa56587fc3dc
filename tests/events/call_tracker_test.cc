// SPDX-License-Identifier: BSD-2-Clause
// Call threading on event time: every disposition, challenges, retransmissions,
// timers and bounds, on synthetic events.
#include "sipwarden/events/call_tracker.h"

#include <gtest/gtest.h>

#include <vector>

namespace sw::ev {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;

class Calls : public ::testing::Test {
 protected:
  Calls() : tracker_([this](const CallRecord& c) { done_.push_back(c); }, Limits()) {}
  static CallTrackerLimits Limits() {
    CallTrackerLimits l;
    l.max_calls = 4;
    return l;
  }
  SipEvent Req(const std::string& method, int64_t ts, uint32_t cseq = 1,
               const std::string& to_tag = "", const std::string& call = "c1") {
    SipEvent e;
    e.flow.ts_ns = ts;
    e.flow.src = *IpAddress::Parse("192.0.2.10");
    e.is_request = true;
    e.method = method;
    e.cseq_method = method;
    e.cseq = cseq;
    e.call_id = call;
    e.from = {"sip:alice@example.com", "alice", "example.com", "a1", ""};
    e.to = {"sip:bob@example.com", "bob", "example.com", to_tag, ""};
    e.request_user = "bob";
    return e;
  }
  SipEvent Resp(int status, int64_t ts, uint32_t cseq = 1, const std::string& method = "INVITE",
                const std::string& call = "c1") {
    SipEvent e = Req(method, ts, cseq, status > 100 ? "b1" : "", call);
    e.is_request = false;
    e.status = status;
    e.cseq_method = method;
    return e;
  }
  void Feed(const SipEvent& e) { tracker_.OnSip(e); }

  std::vector<CallRecord> done_;
  CallTracker tracker_;
};

TEST_F(Calls, AnsweredCallEndedByBye) {
  const int64_t t0 = 1000 * kSec;
  Feed(Req("INVITE", t0));
  Feed(Req("INVITE", t0 + 500 * kMs));  // retransmission
  Feed(Resp(100, t0 + 10 * kMs));
  Feed(Resp(180, t0 + 50 * kMs));
  Feed(Resp(200, t0 + 3 * kSec));
  Feed(Req("ACK", t0 + 3 * kSec + 20 * kMs, 1, "b1"));
  ASSERT_TRUE(done_.empty());
  Feed(Req("BYE", t0 + 63 * kSec, 2, "b1"));
  Feed(Req("BYE", t0 + 63 * kSec + 500 * kMs, 2, "b1"));  // retransmitted BYE
  ASSERT_EQ(done_.size(), 1u);
  const CallRecord& c = done_[0];
  EXPECT_EQ(c.disposition, Disposition::kAnswered);
  EXPECT_EQ(c.setup_ms, 3000);
  EXPECT_DOUBLE_EQ(c.duration_s, 63.0);
  EXPECT_DOUBLE_EQ(c.billable_s, 60.0);
  EXPECT_EQ(c.status, 200);
  EXPECT_EQ(c.ended_by, "bye");
  EXPECT_EQ(c.caller.user, "alice");
  EXPECT_EQ(c.callee.user, "bob");
  EXPECT_EQ(c.callee.tag, "b1");
  EXPECT_EQ(tracker_.stats().retransmissions, 2u);
}

TEST_F(Calls, FinalFailuresMapToDispositions) {
  struct Case { int status; bool cancel; Disposition want; };
  const Case cases[] = {{486, false, Disposition::kBusy},     {600, false, Disposition::kBusy},
                        {480, false, Disposition::kNoAnswer}, {408, false, Disposition::kNoAnswer},
                        {487, true, Disposition::kCancelled}, {404, false, Disposition::kRejected},
                        {403, false, Disposition::kRejected}, {603, false, Disposition::kRejected},
                        {503, false, Disposition::kFailed},   {302, false, Disposition::kRejected}};
  int64_t t = 10 * kSec;
  int n = 0;
  for (const auto& k : cases) {
    const std::string id = "call" + std::to_string(n++);
    t += kSec;
    SipEvent inv = Req("INVITE", t, 1, "", id);
    Feed(inv);
    if (k.cancel) {
      SipEvent cancel = Req("CANCEL", t + 100 * kMs, 1, "", id);
      Feed(cancel);
    }
    Feed(Resp(k.status, t + 200 * kMs, 1, "INVITE", id));
    ASSERT_EQ(done_.size(), static_cast<size_t>(n)) << k.status;
    EXPECT_EQ(done_.back().disposition, k.want) << k.status;
    EXPECT_EQ(done_.back().status, k.status);
    EXPECT_EQ(done_.back().setup_ms, 200);
    EXPECT_DOUBLE_EQ(done_.back().billable_s, 0.0);
  }
}

TEST_F(Calls, ChallengeThenAuthenticatedRetryIsOneCall) {
  const int64_t t0 = 50 * kSec;
  Feed(Req("INVITE", t0, 1));
  Feed(Resp(407, t0 + 20 * kMs, 1));
  Feed(Req("ACK", t0 + 30 * kMs, 1));
  Feed(Req("INVITE", t0 + 40 * kMs, 2));  // with credentials
  Feed(Resp(200, t0 + 2 * kSec, 2));
  Feed(Req("BYE", t0 + 12 * kSec, 3, "b1"));
  ASSERT_EQ(done_.size(), 1u);
  EXPECT_EQ(done_[0].disposition, Disposition::kAnswered);
  EXPECT_DOUBLE_EQ(done_[0].billable_s, 10.0);
}

TEST_F(Calls, UnansweredChallengeTimesOutAsRejected) {
  const int64_t t0 = 50 * kSec;
  Feed(Req("INVITE", t0));
  Feed(Resp(401, t0 + 20 * kMs));
  tracker_.Advance(t0 + 60 * kSec);  // a user typing a password: still waiting
  EXPECT_TRUE(done_.empty());
  tracker_.Advance(t0 + 301 * kSec);
  ASSERT_EQ(done_.size(), 1u);
  EXPECT_EQ(done_[0].disposition, Disposition::kRejected);
  EXPECT_EQ(done_[0].status, 401);
  EXPECT_EQ(done_[0].ended_by, "timeout");
}

TEST_F(Calls, TimersRunOnEventTime) {
  const int64_t t0 = 100 * kSec;
  Feed(Req("INVITE", t0, 1, "", "silent"));
  Feed(Req("INVITE", t0, 1, "", "ringing"));
  Feed(Resp(180, t0 + kSec, 1, "INVITE", "ringing"));
  tracker_.Advance(t0 + 33 * kSec);  // Timer B for the silent one only
  ASSERT_EQ(done_.size(), 1u);
  EXPECT_EQ(done_[0].call_id, "silent");
  EXPECT_EQ(done_[0].disposition, Disposition::kNoAnswer);
  tracker_.Advance(t0 + 182 * kSec);  // Timer C for the ringing one
  ASSERT_EQ(done_.size(), 2u);
  EXPECT_EQ(done_[1].call_id, "ringing");
  EXPECT_EQ(done_[1].disposition, Disposition::kNoAnswer);
}

TEST_F(Calls, MediaKeepsAnAnsweredCallAliveUntilTheEndOfInput) {
  const int64_t t0 = 100 * kSec;
  Feed(Req("INVITE", t0));
  Feed(Resp(200, t0 + kSec));
  for (int i = 2; i < 90; ++i) tracker_.OnMedia("c1", t0 + i * kSec);
  tracker_.Flush();
  ASSERT_EQ(done_.size(), 1u);
  EXPECT_EQ(done_[0].ended_by, "end_of_input");
  EXPECT_EQ(done_[0].disposition, Disposition::kAnswered);
  EXPECT_DOUBLE_EQ(done_[0].duration_s, 89.0);
}

TEST_F(Calls, CancelledBeforeAnyFinalResponse) {
  const int64_t t0 = 100 * kSec;
  Feed(Req("INVITE", t0));
  Feed(Resp(180, t0 + kSec));
  Feed(Req("CANCEL", t0 + 5 * kSec));
  Feed(Resp(200, t0 + 5 * kSec + kMs, 1, "CANCEL"));  // 200 to the CANCEL, not the INVITE
  EXPECT_TRUE(done_.empty());
  Feed(Resp(487, t0 + 5 * kSec + 2 * kMs));
  ASSERT_EQ(done_.size(), 1u);
  EXPECT_EQ(done_[0].disposition, Disposition::kCancelled);
  EXPECT_EQ(done_[0].status, 487);
}

TEST_F(Calls, BoundedWithCountedEvictions) {
  for (int i = 0; i < 10; ++i) Feed(Req("INVITE", (i + 1) * kSec, 1, "", "c" + std::to_string(i)));
  EXPECT_EQ(tracker_.open_calls(), 4u);
  EXPECT_EQ(tracker_.stats().evicted, 6u);
  ASSERT_EQ(done_.size(), 6u);
  EXPECT_EQ(done_[0].ended_by, "evicted");
  EXPECT_EQ(done_[0].call_id, "c0");
}

// The call evicted is the least recently active one: a message of a call
// (a response, a re-sent request) makes it the most recent; a call that
// ended leaves the order.
TEST_F(Calls, EvictsTheLeastRecentlyActiveCall) {
  for (int i = 0; i < 4; ++i) Feed(Req("INVITE", (i + 1) * kSec, 1, "", "c" + std::to_string(i)));
  Feed(Resp(180, 5 * kSec, 1, "INVITE", "c0"));  // c0 rings: c1 is now the oldest
  Feed(Req("INVITE", 6 * kSec, 1, "", "c2"));    // c2's INVITE again: still c1
  Feed(Resp(486, 7 * kSec, 1, "INVITE", "c3"));  // c3 ends: room for one
  Feed(Req("INVITE", 8 * kSec, 1, "", "c4"));
  EXPECT_EQ(tracker_.stats().evicted, 0u);
  Feed(Req("INVITE", 9 * kSec, 1, "", "c5"));
  Feed(Req("INVITE", 10 * kSec, 1, "", "c6"));
  ASSERT_EQ(tracker_.stats().evicted, 2u);
  std::vector<std::string> evicted;
  for (const auto& r : done_) {
    if (r.ended_by == "evicted") evicted.push_back(r.call_id);
  }
  EXPECT_EQ(evicted, (std::vector<std::string>{"c1", "c0"}));
  EXPECT_EQ(tracker_.open_calls(), 4u);
}

// An ended call lingers to absorb retransmissions (its INVITE's, anything
// else of it), outside the bound on calls under way, and is forgotten after
// linger_ns: the same Call-ID then starts a new call.
TEST_F(Calls, EndedCallsLingerOutsideTheBoundThenGo) {
  const int64_t t0 = 100 * kSec;
  for (int i = 0; i < 4; ++i) {
    const std::string id = "e" + std::to_string(i);
    Feed(Req("INVITE", t0 + i * kMs, 1, "", id));
    Feed(Resp(486, t0 + i * kMs + kMs, 1, "INVITE", id));
  }
  ASSERT_EQ(done_.size(), 4u);
  EXPECT_EQ(tracker_.open_calls(), 0u);
  EXPECT_EQ(tracker_.lingering_calls(), 4u);
  // Four calls under way fill the bound; the ended ones push none out.
  for (int i = 0; i < 4; ++i) Feed(Req("INVITE", t0 + kSec, 1, "", "u" + std::to_string(i)));
  EXPECT_EQ(tracker_.open_calls(), 4u);
  EXPECT_EQ(tracker_.stats().evicted, 0u);
  Feed(Resp(486, t0 + 2 * kSec, 1, "INVITE", "e0"));    // the final response again
  Feed(Req("INVITE", t0 + 2 * kSec, 1, "", "e1"));      // the INVITE again
  Feed(Req("INVITE", t0 + 2 * kSec, 2, "", "e2"));      // another transaction: not counted
  EXPECT_EQ(tracker_.stats().retransmissions, 2u);
  EXPECT_EQ(tracker_.stats().calls_started, 8u);
  tracker_.Advance(t0 + 20 * kSec);
  EXPECT_EQ(tracker_.lingering_calls(), 4u);  // within linger_ns (32 s)
  tracker_.Advance(t0 + 40 * kSec);
  EXPECT_EQ(tracker_.lingering_calls(), 0u);
  Feed(Req("INVITE", t0 + 41 * kSec, 1, "", "e1"));  // a new call now
  EXPECT_EQ(tracker_.stats().calls_started, 9u);
}

TEST_F(Calls, InDialogRequestsForUnknownCallsAreCounted) {
  Feed(Req("BYE", kSec, 2, "x"));
  Feed(Req("INVITE", kSec, 3, "x"));  // re-INVITE of a dialog we never saw
  EXPECT_EQ(tracker_.open_calls(), 0u);
  EXPECT_EQ(tracker_.stats().unknown_dialog, 2u);
}

}  // namespace
}  // namespace sw::ev
