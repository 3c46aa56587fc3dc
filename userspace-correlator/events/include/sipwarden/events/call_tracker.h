// SPDX-License-Identifier: BSD-2-Clause
// Threads SIP transactions and dialogs into call records (the paper's CDR):
// caller, callee, contact, start, setup time, duration, billable duration,
// disposition and media endpoints. Runs on event time only: timeouts advance
// with the events' timestamps, so a pcap replay and a live feed agree.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "absl/container/node_hash_map.h"
#include "sipwarden/events/event.h"

namespace sw::ev {

struct CallTrackerLimits {
  size_t max_calls = 262144;
  int64_t no_response_timeout_ns = 32'000'000'000;     // Timer B: no response at all
  int64_t provisional_timeout_ns = 180'000'000'000;    // Timer C: ringing without an answer
  // 401/407 without an authenticated retry. Long: softphones may ask their
  // user for the password, which takes tens of seconds (seen in the corpus).
  int64_t challenge_timeout_ns = 300'000'000'000;
  int64_t idle_call_timeout_ns = 4 * 3600'000'000'000;  // answered, nothing heard since
  int64_t linger_ns = 32'000'000'000;  // after the end: absorb retransmissions
};

struct CallTrackerStats {
  uint64_t calls_started = 0;
  uint64_t calls_ended = 0;
  uint64_t evicted = 0;          // dropped for space (reported with ended_by "evicted")
  uint64_t unknown_dialog = 0;   // in-dialog requests for calls never seen
  uint64_t retransmissions = 0;
};

class CallTracker {
 public:
  using Sink = std::function<void(const CallRecord&)>;
  explicit CallTracker(Sink sink, CallTrackerLimits limits = {});

  void OnSip(const SipEvent& e);
  // Media seen for a call (RTP to one of its endpoints): an answered call is
  // alive until its last packet, so end-of-input durations count media too.
  void OnMedia(const std::string& call_id, int64_t ts_ns);
  // Ends calls whose timers have run out by now (event time).
  void Advance(int64_t now_ns);
  // End of input: reports every open call (ended_by "end_of_input").
  void Flush();

  size_t open_calls() const { return calls_.size(); }
  // Calls that ended and are remembered for linger_ns, to absorb their
  // retransmissions.
  size_t lingering_calls() const { return ended_.size(); }
  const CallTrackerStats& stats() const { return stats_; }

 private:
  enum class State : uint8_t { kTrying, kEarly, kChallenged, kConfirmed, kDone };
  struct Call {
    CallRecord rec;
    State state = State::kTrying;
    uint32_t invite_cseq = 0;
    int64_t last_ns = 0;   // last message of this call
    int64_t state_ns = 0;  // when the current state began
    bool cancelled = false;
    // Links of the activity order (least recently active first), kept in
    // the calls themselves: touching a call allocates nothing.
    Call* older = nullptr;
    Call* newer = nullptr;
  };
  // Node-based (entries stay put: the activity links and the ended queue
  // point into them), with Abseil's open-addressed index: one probe per
  // lookup.
  using Map = absl::node_hash_map<std::string, Call>;

  // What an ended call keeps while it lingers: enough to tell a
  // retransmission, not the record (the sink has it).
  struct Ended {
    int64_t end_ns = 0;
    uint32_t invite_cseq = 0;
  };
  using EndedMap = absl::node_hash_map<std::string, Ended>;

  void Finish(Call& c, int64_t end_ns, Disposition d, std::string_view ended_by);
  // Moves a finished call from calls_ to ended_.
  void Retire(Map::iterator it);
  void Touch(Map::iterator it, int64_t ts);
  void Erase(Map::iterator it);
  void LinkNewest(Call& c);
  void Unlink(Call& c);
  void OnEnded(EndedMap::iterator it, const SipEvent& e);
  static void AddMedia(Call& c, const SipEvent& e);

  Sink sink_;
  CallTrackerLimits limits_;
  CallTrackerStats stats_;
  Map calls_;               // calls under way
  Call* oldest_ = nullptr;  // the least recently active call
  Call* newest_ = nullptr;
  // Ended calls, and their keys in the order they ended (the keys of a
  // node-based map stay where they are until erased). An entry whose end
  // lies before its predecessor's (a timeout found by the sweep) waits for
  // that one to go.
  EndedMap ended_;
  std::deque<const std::string*> ended_order_;
  int64_t last_advance_ = 0;
};

// Disposition of a call that ended with this final non-2xx status.
Disposition DispositionForStatus(int status, bool cancelled);

}  // namespace sw::ev
