#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Zeek parity: every SIP transaction Zeek logs on its own test captures has
a matching event of ours.

For each capture in tests/data/corpus/pcaps/zeek with a Zeek sip.log
baseline, runs `sipwarden-agent --read-pcap` and checks each logged
transaction:
  - a request event with Zeek's method and, where Zeek logged them, its URI,
    Call-ID, CSeq (number and method) and User-Agent;
  - where Zeek logged a reply, a response event of that transaction (Call-ID
    and CSeq, or the method when Zeek logs no more) with its status;
  - where Zeek raised a weird for the transaction, our events for it are
    marked malformed, with a reason.
Prints one line per transaction and the total (38 of 38 expected).
    zeek_parity_test.py BIN_DIR CORPUS_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

CAPTURES = {
    # pcap: (sip.log baseline, weird.log baseline or None)
    "wireshark.pcap": ("baseline__wireshark__sip.log", None),
    "invalid-content-length.pcap": ("baseline__invalid-content-length__sip.log",
                                    "baseline__invalid-content-length__weird.log"),
    "sip-junk-before-request.pcap": ("baseline__junk__sip.log", "baseline__junk__weird.log"),
}


def read_zeek_log(path):
    """Rows of a Zeek log as dicts: the full format (#fields) or btest's cut."""
    fields, rows = None, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#fields\t"):
                fields = line.split("\t")[1:]
                continue
            if not line or line.startswith("#"):
                continue
            if fields is None:  # btest-diff's cut: the first line names the columns
                fields = line.split("\t")
                continue
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def unset(v):
    return v is None or v in ("-", "(empty)")


def our_events(agent, pcap):
    with tempfile.TemporaryDirectory(prefix="sw-zeek-") as tmp:
        out = os.path.join(tmp, "events.jsonl")
        subprocess.run([agent, "--read-pcap", pcap, "--events-out", out, "--quiet"], check=True)
        with open(out, encoding="utf-8") as f:
            return [e for e in (json.loads(l) for l in f if l.strip()) if e.get("type") == "sip"]


def same_transaction(e, row):
    if not unset(row.get("call_id")) and e.get("call_id") != row["call_id"]:
        return False
    if not unset(row.get("seq")):
        num, _, method = row["seq"].partition(" ")
        cseq = e.get("cseq", {})
        if str(cseq.get("seq")) != num or cseq.get("method") != method:
            return False
    return True


def request_matches(e, row):
    if "method" not in e or e["method"] != row["method"] or not same_transaction(e, row):
        return False
    if not unset(row.get("uri")) and e.get("request_uri") != row["uri"]:
        return False
    if "user_agent" in row and (e.get("user_agent") or "-") != row["user_agent"].replace("(empty)", "-"):
        return False
    return True


def response_matches(e, row):
    if "status" not in e or str(e["status"]) != row["status_code"]:
        return False
    if unset(row.get("call_id")) and unset(row.get("seq")):
        return e.get("cseq", {}).get("method", row["method"]) == row["method"]
    return same_transaction(e, row)


def main():
    bin_dir, corpus = sys.argv[1], sys.argv[2]
    agent = os.path.join(bin_dir, "sipwarden-agent")
    zeek = os.path.join(corpus, "pcaps", "zeek")
    total = matched = 0
    failures = []
    for pcap, (sip_log, weird_log) in CAPTURES.items():
        events = our_events(agent, os.path.join(zeek, pcap))
        weird_uids = set()
        if weird_log:
            weird_uids = {w.get("uid") for w in read_zeek_log(os.path.join(zeek, weird_log))}
        rows = read_zeek_log(os.path.join(zeek, sip_log))
        for n, row in enumerate(rows, 1):
            total += 1
            what = f"{pcap} #{n} {row['method']} {row.get('seq', '')} -> {row.get('status_code', '-')}"
            reqs = [e for e in events if request_matches(e, row)]
            problems = []
            if not reqs:
                problems.append("no request event")
            resps = []
            if not unset(row.get("status_code")):
                resps = [e for e in events if response_matches(e, row)]
                if not resps:
                    problems.append(f"no {row['status_code']} response event")
            # A weird for this transaction (its uid, or the only one when the
            # cut log has no uid column): our events say malformed, with why.
            flagged = weird_log and (row.get("uid") in weird_uids or "uid" not in row)
            if flagged:
                for e in reqs + resps:
                    if not e.get("malformed", {}).get("reason"):
                        problems.append("Zeek flags a weird; our event is not marked malformed")
                        break
            if problems:
                failures.append(f"{what}: {'; '.join(problems)}")
                print(f"MISS  {what}: {'; '.join(problems)}")
            else:
                matched += 1
                reasons = sorted({e['malformed']['reason'] for e in reqs + resps if 'malformed' in e})
                print(f"ok    {what}" + (f" (malformed: {', '.join(reasons)})" if reasons else ""))
    print(f"zeek parity: {matched} of {total} transactions Zeek logs have matching events")
    if failures or total == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
