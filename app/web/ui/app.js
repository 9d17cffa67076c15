// The dashboard: one page, a view per `#/...` address, each drawn from the worker's HTTP API.
import { barChart, signalChart } from "./charts.js";

const view = document.getElementById("view");
const LIVE_ROWS = 100;
const REFRESH_MS = 5000;
// What the current view opened (timers, event streams): closed when the view changes.
let cleanups = [];

// --- helpers -------------------------------------------------------------------------------

// An element with attributes and children (text is always text: nothing is parsed as HTML).
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Accept: "application/json", ...(options.headers || {}) },
  });
  const body = await response.json().catch(() => null);
  if (response.status === 401) {
    showLogin(body && body.error);
    throw new ApiError(401, "a token is required");
  }
  if (!response.ok) {
    throw new ApiError(response.status, (body && body.error) || `${path} answered ${response.status}`);
  }
  return body;
}

const number = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en"));
const when = (iso) => (iso ? iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC") : "–");
const deviceLink = (mac) => h("a", { class: "mac", href: `#/device/${encodeURIComponent(mac)}` }, mac);
const ssidLink = (ssid) => h("a", { href: `#/ssid/${encodeURIComponent(ssid)}` }, ssid);
const problem = (err) => h("p", { class: "error" }, err.message);

function card(label, value, id, size = "") {
  return h("div", { class: `card ${size}`, id }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}

function table(headers, rows, attrs = {}) {
  return h("div", { class: "scroll" }, h("table", attrs,
    h("thead", {}, h("tr", {}, headers.map(([label, cls]) => h("th", { class: cls }, label)))),
    h("tbody", {}, rows)));
}

function every(ms, task) {
  const timer = setInterval(() => { if (!document.hidden) task(); }, ms);
  cleanups.push(() => clearInterval(timer));
}

// A 12-hex-digit MAC in any common spelling, as aa:bb:cc:dd:ee:ff; null if it is not one.
function asMac(text) {
  const digits = text.trim().toLowerCase().replace(/[\s:.\-]/g, "");
  return /^[0-9a-f]{12}$/.test(digits) ? digits.match(/../g).join(":") : null;
}

// --- the device list (used by the overview, the list and search) ---------------------------

function devicesTable(devices) {
  return table(
    [["MAC"], ["Name"], ["Vendor", "hide-narrow"], ["Probes", "num"], ["Last seen"],
      ["First seen", "hide-narrow"], ["Signal", "num"], ["SSIDs", "num hide-narrow"]],
    devices.map((d) => h("tr", { "data-mac": d.mac },
      h("td", {}, deviceLink(d.mac), d.randomized ? [" ", h("span", { class: "tag" }, "random")] : null),
      h("td", {}, d.name || ""),
      h("td", { class: "hide-narrow" }, d.vendor || ""),
      h("td", { class: "num probes" }, number(d.probe_count)),
      h("td", { class: "nowrap" }, when(d.last_seen)),
      h("td", { class: "hide-narrow nowrap" }, when(d.first_seen)),
      h("td", { class: "num nowrap" }, d.rssi_last_dbm === null || d.rssi_last_dbm === undefined ? "–" : `${d.rssi_last_dbm} dBm`),
      h("td", { class: "num hide-narrow" }, number(d.unique_ssids)),
    )),
    { id: "device-table" },
  );
}

// --- views -----------------------------------------------------------------------------------

async function overview() {
  const cards = h("div", { class: "cards" });
  const charts = h("div", { class: "panels" });
  const recent = h("div", { class: "panel" }, h("h2", {}, "Latest devices"));
  const topSsids = h("div", { class: "panel", id: "top-ssids" }, h("h2", {}, "Most probed-for SSIDs"));
  const sensors = h("div", { class: "panel", id: "sensors" }, h("h2", {}, "Sensors"));
  view.replaceChildren(h("h1", {}, "Overview"), cards, charts,
    h("div", { class: "panels" }, topSsids, sensors), h("div", { class: "panels" }, recent));
  const [all, randomized, activity, ranking, heard, hours, days] = await Promise.all([
    api("/devices?limit=10"),
    api("/devices?limit=1&randomized=true"),
    api("/activity?resolution=minute").catch((err) => err),
    api("/ssids?limit=10").catch((err) => err),
    api("/sensors").catch((err) => err),
    api("/activity?resolution=hour").catch((err) => err),
    api("/activity?resolution=day").catch((err) => err),
  ]);
  const newest = all.devices.length ? all.devices[0].last_seen_ts : null;
  const since = (seconds) => new Date((newest - seconds) * 1000).toISOString();
  const dayStart = newest === null ? null : new Date(Math.floor(newest / 86400) * 86400 * 1000).toISOString();
  const [now, today] = newest === null ? [{ count: 0 }, { count: 0 }] : await Promise.all([
    api(`/devices?limit=1&since=${since(300)}`),
    api(`/devices?limit=1&since=${dayStart}`),
  ]);
  const share = all.count ? Math.round((100 * randomized.count) / all.count) : 0;
  const buckets = activity instanceof Error ? [] : activity.buckets;
  const newLastHour = buckets.slice(-60).reduce((sum, b) => sum + b.new_devices, 0);
  // Probable devices: randomized MACs grouped (GET /groups/{id}); null with grouping off.
  const lastDay = days instanceof Error || !days.buckets.length ? null : days.buckets[days.buckets.length - 1];
  const probable = lastDay && lastDay.probable_devices !== null
    ? card("probable devices today (UTC)", number(lastDay.probable_devices), "card-probable-today")
    : null;
  cards.append(
    card("devices", number(all.count), "card-devices"),
    card("seen in the last 5 minutes", number(now.count), "card-now"),
    card("seen today (UTC)", number(today.count), "card-today"),
    ...(probable ? [probable] : []),
    card("new in the last hour", number(newLastHour), "card-new"),
    card("randomized MACs", `${share} %`, "card-randomized"),
  );
  if (newest !== null) {
    cards.append(card("newest probe", when(all.devices[0].last_seen), "card-newest", "small"));
  }
  if (activity instanceof Error) {
    charts.append(h("div", { class: "panel" }, problem(activity)));
  } else {
    const step = activity.step_s;
    charts.append(
      h("div", { class: "panel chart", id: "chart-probes" }, h("h2", {}, "Probes per minute"),
        barChart("probes per minute", buckets, step, [{ key: "probes", name: "probes" }])),
      h("div", { class: "panel chart", id: "chart-devices" }, h("h2", {}, "Devices per minute"),
        barChart("devices per minute", buckets, step,
          [{ key: "devices", name: "devices" }, { key: "new_devices", name: "new devices" }]),
        h("div", { class: "legend" }, h("i"), "seen", h("i", { class: "alt" }), "seen for the first time")),
    );
  }
  if (!(hours instanceof Error) && hours.buckets.some((b) => b.probable_devices !== null)) {
    charts.append(
      h("div", { class: "panel chart", id: "chart-probable" }, h("h2", {}, "Probable devices per hour"),
        barChart("probable devices per hour", hours.buckets.slice(-48), hours.step_s,
          [{ key: "probable_devices", name: "probable devices" }]),
        h("p", { class: "muted" }, "Randomized MACs grouped into the devices that sent them: ",
          "each device counted once however many MACs it used.")),
    );
  }
  recent.append(devicesTable(all.devices), h("p", {}, h("a", { href: "#/devices" }, "All devices →")));
  topSsids.append(ranking instanceof Error ? problem(ranking) : ranking.ssids.length
    ? table([["SSID"], ["Devices", "num"]], ranking.ssids.map((s) => h("tr", {},
      h("td", {}, ssidLink(s.ssid)), h("td", { class: "num" }, number(s.devices)))))
    : h("p", { class: "muted" }, "No SSID probed for yet: only wildcard probes."));
  sensors.append(heard instanceof Error ? problem(heard) : heard.sensors.length
    ? table([["Sensor"], ["Last probe"], ["Probes", "num"], ["Devices", "num"]],
      heard.sensors.map((s) => h("tr", {},
        h("td", {}, s.sensor
          ? h("a", { href: `#/devices?sensor=${encodeURIComponent(s.sensor)}` }, s.sensor)
          : h("span", { class: "muted" }, "(unnamed)")),
        h("td", { class: "nowrap" }, when(s.last_probe)),
        h("td", { class: "num" }, number(s.probes)),
        h("td", { class: "num" }, number(s.devices)))))
    : h("p", { class: "muted" }, "No probe heard yet."));
}

// --- a probable device ------------------------------------------------------------------------

const evidenceText = (e) => `${e.signal} ${Array.isArray(e.value) ? e.value.join(", ") : e.value}${
  e.signal === "timing" ? " s" : e.signal === "rssi" ? " dB" : ""} (${e.strength})`;

async function group(id) {
  const g = await api(`/groups/${encodeURIComponent(id)}`);
  const facts = [
    ["MACs", number(g.macs)],
    ["Probes", number(g.probe_count)],
    ["First seen", when(g.first_seen)],
    ["Last seen", when(g.last_seen)],
    ["Fingerprint", h("span", { class: "mac" }, g.fingerprint || "–")],
    ["Randomized", g.randomized ? "every MAC" : "not all MACs"],
    ["Counted as a device", g.in_doubt ? `no: its first scan fitted ${g.doubt_with.join(", ")} alike` : "yes"],
    ["SSIDs", g.ssids.length ? g.ssids.join(", ") : "only wildcard probes"],
  ];
  const rows = g.members.map((m) => h("tr", { "data-mac": m.mac },
    h("td", {}, deviceLink(m.mac)),
    h("td", { class: "nowrap" }, when(m.first_seen)),
    h("td", { class: "nowrap" }, when(m.last_seen)),
    h("td", { class: "num" }, number(m.probe_count)),
    h("td", {}, m.joined_by
      ? [h("b", {}, `${m.joined_by.kind} (${m.joined_by.strength})`), " after ", h("span", { class: "mac" }, m.joined_by.follows),
        ": ", m.joined_by.evidence.filter((e) => e.signal !== "fingerprint").map(evidenceText).join("; ")]
      : h("span", { class: "muted" }, "began the group"))));
  view.replaceChildren(
    h("h1", {}, "Probable device ", h("span", { class: "mac" }, g.group)),
    h("div", { class: "panel" }, h("dl", { class: "stats", id: "group-facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    h("div", { class: "panel" }, h("h2", {}, "Its MACs, and what linked each"),
      table([["MAC"], ["First seen"], ["Last seen"], ["Probes", "num"], ["Linked by"]], rows, { id: "group-members" }),
      g.earlier_macs ? h("p", { class: "muted" }, `and ${number(g.earlier_macs)} MACs heard earlier`) : null),
  );
}

const FILTERS = [
  ["sort", "Sort", "select", ["last_seen", "probe_count", "first_seen", "rssi"]],
  ["order", "Order", "select", ["", "desc", "asc"]],
  ["name", "Name contains", "text"],
  ["ssid", "Probed for SSID", "text"],
  ["vendor", "Vendor", "text"],
  ["sensor", "Sensor", "text"],
  ["randomized", "Randomized", "select", ["", "true", "false"]],
  ["min_rssi", "Signal ≥ (dBm)", "number"],
  ["since", "Seen since", "text"],
  ["until", "Seen until", "text"],
  ["limit", "Per page", "select", ["50", "20", "100", "500"]],
];

async function devices(params) {
  const form = h("form", { class: "filters", id: "filters" },
    FILTERS.map(([name, label, kind, options]) => h("label", {}, label,
      kind === "select"
        ? h("select", { name }, options.map((o) => h("option", { value: o, selected: params.get(name) === o }, o || "any")))
        : h("input", { name, type: kind, value: params.get(name) || "", placeholder: name === "since" || name === "until" ? "2024-03-31T12:00:00Z" : "" }))),
    h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value !== "") chosen.set(key, value);
    location.hash = `#/devices?${chosen}`;
  });
  const summary = h("p", { class: "muted", id: "list-summary" });
  const list = h("div");
  const pager = h("div", { class: "pager" });
  view.replaceChildren(h("h1", {}, "Devices"), form, summary, list, pager);
  const shown = async () => {
    const answer = await api(`/devices?${params}`);
    summary.textContent = `${number(answer.count)} matching device${answer.count === 1 ? "" : "s"}`;
    list.replaceChildren(devicesTable(answer.devices));
    pager.replaceChildren();
    if (params.get("cursor")) {
      pager.append(h("button", { class: "plain", type: "button", onclick: () => history.back() }, "← Previous"));
    }
    if (answer.next_cursor) {
      const next = new URLSearchParams(params);
      next.set("cursor", answer.next_cursor);
      pager.append(h("a", { href: `#/devices?${next}`, id: "next-page" }, "Next page →"));
    }
  };
  try {
    await shown();
  } catch (err) {
    summary.replaceWith(problem(err));
    return;
  }
  if (!params.get("cursor")) every(REFRESH_MS, () => shown().catch(() => {}));
}

async function device(mac) {
  const [stats, activity] = await Promise.all([
    api(`/devices/${encodeURIComponent(mac)}`),
    api(`/devices/${encodeURIComponent(mac)}/activity`).catch((err) => err),
  ]);
  const nameInput = h("input", { name: "name", value: stats.name || "", maxlength: 64, "aria-label": "Name" });
  const nameState = h("span", { class: "muted" });
  const nameForm = h("form", { id: "name-form" }, nameInput, " ", h("button", { type: "submit" }, "Save name"));
  nameForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    try {
      const path = `/devices/${encodeURIComponent(stats.mac)}/name`;
      const answer = name
        ? await api(path, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) })
        : await api(path, { method: "DELETE" });
      nameState.textContent = answer.name ? ` saved: ${answer.name}` : " name removed";
    } catch (err) {
      nameState.textContent = ` ${err.message}`;
    }
  });
  nameForm.append(nameState);
  const facts = [
    ["Name", nameForm],
    ["Vendor", stats.vendor || "unknown"],
    ["Randomized MAC", stats.randomized ? "yes" : "no"],
    ["Probes", number(stats.probe_count)],
    ["First seen", when(stats.first_seen)],
    ["Last seen", when(stats.last_seen)],
    ["Signal", stats.rssi_last_dbm === null ? "–" : `${stats.rssi_last_dbm} dBm last, ${stats.rssi_min_dbm} to ${stats.rssi_max_dbm} dBm, average ${stats.rssi_avg_dbm}`],
    ["Frequency", stats.freq_mhz_last ? `${stats.freq_mhz_last} MHz` : "–"],
    ["Fingerprint", h("span", { class: "mac" }, stats.ie_fingerprint || "–")],
    ["Probable device", stats.group
      ? h("span", { id: "device-group" }, h("a", { class: "mac", href: `#/group/${encodeURIComponent(stats.group)}` }, stats.group),
        stats.group_in_doubt ? h("span", { class: "muted" }, " (in doubt: not counted)") : null)
      : h("span", { class: "muted", id: "device-group" }, "not decided yet")],
    ["Sensors", (stats.sensors || []).join(", ") || "–"],
    ["Wildcard probes", number(stats.wildcard_probes)],
  ];
  const ssids = h("ul", { id: "device-ssids" }, stats.ssids.map((s) => h("li", {}, ssidLink(s))));
  const charts = h("div", { class: "panels" });
  view.replaceChildren(
    h("h1", {}, "Device ", h("span", { class: "mac" }, stats.mac)),
    h("div", { class: "panels" },
      h("div", { class: "panel" }, h("dl", { class: "stats" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
      h("div", { class: "panel" }, h("h2", {}, `SSIDs (${stats.unique_ssids}${stats.ssids_truncated ? ", more not kept" : ""})`),
        stats.ssids.length ? ssids : h("p", { class: "muted" }, "Only wildcard probes."))),
    charts,
  );
  if (activity instanceof Error) {
    charts.append(h("div", { class: "panel" }, problem(activity)));
    return;
  }
  for (const [key, title] of [["minutes", "the last hour"], ["hours", "the last week"], ["days", "by day"]]) {
    const series = activity[key];
    if (!series.buckets.some((b) => b.probes)) continue;
    charts.append(
      h("div", { class: "panel chart", id: `activity-${key}` }, h("h2", {}, `Probes, ${title}`),
        barChart(`probes per ${series.resolution}`, series.buckets, series.step_s, [{ key: "probes", name: "probes" }])),
      h("div", { class: "panel chart", id: `signal-${key}` }, h("h2", {}, `Signal, ${title}`),
        signalChart(`signal per ${series.resolution}`, series.buckets, series.step_s)),
    );
  }
}

async function ssid(name) {
  const answer = await api(`/ssids/${encodeURIComponent(name)}`);
  view.replaceChildren(
    h("h1", {}, "SSID ", h("q", {}, answer.ssid)),
    h("p", { class: "muted" }, `${number(answer.device_count)} devices probed for it ${number(answer.probe_count)} times`,
      answer.devices_truncated ? " (the busiest are listed)" : ""),
    table([["MAC"], ["Probes for it", "num"], ["Last probe for it"]],
      answer.devices.map((d) => h("tr", {}, h("td", {}, deviceLink(d.mac)), h("td", { class: "num" }, number(d.probe_count)),
        h("td", {}, when(new Date(d.last_seen_ts * 1000).toISOString())))), { id: "ssid-devices" }),
  );
}

async function search(params) {
  const q = (params.get("q") || "").trim();
  const mac = asMac(q);
  if (mac) {
    location.replace(`#/device/${mac}`);
    return;
  }
  const byName = await api(`/devices?${new URLSearchParams({ name: q, limit: "50" })}`).catch((err) => err);
  const bySsid = await api(`/ssids/${encodeURIComponent(q)}`).catch((err) => err);
  view.replaceChildren(
    h("h1", {}, "Search ", h("q", {}, q)),
    h("h2", {}, "Devices whose name contains it"),
    byName instanceof Error ? problem(byName) : byName.devices.length ? devicesTable(byName.devices) : h("p", { class: "muted" }, "None."),
    h("h2", {}, "The SSID"),
    bySsid instanceof Error || !bySsid.device_count
      ? h("p", { class: "muted" }, "No device probed for an SSID named so.")
      : h("p", {}, ssidLink(q), ` — ${number(bySsid.device_count)} devices probed for it`),
  );
}

// An event stream cannot tell a refused token from a lost connection: a cheap read that needs
// the same token can (a 401 shows the login form).
const checkToken = () => api("/cluster?scope=local");

async function live() {
  await checkToken();
  const probes = h("tbody");
  const alerts = h("tbody");
  const state = h("p", { class: "muted", id: "live-state" }, "Connecting…");
  view.replaceChildren(
    h("h1", {}, "Live"), state,
    h("div", { class: "panels" },
      h("div", { class: "panel feed" }, h("h2", {}, "Probes"),
        h("table", { id: "live-probes" }, h("thead", {}, h("tr", {}, ["Time", "MAC", "SSID", "Signal", "Sensor"].map((t) => h("th", {}, t)))), probes)),
      h("div", { class: "panel feed" }, h("h2", {}, "Alerts"),
        h("table", { id: "live-alerts" }, h("thead", {}, h("tr", {}, ["Time", "MAC", "Name", "SSID", "Reason"].map((t) => h("th", {}, t)))), alerts))),
  );
  const follow = (path, body, row) => {
    const source = new EventSource(path);
    source.onopen = () => { state.textContent = "Following new probes and alerts as they arrive."; };
    source.onerror = () => {
      state.textContent = "Connection lost; reconnecting…";
      checkToken().catch(() => {});
    };
    source.onmessage = (message) => {
      body.prepend(row(JSON.parse(message.data)));
      while (body.children.length > LIVE_ROWS) body.lastChild.remove();
    };
    cleanups.push(() => source.close());
  };
  const time = (ts) => new Date(ts * 1000).toISOString().slice(11, 19);
  follow("/stream/probes", probes, (p) => h("tr", {}, h("td", {}, time(p.ts)), h("td", {}, deviceLink(p.mac)),
    h("td", {}, p.ssid ? ssidLink(p.ssid) : h("span", { class: "muted" }, "wildcard")),
    h("td", { class: "num" }, p.rssi_dbm === null ? "–" : `${p.rssi_dbm} dBm`), h("td", {}, p.sensor)));
  follow("/stream/alerts", alerts, (a) => h("tr", { class: "alert-row" }, h("td", {}, time(a.ts)), h("td", {}, deviceLink(a.mac)),
    h("td", {}, a.name || ""), h("td", {}, ssidLink(a.ssid)), h("td", {}, a.reason || "")));
}

async function watchlist() {
  const answer = await api("/watchlist");
  const ssidInput = h("input", { name: "ssid", required: true, maxlength: 32, placeholder: "SSID", "aria-label": "SSID" });
  const reasonInput = h("input", { name: "reason", maxlength: 200, placeholder: "why (optional)", "aria-label": "Reason" });
  const state = h("span", { class: "muted" });
  const form = h("form", { class: "filters", id: "watch-form" }, ssidInput, reasonInput, h("button", { type: "submit" }, "Watch"), state);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`/watchlist/${encodeURIComponent(ssidInput.value)}`, {
        method: "PUT", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ reason: reasonInput.value.trim() || null }),
      });
      await watchlist();
    } catch (err) {
      state.textContent = ` ${err.message}`;
    }
  });
  const unwatch = (ssidName) => async () => {
    await api(`/watchlist/${encodeURIComponent(ssidName)}`, { method: "DELETE" }).catch(() => {});
    await watchlist();
  };
  view.replaceChildren(
    h("h1", {}, "Watch list"),
    h("p", { class: "muted" }, "A probe for a watched SSID raises an alert (Live, the bot, /stream/alerts)."),
    form,
    answer.watchlist.length
      ? table([["SSID"], ["Reason"], [""]], answer.watchlist.map((w) => h("tr", {}, h("td", {}, ssidLink(w.ssid)),
        h("td", {}, w.reason || ""), h("td", {}, h("button", { class: "plain", type: "button", onclick: unwatch(w.ssid) }, "Stop watching")))),
      { id: "watch-table" })
      : h("p", { class: "muted" }, "No SSID is watched."),
  );
}

