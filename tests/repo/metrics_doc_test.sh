#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# docs/metrics.md against what uses it and what it describes (no build, no
# root):
# - every PromQL expression of the Grafana dashboard (tools/grafana/
#   sipwarden.json) and of the alerting rules (packaging/prometheus/
#   alerts.yml) names only metrics docs/metrics.md documents;
# - the dashboard is JSON with schemaVersion >= 37, a Prometheus data-source
#   variable DS_PROMETHEUS that every panel and query uses, an agent variable,
#   and the panels asked for;
# - every metric the agent and the controller emit (t.Counter/t.Gauge in
#   their sources, and one sipwarden_xdp_<field>_total per kernel counter of
#   bpf/sipwarden.h) is documented.
#   metrics_doc_test.sh SOURCE_DIR
set -euo pipefail
SRC=$(cd "${1:?usage: $0 SOURCE_DIR}" && pwd)
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 77; }
exec python3 - "$SRC" <<'EOF'
import json, re, sys, pathlib

src = pathlib.Path(sys.argv[1])
failures = []
def fail(msg):
    failures.append(msg)

doc = (src / "docs/metrics.md").read_text()
# A documented metric: a backticked name in the first cell of a table row.
documented = set(re.findall(r"^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|", doc, re.M))

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
            "or", "unless", "offset", "inf", "nan"}

def metric_names(expr):
    """The metric names an expression selects: identifiers that are not
    functions, keywords, label lists, label matchers, strings or durations."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)                       # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                      # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\{?[A-Za-z_]+\}?", " ", e)             # Grafana variables
    names = []
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        word = m.group(0)
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue
        if re.fullmatch(r"\d+[smhdwy]?", word):
            continue
        names.append(word)
    return names

def check_expr(where, expr):
    names = metric_names(expr)
    if not names:
        fail(f"{where}: no metric in {expr!r}")
    for n in names:
        if n not in documented:
            fail(f"{where}: {n} is not documented in docs/metrics.md ({expr!r})")
    return names

# The check must catch what it is for: an undocumented name, and not a
# function, label or keyword.
probe = 'sum by (agent) (rate(sipwarden_made_up_total{agent=~"$agent",x="sum("}[5m])) > on (agent) up'
if metric_names(probe) != ["sipwarden_made_up_total", "up"]:
    fail(f"the expression parser is broken: {metric_names(probe)}")

# ---- the dashboard
dash = json.loads((src / "tools/grafana/sipwarden.json").read_text())
if dash.get("schemaVersion", 0) < 37:
    fail(f"schemaVersion {dash.get('schemaVersion')} < 37")
variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
ds = variables.get("DS_PROMETHEUS")
if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    fail("no Prometheus data-source variable DS_PROMETHEUS")
agent = variables.get("agent")
if not agent or "sipwarden_agent_up" not in json.dumps(agent.get("query")):
    fail("no agent variable over sipwarden_agent_up")
titles = []
used = set()
for p in dash.get("panels", []):
    titles.append(p.get("title", ""))
    if p.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
        fail(f"panel {p.get('title')!r} does not use ${{DS_PROMETHEUS}}")
    targets = p.get("targets", [])
    if not targets:
        fail(f"panel {p.get('title')!r} has no query")
    for t in targets:
        if t.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            fail(f"a query of panel {p.get('title')!r} does not use ${{DS_PROMETHEUS}}")
        used.update(check_expr(f"dashboard panel {p.get('title')!r}", t.get("expr", "")))
for want in ["verdict", "drops per second by agent", "sip messages per second by method",
             "alarms per second by category", "ring-buffer records lost", "agents up",
             "decision version", "honeypot hits"]:
    if not any(want in t.lower() for t in titles):
        fail(f"no dashboard panel about {want!r} (panels: {titles})")
if "$agent" not in json.dumps(dash["panels"]):
    fail("no panel uses the agent variable")

# ---- the alerting rules (a YAML subset: each expr, one line or a | block)
rules = (src / "packaging/prometheus/alerts.yml").read_text().splitlines()
alerts = 0
i = 0
while i < len(rules):
    line = rules[i]
    m = re.match(r"^(\s*)expr:\s*(.*)$", line)
    if m:
        indent, rest = len(m.group(1)), m.group(2).strip()
        if rest in ("|", ">", "|-", ">-"):
            block = []
            i += 1
            while i < len(rules) and (not rules[i].strip() or len(rules[i]) - len(rules[i].lstrip()) > indent):
                block.append(rules[i].strip())
                i += 1
            rest = " ".join(block)
        else:
            i += 1
        alerts += 1
        check_expr(f"alerts.yml rule {alerts}", rest)
        continue
    i += 1
if alerts < 5:
    fail(f"alerts.yml has {alerts} rules, expected at least 5")

# ---- the sources' metrics are all documented
emitted = set()
for path in list((src / "agent").glob("*.cc")) + list((src / "controller").glob("*.cc")):
    for m in re.finditer(r'\.(?:Counter|Gauge)\(\s*"(sipwarden_[a-z0-9_:]+)"\s*,', path.read_text()):
        emitted.add(m.group(1))
header = (src / "bpf/sipwarden.h").read_text()
fields = re.search(r"#define SW_STATS_FIELDS\(X\)(.*?)\n\n", header, re.S)
if not fields:
    fail("SW_STATS_FIELDS not found in bpf/sipwarden.h")
else:
    for f in re.findall(r"X\(([a-z0-9_]+)\)", fields.group(1)):
        emitted.add(f"sipwarden_xdp_{f}_total")
if len(emitted) < 100:
    fail(f"only {len(emitted)} metrics found in the sources: the scan is broken")
for n in sorted(emitted - documented):
    fail(f"{n} is emitted but not documented in docs/metrics.md")
for n in sorted(documented - emitted - {"up"}):
    fail(f"docs/metrics.md documents {n}, which nothing emits")

for f in failures:
    print("FAIL:", f, file=sys.stderr)
if failures:
    sys.exit(1)
print(f"ok: {len(used)} metrics in the dashboard, {alerts} alert expressions, "
      f"{len(emitted)} emitted metrics, all documented")
EOF
