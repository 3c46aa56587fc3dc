// SPDX-License-Identifier: BSD-2-Clause
// Audio of the honeypot: G.711 (PCMU, PCMA) through spandsp, WAV files
// through libsndfile, the announcements it plays, and the recording of what a
// caller sends. Nothing here touches sockets or clocks.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sw::honeypot {

// The G.711 payload types of RFC 3551.
enum class Codec : uint8_t { kPcmu = 0, kPcma = 8 };
constexpr int kSampleRate = 8000;
constexpr int kSamplesPerPacket = 160;  // 20 ms

// Linear 16-bit samples to G.711 octets and back (spandsp).
void Encode(Codec codec, std::span<const int16_t> pcm, std::vector<uint8_t>* out);
void Decode(Codec codec, std::span<const uint8_t> g711, std::vector<int16_t>* out);

// What the emulated services play, as 8 kHz linear samples.
struct Announcements {
  // A voicemail greeting: what a deflector and the voicemail service play
  // after answering, ending in the beep after which callers speak.
  std::vector<int16_t> greeting;
  // A gateway's "temporarily unavailable": played as early media before the
  // gateway refuses the call.
  std::vector<int16_t> unavailable;
};
// The built-in ones: the greeting is a short silence and a 1 kHz beep; the
// unavailable announcement is the special information tone sequence
// (913.8, 1370.6, 1776.7 Hz) that precedes "the number you have called is
// temporarily unavailable" in PSTN networks, twice.
Announcements BuiltinAnnouncements();
// Loads greeting.wav and unavailable.wav from dir where they exist (8 kHz
// mono WAV, any sample format libsndfile reads), the built-in ones for the
// rest. A file that is there but unusable is an error naming it.
absl::StatusOr<Announcements> LoadAnnouncements(const std::string& dir);
// Reads one 8 kHz mono sound file.
absl::StatusOr<std::vector<int16_t>> ReadSound(const std::string& path);

// The audio a caller sent in one call, in RTP timestamp order: gaps (lost
// packets, silence suppression) become silence, up to one second each;
// duplicates and packets older than what is written are dropped.
class Recording {
 public:
  // max_samples: the most this recording may hold (per-call disk bound).
  explicit Recording(size_t max_samples) : max_samples_(max_samples) {}

  // Adds one G.711 packet. False when the recording is full (the call is
  // then to be cut); the samples that fit are kept.
  bool Add(Codec codec, uint32_t rtp_timestamp, std::span<const uint8_t> payload);

  // Lowers (or raises) the bound; what is recorded stays.
  void set_max_samples(size_t max_samples) { max_samples_ = max_samples; }

  const std::vector<int16_t>& samples() const { return samples_; }
  int64_t duration_ms() const { return static_cast<int64_t>(samples_.size()) * 1000 / kSampleRate; }
  uint64_t packets() const { return packets_; }
  uint64_t dropped() const { return dropped_; }
  bool full() const { return full_; }

  // SHA-256 (hex) of the samples with leading and trailing near-silence
  // removed: two calls carrying the same message hash alike whatever the
  // silence around it. Empty when there is no audio above silence.
  std::string ContentHash() const;

  // Writes a 16-bit PCM WAV file: first to path + ".partial", renamed to
  // path once complete, so that no half-written recording is ever seen.
  absl::Status WriteWav(const std::string& path) const;

 private:
  size_t max_samples_;
  std::vector<int16_t> samples_;
  std::vector<int16_t> scratch_;
  bool started_ = false, full_ = false;
  uint32_t first_ts_ = 0;
  uint64_t packets_ = 0, dropped_ = 0;
};

}  // namespace sw::honeypot