async function cluster() {
  const answer = await api("/cluster");
  // The probes topic's name (with the deployment's prefix) is the one its lag is reported for.
  const topics = new Set(answer.workers.flatMap((w) => Object.keys(w.probes_lag).map((tp) => tp.replace(/:\d+$/, ""))));
  const probesOf = (byTopic) => Object.entries(byTopic).filter(([t]) => topics.has(t)).flatMap(([, p]) => p);
  view.replaceChildren(
    h("h1", {}, "Cluster"),
    h("p", { class: "muted" }, `${answer.workers.length} worker${answer.workers.length === 1 ? "" : "s"}, ${answer.partitions} partitions`),
    table([["Worker"], ["Role"], ["Probe partitions"], ["Standby partitions"], ["Lag (probes)", "num"], ["State"]],
      answer.workers.map((w) => h("tr", {},
        h("td", {}, w.worker),
        h("td", {}, w.leader ? "leader" : ""),
        h("td", {}, probesOf(w.active).join(", ") || "–"),
        h("td", {}, probesOf(w.standby).join(", ") || "–"),
        h("td", { class: "num" }, number(Object.values(w.probes_lag).reduce((a, b) => a + (b || 0), 0))),
        h("td", {}, w.recovering ? "recovering" : w.rebalancing ? "rebalancing" : "serving"))),
      { id: "cluster-table" }),
  );
}

