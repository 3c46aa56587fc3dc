// SPDX-License-Identifier: BSD-2-Clause
// SIP recognition by the first line on the configured ports: every method
// class, response classes and status codes, default and custom ports.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tables.h"

namespace sw::bpftest {

std::vector<Case> SipCases() {
  std::vector<Case> t;
  const std::pair<const char*, uint8_t> methods[] = {
      {"INVITE", SW_CLASS_INVITE},
      {"ACK", SW_CLASS_ACK},
      {"BYE", SW_CLASS_BYE},
      {"CANCEL", SW_CLASS_CANCEL},
      {"REGISTER", SW_CLASS_REGISTER},
      {"OPTIONS", SW_CLASS_OPTIONS},
      {"PRACK", SW_CLASS_PRACK},
      {"SUBSCRIBE", SW_CLASS_SUBSCRIBE},
      {"NOTIFY", SW_CLASS_NOTIFY},
      {"PUBLISH", SW_CLASS_PUBLISH},
      {"INFO", SW_CLASS_INFO},
      {"REFER", SW_CLASS_REFER},
      {"MESSAGE", SW_CLASS_MESSAGE},
      {"UPDATE", SW_CLASS_UPDATE},
      {"NEWMETHOD", SW_CLASS_OTHER_REQUEST},
      // Near the known names: same length or prefix, still "other".
      {"INVITES", SW_CLASS_OTHER_REQUEST},
      {"INVITX", SW_CLASS_OTHER_REQUEST},
      {"BYX", SW_CLASS_OTHER_REQUEST},
      {"REGISTRAR", SW_CLASS_OTHER_REQUEST},
      {"Invite", SW_CLASS_OTHER_REQUEST},  // methods are case-sensitive tokens
      {"X-CUSTOM.1_A", SW_CLASS_OTHER_REQUEST},
  };
  const struct {
    int code;
    const char* reason;
    uint8_t cls;
  } responses[] = {
      {100, "Trying", SW_CLASS_RESP_1XX},           {180, "Ringing", SW_CLASS_RESP_1XX},
      {183, "Session Progress", SW_CLASS_RESP_1XX}, {200, "OK", SW_CLASS_RESP_2XX},
      {202, "Accepted", SW_CLASS_RESP_2XX},         {302, "Moved Temporarily", SW_CLASS_RESP_3XX},
      {401, "Unauthorized", SW_CLASS_RESP_4XX},     {404, "Not Found", SW_CLASS_RESP_4XX},
      {486, "Busy Here", SW_CLASS_RESP_4XX},        {503, "Service Unavailable", SW_CLASS_RESP_5XX},
      {603, "Decline", SW_CLASS_RESP_6XX},          {699, "Last", SW_CLASS_RESP_6XX},
  };

  for (int fam : {4, 6}) {
    const std::string p = Fam(fam) + "/";
    for (const auto& [m, cls] : methods) {
      const std::string msg = SipRequest(m);
      t.push_back({.name = absl::StrCat(p, "udp/", m),
                   .packet = Frame(fam).Udp(5060, 5060).Payload(msg).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam), SipPassed(false, true)),
                   .check = OneSip({.cls = cls, .family = fam, .payload = msg})});
      t.push_back({.name = absl::StrCat(p, "tcp/", m),
                   .packet = Frame(fam).Tcp(40000, 5060).Payload(msg).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam), SipPassed(true, true)),
                   .check = OneSip({.cls = cls,
                                    .family = fam,
                                    .transport = SW_TRANSPORT_TCP,
                                    .sport = 40000,
                                    .payload = msg})});
    }
    for (const auto& r : responses) {
      const std::string msg = SipResponse(r.code, r.reason);
      const uint16_t status = static_cast<uint16_t>(r.code);
      t.push_back(
          {.name = absl::StrCat(p, "udp/", r.code),
           .packet = Frame(fam).Udp(5060, 5060).Payload(msg).Build(),
           .retval = XDP_PASS,
           .stats = Cat(Seen(fam), SipPassed(false, false)),
           .check = OneSip({.cls = r.cls, .status = status, .family = fam, .payload = msg})});
      t.push_back({.name = absl::StrCat(p, "tcp/", r.code),
                   .packet = Frame(fam).Tcp(5060, 40000).Payload(msg).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam), SipPassed(true, false)),
                   .check = OneSip({.cls = r.cls,
                                    .status = status,
                                    .family = fam,
                                    .transport = SW_TRANSPORT_TCP,
                                    .dport = 40000,
                                    .payload = msg})});
    }

    // Which ports are SIP ports.
    const std::string invite = SipRequest("INVITE");
    const std::string ok = SipResponse(200);
    const StatList other = Cat(Seen(fam), {{"pass_other", 1}});
    t.push_back({.name = p + "dport_5080",
                 .packet = Frame(fam).Udp(40000, 5080).Payload(invite).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(false, true)),
                 .check = OneSip({.cls = SW_CLASS_INVITE,
                                  .family = fam,
                                  .sport = 40000,
                                  .dport = 5080,
                                  .payload = invite})});
    t.push_back({.name = p + "sport_5060_only",
                 .packet = Frame(fam).Udp(5060, 40000).Payload(ok).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(false, false)),
                 .check = OneSip({.cls = SW_CLASS_RESP_2XX,
                                  .status = 200,
                                  .family = fam,
                                  .dport = 40000,
                                  .payload = ok})});
    t.push_back({.name = p + "tcp_sport_5080_only",
                 .packet = Frame(fam).Tcp(5080, 33333).Payload(ok).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(true, false)),
                 .check = OneSip({.cls = SW_CLASS_RESP_2XX,
                                  .status = 200,
                                  .family = fam,
                                  .transport = SW_TRANSPORT_TCP,
                                  .sport = 5080,
                                  .dport = 33333,
                                  .payload = ok})});
    t.push_back({.name = p + "custom_port_not_configured",
                 .packet = Frame(fam).Udp(40000, 5070).Payload(invite).Build(),
                 .retval = XDP_PASS,
                 .stats = other});
    t.push_back({.name = p + "custom_port_udp",
                 .packet = Frame(fam).Udp(40000, 5070).Payload(invite).Build(),
                 .setup = [](Harness& h) { SetPort(h, 5070, SW_PORT_SIP_UDP); },
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(false, true)),
                 .check = OneSip({.cls = SW_CLASS_INVITE,
                                  .family = fam,
                                  .sport = 40000,
                                  .dport = 5070,
                                  .payload = invite})});
    t.push_back({.name = p + "custom_port_tcp",
                 .packet = Frame(fam).Tcp(40000, 15060).Payload(invite).Build(),
                 .setup = [](Harness& h) { SetPort(h, 15060, SW_PORT_SIP_TCP); },
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(true, true)),
                 .check = OneSip({.cls = SW_CLASS_INVITE,
                                  .family = fam,
                                  .transport = SW_TRANSPORT_TCP,
                                  .sport = 40000,
                                  .dport = 15060,
                                  .payload = invite})});
    t.push_back({.name = p + "custom_port_tcp_only_ignores_udp",
                 .packet = Frame(fam).Udp(40000, 15060).Payload(invite).Build(),
                 .setup = [](Harness& h) { SetPort(h, 15060, SW_PORT_SIP_TCP); },
                 .retval = XDP_PASS,
                 .stats = other});
    t.push_back({.name = p + "custom_port_udp_only_ignores_tcp",
                 .packet = Frame(fam).Tcp(40000, 5070).Payload(invite).Build(),
                 .setup = [](Harness& h) { SetPort(h, 5070, SW_PORT_SIP_UDP); },
                 .retval = XDP_PASS,
                 .stats = other});
    t.push_back({.name = p + "port_5060_unconfigured",
                 .packet = Frame(fam).Udp(40000, 5060).Payload(invite).Build(),
                 .setup = [](Harness& h) { SetPort(h, 5060, 0); },
                 .retval = XDP_PASS,
                 .stats = other});
    // A non-SIP port: even broken bytes are not SIP's business.
    t.push_back({.name = p + "not_sip_on_unconfigured_port",
                 .packet = Frame(fam).Udp(40000, 5070).Payload("GET / HTTP/1.1\r\n\r\n").Build(),
                 .retval = XDP_PASS,
                 .stats = other});

    // First-line shapes that are SIP.
    const std::string long_uri =
        "sip:" + std::string(180, 'a') + "@example.com;transport=udp;lr";  // line of ~230 bytes
    const std::string long_line = SipRequest("INVITE", long_uri);
    t.push_back({.name = p + "long_request_uri",
                 .packet = Frame(fam).Udp(5060, 5060).Payload(long_line).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(false, true)),
                 .check = OneSip({.cls = SW_CLASS_INVITE, .family = fam, .payload = long_line})});
    const std::string minimal = "ACK x SIP/2.0\r\n\r\n";
    t.push_back({.name = p + "minimal_request",
                 .packet = Frame(fam).Udp(5060, 5060).Payload(minimal).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(false, true)),
                 .check = OneSip({.cls = SW_CLASS_ACK, .family = fam, .payload = minimal})});
    const std::string bare_status = "SIP/2.0 180 \r\n\r\n";
    t.push_back(
        {.name = p + "response_empty_reason",
         .packet = Frame(fam).Udp(5060, 5060).Payload(bare_status).Build(),
         .retval = XDP_PASS,
         .stats = Cat(Seen(fam), SipPassed(false, false)),
         .check = OneSip(
             {.cls = SW_CLASS_RESP_1XX, .status = 180, .family = fam, .payload = bare_status})});
  }
  // What the agent's parser accepts, the kernel accounts and copies too:
  // nothing an attacker can shape slips past as "not SIP". First lines whose
  // end the kernel does not see (longer than it scans, lone-LF line ends, a
  // method token longer than it reads) are copied flagged SW_RECF_LONG_LINE
  // and classified by their method.
  const std::string invite = SipRequest("INVITE");
  const struct {
    const char* name;
    std::string msg;
    uint8_t cls;
    uint32_t flags;
  } evasions[] = {
      {"uri_1000_bytes", SipRequest("INVITE", "sip:" + std::string(1000, 'a') + "@example.com"),
       SW_CLASS_INVITE, SW_RECF_LONG_LINE},
      {"uri_3000_bytes", SipRequest("INVITE", "sip:" + std::string(3000, 'a') + "@example.com"),
       SW_CLASS_INVITE, SW_RECF_LONG_LINE},
      {"uri_params_2000_bytes",
       SipRequest("REGISTER", "sip:example.com;x=" + std::string(2000, 'p')), SW_CLASS_REGISTER,
       SW_RECF_LONG_LINE},
      {"bare_lf_lines", absl::StrReplaceAll(invite, {{"\r\n", "\n"}}), SW_CLASS_INVITE, 0},
      // A lone CR ends a line for the agent's parser too (it warns).
      {"cr_without_lf", "INVITE sip:bob@example.com SIP/2.0\rVia: x\r\n\r\n", SW_CLASS_INVITE, 0},
      {"method_20_chars", SipRequest("ABCDEFGHIJKLMNOPQRST"), SW_CLASS_OTHER_REQUEST,
       SW_RECF_LONG_LINE},
      {"lowercase_method", SipRequest("invite"), SW_CLASS_OTHER_REQUEST, 0},
      {"lowercase_version", absl::StrReplaceAll(invite, {{"SIP/2.0\r\nVia", "sip/2.0\r\nVia"}}),
       SW_CLASS_INVITE, 0},
      {"leading_crlf", "\r\n" + invite, SW_CLASS_INVITE, 0},
      {"leading_crlfcrlf", "\r\n\r\n" + invite, SW_CLASS_INVITE, 0},
  };
  for (int fam : {4, 6}) {
    const std::string p = Fam(fam) + "/evasion/";
    for (const auto& e : evasions) {
      t.push_back({.name = p + e.name,
                   .packet = Frame(fam).Udp(5060, 5060).Payload(e.msg).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Cat(Seen(fam), SipPassed(false, true)),
                                e.msg.size() > SW_SNAP_DEFAULT ? StatList{{"rb_truncated", 1}}
                                                               : StatList{}),
                   .check = OneSip({.cls = e.cls,
                                    .family = fam,
                                    .payload = e.msg.substr(0, SW_SNAP_DEFAULT),
                                    .orig_len = static_cast<uint32_t>(e.msg.size()),
                                    .flags = e.flags | (e.msg.size() > SW_SNAP_DEFAULT
                                                            ? uint32_t{SW_RECF_TRUNCATED}
                                                            : 0u)})});
    }
    // Over TCP a first line the kernel cannot see end is indistinguishable
    // from a segment that begins mid-line: copied as a continuation for the
    // agent's reassembly, not accounted to the source.
    for (const char* name : {"uri_1000_bytes", "method_20_chars"}) {
      std::string msg;
      for (const auto& e : evasions) {
        if (std::string_view(e.name) == name) msg = e.msg;
      }
      t.push_back({.name = p + "tcp_" + name,
                   .packet = Frame(fam).Tcp(40000, 5060).Payload(msg).Build(),
                   .retval = XDP_PASS,
                   .stats = Cat(Seen(fam),
                                {{"tcp_continuation", 1}, {"pass_other", 1}, {"rb_records", 1}}),
                   .check =
                       [fam, msg](Harness& h, const RunResult& r) {
                         ASSERT_EQ(r.records.size(), 1u);
                         ExpectSipRecord(r, r.records[0],
                                         {.family = fam,
                                          .transport = SW_TRANSPORT_TCP,
                                          .sport = 40000,
                                          .payload = msg,
                                          .flags = SW_RECF_TCP_MIDSTREAM});
                         EXPECT_FALSE(SourceState(h, Src(fam)).has_value());
                       }});
    }
    // A status line may end right after its code.
    const std::string bare = "SIP/2.0 200\r\n" + SipResponse(200, "OK").substr(
                                                        SipResponse(200, "OK").find("\r\n") + 2);
    t.push_back({.name = p + "status_without_reason",
                 .packet = Frame(fam).Udp(5060, 5060).Payload(bare).Build(),
                 .retval = XDP_PASS,
                 .stats = Cat(Seen(fam), SipPassed(false, false)),
                 .check = OneSip({.cls = SW_CLASS_RESP_2XX,
                                  .status = 200,
                                  .family = fam,
                                  .payload = bare})});
  }
  return t;
}

}  // namespace sw::bpftest
