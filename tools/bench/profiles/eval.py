#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Scores sipwarden-profiles' alarms against tools/profiles/gen's ground truth.

  eval.py --truth truth.jsonl --alarms alarms.jsonl --learn-stats F --detect-stats F
          --label NAME [--as DETECTOR]

Prints one benchmark figure per line on stdout (docs/formats.md,
"Benchmarks"; bench "profiles", metrics prefixed with the label) and a
table per distance on stderr. Per distance: detection rate per class (an
alarm on the account within 24 h of the onset; toll fraud also within 6 h),
median and worst detection delay, false alarms per 1000 account-days (every
alarm of an account without an anomaly, or before its onset), and the runs'
throughput and memory. With --as, every alarm counts for one detector of
that name (the default settings: distances sharing one episode).
"""
import argparse
import datetime as dt
import json
import statistics
import sys

DISTANCES = ["euclidean", "quadratic", "mahalanobis", "hellinger"]
CLASSES = ["hijack", "spit", "toll_fraud"]


def ts(s):
    return dt.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)


def figure(label, metric, value, unit, baseline, baseline_value):
    ratio = value / baseline_value if baseline_value and value is not None else None
    print(json.dumps({"bench": "profiles", "metric": "%s_%s" % (label, metric), "value": value,
                      "unit": unit, "baseline": baseline, "baseline_value": baseline_value,
                      "ratio": ratio}, separators=(",", ":")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--truth", required=True)
    ap.add_argument("--alarms", required=True)
    ap.add_argument("--learn-stats", required=True)
    ap.add_argument("--detect-stats", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--classes", action="store_true",
                    help="score the class alarms (profile-class) against the bots instead")
    ap.add_argument("--as", dest="as_", default=None,
                    help="one detector of this name for every alarm, whatever its distance")
    args = ap.parse_args()
    distances = [args.as_] if args.as_ else DISTANCES

    summary, truth, bots = None, {}, {}
    for line in open(args.truth):
        r = json.loads(line)
        if r["type"] == "summary":
            summary = r
        elif r["type"] == "bot":
            bots[r["account"]] = r
        else:
            truth[r["account"]] = r
    if args.classes:
        return score_classes(args, summary, bots)
    learn = json.load(open(args.learn_stats))
    detect = json.load(open(args.detect_stats))
    d0, d1 = ts(summary["detect_start"]), ts(summary["detect_end"])
    days = (d1 - d0).total_seconds() / 86400
    alarms = {d: [] for d in distances}
    for line in open(args.alarms):
        a = json.loads(line)
        alarms[args.as_ or a["anomaly"]["distance"]["name"]].append(
            (a["anomaly"]["account"], ts(a["ts"])))

    profiles = learn["profiles"]
    # account-days watched: every profiled account over the detection period,
    # an anomalous one only until its onset
    anomalous_days = sum((ts(t["onset"]) - d0).total_seconds() / 86400 for t in truth.values())
    normal_days = (profiles - len(truth)) * days + anomalous_days
    label = args.label
    table = []
    for d in distances:
        fa = 0
        first = {}
        for acct, t in alarms[d]:
            tr = truth.get(acct)
            if tr is None or t < ts(tr["onset"]):
                fa += 1
            elif acct not in first:
                first[acct] = t
        fa_rate = fa / normal_days * 1000
        row = {"distance": d, "fa_per_1000": fa_rate, "alarms": len(alarms[d])}
        for c in CLASSES:
            members = [t for t in truth.values() if t["class"] == c]
            delays = []
            for t in members:
                if t["account"] in first:
                    delays.append((first[t["account"]] - ts(t["onset"])).total_seconds() / 3600)
            within24 = sum(1 for x in delays if x <= 24)
            within6 = sum(1 for x in delays if x <= 6)
            n = max(1, len(members))
            row[c] = (100.0 * within24 / n, 100.0 * within6 / n,
                      statistics.median(delays) if delays else float("nan"),
                      max(delays) if delays else float("nan"), len(members))
            figure(label, "%s_detected_24h_%s" % (d, c), round(100.0 * within24 / n, 1), "%",
                   "aim_min", 100)
            if c == "toll_fraud":
                figure(label, "%s_detected_6h_%s" % (d, c), round(100.0 * within6 / n, 1), "%",
                       "aim_min", 100)
            figure(label, "%s_median_delay_h_%s" % (d, c),
                   round(statistics.median(delays), 2) if delays else None, "h",
                   "aim_max_h", 6 if c == "toll_fraud" else 24)
        figure(label, "%s_false_alarms_per_1000_account_days" % d, round(fa_rate, 2),
               "alarms", "aim_max", 5)
        table.append(row)
    figure(label, "learn_records_per_s", round(learn["records_per_s"]), "records/s", "aim_min",
           1000000)
    figure(label, "detect_records_per_s", round(detect["records_per_s"]), "records/s", "aim_min",
           1000000)
    figure(label, "detect_bytes_per_profiled_account", round(detect["profiled_bytes_per_account"]),
           "bytes", "aim_max", 4096)
    figure(label, "learn_bytes_per_account", round(learn["learn_bytes_per_account"]), "bytes",
           "aim_max", 4096)

    kinds = summary["kinds"]
    print("\n%s: seed %d, %d accounts (%d residential, %d office, %d trunk; %d heavy), %d profiled; "
          "%.0f account-days watched; %d records learned, %d checked" % (
              label, summary["seed"], summary["accounts"], kinds["residential"], kinds["office"],
              kinds["trunk"], summary["heavy"], profiles, normal_days, learn["records"],
              detect["records"]), file=sys.stderr)
    print("| distance | hijack ≤24 h | SPIT ≤24 h | toll fraud ≤24 h (≤6 h) | median delay h "
          "(hijack/SPIT/toll) | false alarms /1000 account-days |", file=sys.stderr)
    print("|---|---|---|---|---|---|", file=sys.stderr)
    for r in table:
        h, s, t = r["hijack"], r["spit"], r["toll_fraud"]
        print("| %s | %.0f%% of %d | %.0f%% of %d | %.0f%% (%.0f%%) of %d | %.1f / %.1f / %.1f | %.2f |" % (
            r["distance"], h[0], h[4], s[0], s[4], t[0], t[1], t[4], h[2], s[2], t[2],
            r["fa_per_1000"]), file=sys.stderr)
    print("learn %.2f M records/s, %.0f bytes/account while learning; detect %.2f M records/s, "
          "%.0f bytes per profiled account (max %d), max RSS %d MiB" % (
              learn["records_per_s"] / 1e6, learn["learn_bytes_per_account"],
              detect["records_per_s"] / 1e6, detect["profiled_bytes_per_account"],
              detect["profiled_max_bytes_per_account"], detect["max_rss_kb"] // 1024),
          file=sys.stderr)


def score_classes(args, summary, bots):
    """Bots from their first call: which unknown ones a class alarm names, and
    how many other accounts it names."""
    learn = json.load(open(args.learn_stats))
    flagged = set()
    for line in open(args.alarms):
        a = json.loads(line)
        if a["alert"]["rule"] == "profile-class":
            flagged.add(a["anomaly"]["account"])
    unknown = [b for b, r in bots.items() if not r["known"]]
    caught = sum(1 for b in unknown if b in flagged)
    wrong = sum(1 for acct in flagged if acct not in bots)
    others = learn["profiles"] - len(bots)
    label = args.label
    figure(label, "class_bots_flagged", round(100.0 * caught / max(1, len(unknown)), 1), "%",
           "aim_min", 100)
    figure(label, "class_others_flagged_per_1000", round(1000.0 * wrong / max(1, others), 2),
           "accounts", "aim_max", 5)
    print("\n%s: seed %d, %d accounts and %d bots (%d known), %d profiled: class alarms name "
          "%d of the %d unknown bots (%.0f%%) and %d other accounts (%.2f per 1000)" % (
              label, summary["seed"], summary["accounts"], len(bots), len(bots) - len(unknown),
              learn["profiles"], caught, len(unknown), 100.0 * caught / max(1, len(unknown)),
              wrong, 1000.0 * wrong / max(1, others)), file=sys.stderr)


if __name__ == "__main__":
    main()
