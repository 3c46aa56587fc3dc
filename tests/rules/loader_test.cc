// SPDX-License-Identifier: BSD-2-Clause
// Rule files: every error reported with file, line and column, nothing
// half-loaded; a file using every rule type, operator and action loads; the
// alarm JSON shape.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "rules_test_util.h"
#include "sipwarden/rules/alarm.h"

namespace sw::rules::testing {
namespace {

// 1-based line and column of the first occurrence of needle.
std::pair<int, int> Where(std::string_view text, std::string_view needle) {
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string_view::npos) << needle;
  int line = 1, col = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

struct Expected {
  std::string_view at;       // text the error points at
  std::string_view message;  // part of the message
};

void ExpectErrors(std::string_view yaml, const std::vector<Expected>& expected) {
  std::vector<ConfigError> errors;
  auto rs = LoadRuleText(yaml, "bad.yaml", &errors);
  EXPECT_FALSE(rs.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(rs.status())) << rs.status();
  std::string all;
  for (const auto& e : errors) all += e.ToString() + "\n";
  EXPECT_EQ(errors.size(), expected.size()) << all;
  for (const auto& x : expected) {
    const auto [line, col] = Where(yaml, x.at);
    bool found = false;
    for (const auto& e : errors) {
      if (e.file == "bad.yaml" && e.line == line && e.column == col &&
          e.message.find(x.message) != std::string::npos) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << "expected bad.yaml:" << line << ":" << col << ": ..." << x.message
                       << "\ngot:\n"
                       << all;
  }
}

TEST(Loader, ReportsEveryErrorWithItsLineAndColumn) {
  constexpr std::string_view kBad = R"yaml(rules:
  - name: typo-type
    type: SingleWithTreshold
    match: {method: INVITE}
    actions: []
  - name: typo-field
    type: Single
    match: {method: INVITE, usr_agent: x}
    actions: []
  - name: bad-regex
    type: Single
    match:
      user_agent: {regex: "sipvicious("}
    actions: []
  - name: no-threshold
    type: SingleWithThreshold
    match: {method: INVITE}
    window: 10s
    actions: []
  - name: bad-duration
    type: SingleWithSuppress
    match: {method: INVITE}
    window: 10 parsecs
    actions: []
  - name: bad-category
    type: Single
    match: {method: INVITE}
    actions:
      - alarm: {signature: s, category: flooding}
)yaml";
  ExpectErrors(kBad, {
                         {"SingleWithTreshold",
                          "unknown rule type 'SingleWithTreshold' (did you "
                          "mean 'SingleWithThreshold'?)"},
                         {"usr_agent", "unknown field 'usr_agent' (did you mean 'user_agent'?)"},
                         {"\"sipvicious(\"", "bad regular expression 'sipvicious(': missing )"},
                         {"name: no-threshold",
                          "rule 'no-threshold' (SingleWithThreshold) needs 'threshold'"},
                         {"10 parsecs", "bad duration '10 parsecs' for window"},
                         {"flooding", "unknown category 'flooding' (did you mean 'flood'?)"},
                     });
}

TEST(Loader, MoreKindsOfMistakes) {
  constexpr std::string_view kBad = R"yaml(version: 1
defaults: {max_keys: 0}
rules:
  - name: a
    type: Pair
    match: {src_ip: 10.0.0.300/8, status: 4yy}
    match2: {method: BYE, src_port: {regex: "5"}}
    key: [call_id]
    key2: [call_id, from_tag]
    window: 1m
    actions2:
      - alarm: {signature: "${first.nope}", category: teardown, severity: 4}
      - explode: {}
  - name: a
    type: Single
    match: {type: sipp, method: {eq_first: method}}
    context: "ctx:${call_id} && (other"
    actions:
      - emit: {name: "bad name", copy: [first.call_id]}
    windoww: 5s
  - name: cal
    type: Calendar
    time: "61 * * * *"
    actions: [{alarm: {signature: "${src_ip}", category: anomaly}}]
)yaml";
  ExpectErrors(kBad, {
                         {"0}", "bad max_keys '0'"},
                         {"10.0.0.300/8", "bad address or prefix '10.0.0.300/8' for src_ip"},
                         {"4yy", "bad value '4yy' for status"},
                         {"regex: \"5\"", "'regex' applies to text fields; src_port is integer"},
                         {"[call_id, from_tag]", "key2 must list as many fields as key (1)"},
                         {"\"${first.nope}\"", "unknown field 'first.nope'"},
                         {"4}", "bad severity '4'"},
                         {"explode", "unknown action 'explode'"},
                         {"sipp", "unknown event type 'sipp'"},
                         {"eq_first", "only in match2"},
                         {"\"ctx:${call_id} && (other\"", "missing )"},
                         {"\"bad name\"", "bad event name 'bad name'"},
                         {"first.call_id]", "first.FIELD is only available"},
                         {"windoww", "unknown key 'windoww'"},
                         {"\"61 * * * *\"", "minute '61' outside 0..59"},
                         {"\"${src_ip}\"", "Calendar rules have no event"},
                     });
}

TEST(Loader, CompareProfilesAction) {
  ExpectErrors(R"yaml(rules:
  - name: c
    type: Calendar
    every: 1h
    actions:
      - compare_profiles: {acount: x}
      - compare_profiles: {account: "${from_user}"}
)yaml",
               {{"acount", "unknown key 'acount'"},
                {"\"${from_user}\"", "Calendar rules have no event"}});
}

