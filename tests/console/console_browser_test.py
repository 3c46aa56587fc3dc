#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# The operator's console in headless Chromium (selenium), against a live
# controller and agent that tests/e2e/console_browser_test.sh starts:
#   1. an empty controller: the page loads without a script error;
#   2. no token: the page asks for one (401), takes the operator's, and a
#      reload shows the fleet with no SEVERE entry in the browser's log;
#   3. an INVITE flood from the attacker's namespace: its alarm is on the
#      page within 2 s of the alarm's time (printed), the fleet block listed;
#   4. Unblock and the page's own confirmation: the block leaves the agent's
#      kernel map (sipwardenctl --pin-dir PIN block list);
#   5. a block made with the page's form reaches the kernel;
#   6. the graphs show the agent's counters (data-nonzero > 0);
#   7. the read-only token: no Unblock buttons, a DELETE through fetch gets 403;
#   8. an API error shows in the error bar.
# Screenshots (full page and each section) go to --artifacts.
import argparse
import json
import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TOKEN_KEY = "sipwarden.token"
SECTIONS = ["hdr", "sec-alarms", "sec-decisions", "sec-agents", "sec-graphs", "sec-honeypot"]


def log(msg):
    print(f"[console {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    log(f"FAIL: {msg}")
    raise SystemExit(1)


class Browser:
    def __init__(self, artifacts):
        self.artifacts = artifacts
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--window-size=1600,1000", "--lang=en-US", "--no-first-run", "--disable-extensions",
                  "--disable-background-networking", "--disable-sync", "--disable-component-update"]:
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
        self.d.set_script_timeout(20)
        self.seen_logs = []

    def quit(self):
        try:
            self.d.quit()
        except WebDriverException:
            pass

    def logs(self):
        """The browser log entries since the last call."""
        entries = self.d.get_log("browser")
        self.seen_logs.extend(entries)
        return entries

    def severe(self):
        return [e for e in self.logs() if e.get("level") == "SEVERE"]

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def wait(self, seconds, what, fn, poll=0.05):
        try:
            return WebDriverWait(self.d, seconds, poll_frequency=poll).until(lambda d: fn())
        except TimeoutException:
            fail(f"after {seconds} s: {what}")

    def by_id(self, i):
        return self.d.find_element(By.ID, i)

    def visible(self, i):
        return self.js("const e = document.getElementById(arguments[0]);"
                       "return !!e && !e.hidden && getComputedStyle(e).display !== 'none' && e.getClientRects().length > 0;", i)

    def stream_state(self):
        return self.js("return document.getElementById('stream-state').dataset.state;")

    def open(self, url, token):
        """Loads the page with TOKEN already in the tab's session storage (or none)."""
        self.d.get(url + "/")
        # The page's origin is open now: put the token where the page keeps it.
        if token is not None:
            self.js(f"sessionStorage.setItem('{TOKEN_KEY}', arguments[0]);", token)
        else:
            self.js(f"sessionStorage.removeItem('{TOKEN_KEY}');")
        self.logs()  # what the first load logged is not this load's
        self.d.get(url + "/")

    def screenshot(self, name, full=True):
        os.makedirs(self.artifacts, exist_ok=True)
        if full:
            h = self.js("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);")
            self.d.set_window_size(1600, min(int(h) + 40, 6000))
            time.sleep(0.4)  # charts redraw to the new width after a resize
        path = os.path.join(self.artifacts, f"{name}.png")
        self.d.save_screenshot(path)
        return path

    def section_shots(self, prefix):
        self.screenshot(f"{prefix}-full")
        for s in SECTIONS:
            el = self.by_id(s)
            el.screenshot(os.path.join(self.artifacts, f"{prefix}-{s}.png"))
        self.d.set_window_size(1600, 1000)


def ctl_block_list(args):
    out = subprocess.run([os.path.join(args.bin, "sipwardenctl"), "--pin-dir", args.pin, "block", "list"],
                         capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line and line[0].isdigit()]


def wait_kernel(args, prefix, present, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if (prefix in ctl_block_list(args)) == present:
            return True
        time.sleep(0.1)
    return False


def check_no_severe(b, when):
    bad = b.severe()
    if bad:
        fail(f"{when}: SEVERE entries in the browser's log: {json.dumps(bad, indent=1)}")


def fetch_status(b, method, path, token, body=None):
    """A fetch() from the page (same origin) with TOKEN; returns the HTTP status."""
    return b.d.execute_async_script("""
      const [method, path, token, body, done] = arguments;
      const init = {method, headers: {Authorization: 'Bearer ' + token}};
      if (body !== null) { init.headers['Content-Type'] = 'application/json'; init.body = body; }
      fetch(path, init).then(r => done(r.status), e => done('error: ' + e));
    """, method, path, token, None if body is None else json.dumps(body))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="the controller's HTTP address, http://127.0.0.1:PORT")
    ap.add_argument("--empty-url", help="a controller with nothing in it")
    ap.add_argument("--operator-token", required=True)
    ap.add_argument("--readonly-token", required=True)
    ap.add_argument("--bin", required=True, help="build/bin")
    ap.add_argument("--pin", required=True, help="the agent's pin directory")
    ap.add_argument("--attacker", required=True, help="the attacker's address")
    ap.add_argument("--attack", required=True, help="shell command that floods from the attacker")
    ap.add_argument("--traffic", help="shell command: steady legitimate traffic for the graphs, run meanwhile")
    ap.add_argument("--artifacts", required=True)
    args = ap.parse_args()
    os.makedirs(args.artifacts, exist_ok=True)

    b = Browser(args.artifacts)
    traffic = None
    try:
        if args.traffic:
            traffic = subprocess.Popen(args.traffic, shell=True, start_new_session=True)
        run(b, args)
    finally:
        if traffic:
            try:
                os.killpg(traffic.pid, 15)
            except ProcessLookupError:
                pass
            traffic.wait()
        with open(os.path.join(args.artifacts, "browser-log.json"), "w") as f:
            try:
                b.logs()
            except WebDriverException:
                pass
            json.dump(b.seen_logs, f, indent=1)
        b.quit()
    log("PASS")


