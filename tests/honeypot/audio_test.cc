// SPDX-License-Identifier: BSD-2-Clause
// The honeypot's audio: G.711 round trips, the recording's timeline (gaps,
// duplicates, limits), its content hash, WAV files and announcements.
#include "audio.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace sw::honeypot {
namespace {

std::vector<uint8_t> TonePacket(Codec codec, int index, double hz = 440) {
  std::vector<int16_t> pcm(kSamplesPerPacket);
  for (int i = 0; i < kSamplesPerPacket; ++i) {
    pcm[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * hz * (index * kSamplesPerPacket + i) / kSampleRate));
  }
  std::vector<uint8_t> out;
  Encode(codec, pcm, &out);
  return out;
}

std::string TempDir() {
  std::string t = std::filesystem::temp_directory_path() / "sw_audio_test_XXXXXX";
  return mkdtemp(t.data());
}

TEST(Audio, G711RoundTripIsClose) {
  for (Codec codec : {Codec::kPcmu, Codec::kPcma}) {
    std::vector<int16_t> pcm = {0, 100, -100, 1000, -1000, 8000, -8000, 30000, -30000};
    std::vector<uint8_t> enc;
    std::vector<int16_t> dec;
    Encode(codec, pcm, &enc);
    Decode(codec, enc, &dec);
    ASSERT_EQ(dec.size(), pcm.size());
    for (size_t i = 0; i < pcm.size(); ++i) {
      // G.711 keeps about 3 % of the magnitude (plus a step near zero).
      EXPECT_NEAR(dec[i], pcm[i], std::abs(pcm[i]) * 0.07 + 16) << i;
    }
  }
}

TEST(Recording, FollowsTimestampsFillsGapsDropsDuplicates) {
  Recording r(kSampleRate * 10);
  EXPECT_TRUE(r.Add(Codec::kPcmu, 1000, TonePacket(Codec::kPcmu, 0)));
  EXPECT_TRUE(r.Add(Codec::kPcmu, 1160, TonePacket(Codec::kPcmu, 1)));
  EXPECT_TRUE(r.Add(Codec::kPcmu, 1160, TonePacket(Codec::kPcmu, 1)));  // duplicate
  EXPECT_TRUE(r.Add(Codec::kPcmu, 1640, TonePacket(Codec::kPcmu, 4)));  // two lost
  EXPECT_EQ(r.samples().size(), 5u * kSamplesPerPacket);
  EXPECT_EQ(r.duration_ms(), 100);
  EXPECT_EQ(r.packets(), 4u);
  EXPECT_EQ(r.dropped(), 1u);
  // The lost packets are silence.
  for (int i = 2 * kSamplesPerPacket; i < 4 * kSamplesPerPacket; ++i) ASSERT_EQ(r.samples()[i], 0);
}

TEST(Recording, LongGapBecomesOneSecondAndTimestampWrapIsFollowed) {
  Recording r(kSampleRate * 10);
  EXPECT_TRUE(r.Add(Codec::kPcma, 0xffffff00u, TonePacket(Codec::kPcma, 0)));
  EXPECT_TRUE(r.Add(Codec::kPcma, 0xffffff00u + 160, TonePacket(Codec::kPcma, 1)));  // wraps
  EXPECT_EQ(r.samples().size(), 320u);
  EXPECT_TRUE(r.Add(Codec::kPcma, 0xffffff00u + 320 + 80000, TonePacket(Codec::kPcma, 2)));  // 10 s later
  EXPECT_EQ(r.samples().size(), 320u + kSampleRate + 160u);
}

TEST(Recording, StopsAtItsLimit) {
  Recording r(400);
  EXPECT_TRUE(r.Add(Codec::kPcmu, 0, TonePacket(Codec::kPcmu, 0)));
  EXPECT_TRUE(r.Add(Codec::kPcmu, 160, TonePacket(Codec::kPcmu, 1)));
  EXPECT_FALSE(r.Add(Codec::kPcmu, 320, TonePacket(Codec::kPcmu, 2)));
  EXPECT_TRUE(r.full());
  EXPECT_EQ(r.samples().size(), 400u);
  EXPECT_FALSE(r.Add(Codec::kPcmu, 480, TonePacket(Codec::kPcmu, 3)));
  EXPECT_EQ(r.samples().size(), 400u);
}

TEST(Recording, SameMessageHashesAlikeWhateverTheSilenceAround) {
  std::vector<uint8_t> silence(kSamplesPerPacket), quiet;
  std::vector<int16_t> zeros(kSamplesPerPacket, 0);
  Encode(Codec::kPcmu, zeros, &silence);
  Recording a(kSampleRate * 10), b(kSampleRate * 10), c(kSampleRate * 10);
  uint32_t ta = 5000, tb = 123456, tc = 9;
  for (int i = 0; i < 3; ++i, ta += 160) a.Add(Codec::kPcmu, ta, silence);
  for (int i = 0; i < 50; ++i, ta += 160, tb += 160) {
    a.Add(Codec::kPcmu, ta, TonePacket(Codec::kPcmu, i));
    b.Add(Codec::kPcmu, tb, TonePacket(Codec::kPcmu, i));
  }
  for (int i = 0; i < 7; ++i, tb += 160) b.Add(Codec::kPcmu, tb, silence);
  for (int i = 0; i < 50; ++i, tc += 160) c.Add(Codec::kPcmu, tc, TonePacket(Codec::kPcmu, i, 600));
  EXPECT_FALSE(a.ContentHash().empty());
  EXPECT_EQ(a.ContentHash(), b.ContentHash());
  EXPECT_NE(a.ContentHash(), c.ContentHash());
  Recording s(kSampleRate);
  s.Add(Codec::kPcmu, 0, silence);
  EXPECT_EQ(s.ContentHash(), "");
}

TEST(Recording, WavIsWrittenWholeWithItsDuration) {
  const std::string dir = TempDir();
  Recording r(kSampleRate * 10);
  for (int i = 0; i < 100; ++i) r.Add(Codec::kPcma, static_cast<uint32_t>(i * 160), TonePacket(Codec::kPcma, i));
  const std::string path = dir + "/call.wav";
  ASSERT_TRUE(r.WriteWav(path).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  auto back = ReadSound(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->size(), 100u * kSamplesPerPacket);  // 2.000 s
  EXPECT_EQ(*back, r.samples());
  // A directory that cannot be written: an error, and nothing left behind.
  EXPECT_FALSE(r.WriteWav(dir + "/missing/call.wav").ok());
  std::filesystem::remove_all(dir);
}

TEST(Announcements, BuiltinAndFromFilesAndRefusals) {
  Announcements a = BuiltinAnnouncements();
  EXPECT_GT(a.greeting.size(), static_cast<size_t>(kSampleRate));
  EXPECT_GT(a.unavailable.size(), static_cast<size_t>(kSampleRate));
  const std::string dir = TempDir();
  Recording r(kSampleRate);
  for (int i = 0; i < 10; ++i) r.Add(Codec::kPcmu, static_cast<uint32_t>(i * 160), TonePacket(Codec::kPcmu, i));
  ASSERT_TRUE(r.WriteWav(dir + "/greeting.wav").ok());
  auto loaded = LoadAnnouncements(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->greeting, r.samples());
  EXPECT_EQ(loaded->unavailable, a.unavailable);  // not given: built in
  std::ofstream(dir + "/unavailable.wav") << "not a sound file";
  auto bad = LoadAnnouncements(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("unavailable.wav"), std::string::npos);
  EXPECT_FALSE(LoadAnnouncements(dir + "/nope").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sw::honeypot
