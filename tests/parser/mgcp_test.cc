// SPDX-License-Identifier: BSD-2-Clause
// MGCP commands and responses: every verb, response codes, parameters,
// embedded SDP, piggybacking, and rejections.
#include "sipwarden/sip/mgcp.h"

#include <string>

#include "gtest/gtest.h"
#include "sipwarden/sip/sdp.h"
#include "test_util.h"

namespace sw::sip {
namespace {

std::string Data(const std::string& name) {
  bool ok = false;
  std::string d = testing::ReadFile(testing::DataDir() / "mgcp" / name, &ok);
  EXPECT_TRUE(ok) << name;
  return d;
}

TEST(MgcpTest, EveryVerb) {
  struct Case {
    const char* file;
    MgcpVerb verb;
    uint32_t transaction;
  } cases[] = {
      {"crcx.txt", MgcpVerb::kCrcx, 1204}, {"mdcx.txt", MgcpVerb::kMdcx, 1210},
      {"dlcx.txt", MgcpVerb::kDlcx, 1210}, {"auep.txt", MgcpVerb::kAuep, 1201},
      {"aucx.txt", MgcpVerb::kAucx, 1203}, {"rqnt.txt", MgcpVerb::kRqnt, 1205},
      {"ntfy.txt", MgcpVerb::kNtfy, 2002}, {"rsip.txt", MgcpVerb::kRsip, 5200},
      {"epcf.txt", MgcpVerb::kEpcf, 2012},
  };
  for (const Case& c : cases) {
    const std::string d = Data(c.file);
    auto m = ParseMgcp(d);
    ASSERT_TRUE(m.ok()) << c.file << ": " << m.error().ToString();
    EXPECT_TRUE(m->is_command);
    EXPECT_EQ(m->verb_id, c.verb) << c.file;
    EXPECT_EQ(MgcpVerbName(m->verb_id), m->verb);
    EXPECT_EQ(m->transaction_id, c.transaction) << c.file;
    EXPECT_EQ(m->endpoint, "aaln/1@rgw-2567.whatever.net");
    EXPECT_EQ(m->endpoint_local, "aaln/1");
    EXPECT_EQ(m->endpoint_domain, "rgw-2567.whatever.net");
    EXPECT_EQ(m->version, "1.0");
    EXPECT_EQ(m->warnings, 0u) << c.file;
    EXPECT_EQ(m->size, d.size());
  }
}

TEST(MgcpTest, CreateConnectionFields) {
  const std::string d = Data("crcx.txt");
  auto m = ParseMgcp(d);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->call_id, "A3C47F21456789F0");
  EXPECT_EQ(m->local_options, "p:10, a:PCMU");
  EXPECT_EQ(m->mode, "recvonly");
  EXPECT_EQ(m->notified_entity, "ca@ca1.whatever.net:5678");
  EXPECT_EQ(m->request_id, "0123456789AC");
  EXPECT_EQ(m->requested_events, "L/hd(N)");
  EXPECT_EQ(m->signal_requests, "L/rg");
  EXPECT_EQ(m->params.size(), 7u);
  EXPECT_EQ(m->Param("c"), "A3C47F21456789F0");
  EXPECT_FALSE(m->Param("Z").has_value());
  auto sdp = ParseSdp(m->sdp);
  ASSERT_TRUE(sdp.ok()) << sdp.error().ToString();
  EXPECT_EQ(sdp->connection->ip.ToString(), "128.96.41.1");
  EXPECT_EQ(sdp->media.at(0).port, 3456);
}

TEST(MgcpTest, Responses) {
  // The input must outlive the parsed views.
  const std::string crcx_200 = Data("crcx_200.txt");
  auto ok = ParseMgcp(crcx_200);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_FALSE(ok->is_command);
  EXPECT_EQ(ok->response_code, 200);
  EXPECT_EQ(ok->transaction_id, 1204u);
  EXPECT_EQ(ok->response_comment, "OK");
  EXPECT_EQ(ok->connection_id, "FDE234C8");
  auto sdp = ParseSdp(ok->sdp);
  ASSERT_TRUE(sdp.ok());
  EXPECT_EQ(sdp->media.at(0).rtpmaps.at(0).encoding, "G726-32");

  const std::string dlcx_250 = Data("dlcx_250.txt");
  auto dl = ParseMgcp(dlcx_250);
  ASSERT_TRUE(dl.ok());
  EXPECT_EQ(dl->response_code, 250);
  EXPECT_EQ(dl->Param("P"), "PS=1245, OS=62345, PR=780, OR=45123, PL=10, JI=27, LA=48");

  auto bare = ParseMgcp("510 1 Protocol Error: Forbidden parameter line present.\n");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->response_code, 510);
  EXPECT_EQ(bare->response_comment, "Protocol Error: Forbidden parameter line present.");
  EXPECT_TRUE(bare->has_warning(MgcpWarning::kNonCrlfLineEnd));
}