def run(b, args):
    # ---- 1. an empty controller -------------------------------------------------------
    if args.empty_url:
        b.open(args.empty_url, args.operator_token)
        b.wait(10, "the empty controller's page never went live", lambda: b.stream_state() == "live")
        b.wait(10, "the empty page did not draw its charts",
               lambda: b.js("return [...document.querySelectorAll('svg.plot text.nodata')].length") == 4)
        time.sleep(1)
        check_no_severe(b, "an empty controller")
        for e in ["alarms-empty", "decisions-empty", "agents-empty", "hits-empty"]:
            if not b.visible(e):
                fail(f"the empty controller's page does not say so ({e} hidden)")
        b.screenshot("01-empty-controller", full=True)
        b.d.set_window_size(1600, 1000)
        log("empty controller: the page loads, says there is nothing, no SEVERE log entry")

    # ---- 2. no token: the page asks for one -------------------------------------------
    b.open(args.url, None)
    b.wait(10, "the page did not ask for a token", lambda: b.visible("login-dialog"))
    b.screenshot("02-token-dialog", full=False)
    unexpected = [e for e in b.severe() if "401" not in e.get("message", "")]
    if unexpected:
        fail(f"without a token, errors other than the API's 401: {unexpected}")
    b.by_id("login-token").send_keys(args.operator_token)
    b.by_id("login-ok").click()
    b.wait(10, "the operator's token was not taken", lambda: "operator" in b.by_id("whoami").text)
    # A fresh load with the token kept in the session: nothing SEVERE at all.
    b.logs()
    b.d.refresh()
    b.wait(10, "the live stream did not connect", lambda: b.stream_state() == "live")
    b.wait(10, "the agent is not listed as connected",
           lambda: b.js("return document.querySelectorAll('#agents-body tr.agent[data-connected=\"1\"]').length") >= 1)
    b.wait(10, "the header shows no decision version", lambda: b.by_id("stat-version").text.isdigit())
    time.sleep(1)
    check_no_severe(b, "the page with the operator's token")
    if b.visible("error-bar"):
        fail(f"the error bar shows: {b.by_id('error-bar').text}")
    log(f"page loaded as {b.by_id('whoami').text}: stream live, agent connected, no SEVERE log entry")

    # ---- 3. an attack: its alarm on the page ------------------------------------------
    att = args.attacker
    log(f"INVITE flood from {att}")
    subprocess.run(args.attack, shell=True, check=True)
    sel = f'#alarms-body tr.alarm[data-src="{att}"]'
    b.wait(10, f"no alarm about {att} on the page",
           lambda: b.js(f"return document.querySelectorAll('{sel}').length") > 0, poll=0.02)
    row = b.js(f"const r = document.querySelector('{sel}'); return {{...r.dataset}};")
    latency_ms = int(row["shownMs"]) - int(row["tsMs"])
    log(f"alarm {row['rule']} ({row['category']}) from agent {row['agent']} about {att} on the page "
        f"{latency_ms} ms after the alarm's time")
    print(f"console_alarm_latency_ms {latency_ms}", flush=True)
    if latency_ms > 2000:
        fail(f"the alarm reached the page {latency_ms} ms after it was raised, more than 2 s")
    prefix = f"{att}/32"
    bsel = f'#blocks-body tr.decision[data-prefix="{prefix}"]'
    b.wait(10, f"the fleet block of {prefix} is not listed",
           lambda: b.js(f"return document.querySelectorAll('{bsel}').length") > 0)
    if not wait_kernel(args, prefix, True, 5):
        fail(f"{prefix} is not in the agent's kernel blocklist: {ctl_block_list(args)}")
    b.wait(15, "the header does not count the block", lambda: b.by_id("stat-blocks").text not in ("0", "–"))

    # ---- 6. graphs (wait for the agent's counter reports) -----------------------------
    def charts():
        return b.js("return Object.fromEntries([...document.querySelectorAll('svg.plot')]"
                    ".map(s => [s.id, {points: +s.dataset.points, nonzero: +s.dataset.nonzero, slots: +s.dataset.slots}]));")

    # Every chart drawn; packets and SIP messages from a couple of the agent's
    # reports (10 s apart: two slots with traffic), the flood's alarm counted.
    def charts_ready():
        c = charts()
        return all(v["points"] > 0 for v in c.values()) and c["chart-packets"]["slots"] >= 2 and \
            c["chart-sip"]["slots"] >= 2 and c["chart-alarms"]["nonzero"] > 0
    t0 = time.time()
    while not charts_ready() and time.time() - t0 < 60:
        time.sleep(2)
        b.by_id("range-1h").click()  # fetches the series again
    if not charts_ready():
        fail(f"the graphs have no data after {time.time() - t0:.0f} s: {charts()}")
    log(f"graphs drawn after {time.time() - t0:.0f} s: {charts()}")
    b.section_shots("03-operator")
    b.by_id("range-1d").click()
    b.wait(10, "the day's graphs are not drawn",
           lambda: b.js("return +document.getElementById('chart-packets').dataset.points") > 0)
    b.by_id("range-1h").click()

    # ---- 4. Unblock from the page -------------------------------------------------------
    btn = b.d.find_element(By.CSS_SELECTOR, f'{bsel} button.btn-unblock')
    btn.click()
    b.wait(5, "no confirmation dialog", lambda: b.visible("confirm-dialog"))
    if prefix not in b.by_id("confirm-title").text:
        fail(f"the confirmation names no {prefix}: {b.by_id('confirm-title').text}")
    b.screenshot("04-confirm-unblock", full=False)
    t_click = time.time()
    b.by_id("confirm-ok").click()
    if not wait_kernel(args, prefix, False, 5):
        fail(f"{prefix} is still in the agent's kernel blocklist after Unblock: {ctl_block_list(args)}")
    log(f"Unblock {prefix} from the page: gone from the agent's kernel {int((time.time() - t_click) * 1000)} ms "
        "after the click (polling sipwardenctl every 100 ms)")
    b.wait(5, "the block is still listed on the page",
           lambda: b.js(f"return document.querySelectorAll('{bsel}').length") == 0)

    # ---- 5. a block made with the page's form -------------------------------------------
    manual = "198.51.100.0/24"
    b.by_id("block-prefix").send_keys(manual)
    b.by_id("block-reason").clear()
    b.by_id("block-reason").send_keys("console-test")
    b.by_id("block-add").click()
    b.wait(5, "no confirmation for the block", lambda: b.visible("confirm-dialog"))
    b.by_id("confirm-ok").click()
    if not wait_kernel(args, manual, True, 5):
        fail(f"the page's block of {manual} did not reach the kernel: {ctl_block_list(args)}")
    msel = f'#blocks-body tr.decision[data-prefix="{manual}"]'
    b.wait(5, "the page's block is not listed", lambda: b.js(f"return document.querySelectorAll('{msel}').length") == 1)
    log(f"blocked {manual} with the page's form: in the agent's kernel")
    check_no_severe(b, "the operator's actions")

    # ---- 7. the read-only token ----------------------------------------------------------
    b.js(f"sessionStorage.setItem('{TOKEN_KEY}', arguments[0]);", args.readonly_token)
    b.d.refresh()
    b.wait(10, "the read-only token was not taken", lambda: "read-only" in b.by_id("whoami").text)
    b.wait(10, "the read-only page lists no block", lambda: b.js(f"return document.querySelectorAll('{msel}').length") == 1)
    b.wait(10, "the live stream did not connect (read-only)", lambda: b.stream_state() == "live")
    buttons = b.js("return document.querySelectorAll('button.btn-unblock, button.btn-allow, button.btn-disallow').length")
    if buttons:
        fail(f"the read-only page shows {buttons} unblock/allow buttons")
    if b.visible("block-form"):
        fail("the read-only page shows the block form")
    check_no_severe(b, "the read-only page")
    b.section_shots("05-read-only")
    status = fetch_status(b, "DELETE", f"/api/v1/blocks/{manual.replace('/', '%2F')}", args.readonly_token)
    if status != 403:
        fail(f"a read-only DELETE got {status}, not 403")
    if not wait_kernel(args, manual, True, 1):
        fail("the read-only DELETE removed the block")
    log("read-only: no Unblock/Allow buttons, no block form, DELETE through fetch answered 403")

    # ---- 8. an API error in the error bar --------------------------------------------
    b.by_id("f-src").send_keys("not-an-address")
    b.wait(5, "the API's refusal is not shown", lambda: b.visible("error-bar"))
    text = b.by_id("error-bar").text
    if "400" not in text or "INVALID_ARGUMENT" not in text:
        fail(f"the error bar does not show the 400: {text!r}")
    b.screenshot("06-error-bar", full=False)
    log(f"error bar: {text.splitlines()[0]}")
    errs = [e for e in b.severe() if e.get("source") != "network"]
    if errs:
        fail(f"script errors: {errs}")
    # Script errors anywhere in the run (the API's refusals are network entries).
    script = [e for e in b.seen_logs if e.get("level") == "SEVERE" and e.get("source") != "network"]
    if script:
        fail(f"script errors during the run: {script}")


if __name__ == "__main__":
    main()