TEST(Loader, DuplicatesAndSyntax) {
  ExpectErrors(R"(rules:
  - name: x
    type: Single
    match: {method: INVITE}
    actions: []
  - name: x
    type: Single
    match: {method: BYE}
    actions: []
  - name: y
    type: Single
    match: {method: BYE, method: ACK}
    actions: []
)",
               {{"name: x\n    type: Single\n    match: {method: BYE}", "defined twice"},
                {"method: ACK", "duplicate key 'method' in match"}});
  std::vector<ConfigError> errors;
  auto rs = LoadRuleText("rules:\n  - name: x\n    type: [Single\n", "syntax.yaml", &errors);
  ASSERT_FALSE(rs.ok());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "syntax.yaml");
  EXPECT_GT(errors[0].line, 0);
  EXPECT_NE(errors[0].message.find("YAML syntax"), std::string::npos);
  EXPECT_NE(errors[0].ToString().find("syntax.yaml:"), std::string::npos);
}

TEST(Loader, ScriptsNameAnAbsoluteProgramAndNoShell) {
  ExpectErrors(R"(rules:
  - name: relative
    type: SingleWithScript
    match: {method: REGISTER}
    script: "compare.sh ${from_user}"
    actions: []
  - name: templated-program
    type: Single
    match: {method: INVITE}
    actions:
      - script: ["${from_user}", x]
  - name: empty
    type: Single
    match: {method: BYE}
    actions:
      - script: {command: "  "}
)",
               {{"\"compare.sh", "a script's program must be a fixed absolute path"},
                {"\"${from_user}\", x]", "a script's program must be a fixed absolute path"},
                {"\"  \"", "a script needs a program"}});
}

TEST(Loader, ScriptsDisabledRefuseTheFileWithTheLine) {
  constexpr char kRules[] = R"(rules:
  - name: ok
    type: Single
    match: {method: INVITE}
    actions: [{alarm: {signature: x, category: flood}}]
  - name: runs-a-script
    type: Single
    match: {method: BYE}
    actions:
      - script: /usr/bin/logger bye
)";
  ASSERT_TRUE(LoadRuleText(kRules, "scripts.yaml").ok());
  std::vector<ConfigError> errors;
  LoadOptions off;
  off.allow_scripts = false;
  auto rs = LoadRuleText(kRules, "scripts.yaml", &errors, off);
  ASSERT_FALSE(rs.ok());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 10);
  EXPECT_NE(errors[0].message.find("scripts are disabled"), std::string::npos)
      << errors[0].ToString();
}

