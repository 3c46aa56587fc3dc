// SPDX-License-Identifier: BSD-2-Clause
// `sipwardenctl honeypot deflection`: the simulated share of a SPIT bot's
// calls that deflectors absorb agrees with y/(x+y) within one percentage
// point over 100000 calls, and the real calls a bot makes before the policy
// graylists and blocks it agree with their expectations within five
// standard errors. Seeds are fixed: the test gives the same answer on
// every run.
#include "deflection.h"

#include <cmath>
#include <string>

#include "gtest/gtest.h"

namespace sw::ctl {
namespace {

std::vector<DeflectionCase> Cases() {
  std::vector<DeflectionCase> cases = DefaultDeflectionCases();
  for (DeflectionCase c : {DeflectionCase{1, 1}, DeflectionCase{1000, 1}, DeflectionCase{100000, 7},
                           DeflectionCase{3, 100000}, DeflectionCase{0, 5}, DeflectionCase{5, 0}}) {
    cases.push_back(c);
  }
  return cases;
}

TEST(Deflection, MeasuredShareWithinOnePointOfTheFormula) {
  DeflectionOptions o;
  o.calls = 100000;
  o.bots = 0;
  o.seed = 20070604;
  for (const DeflectionCase& c : Cases()) {
    const DeflectionRow r = SimulateDeflection(c, o);
    const double formula = static_cast<double>(c.deflectors) / (c.real + c.deflectors);
    EXPECT_DOUBLE_EQ(r.formula, formula);
    EXPECT_EQ(r.calls, 100000u);
    EXPECT_NEAR(r.measured, formula, 0.01) << c.real << " real, " << c.deflectors << " deflectors";
    EXPECT_DOUBLE_EQ(r.measured, r.absorbed / 100000.0);
  }
}

TEST(Deflection, ManySeedsStayWithinOnePoint) {
  // The half-and-half list has the widest spread (sd 0.16 points at 100000
  // calls): one point is six standard deviations.
  DeflectionOptions o;
  o.bots = 0;
  double sum = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    o.seed = seed;
    const DeflectionRow r = SimulateDeflection({1000, 1000}, o);
    EXPECT_NEAR(r.measured, 0.5, 0.01) << "seed " << seed;
    sum += r.measured;
  }
  // The mean of 20 runs is closer still (sd 0.035 points).
  EXPECT_NEAR(sum / 20, 0.5, 0.002);
}

TEST(Deflection, SameSeedSameRowOtherSeedOtherRow) {
  DeflectionOptions o;
  o.calls = 20000;
  o.bots = 100;
  const DeflectionRow a = SimulateDeflection({1000, 100}, o);
  const DeflectionRow b = SimulateDeflection({1000, 100}, o);
  EXPECT_EQ(a.absorbed, b.absorbed);
  EXPECT_EQ(a.measured_before_block, b.measured_before_block);
  o.seed = 2;
  const DeflectionRow c = SimulateDeflection({1000, 100}, o);
  EXPECT_NE(a.absorbed, c.absorbed);
}

// Real calls before the first deflector call are geometric: mean x/y,
// variance (1-p)/p^2 with p = y/(x+y); before the k-th, negative binomial:
// mean k x/y, variance k (1-p)/p^2.
TEST(Deflection, RealCallsBeforeGraylistAndBlockMatchTheirExpectations) {
  DeflectionOptions o;
  o.calls = 100000;
  o.bots = 2000;
  o.seed = 7;
  for (uint32_t k : {1u, 2u, 3u}) {
    o.block_after = k;
    for (const DeflectionCase& c : DefaultDeflectionCases()) {
      const DeflectionRow r = SimulateDeflection(c, o);
      const double p = static_cast<double>(c.deflectors) / (c.real + c.deflectors);
      const double var1 = (1 - p) / (p * p);
      ASSERT_EQ(r.bots_graylisted, 2000u);
      ASSERT_EQ(r.bots_blocked, 2000u);
      EXPECT_DOUBLE_EQ(r.expected_before_graylist, static_cast<double>(c.real) / c.deflectors);
      EXPECT_DOUBLE_EQ(r.expected_before_block, k * static_cast<double>(c.real) / c.deflectors);
      EXPECT_NEAR(r.measured_before_graylist, r.expected_before_graylist,
                  5 * std::sqrt(var1 / 2000))
          << c.deflectors << " deflectors";
      EXPECT_NEAR(r.measured_before_block, r.expected_before_block, 5 * std::sqrt(k * var1 / 2000))
          << c.deflectors << " deflectors, block after " << k;
      // The sample spread agrees with the model's too (within 15%).
      EXPECT_NEAR(r.stddev_before_block, std::sqrt(k * var1), 0.15 * std::sqrt(k * var1) + 0.05)
          << c.deflectors << " deflectors";
      if (k == 1) {
        EXPECT_DOUBLE_EQ(r.measured_before_block, r.measured_before_graylist);
      }
    }
  }
}

TEST(Deflection, WithoutDeflectorsNothingIsAbsorbedAndNoBotIsStopped) {
  DeflectionOptions o;
  o.calls = 1000;
  o.bots = 10;
  const DeflectionRow r = SimulateDeflection({50, 0}, o);
  EXPECT_EQ(r.absorbed, 0u);
  EXPECT_EQ(r.bots_graylisted, 0u);
  EXPECT_EQ(r.bots_blocked, 0u);
  EXPECT_TRUE(std::isinf(r.expected_before_block));
  // Each bot made every call it had, all to real users.
  EXPECT_DOUBLE_EQ(r.measured_before_block, 1000);
  const std::string table = FormatDeflectionTable({r});
  EXPECT_NE(table.find("never"), std::string::npos);
  EXPECT_NE(table.find(">1000.0"), std::string::npos);
  EXPECT_NE(table.find("0/10"), std::string::npos);
  const std::string json = DeflectionJson(r);
  EXPECT_NE(json.find("\"real_before_block_expected\":null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"bots_blocked\":0"), std::string::npos) << json;
}

TEST(Deflection, TableAndJson) {
  DeflectionOptions o;
  o.calls = 1000;
  o.bots = 10;
  const DeflectionRow r = SimulateDeflection({1000, 1000}, o);
  const std::string table = FormatDeflectionTable({r});
  EXPECT_NE(table.find("y/(x+y)"), std::string::npos);
  EXPECT_NE(table.find("    1000       1000     50.00%"), std::string::npos) << table;
  const std::string json = DeflectionJson(r);
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  EXPECT_NE(json.find("\"share_formula\":0.5"), std::string::npos) << json;
  EXPECT_NE(json.find("\"real_before_block_expected\":2"), std::string::npos) << json;
}

}  // namespace
}  // namespace sw::ctl
