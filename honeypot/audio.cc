// SPDX-License-Identifier: BSD-2-Clause
#include "audio.h"

#include <openssl/evp.h>
#include <sndfile.h>
#include <spandsp/telephony.h>
// telephony.h and bit_operations.h first: g711.h uses their declarations.
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>

#include "absl/strings/str_cat.h"

namespace sw::honeypot {

void Encode(Codec codec, std::span<const int16_t> pcm, std::vector<uint8_t>* out) {
  out->resize(pcm.size());
  for (size_t i = 0; i < pcm.size(); ++i) {
    (*out)[i] = codec == Codec::kPcmu ? linear_to_ulaw(pcm[i]) : linear_to_alaw(pcm[i]);
  }
}

void Decode(Codec codec, std::span<const uint8_t> g711, std::vector<int16_t>* out) {
  out->resize(g711.size());
  for (size_t i = 0; i < g711.size(); ++i) {
    (*out)[i] = codec == Codec::kPcmu ? ulaw_to_linear(g711[i]) : alaw_to_linear(g711[i]);
  }
}

namespace {

void AppendTone(std::vector<int16_t>* out, double hz, int ms, double amplitude) {
  const int n = kSampleRate * ms / 1000;
  for (int i = 0; i < n; ++i) {
    out->push_back(static_cast<int16_t>(
        amplitude * std::sin(2 * std::numbers::pi * hz * i / kSampleRate)));
  }
}

void AppendSilence(std::vector<int16_t>* out, int ms) {
  out->insert(out->end(), static_cast<size_t>(kSampleRate * ms / 1000), 0);
}

}  // namespace

Announcements BuiltinAnnouncements() {
  Announcements a;
  AppendSilence(&a.greeting, 1500);
  AppendTone(&a.greeting, 1000, 400, 8000);
  // The "vacant code / temporarily unavailable" special information tone:
  // three rising segments, then a pause; played twice.
  for (int rep = 0; rep < 2; ++rep) {
    AppendTone(&a.unavailable, 913.8, 274, 6000);
    AppendTone(&a.unavailable, 1370.6, 274, 6000);
    AppendTone(&a.unavailable, 1776.7, 380, 6000);
    AppendSilence(&a.unavailable, 1000);
  }
  return a;
}

absl::StatusOr<std::vector<int16_t>> ReadSound(const std::string& path) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (f == nullptr) return absl::InvalidArgumentError(absl::StrCat(path, ": ", sf_strerror(nullptr)));
  if (info.samplerate != kSampleRate || info.channels != 1) {
    sf_close(f);
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", info.samplerate, " Hz, ", info.channels,
                                                   " channel(s); announcements must be 8000 Hz mono"));
  }
  constexpr sf_count_t kMaxFrames = 10 * 60 * kSampleRate;  // ten minutes
  if (info.frames > kMaxFrames) {
    sf_close(f);
    return absl::InvalidArgumentError(absl::StrCat(path, ": longer than ten minutes"));
  }
  std::vector<int16_t> pcm(static_cast<size_t>(info.frames));
  const sf_count_t got = sf_read_short(f, pcm.data(), info.frames);
  sf_close(f);
  if (got != info.frames) return absl::InvalidArgumentError(absl::StrCat(path, ": short read"));
  return pcm;
}

absl::StatusOr<Announcements> LoadAnnouncements(const std::string& dir) {
  Announcements a = BuiltinAnnouncements();
  if (dir.empty()) return a;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": not a directory"));
  }
  for (auto [name, target] : {std::pair{"greeting.wav", &a.greeting},
                              std::pair{"unavailable.wav", &a.unavailable}}) {
    const std::string path = absl::StrCat(dir, "/", name);
    if (!std::filesystem::exists(path, ec)) continue;
    auto pcm = ReadSound(path);
    if (!pcm.ok()) return pcm.status();
    if (pcm->empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no audio"));
    *target = std::move(*pcm);
  }
  return a;
}

bool Recording::Add(Codec codec, uint32_t rtp_timestamp, std::span<const uint8_t> payload) {
  ++packets_;
  if (full_) {
    ++dropped_;
    return false;
  }
  if (!started_) {
    started_ = true;
    first_ts_ = rtp_timestamp;
  }
  uint64_t pos = static_cast<uint32_t>(rtp_timestamp - first_ts_);
  if (pos < samples_.size() || pos > samples_.size() + 0x7fffffffull) {
    ++dropped_;  // a duplicate, or older than what is written
    return true;
  }
  if (pos > samples_.size() + kSampleRate) {
    // A longer gap (a new talk spurt after a pause, a restarted sender):
    // one second of silence stands for it, and the timeline moves on.
    pos = samples_.size() + kSampleRate;
    first_ts_ = rtp_timestamp - static_cast<uint32_t>(pos);
  }
  const size_t gap = static_cast<size_t>(pos - samples_.size());
  Decode(codec, payload, &scratch_);
  size_t room = max_samples_ > samples_.size() ? max_samples_ - samples_.size() : 0;
  const size_t silence = std::min(gap, room);
  samples_.insert(samples_.end(), silence, 0);
  room -= silence;
  const size_t take = std::min(scratch_.size(), room);
  samples_.insert(samples_.end(), scratch_.begin(), scratch_.begin() + static_cast<ptrdiff_t>(take));
  if (take < scratch_.size() || gap > silence) {
    full_ = true;
    return false;
  }
  return true;
}

std::string Recording::ContentHash() const {
  constexpr int kQuiet = 64;  // about -54 dBFS
  size_t begin = 0, end = samples_.size();
  while (begin < end && std::abs(samples_[begin]) <= kQuiet) ++begin;
  while (end > begin && std::abs(samples_[end - 1]) <= kQuiet) --end;
  if (begin == end) return "";
  std::vector<uint8_t> bytes;
  bytes.reserve((end - begin) * 2);
  for (size_t i = begin; i < end; ++i) {
    const uint16_t s = static_cast<uint16_t>(samples_[i]);
    bytes.push_back(static_cast<uint8_t>(s & 0xff));
    bytes.push_back(static_cast<uint8_t>(s >> 8));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 15]);
  }
  return hex;
}

absl::Status Recording::WriteWav(const std::string& path) const {
  const std::string partial = path + ".partial";
  SF_INFO info{};
  info.samplerate = kSampleRate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(partial.c_str(), SFM_WRITE, &info);
  if (f == nullptr) return absl::UnavailableError(absl::StrCat(partial, ": ", sf_strerror(nullptr)));
  const sf_count_t n = static_cast<sf_count_t>(samples_.size());
  const sf_count_t wrote = sf_write_short(f, samples_.data(), n);
  const int closed = sf_close(f);
  if (wrote != n || closed != 0) {
    std::remove(partial.c_str());
    return absl::UnavailableError(absl::StrCat(partial, ": write failed (disk full?)"));
  }
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec) {
    std::remove(partial.c_str());
    return absl::UnavailableError(absl::StrCat("rename ", partial, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace sw::honeypot