TEST(Loader, MissingFile) {
  std::vector<ConfigError> errors;
  auto rs = LoadRuleFile("/nonexistent/rules.yaml", &errors);
  EXPECT_TRUE(absl::IsNotFound(rs.status()));
  ASSERT_EQ(errors.size(), 1u);
}

constexpr char kEverything[] = R"yaml(
version: 1
defaults: {max_keys: 5000, alarm_suppress: 30s, alarm_update_every: 5s, window_type: fixed}
limits: {max_contexts: 1000, max_pending_scripts: 8, max_synthetic_depth: 4}
rules:
  - name: single
    type: Single
    description: every operator once
    enabled: true
    continue: true
    match:
      type: [sip, synthetic]
      src_ip: {in: [10.0.0.0/8, "2001:db8::/32"]}
      dst_port: {range: [5060, 5080]}
      user_agent: {regex: "^(sipcli|sipvicious)", nocase: true}
      to_user: {prefix: "00", suffix: "9", contains: "4", ne: "0049"}
      from_user: {not_regex: "^test", ne_field: to_user, eq_field: from_user}
      status: {exists: false}
      cseq: {lt: 100, le: 99, gt: 0, ge: 1}
      any: [{method: INVITE}, {name: replay}]
      all: [{via_hosts: {contains: "."}}]
      not: [{has_auth: true}, {field.flag: "1"}]
    key: [src_ip, to_user]
    context: "!(seen:${src_ip} || blocked:${src_ip}) && armed"
    actions:
      - alarm: {signature: "${rule} ${count} ${time} $$", category: spit, severity: 3,
                key: [src_ip]}
      - block: {ttl: 1h, prefix_len: 24, reason: spit}
      - rate_limit: {rate: 2.5, burst: 5, ttl: 10m, target: "${dst_ip}"}
      - watch_media: {ttl: 1m, media: "${media}"}
      - emit: {name: replay, copy: [call_id, field.flag], fields: {x: "y"}}
      - create_context: {name: "seen:${src_ip}", lifetime: 1h,
                         on_expiry: [{emit: {name: forgotten, copy: [src_ip]}}]}
      - set_context: {name: "seen:${src_ip}", lifetime: 2h}
      - delete_context: "blocked:${src_ip}"
      - script: {command: "/usr/bin/logger ${src_ip}", timeout: 2s}
      - script: /bin/true
  - {name: suppress, type: SingleWithSuppress, match: {method: OPTIONS}, window: 1m,
     actions: [block]}
  - {name: thr, type: single_with_threshold, match: {type: call, callee_user: {prefix: "00"},
     duration: {lt: 3.5}, disposition: answered}, key: [caller_user], window: 1h, threshold: 10,
     distinct: [callee_user], window_type: sliding, actions: [], actions2: []}
  - {name: thr2, type: SingleWith2Thresholds, match: {type: rtp, reason: media_after_end},
     window: 1s, threshold: 100, window2: 10s, threshold2: 5, actions: [], actions2: []}
  - {name: pair, type: Pair, match: {method: INVITE}, key: [call_id], match2: {method: BYE,
     from_tag: {eq_first: from_tag}}, key2: [call_id], context2: "!x:${first.src_ip}",
     continue2: false, actions2: [{emit: {name: p, copy: [first.src_ip], flow: first}}]}
  - {name: pww, type: PairWithWindow, match: {type: mgcp, verb: DLCX}, key: [endpoint],
     match2: {type: mgcp, status: 2xx}, window: 5s, actions: [{alarm: {signature: gw,
     category: gateway}}]}
  - {name: cal, type: Calendar, time: "*/15 9-17 * * 1-5", timezone: UTC, actions: []}
  - {name: script, type: SingleWithScript, match: {name: replay}, script: "/usr/local/bin/check ${call_id}",
     actions: [], actions2: []}
  - {name: off, type: Single, enabled: false, match: {method: INFO}, actions: []}
)yaml";

