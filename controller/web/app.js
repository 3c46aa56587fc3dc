// SPDX-License-Identifier: BSD-2-Clause
// sipwarden's operator console: everything comes from the controller's JSON
// API (docs/api.md) on the same origin. No framework, no third-party code.
"use strict";

(() => {
  // ---------------------------------------------------------------- helpers
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "sipwarden.token";
  const MAX_ALARMS = 500;

  // el("td", {class: "x", dataset: {src: "1.2.3.4"}}, "text", child...)
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") e.className = v;
        else if (k === "dataset") Object.assign(e.dataset, v);
        else if (k === "style") Object.assign(e.style, v); // CSSOM: allowed by the controller's CSP (style-src 'self')
        else if (k === "title") e.title = v;
        else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? "" : v);
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // Protobuf JSON: 64-bit integers are strings, defaults are left out.
  const num = (v) => (v === undefined || v === null || v === "" ? 0 : Number(v));
  const nsToMs = (ns) => num(ns) / 1e6;

  const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
  const whole = new Intl.NumberFormat("en");
  function fmtNum(v) {
    v = num(v);
    if (v === 0) return "0";
    if (Math.abs(v) < 10 && !Number.isInteger(v)) return String(Number(v.toFixed(Math.abs(v) < 0.1 ? 3 : 2)));
    if (Math.abs(v) < 10000) return whole.format(Math.round(v * 10) / 10);
    return compact.format(v);
  }

  const pad2 = (n) => String(n).padStart(2, "0");
  function clock(ms, withDate) {
    const d = new Date(ms);
    const t = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
    if (!withDate) return t;
    return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${t}`;
  }
  function isToday(ms) {
    const d = new Date(ms), n = new Date();
    return d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate();
  }
  function timeCell(ms) {
    return clock(ms, !isToday(ms));
  }

  // "in 23 min", "4 s ago", "never".
  function relative(ms) {
    if (!ms) return "never";
    const d = ms - Date.now();
    const a = Math.abs(d) / 1000;
    let s;
    if (a < 1) return "now";
    if (a < 60) s = `${Math.round(a)} s`;
    else if (a < 3600) s = `${Math.round(a / 60)} min`;
    else if (a < 86400 * 2) s = `${(a / 3600).toFixed(a < 36000 ? 1 : 0)} h`;
    else s = `${Math.round(a / 86400)} d`;
    return d > 0 ? `in ${s}` : `${s} ago`;
  }
  // A <time> whose text is kept relative by the ticker.
  function relTime(ms, never) {
    if (!ms) return el("span", { class: "muted" }, never || "never");
    return el("time", { class: "rel", datetime: new Date(ms).toISOString(), title: clock(ms, true), dataset: { ms: String(ms) } },
      relative(ms));
  }
  function tickRelative() {
    for (const t of document.querySelectorAll("time.rel")) t.textContent = relative(Number(t.dataset.ms));
  }

  const shortEnum = (v, prefix) => (v ? String(v).replace(prefix, "").toLowerCase().replace(/_/g, "-") : "");

  // ---------------------------------------------------------------- errors
  const errors = new Map(); // key -> message
  function showError(key, msg) {
    errors.set(key, msg);
    renderErrors();
  }
  function clearError(key) {
    if (errors.delete(key)) renderErrors();
  }
  function renderErrors() {
    const list = $("error-list");
    list.replaceChildren(...[...errors.values()].map((m) => el("li", null, m)));
    $("error-bar").hidden = errors.size === 0;
  }

  // ---------------------------------------------------------------- API
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let loginShown = false;
  const authHeaders = () => (token ? { Authorization: `Bearer ${token}` } : {});

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const key = `${method} ${path.split("?")[0]}`;
    const init = { method, headers: { Accept: "application/json", ...authHeaders() }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      showError(key, `${key}: the controller cannot be reached (${e.message})`);
      throw new ApiError(0, "UNAVAILABLE", e.message);
    }
    let data = null;
    const text = await resp.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (resp.status === 401) {
      askToken(token ? "The controller refused this token." : null);
      throw new ApiError(401, "UNAUTHENTICATED", "a token is needed");
    }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      const code = err.code || resp.statusText || "ERROR";
      const message = err.message || text.slice(0, 200) || `HTTP ${resp.status}`;
      showError(key, `${key}: ${resp.status} ${code}: ${message}`);
      throw new ApiError(resp.status, code, message);
    }
    clearError(key);
    return data || {};
  }

  // Calls the background refreshers make: failures are shown in the error
  // bar already, so they are swallowed here.
  const quiet = (p) => p.catch(() => undefined);

  // ---------------------------------------------------------------- login
  function askToken(why) {
    if (loginShown) return;
    loginShown = true;
    stopStream();
    setStreamState("offline", "a token is needed");
    $("login-text").textContent = (why ? why + " " : "") +
      "The controller asks for a token (a line of its --http-tokens file). It is kept in this tab's session storage only.";
    $("login-token").value = "";
    $("login-dialog").hidden = false;
    $("login-token").focus();
  }
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    token = $("login-token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("login-dialog").hidden = true;
    loginShown = false;
    start();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    token = "";
    askToken(null);
  });

  // ---------------------------------------------------------------- confirm
  let confirmResolve = null;
  // confirmDialog(title, text, {danger, okLabel, reason}) -> Promise<false | {reason}>
  function confirmDialog(title, text, opts = {}) {
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = opts.okLabel || "Confirm";
    $("confirm-ok").className = opts.danger === false ? "btn primary" : "btn danger";
    $("confirm-reason-row").hidden = opts.reason === undefined;
    $("confirm-reason").value = opts.reason || "";
    $("confirm-dialog").hidden = false;
    $("confirm-ok").focus();
    return new Promise((resolve) => {
      confirmResolve = resolve;
    });
  }
  function closeConfirm(result) {
    $("confirm-dialog").hidden = true;
    const r = confirmResolve;
    confirmResolve = null;
    if (r) r(result);
  }
  $("confirm-ok").addEventListener("click", () => closeConfirm({ reason: $("confirm-reason").value.trim() }));
  $("confirm-cancel").addEventListener("click", () => closeConfirm(false));
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !$("confirm-dialog").hidden) closeConfirm(false);
  });

  // ---------------------------------------------------------------- state
  const state = {
    role: "",
    name: "",
    version: 0, // the controller's decision version
    alarms: [], // newest first
    alarmKeys: new Set(),
    categories: new Set(),
    agents: new Set(),
    decisionTab: "blocks",
    decisions: { blocks: [], graylists: [], allows: [] },
    range: "1h",
    started: false,
  };
  const isOperator = () => state.role === "operator";

  // ---------------------------------------------------------------- header
  async function loadStats() {
    const s = await api("GET", "/api/v1/stats");
    state.version = num(s.decision_version);
    $("stat-version").textContent = String(state.version);
    $("stat-agents").textContent = `${num(s.agents_connected)} / ${num(s.agents)}`;
    $("stat-agents").className = "v " + (num(s.agents) > 0 && num(s.agents_connected) < num(s.agents) ? "warn" : "");
    $("stat-blocks").textContent = whole.format(num(s.blocks));
    $("stat-graylists").textContent = whole.format(num(s.graylists));
    $("stat-allows").textContent = whole.format(num(s.allows));
    $("stat-alarms").textContent = whole.format(num(s.alarms_stored));
  }

  async function loadWhoami() {
    const w = await api("GET", "/api/v1/whoami");
    state.role = w.role || "";
    state.name = w.name || "";
    $("whoami").textContent = `${state.name} (${state.role})`;
    $("whoami").className = "who role-" + state.role;
    document.body.classList.toggle("role-operator", isOperator());
    $("block-form").hidden = !isOperator();
    $("logout").hidden = !token;
  }

  // ---------------------------------------------------------------- alarms
  const alarmKey = (sa) => `${sa.agent || ""}/${sa.report_id || ""}/${(sa.alarm && sa.alarm.ts_unix_ns) || ""}`;

  function sinceMs(v) {
    const m = /^(\d+)([smhd])$/.exec(v);
    if (!m) return 0;
    return Date.now() - Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2]];
  }

  function filters() {
    return {
      category: $("f-category").value,
      src: $("f-src").value.trim(),
      agent: $("f-agent").value,
      since: $("f-since").value,
    };
  }

  function matches(sa, f) {
    const a = sa.alarm || {};
    if (f.category && a.category !== f.category) return false;
    if (f.src && a.src_ip !== f.src) return false;
    if (f.agent && sa.agent !== f.agent) return false;
    if (f.since && nsToMs(a.ts_unix_ns) < sinceMs(f.since)) return false;
    return true;
  }

  function addOption(select, set, value) {
    if (!value || set.has(value)) return;
    set.add(value);
    const opts = [...select.options].slice(1).map((o) => o.value);
    opts.push(value);
    opts.sort();
    const keep = select.value;
    select.replaceChildren(el("option", { value: "" }, "any"), ...opts.map((o) => el("option", { value: o }, o)));
    select.value = keep;
  }

  function sevClass(s) {
    s = num(s);
    return s === 1 ? "sev-high" : s === 2 ? "sev-med" : "sev-low";
  }

  function alarmRow(sa, fresh) {
    const a = sa.alarm || {};
    const ms = nsToMs(a.ts_unix_ns);
    const tr = el("tr", {
      class: "alarm " + sevClass(a.severity) + (fresh ? " fresh" : ""),
      dataset: {
        key: alarmKey(sa),
        src: a.src_ip || "",
        category: a.category || "",
        rule: a.rule || "",
        agent: sa.agent || "",
        tsMs: String(Math.round(ms)),
        shownMs: String(Date.now()),
      },
      title: "click for the alarm's JSON",
    },
    el("td", { class: "mono nowrap" }, timeCell(ms)),
    el("td", { class: "nowrap" }, sa.agent || ""),
    el("td", null, el("span", { class: "tag cat" }, a.category || "–")),
    el("td", { class: "mono nowrap" }, a.rule || ""),
    el("td", { class: "num" }, el("span", { class: "sev " + sevClass(a.severity) }, String(num(a.severity) || "–"))),
    el("td", { class: "mono" }, a.src_ip || ""),
    el("td", { class: "ellipsis fill", title: a.signature || "" }, a.signature || ""));
    tr.addEventListener("click", () => {
      const next = tr.nextElementSibling;
      if (next && next.classList.contains("detail")) {
        next.remove();
        return;
      }
      let body = a.json || JSON.stringify(sa, null, 2);
      try {
        body = JSON.stringify(JSON.parse(body), null, 2);
      } catch (e) {
        /* not JSON: as is */
      }
      tr.after(el("tr", { class: "detail" }, el("td", { colspan: "7" }, el("pre", null, body))));
    });
    return tr;
  }

  function renderAlarms() {
    const f = filters();
    const rows = state.alarms.filter((sa) => matches(sa, f)).map((sa) => alarmRow(sa, false));
    $("alarms-body").replaceChildren(...rows);
    $("alarm-count").textContent = String(rows.length);
    $("alarms-empty").hidden = rows.length > 0;
  }

  function noteAlarm(sa) {
    const a = sa.alarm || {};
    addOption($("f-category"), state.categories, a.category);
    addOption($("f-agent"), state.agents, sa.agent);
  }

  function pushAlarm(sa) {
    const key = alarmKey(sa);
    if (state.alarmKeys.has(key)) return;
    state.alarmKeys.add(key);
    noteAlarm(sa);
    state.alarms.unshift(sa);
    if (state.alarms.length > MAX_ALARMS) {
      for (const old of state.alarms.splice(MAX_ALARMS)) state.alarmKeys.delete(alarmKey(old));
    }
    if (!matches(sa, filters())) return;
    const body = $("alarms-body");
    body.prepend(alarmRow(sa, true));
    while (body.rows.length > MAX_ALARMS) body.deleteRow(-1);
    $("alarm-count").textContent = String(body.querySelectorAll("tr.alarm").length);
    $("alarms-empty").hidden = true;
  }

  let alarmsSeq = 0;
  async function loadAlarms() {
    const f = filters();
    const q = new URLSearchParams({ since: f.since, limit: String(MAX_ALARMS) });
    if (f.category) q.set("category", f.category);
    if (f.src) q.set("src", f.src);
    if (f.agent) q.set("agent", f.agent);
    const seq = ++alarmsSeq;
    const r = await api("GET", `/api/v1/alarms?${q}`);
    if (seq !== alarmsSeq) return; // a newer filter's answer wins
    const list = (r.alarms || []).slice().reverse(); // the API lists newest last
    // Keep what the stream brought that this answer does not have yet.
    const seen = new Set(list.map(alarmKey));
    const extra = state.alarms.filter((sa) => !seen.has(alarmKey(sa)) && matches(sa, f));
    state.alarms = [...extra, ...list]
      .sort((x, y) => nsToMs(y.alarm && y.alarm.ts_unix_ns) - nsToMs(x.alarm && x.alarm.ts_unix_ns))
      .slice(0, MAX_ALARMS);
    state.alarmKeys = new Set(state.alarms.map(alarmKey));
    state.alarms.forEach(noteAlarm);
    renderAlarms();
  }

  let filterTimer = 0;
  for (const id of ["f-category", "f-agent", "f-since"]) $(id).addEventListener("change", () => quiet(loadAlarms()));
  $("f-src").addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => quiet(loadAlarms()), 300);
  });
  $("alarm-filters").addEventListener("submit", (ev) => ev.preventDefault());

  // ---------------------------------------------------------------- decisions
  async function loadDecisionKind(kind) {
    const all = [];
    let pageToken = "";
    for (let page = 0; page < 20; page++) {
      const q = new URLSearchParams({ limit: "10000" });
      if (pageToken) q.set("page_token", pageToken);
      const r = await api("GET", `/api/v1/${kind}?${q}`);
      all.push(...(r.decisions || []));
      pageToken = r.next_page_token || "";
      if (!pageToken) break;
    }
    all.sort((a, b) => num(b.created_unix_ns) - num(a.created_unix_ns));
    state.decisions[kind] = all;
  }

  async function loadDecisions() {
    await Promise.all(["blocks", "graylists", "allows"].map(loadDecisionKind));
    renderDecisions();
  }

  const encPrefix = (p) => encodeURIComponent(p);

  async function unblock(d, what) {
    const ok = await confirmDialog(`${what} ${d.prefix}?`,
      `This removes the ${what === "Lift graylist" ? "graylist" : "block"} of ${d.prefix} (${d.reason || "no reason"}, by ${d.source || "?"}) from every agent's kernel.`,
      { okLabel: what === "Lift graylist" ? "Lift" : "Unblock" });
    if (!ok) return;
    await quiet(api("DELETE", `/api/v1/blocks/${encPrefix(d.prefix)}`));
    await quiet(refreshDecisions());
  }

  async function allow(d) {
    const ok = await confirmDialog(`Allow ${d.prefix}?`,
      `An allow removes every block and graylist inside ${d.prefix} fleet-wide and keeps them away until the allow is removed.`,
      { okLabel: "Allow", reason: "allowed from the console" });
    if (!ok) return;
    await quiet(api("POST", "/api/v1/allows", { prefix: d.prefix, reason: ok.reason || "allowed from the console" }));
    await quiet(refreshDecisions());
  }

  async function disallow(d) {
    const ok = await confirmDialog(`Remove the allow of ${d.prefix}?`,
      `Blocks and graylists for ${d.prefix} become possible again.`, { okLabel: "Remove allow" });
    if (!ok) return;
    await quiet(api("DELETE", `/api/v1/allows/${encPrefix(d.prefix)}`));
    await quiet(refreshDecisions());
  }

  function originTag(o) {
    const s = shortEnum(o, "ORIGIN_") || "unknown";
    return el("span", { class: `tag origin-${s}` }, s);
  }

  function decisionRow(kind, d) {
    const made = nsToMs(d.created_unix_ns);
    const exp = nsToMs(d.expires_unix_ns);
    const cells = [
      el("td", { class: "mono" }, d.prefix),
      el("td", null, originTag(d.origin)),
      el("td", { class: "ellipsis fill", title: d.reason || "" }, d.reason || ""),
      el("td", { class: "ellipsis narrow", title: d.source || "" }, d.source || ""),
    ];
    if (kind === "graylists") cells.push(el("td", { class: "mono nowrap" }, `${num(d.rate_per_s)}/s, burst ${num(d.burst)}`));
    cells.push(el("td", { class: "nowrap" }, made ? relTime(made) : ""));
    const soon = exp && exp - Date.now() < 5 * 60 * 1000;
    cells.push(el("td", { class: "nowrap" + (soon ? " soon" : "") }, relTime(exp, "never")));
    const actions = el("td", { class: "actions" });
    if (isOperator()) {
      if (kind === "blocks") {
        actions.append(
          el("button", { type: "button", class: "btn small btn-unblock", dataset: { prefix: d.prefix }, onclick: () => unblock(d, "Unblock") }, "Unblock"),
          el("button", { type: "button", class: "btn small btn-allow", dataset: { prefix: d.prefix }, onclick: () => allow(d) }, "Allow"));
      } else if (kind === "graylists") {
        actions.append(
          el("button", { type: "button", class: "btn small btn-unblock", dataset: { prefix: d.prefix }, onclick: () => unblock(d, "Lift graylist") }, "Lift"),
          el("button", { type: "button", class: "btn small btn-allow", dataset: { prefix: d.prefix }, onclick: () => allow(d) }, "Allow"));
      } else {
        actions.append(
          el("button", { type: "button", class: "btn small btn-disallow", dataset: { prefix: d.prefix }, onclick: () => disallow(d) }, "Remove"));
      }
    }
    cells.push(actions);
    return el("tr", { class: `decision ${kind.slice(0, -1)}`, dataset: { prefix: d.prefix, origin: shortEnum(d.origin, "ORIGIN_"), reason: d.reason || "" } }, ...cells);
  }

  function renderDecisions() {
    for (const kind of ["blocks", "graylists", "allows"]) {
      const list = state.decisions[kind];
      $(`${kind}-body`).replaceChildren(...list.map((d) => decisionRow(kind, d)));
      $(`count-${kind}`).textContent = String(list.length);
      $(`${kind}-table`).hidden = kind !== state.decisionTab;
    }
    $("decisions-empty").hidden = state.decisions[state.decisionTab].length > 0;
  }

  for (const b of document.querySelectorAll("#sec-decisions .tab")) {
    b.addEventListener("click", () => {
      state.decisionTab = b.dataset.tab;
      for (const o of document.querySelectorAll("#sec-decisions .tab")) o.classList.toggle("active", o === b);
      renderDecisions();
    });
  }

  $("block-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const prefix = $("block-prefix").value.trim();
    if (!prefix) return;
    const ttl = Number($("block-ttl").value);
    const ok = await confirmDialog(`Block ${prefix}?`,
      `Every agent's kernel drops ${prefix} ${ttl ? "for " + $("block-ttl").selectedOptions[0].textContent : "until it is unblocked"}.`,
      { okLabel: "Block" });
    if (!ok) return;
    try {
      await api("POST", "/api/v1/blocks", { prefix, ttl_seconds: ttl, reason: $("block-reason").value.trim() || "manual" });
      $("block-prefix").value = "";
    } catch (e) {
      /* shown in the error bar */
    }
    await quiet(refreshDecisions());
  });

  let decisionTimer = 0;
  function refreshDecisions() {
    return Promise.all([loadDecisions(), loadStats()]);
  }
  function refreshDecisionsSoon() {
    clearTimeout(decisionTimer);
    decisionTimer = setTimeout(() => quiet(refreshDecisions()), 250);
  }

  // ---------------------------------------------------------------- agents
  async function loadAgents() {
    const r = await api("GET", "/api/v1/agents");
    const all = r.agents || [];
    const agents = all.filter((a) => !a.honeypot);
    const pots = all.filter((a) => a.honeypot);
    agents.sort((a, b) => (a.agent || "").localeCompare(b.agent || ""));
    pots.sort((a, b) => (a.agent || "").localeCompare(b.agent || ""));
    for (const a of agents) addOption($("f-agent"), state.agents, a.agent);
    $("agents-body").replaceChildren(...agents.map((a) => {
      const dv = num(a.decision_version);
      let sync;
      if (!a.connected) sync = el("span", { class: "tag muted" }, `v${dv}`);
      else if (dv >= state.version) sync = el("span", { class: "tag ok" }, `v${dv} in sync`);
      else sync = el("span", { class: "tag warn" }, `v${dv}, ${state.version - dv} behind`);
      const drops = num(a.drops_per_s);
      return el("tr", { class: "agent " + (a.connected ? "up" : "down"), dataset: { agent: a.agent || "", connected: a.connected ? "1" : "0" } },
        el("td", { class: "strong" }, a.agent || ""),
        el("td", null, a.hostname || ""),
        el("td", { class: "mono" }, (a.interfaces || []).join(", ")),
        el("td", null, el("span", { class: "badge " + (a.connected ? "state-live" : "state-offline") }, a.connected ? "connected" : "disconnected")),
        el("td", { class: "nowrap" }, relTime(nsToMs(a.last_seen_unix_ns), "–")),
        el("td", { class: "mono" }, a.version || ""),
        el("td", null, sync),
        el("td", { class: "num" + (drops > 0 ? " hot" : "") }, fmtNum(drops)),
        el("td", { class: "num" }, whole.format(num(a.reports))));
    }));
    $("agent-count").textContent = String(agents.length);
    $("agents-empty").hidden = agents.length > 0;
    $("honeypots-body").replaceChildren(...pots.map((a) => el("tr", { class: "honeypot", dataset: { agent: a.agent || "" } },
      el("td", { class: "strong" }, a.agent || ""),
      el("td", null, a.hostname || ""),
      el("td", { class: "mono" }, (a.interfaces || []).join(", ")),
      el("td", { class: "nowrap" }, relTime(nsToMs(a.last_seen_unix_ns), "–")),
      el("td", { class: "mono" }, a.version || ""),
      el("td", { class: "num" }, whole.format(num(a.deflector_users))),
      el("td", { class: "num" }, whole.format(num(a.reports))))));
    $("honeypot-count").textContent = String(pots.length);
    $("honeypots-empty").hidden = pots.length > 0;
  }

  // ---------------------------------------------------------------- honeypot
  const hitKey = (h) => `${h.honeypot || ""}/${(h.hit && h.hit.id) || ""}/${(h.hit && h.hit.stage) || ""}`;
  let hits = [];

  function hitRow(sh, fresh) {
    const h = sh.hit || {};
    const ms = nsToMs(h.ts_unix_ns);
    const status = num(h.final_status);
    return el("tr", {
      class: "hit" + (fresh ? " fresh" : ""),
      dataset: { src: h.src_ip || "", callee: h.callee || "", method: h.method || "", shownMs: String(Date.now()) },
    },
      el("td", { class: "mono nowrap" }, timeCell(ms)),
      el("td", null, sh.honeypot || ""),
      el("td", null, el("span", { class: "tag" }, h.method || "")),
      el("td", { class: "mono" }, h.src_ip || ""),
      el("td", null, h.callee || "", h.deflected ? el("span", { class: "tag warn", title: "a real user's call deflected by a proxy" }, "deflected") : null),
      el("td", { class: "ellipsis" }, h.caller || ""),
      el("td", { class: "ellipsis fill", title: h.user_agent || "" }, h.user_agent || ""),
      el("td", { class: "num" }, status ? String(status) : ""),
      el("td", { class: "nowrap" }, shortEnum(h.stage, "STAGE_") + (h.ended_by ? ` (${h.ended_by})` : "")));
  }

  function renderHits() {
    $("hits-body").replaceChildren(...hits.map((h) => hitRow(h, false)));
    $("hit-count").textContent = String(hits.length);
    $("hits-empty").hidden = hits.length > 0;
  }

  async function loadHits() {
    const r = await api("GET", "/api/v1/hits?limit=50");
    hits = (r.hits || []).slice().reverse();
    renderHits();
  }

  function pushHit(sh) {
    const key = hitKey(sh);
    if (hits.some((h) => hitKey(h) === key)) return;
    hits.unshift(sh);
    hits.length = Math.min(hits.length, 50);
    $("hits-body").prepend(hitRow(sh, true));
    while ($("hits-body").rows.length > 50) $("hits-body").deleteRow(-1);
    $("hit-count").textContent = String(hits.length);
    $("hits-empty").hidden = true;
  }

  async function loadCampaigns() {
    const r = await api("GET", "/api/v1/campaigns?limit=50");
    const list = (r.campaigns || []).slice().reverse();
    $("campaigns-body").replaceChildren(...list.map((c) => el("tr", { class: "campaign", dataset: { audio: c.audio_sha256 || "" } },
      el("td", { class: "mono", title: c.audio_sha256 || "" }, (c.audio_sha256 || "").slice(0, 12)),
      el("td", { class: "num" }, whole.format(num(c.calls))),
      el("td", { class: "num", title: (c.sources || []).join(", ") }, String((c.sources || []).length)),
      el("td", { class: "nowrap" }, `${(num(c.recorded_ms) / 1000).toFixed(1)} s`),
      el("td", { class: "nowrap" }, relTime(nsToMs(c.first_unix_ns), "–")),
      el("td", { class: "nowrap" }, relTime(nsToMs(c.last_unix_ns), "–")),
      el("td", { class: "ellipsis", title: (c.callees || []).join(", ") }, (c.callees || []).join(", ")))));
    $("campaign-count").textContent = String(list.length);
    $("campaigns-empty").hidden = list.length > 0;
  }

  let hitTimer = 0;
  function refreshHitsSoon() {
    clearTimeout(hitTimer);
    hitTimer = setTimeout(() => quiet(Promise.all([loadCampaigns(), loadAgents()])), 1000);
  }

  // ---------------------------------------------------------------- charts
  const PALETTE = ["#4e9af1", "#f0b429", "#e5534b", "#57ab5a", "#b083f0", "#39c5cf", "#ec775c", "#d2a8ff",
    "#8ddb8c", "#f69d50", "#96d0ff", "#c69026"];
  // Fixed colours where the label says something.
  const FIXED = {
    drop_blocked: "#e5534b", drop_rate: "#ec775c", drop_malformed: "#c93c37", drop_limit: "#f69d50",
    pass: "#57ab5a", pass_sip: "#4e9af1", pass_other: "#6e7681",
  };
  const colourOf = (label, i) => FIXED[label] || PALETTE[i % PALETTE.length];

  const CHARTS = [
    { id: "chart-packets", legend: "legend-packets", name: "packets", stacked: true },
    { id: "chart-sip", legend: "legend-sip", name: "sip_messages", stacked: true },
    { id: "chart-alarms", legend: "legend-alarms", name: "alarms", stacked: true },
    { id: "chart-drops", legend: "legend-drops", name: "drops", by: "agent", stacked: false },
  ];
  const chartData = new Map();

  // The top of the y axis: four grid steps of 1, 2, 2.5 or 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 0)) return 4;
    const raw = v / 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return 4 * m * p;
    return 40 * p;
  }

  function timeLabel(s, spanS) {
    const d = new Date(s * 1000);
    if (spanS <= 2 * 86400) return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    const day = `${["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getDay()]} ${d.getDate()}`;
    return d.getHours() === 0 ? day : `${day} ${pad2(d.getHours())}h`;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS($("chart-packets").namespaceURI, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawChart(c) {
    const node = $(c.id);
    const data = chartData.get(c.id);
    const W = Math.max(280, Math.floor(node.getBoundingClientRect().width) || 560);
    const H = 190;
    const m = { l: 48, r: 10, t: 8, b: 22 };
    node.setAttribute("viewBox", `0 0 ${W} ${H}`);
    node.setAttribute("width", String(W));
    node.setAttribute("height", String(H));
    node.replaceChildren();
    const series = (data && data.series) || [];
    // Union of the slots, oldest first.
    const times = [...new Set(series.flatMap((s) => (s.points || []).map((p) => Number(p[0]))))].sort((a, b) => a - b);
    let points = 0, nonzero = 0;
    for (const s of series) for (const p of s.points || []) {
      points++;
      if (Number(p[1]) > 0) nonzero++;
    }
    // For tests and the curious: points drawn, points above 0, slots with any.
    const busy = new Set();
    for (const s of series) for (const p of s.points || []) if (Number(p[1]) > 0) busy.add(Number(p[0]));
    node.dataset.points = String(points);
    node.dataset.nonzero = String(nonzero);
    node.dataset.slots = String(busy.size);
    node.dataset.seriesCount = String(series.length);
    const legend = $(c.legend);
    if (!times.length) {
      node.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "nodata" }, "no data yet"));
      legend.replaceChildren();
      return;
    }
    const index = new Map(times.map((t, i) => [t, i]));
    // values[s][i]
    const values = series.map((s) => {
      const v = new Array(times.length).fill(0);
      for (const p of s.points || []) v[index.get(Number(p[0]))] = Math.max(0, Number(p[1]) || 0);
      return v;
    });
    // Largest first at the bottom of a stack.
    const order = series.map((s, i) => i).sort((a, b) => values[b].reduce((x, y) => x + y, 0) - values[a].reduce((x, y) => x + y, 0));
    const tops = values.map((v) => v.slice());
    if (c.stacked) {
      const acc = new Array(times.length).fill(0);
      for (const si of order) {
        for (let i = 0; i < times.length; i++) {
          acc[i] += values[si][i];
          tops[si][i] = acc[i];
        }
      }
    }
    let maxV = 0;
    for (const t of tops) for (const v of t) maxV = Math.max(maxV, v);
    maxV = niceMax(maxV);
    const t0 = times[0], t1 = Math.max(times[times.length - 1], t0 + 1);
    const x = (t) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
    const y = (v) => H - m.b - (v / maxV) * (H - m.t - m.b);
    // Grid and y axis.
    const g = svg("g", { class: "axis" });
    for (let k = 0; k <= 4; k++) {
      const v = (maxV * k) / 4;
      g.append(svg("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: k ? "grid" : "base" }));
      g.append(svg("text", { x: m.l - 6, y: y(v) + 3, "text-anchor": "end" }, fmtNum(v)));
    }
    // Time labels at round local times, at most one per 90 px.
    const maxLabels = Math.max(2, Math.floor((W - m.l - m.r) / 90));
    const step = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800]
      .find((st) => (t1 - t0) / st <= maxLabels) || 172800;
    const tz = -new Date(t0 * 1000).getTimezoneOffset() * 60;
    for (let t = Math.ceil((t0 + tz) / step) * step - tz; t <= t1; t += step) {
      const px = x(t);
      g.append(svg("line", { x1: px, x2: px, y1: m.t, y2: H - m.b + 4, class: "vgrid" }));
      const anchor = px - m.l < 20 ? "start" : W - m.r - px < 20 ? "end" : "middle";
      g.append(svg("text", { x: px, y: H - 6, "text-anchor": anchor }, timeLabel(t, t1 - t0)));
    }
    node.append(g);
    // Areas (stacked) or lines, bottom series first.
    const plot = svg("g", { class: "series" });
    const drawOrder = c.stacked ? order : order.slice().reverse();
    let below = new Array(times.length).fill(0);
    for (const si of drawOrder) {
      const col = colourOf(series[si].label, si);
      const top = tops[si];
      const line = times.map((t, i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(top[i]).toFixed(1)}`).join("");
      if (c.stacked) {
        const base = times.map((t, i) => `L${x(t).toFixed(1)},${y(below[i]).toFixed(1)}`).reverse().join("");
        plot.append(svg("path", { d: `${line}${base}Z`, fill: col, "fill-opacity": 0.35, stroke: "none" }));
        below = top;
      }
      plot.append(svg("path", { d: line, fill: "none", stroke: col, "stroke-width": 1.4, "stroke-linejoin": "round" }));
    }
    node.append(plot);
    node.append(svg("line", { class: "cursor", x1: -10, x2: -10, y1: m.t, y2: H - m.b }));
    node._geom = { times, values, series, x, m, W, t0, t1 };
    // Legend: colour, label, last value and peak.
    legend.replaceChildren(...order.map((si) => {
      const v = values[si];
      return el("span", { class: "item", dataset: { label: series[si].label } },
        el("i", { style: { background: colourOf(series[si].label, si) } }),
        series[si].label || "(none)",
        el("b", null, fmtNum(v[v.length - 1])),
        el("small", null, `peak ${fmtNum(Math.max(...v))}`));
    }));
  }

  function hoverChart(c, ev) {
    const node = $(c.id), tip = $("chart-tip"), g = node._geom;
    if (!g) return;
    const r = node.getBoundingClientRect();
    const px = ((ev.clientX - r.left) / r.width) * g.W;
    const t = g.t0 + ((px - g.m.l) / (g.W - g.m.l - g.m.r)) * (g.t1 - g.t0);
    let best = 0;
    for (let i = 0; i < g.times.length; i++) if (Math.abs(g.times[i] - t) < Math.abs(g.times[best] - t)) best = i;
    const cur = node.querySelector(".cursor");
    cur.setAttribute("x1", g.x(g.times[best]));
    cur.setAttribute("x2", g.x(g.times[best]));
    const rows = g.series.map((s, si) => [s.label, g.values[si][best], colourOf(s.label, si)])
      .filter((row) => row[1] > 0).sort((a, b) => b[1] - a[1]).slice(0, 10);
    tip.replaceChildren(el("div", { class: "strong" }, clock(g.times[best] * 1000, true)),
      ...(rows.length ? rows : [["all", 0, "#888"]]).map(([l, v, col]) =>
        el("div", null, el("i", { style: { background: col } }), `${l} `, el("b", null, fmtNum(v)))));
    tip.hidden = false;
    tip.style.left = `${Math.min(window.innerWidth - 200, ev.clientX + 14)}px`;
    tip.style.top = `${ev.clientY + 14}px`;
  }
  for (const c of CHARTS) {
    $(c.id).addEventListener("mousemove", (ev) => hoverChart(c, ev));
    $(c.id).addEventListener("mouseleave", () => {
      $("chart-tip").hidden = true;
      const cur = $(c.id).querySelector(".cursor");
      if (cur) {
        cur.setAttribute("x1", "-10");
        cur.setAttribute("x2", "-10");
      }
    });
  }

  async function loadSeries() {
    const range = state.range;
    await Promise.all(CHARTS.map(async (c) => {
      const q = new URLSearchParams({ name: c.name, since: range });
      if (c.by) q.set("by", c.by);
      try {
        const r = await api("GET", `/api/v1/series?${q}`);
        if (range !== state.range) return;
        chartData.set(c.id, r);
      } catch (e) {
        chartData.set(c.id, null);
      }
      drawChart(c);
    }));
  }

  for (const b of document.querySelectorAll("#range-select .tab")) {
    b.addEventListener("click", () => {
      state.range = b.dataset.range;
      for (const o of document.querySelectorAll("#range-select .tab")) o.classList.toggle("active", o === b);
      quiet(loadSeries());
    });
  }
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => CHARTS.forEach(drawChart), 150);
  });

  // ---------------------------------------------------------------- live stream
  let streamAbort = null;
  let lastEventId = "";
  let retryMs = 1000;
  let retryTimer = 0;

  function setStreamState(s, detail) {
    const b = $("stream-state");
    b.dataset.state = s;
    b.className = `badge state-${s}`;
    b.textContent = s === "live" ? "live" : s === "connecting" ? "connecting…" : s === "reconnecting" ? "reconnecting…" : "offline";
    b.title = detail || "the live event stream";
  }

  function stopStream() {
    clearTimeout(retryTimer);
    if (streamAbort) streamAbort.abort();
    streamAbort = null;
  }

  function dispatch(type, data) {
    let obj;
    try {
      obj = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (type === "alarm") pushAlarm(obj);
    else if (type === "decision" || type === "resync") refreshDecisionsSoon();
    else if (type === "hit") {
      pushHit(obj);
      refreshHitsSoon();
    }
  }

  // Server-sent events over fetch(), so that the Authorization header goes
  // along (EventSource cannot send one). The parser follows the HTML
  // standard's event stream interpretation.
  async function runStream() {
    stopStream();
    const ctl = new AbortController();
    streamAbort = ctl;
    setStreamState(lastEventId ? "reconnecting" : "connecting");
    const headers = { Accept: "text/event-stream", ...authHeaders() };
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    let resp;
    try {
      resp = await fetch("/api/v1/events", { headers, signal: ctl.signal, cache: "no-store" });
    } catch (e) {
      if (ctl.signal.aborted) return;
      return streamLost(`cannot connect: ${e.message}`);
    }
    if (resp.status === 401) {
      setStreamState("offline", "a token is needed");
      askToken(token ? "The controller refused this token." : null);
      return;
    }
    if (!resp.ok || !resp.body) {
      let msg = `HTTP ${resp.status}`;
      try {
        const j = await resp.json();
        if (j && j.error) msg = `${resp.status} ${j.error.code}: ${j.error.message}`;
      } catch (e) {
        /* no JSON body */
      }
      showError("events", `GET /api/v1/events: ${msg}`);
      return streamLost(msg);
    }
    clearError("events");
    setStreamState("live");
    retryMs = 1000;
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    let type = "", data = [], id = null;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          // A lone \r at the end may be half of \r\n: wait for more.
          if (buf[nl] === "\r" && nl === buf.length - 1) break;
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
          if (line === "") {
            if (id !== null) lastEventId = id;
            if (data.length) dispatch(type || "message", data.join("\n"));
            type = "";
            data = [];
            id = null;
            continue;
          }
          if (line[0] === ":") continue; // a comment: keep-alive
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? "" : line.slice(colon + 1);
          if (val[0] === " ") val = val.slice(1);
          if (field === "event") type = val;
          else if (field === "data") data.push(val);
          else if (field === "id" && !val.includes("\0")) id = val;
          else if (field === "retry" && /^\d+$/.test(val)) retryMs = Math.max(500, Number(val));
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
      return streamLost(`stream broken: ${e.message}`);
    }
    if (ctl.signal.aborted) return;
    streamLost("the controller closed the stream");
  }

  function streamLost(why) {
    setStreamState("offline", `${why}; retrying in ${Math.round(retryMs / 1000)} s`);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      // What happened while away: the stream sends the missed alarms
      // (Last-Event-ID); decisions and counters are fetched again.
      runStream();
      quiet(refreshDecisions());
      quiet(loadAgents());
    }, retryMs);
    retryMs = Math.min(retryMs * 2, 15000);
  }

  // ---------------------------------------------------------------- start
  const timers = [];
  function every(ms, fn) {
    timers.push(setInterval(() => {
      if (!loginShown && !document.hidden) quiet(fn());
    }, ms));
  }

  async function start() {
    try {
      await loadWhoami();
    } catch (e) {
      if (e.status === 401) return; // the login dialog is up; start() runs again
      // Without whoami the page can still show data; buttons stay off.
    }
    runStream();
    await Promise.all([loadStats(), loadAlarms(), loadDecisions(), loadAgents(), loadHits(), loadCampaigns(), loadSeries()]
      .map(quiet));
    if (state.started) return;
    state.started = true;
    every(5000, () => Promise.all([loadStats(), loadAgents()]));
    every(30000, () => Promise.all([loadDecisions(), loadHits(), loadCampaigns()]));
    every(10000, () => (state.range === "1h" ? loadSeries() : Promise.resolve()));
    every(60000, () => (state.range !== "1h" ? loadSeries() : Promise.resolve()));
    setInterval(tickRelative, 1000);
    // Fresh rows lose their highlight after a while.
    setInterval(() => {
      const cut = Date.now() - 4000;
      for (const r of document.querySelectorAll("tr.fresh")) if (Number(r.dataset.shownMs || 0) < cut) r.classList.remove("fresh");
    }, 1000);
  }

  $("error-close").addEventListener("click", () => {
    errors.clear();
    renderErrors();
  });
  window.addEventListener("pagehide", stopStream);
  start();
})();