TEST(MgcpTest, Piggybacked) {
  const std::string d = Data("piggyback.txt");
  auto first = ParseMgcp(d);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->response_code, 200);
  EXPECT_TRUE(first->has_warning(MgcpWarning::kPiggybacked));
  ASSERT_LT(first->size, d.size());
  auto second = ParseMgcp(std::string_view(d).substr(first->size));
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(second->verb_id, MgcpVerb::kRqnt);
  EXPECT_EQ(second->profile, "NCS 1.0");
  EXPECT_EQ(second->requested_events, "L/hu");
}

TEST(MgcpTest, LenientForms) {
  // As seen from Cisco gateways: version 0.1, CR line ends, empty values,
  // repeated capability parameters.
  auto m = ParseMgcp("RQNT 1 *@gateway44.example.com MGCP 0.1\rR: l/hd(n)\rX: 1\r");
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_TRUE(m->has_warning(MgcpWarning::kUnusualVersion));
  EXPECT_EQ(m->request_id, "1");
  auto caps = ParseMgcp("200 81 \r\nI:\r\nL: p:10, a:PCMU\r\nL: p:30, a:G729\r\n");
  ASSERT_TRUE(caps.ok()) << caps.error().ToString();
  EXPECT_TRUE(caps->has_warning(MgcpWarning::kDuplicateParam));
  EXPECT_EQ(caps->local_options, "p:10, a:PCMU");
  EXPECT_EQ(caps->Param("I"), "");
  auto lower = ParseMgcp("crcx 9 ds/ds1-1/1@[192.0.2.7] mgcp 1.0\r\n");
  ASSERT_TRUE(lower.ok()) << lower.error().ToString();
  EXPECT_EQ(lower->verb_id, MgcpVerb::kCrcx);
  EXPECT_EQ(lower->endpoint_domain, "[192.0.2.7]");
  auto ext = ParseMgcp("XABC 10 a@b MGCP 1.0\r\n");
  ASSERT_TRUE(ext.ok());
  EXPECT_EQ(ext->verb_id, MgcpVerb::kUnknown);
}

TEST(MgcpTest, Rejections) {
  struct Case {
    std::string data;
    Reason reason;
  } cases[] = {
      {"", Reason::kEmpty},
      {"\r\n", Reason::kEmpty},
      {"FOO 1 a@b MGCP 1.0\r\n", Reason::kBadMgcpVerb},
      {"CRCXX 1 a@b MGCP 1.0\r\n", Reason::kBadMgcpVerb},
      {"CRCX 1 a@b\r\n", Reason::kBadMgcpLine},
      {"CRCX x a@b MGCP 1.0\r\n", Reason::kBadMgcpTransactionId},
      {"CRCX 1234567890 a@b MGCP 1.0\r\n", Reason::kValueOutOfRange},
      {"CRCX 1 nodomain MGCP 1.0\r\n", Reason::kBadMgcpEndpoint},
      {"CRCX 1 a@ MGCP 1.0\r\n", Reason::kBadMgcpEndpoint},
      {"CRCX 1 a@[1.2.3.4 MGCP 1.0\r\n", Reason::kBadMgcpEndpoint},
      {"CRCX 1 a@b SIP 1.0\r\n", Reason::kBadMgcpLine},
      {"CRCX 1 a@b MGCP one\r\n", Reason::kBadMgcpLine},
      {"CRCX 1 a@b MGCP 2.0\r\n", Reason::kBadVersion},
      {"CRCX 1 a@b MGCP 1.0\r\nno colon here\r\n", Reason::kBadMgcpParam},
      {"CRCX 1 a@b MGCP 1.0\r\nbad name: x\r\n", Reason::kBadMgcpParam},
      {"200\r\n", Reason::kBadMgcpLine},
      {"200 x\r\n", Reason::kBadMgcpTransactionId},
  };
  for (const Case& c : cases) {
    auto m = ParseMgcp(c.data);
    ASSERT_FALSE(m.ok()) << c.data;
    EXPECT_EQ(m.reason(), c.reason) << c.data << " -> " << m.error().ToString();
  }
}

TEST(MgcpTest, Limits) {
  std::string many = "RQNT 1 a@b MGCP 1.0\r\n";
  for (int i = 0; i < 70; ++i) many += "X-P" + std::to_string(i) + ": v\r\n";
  auto m = ParseMgcp(many);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.reason(), Reason::kTooManyParams);
  const std::string too_long = "RQNT 1 a@b MGCP 1.0\r\nS: " + std::string(5000, 'x') + "\r\n";
  auto longline = ParseMgcp(too_long);
  ASSERT_FALSE(longline.ok());
  EXPECT_EQ(longline.reason(), Reason::kHeaderTooLong);
  MgcpLimits small;
  small.max_size = 10;
  EXPECT_EQ(ParseMgcp("RQNT 1 a@b MGCP 1.0\r\n", small).reason(), Reason::kMessageTooLarge);
}

}  // namespace
}  // namespace sw::sip