TEST(Loader, EverythingLoads) {
  std::vector<ConfigError> errors;
  auto rs = LoadRuleText(kEverything, "all.yaml", &errors);
  for (const auto& e : errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ((*rs)->size(), 8u);  // the disabled one is left out
  EXPECT_EQ((*rs)->Summary(),
            "8 rules (1 Calendar, 1 Pair, 1 PairWithWindow, 1 Single, 1 SingleWith2Thresholds, "
            "1 SingleWithScript, 1 SingleWithSuppress, 1 SingleWithThreshold)");
  // And from a file.
  const std::string path = ::testing::TempDir() + "/sw_rules_all.yaml";
  std::ofstream(path) << kEverything;
  auto from_file = LoadRuleFile(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  std::remove(path.c_str());
}

// Every complete example in docs/rules.md loads (rule lists are wrapped in a
// file); fragments (a match: or context: line) are skipped.
TEST(Docs, ExamplesLoad) {
  std::ifstream in(SW_RULES_DOC);
  ASSERT_TRUE(in) << SW_RULES_DOC;
  std::string line, block;
  bool in_yaml = false;
  int checked = 0, first_line = 0, n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!in_yaml && line == "```yaml") {
      in_yaml = true;
      block.clear();
      first_line = n + 1;
      continue;
    }
    if (!in_yaml) continue;
    if (line != "```") {
      block += line + "\n";
      continue;
    }
    in_yaml = false;
    std::string file;
    if (block.rfind("version:", 0) == 0 || block.rfind("rules:", 0) == 0) {
      file = block;
    } else if (block.find("- name:") != std::string::npos) {
      file = "rules:\n";
      std::istringstream lines(block);
      for (std::string l; std::getline(lines, l);) file += "  " + l + "\n";
    } else {
      continue;
    }
    std::vector<ConfigError> errors;
    auto rs = LoadRuleText(file, "docs/rules.md", &errors);
    EXPECT_TRUE(rs.ok()) << "example at docs/rules.md:" << first_line << ": " << rs.status();
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(AlarmJson, EveShape) {
  Alarm a;
  a.id = 7;
  a.ts_ns = kT0 + 123456 * 1000;
  a.first_ns = kT0;
  a.signature = "SIP INVITE flood";
  a.category = "flood";
  a.severity = 1;
  a.rule = "invite-flood";
  a.has_flow = true;
  a.src = Ip("192.0.2.10");
  a.dst = Ip("198.51.100.1");
  a.sport = 5070;
  a.dport = 5060;
  a.count = 1200;
  a.call_id = "abc@host";
  a.from = "sip:alice@example.com";
  a.to = "sip:bob@example.com";
  a.user_agent = "friendly-scanner";
  a.method = "INVITE";
  a.action = AlarmOutcome::kBlocked;
  EXPECT_EQ(ToJson(a),
            R"({"ts":"2001-09-09T01:46:40.123456Z","event_type":"alert","src_ip":"192.0.2.10",)"
            R"("src_port":5070,"dest_ip":"198.51.100.1","dest_port":5060,"proto":"UDP",)"
            R"("alert":{"signature":"SIP INVITE flood","category":"flood","severity":1,)"
            R"("rule":"invite-flood"},"count":1200,"sip":{"call_id":"abc@host",)"
            R"("from":"sip:alice@example.com","to":"sip:bob@example.com",)"
            R"("user_agent":"friendly-scanner","method":"INVITE"},"action":"blocked",)"
            R"("alarm_id":7})");
  a.update = true;
  a.method.clear();
  a.status = 401;
  a.transport = ev::Transport::kTls;
  const std::string j = ToJson(a);
  EXPECT_NE(j.find(R"("proto":"TCP")"), std::string::npos);
  EXPECT_NE(j.find(R"("status":401})"), std::string::npos);
  EXPECT_NE(j.find(R"("update":true,"first_ts":"2001-09-09T01:46:40.000000Z"})"),
            std::string::npos);
  EXPECT_EQ(AlarmCategories().size(), 15u);  // malformed the last
}

}  // namespace
}  // namespace sw::rules::testing
