# SPDX-License-Identifier: BSD-2-Clause
"""The demo's closing table: for each attack, how soon its source was
alarmed, under which category, whether the kernel blocked it and how many
packets the block dropped; then the legitimate traffic that ran meanwhile.

  demo_summary.py ALARMS.jsonl ATTACKS.tsv TRAFFIC.out BLOCKS.json...

ATTACKS.tsv has one line per attack: NAME, source address, start (Unix ns).
BLOCKS.json are `sipwardenctl block list --json` snapshots; the most hits
seen for a source count (a block may have expired by the last one).
"""
import datetime
import json
import sys


def unix_ns(rfc3339):
    t = datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return int(t.timestamp()) * 10**9 + t.microsecond * 1000


def json_lines(path):
    """Every whole JSON object in a JSON-lines file (none if it is missing)."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    alarms_path, attacks_path, traffic_path, *block_files = argv[1:]
    alarms = [a for a in json_lines(alarms_path) if not a.get("update")]
    blocks = {}  # address -> (reason, most hits seen)
    for path in block_files:
        for b in json_lines(path):
            addr = b.get("prefix", "").split("/")[0]
            _, hits = blocks.get(addr, ("", 0))
            blocks[addr] = (b.get("reason", "?"), max(hits, int(b.get("hits", 0))))

    rows = [("attack", "source", "detected after", "category", "blocked in kernel", "dropped")]
    with open(attacks_path, encoding="utf-8") as f:
        for line in f:
            name, src, start = line.rstrip("\n").split("\t")
            mine = sorted((a for a in alarms if a.get("src_ip") == src), key=lambda a: a["ts"])
            if mine:
                waited = max(0, (unix_ns(mine[0]["ts"]) - int(start)) // 10**6)
                detected, category = f"{waited} ms", mine[0]["alert"]["category"]
            else:
                detected, category = "not detected", "-"
            reason, hits = blocks.get(src, (None, 0))
            rows.append((name, src, detected, category,
                         f"yes ({reason})" if reason else "no", str(hits) if reason else "-"))

    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    print("  detected after: from the attack's start to its source's first alarm (the broken")
    print("  handshake is provable only once the ACKs are 5 s overdue); dropped: packets the")
    print("  kernel's block of that source dropped")
    try:
        with open(traffic_path, encoding="utf-8") as f:
            for line in f:
                if line.startswith(("registrations:", "calls:")):
                    print("  legitimate " + " ".join(line.split()))
    except OSError:
        print("  legitimate traffic: no report")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