// --- logging in ------------------------------------------------------------------------------

// Asked for when the API answers 401. The token goes to POST /login, which keeps it in an
// HttpOnly cookie: it never sits in the page's storage or in a URL.
function showLogin(reason) {
  if (document.getElementById("login")) return;
  for (const cleanup of cleanups.splice(0)) cleanup();
  const message = h("p", { class: "error", id: "login-error" });
  const form = h("form", { id: "login" },
    h("label", { for: "login-token" }, "API token"), " ",
    h("input", { id: "login-token", name: "token", type: "password", autocomplete: "current-password", required: true }),
    " ", h("button", { type: "submit" }, "Log in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token: form.elements.token.value.trim() }),
    });
    if (response.ok) {
      route();
    } else {
      const body = await response.json().catch(() => null);
      message.textContent = (body && body.error) || `login answered ${response.status}`;
    }
  });
  view.replaceChildren(h("h1", {}, "Log in"),
    h("p", { class: "muted" }, reason || "This API asks for a token.",
      " Make one with ", h("code", {}, "probewatch tokens create --role read"), "."),
    form, message);
  form.elements.token.focus();
}

async function logOut() {
  await fetch("/logout", { method: "POST" });
  location.reload();
}

// --- routing ---------------------------------------------------------------------------------

const ROUTES = [
  [/^\/?$/, "overview", () => overview()],
  [/^\/devices$/, "devices", (m, params) => devices(params)],
  [/^\/device\/(.+)$/, "devices", (m) => device(decodeURIComponent(m[1]))],
  [/^\/ssid\/(.+)$/, "devices", (m) => ssid(decodeURIComponent(m[1]))],
  [/^\/group\/(.+)$/, "devices", (m) => group(decodeURIComponent(m[1]))],
  [/^\/search$/, "devices", (m, params) => search(params)],
  [/^\/live$/, "live", () => live()],
  [/^\/watchlist$/, "watchlist", () => watchlist()],
  [/^\/cluster$/, "cluster", () => cluster()],
];

async function route() {
  for (const cleanup of cleanups.splice(0)) cleanup();
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  for (const [pattern, tab, draw] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.view === tab);
    try {
      await draw(match, params);
    } catch (err) {
      if (err.status === 401) return; // the login form is shown
      view.replaceChildren(h("h1", {}, err.status === 404 ? "Not found" : "Something went wrong"), problem(err));
    }
    return;
  }
  view.replaceChildren(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the overview")));
}

document.getElementById("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = event.target.elements.q.value.trim();
  if (q) location.hash = `#/search?${new URLSearchParams({ q })}`;
});
document.getElementById("worker").textContent = `served by ${location.host}`;
document.getElementById("logout").addEventListener("click", logOut);
window.addEventListener("hashchange", route);
route();
