// chestsim inspector: one script for the live page (served by `chestsim listen` under /_chestsim/)
// and for the report file (`chestsim inspect --html`). Live, the server filters and pages; a report
// carries its records. Everything shown is set as text, never parsed as markup: webhook bodies are
// whatever a sender chose to send.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("chestsim-data").textContent);
  const LIVE = DATA.mode === "live";
  let VERDICTS = [];            // the listener's own list, from the summary or the report
  // Rows kept in the list while live rows arrive; older ones come back with "older deliveries".
  // (A test sets a small window.chestsimMaxRows before the page loads.)
  const MAX_ROWS = window.chestsimMaxRows || 1000;
  const WINDOW = 120;           // seconds in the live chart
  const $ = (id) => document.getElementById(id);

  const state = {
    filters: { type: "", verdict: "", q: "" },
    last: 0,                    // newest seq the counters include (live)
    older: null,                // the "before" of the next page
    matching: 0,
    shown: new Set(),
    selected: null,
    counts: { total: 0, by_verdict: {}, by_type: {} },
    seconds: new Map(),         // live chart: unix second -> {verdict: n}
    timeline: null,             // report chart
    feed: null,
    generation: 0,              // bumps on every filter change; late answers of older ones are dropped
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    return node;
  }
  function setStatus(text, kind) {
    const badge = $("status");
    badge.textContent = text;
    badge.className = "badge " + (kind || "");
  }
  function when(seconds) {
    if (typeof seconds !== "number") return "-";
    return new Date(seconds * 1000).toISOString().slice(11, 23);
  }
  function ms(value) {
    if (typeof value !== "number") return null;
    return value < 10 ? value.toFixed(2) + " ms" : value.toFixed(1) + " ms";
  }
  function latencyText(row) {
    const own = ms(row.handling_ms);
    const injected = ms(row.latency_ms);
    return (own || "-") + (injected ? " + " + injected : "");
  }

  // -- data sources ------------------------------------------------------------------------------

  async function getJson(url) {
    const response = await fetch(url, { cache: "no-store" });
    const doc = await response.json();
    if (!response.ok) throw new Error(doc.error || ("HTTP " + response.status));
    return doc;
  }
  function query(extra) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
    for (const [name, value] of Object.entries(extra || {})) if (value !== null && value !== undefined) params.set(name, value);
    return params.toString();
  }
  function matches(record) {   // the report's filter: the same rules as the server's SQL
    const f = state.filters;
    if (f.type && record.event_type !== f.type) return false;
    if (f.verdict && record.verdict !== f.verdict) return false;
    if (f.q) return [record.webhook_id, record.event_id, record.tenant_id].some((v) => typeof v === "string" && v.includes(f.q));
    return true;
  }
  async function fetchPage(before) {
    if (LIVE) return getJson("api/records?" + query({ before: before, limit: 100 }));
    const all = DATA.records.filter(matches);              // newest first, as the server pages
    const start = before === null ? 0 : all.findIndex((r) => r.seq < before);
    const slice = start < 0 ? [] : all.slice(start, start + 100);
    const older = start >= 0 && start + 100 < all.length ? slice[slice.length - 1].seq : null;
    return { records: slice, older: older, matching: all.length };
  }
  async function fetchRecord(seq) {
    if (LIVE) return getJson("api/records/" + encodeURIComponent(seq));
    return DATA.records.find((r) => r.seq === seq) || null;
  }

  // -- counters and chart ------------------------------------------------------------------------

  function addCounts(delta) {
    const c = state.counts;
    c.total += delta.total;
    for (const [k, n] of Object.entries(delta.by_verdict)) c.by_verdict[k] = (c.by_verdict[k] || 0) + n;
    for (const [k, n] of Object.entries(delta.by_type)) c.by_type[k] = (c.by_type[k] || 0) + n;
  }
  function addSeconds(timeline) {
    for (const [index, verdict, n] of timeline.counts) {
      const second = Math.floor(timeline.start + index * timeline.width);
      const slot = state.seconds.get(second) || {};
      slot[verdict] = (slot[verdict] || 0) + n;
      state.seconds.set(second, slot);
    }
  }
  function renderCounters() {
    const box = $("counters");
    box.replaceChildren();
    const total = el("div", { class: "counter", "data-verdict": "", title: "every delivery" }, el("b", {}, state.counts.total), "total");
    box.append(total);
    const known = VERDICTS.concat(Object.keys(state.counts.by_verdict).filter((v) => !VERDICTS.includes(v)));
    for (const verdict of known) {
      const n = state.counts.by_verdict[verdict];
      if (!n) continue;
      box.append(el("div", { class: "counter v-" + verdict, "data-verdict": verdict, title: "show only " + verdict },
        el("b", {}, n), verdict));
    }
  }
  function bucketsForChart() {
    if (LIVE) {
      const now = Math.floor(Date.now() / 1000);
      const out = [];
      for (let s = now - WINDOW + 1; s <= now; s++) out.push(state.seconds.get(s) || {});
      for (const s of state.seconds.keys()) if (s <= now - WINDOW) state.seconds.delete(s);
      return { buckets: out, width: 1, start: now - WINDOW + 1 };
    }
    const t = state.timeline;
    const size = t.counts.length ? Math.max(...t.counts.map((c) => c[0])) + 1 : 0;
    const out = Array.from({ length: size }, () => ({}));
    for (const [index, verdict, n] of t.counts) out[index][verdict] = (out[index][verdict] || 0) + n;
    return { buckets: out, width: t.width, start: t.start };
  }
  function renderChart() {
    const chart = $("chart");
    const { buckets, width, start } = bucketsForChart();
    const n = Math.max(buckets.length, 1);
    const totals = buckets.map((b) => Object.values(b).reduce((a, x) => a + x, 0));
    const peak = Math.max(1, ...totals);
    chart.setAttribute("viewBox", `0 0 ${n * 10} 100`);
    chart.replaceChildren();
    buckets.forEach((bucket, i) => {
      let y = 100;
      for (const verdict of VERDICTS.concat(Object.keys(bucket).filter((v) => !VERDICTS.includes(v)))) {
        const count = bucket[verdict];
        if (!count) continue;
        const h = (count / peak) * 96;
        y -= h;
        const rect = svg("rect", { x: i * 10 + 1, y: y, width: 8, height: h, class: "v-" + verdict });
        const title = svg("title", {});
        title.textContent = `${when(start + i * width)}: ${count} ${verdict}`;
        rect.append(title);
        chart.append(rect);
      }
    });
    const rate = (total) => (total / width).toFixed(total / width < 10 ? 1 : 0);
    let caption;
    if (LIVE) {
      const recent = totals.slice(-6, -1).reduce((a, x) => a + x, 0) / 5;
      caption = `last ${WINDOW} s, one bar a second · now ${recent.toFixed(1)}/s · peak ${peak}/s`;
    } else {
      caption = `${buckets.length} bars of ${width} s from ${new Date(start * 1000).toISOString().replace(".000", "")} · peak ${rate(peak)}/s`;
    }
    $("chart-caption").textContent = caption + " · colours are verdicts";
  }

  // -- the list ----------------------------------------------------------------------------------

  function rowFor(record, fresh) {
    const verdict = el("td", {}, el("span", { class: "v v-" + record.verdict }, record.verdict));
    if (record.reason) verdict.append(el("span", { class: "reason", title: record.reason }, record.reason));
    const flags = [record.duplicate ? "duplicate" : null, record.out_of_order ? "out of order" : null,
      record.fault ? "fault " + record.fault : null].filter(Boolean);
    if (flags.length) verdict.append(el("span", { class: "reason" }, "(" + flags.join(", ") + ")"));
    const tr = el("tr", { tabindex: "0", "data-seq": record.seq, class: fresh ? "fresh" : null },
      el("td", { class: "mono" }, when(record.received_at)),
      el("td", {}, record.event_type || "-"),
      verdict,
      el("td", { class: "mono" }, record.status || "none"),
      el("td", { class: "mono" }, latencyText(record)),
      el("td", { class: "mono", title: record.webhook_id || "" }, record.webhook_id || "-"));
    if (state.selected === record.seq) tr.classList.add("selected");
    return tr;
  }
  function addRows(records, where, fresh) {
    const body = $("rows");
    const made = [];
    for (const record of records) {
      if (state.shown.has(record.seq)) continue;
      state.shown.add(record.seq);
      made.push(rowFor(record, fresh));
    }
    if (where === "top") {
      body.prepend(...made);
      // Live rows keep the page light: the oldest go, and "older deliveries" brings them back
      // (rows asked for with that button stay: the reader wanted them).
      let trimmed = false;
      while (body.rows.length > MAX_ROWS) {
        const gone = body.rows[body.rows.length - 1];
        state.shown.delete(Number(gone.dataset.seq));
        gone.remove();
        trimmed = true;
      }
      if (trimmed) state.older = Number(body.rows[body.rows.length - 1].dataset.seq);
    } else {
      body.append(...made);
    }
    $("empty").hidden = body.rows.length > 0;
  }
  function renderMatching() {
    const shown = $("rows").rows.length;
    let text = `${state.matching} matching`;
    if (!LIVE && DATA.records.length < DATA.matching) {
      text += ` in this report (the newest ${DATA.records.length} of ${DATA.matching} in the file)`;
    } else if (shown < state.matching) {
      text += `, ${shown} shown`;
    }
    $("matching").textContent = text;
    $("older").hidden = state.older === null;
  }
  async function reload() {
    const generation = ++state.generation;
    try {
      const page = await fetchPage(null);
      if (generation !== state.generation) return;
      state.shown.clear();
      $("rows").replaceChildren();
      state.older = page.older;
      state.matching = page.matching;
      addRows(page.records, "bottom", false);
      renderMatching();
      if (LIVE) connect();
    } catch (error) {
      setStatus("could not load: " + error.message, "down");
    }
  }
  async function loadOlder() {
    if (state.older === null) return;
    const generation = state.generation;
    try {
      const page = await fetchPage(state.older);
      if (generation !== state.generation) return;
      state.older = page.older;
      addRows(page.records, "bottom", false);
      renderMatching();
    } catch (error) {
      setStatus("could not load: " + error.message, "down");
    }
  }

  // -- the live feed -----------------------------------------------------------------------------

  function connect() {
    if (state.feed) state.feed.close();
    const feed = new EventSource("api/feed?" + query({ after: state.last }));
    state.feed = feed;
    feed.addEventListener("open", () => setStatus("live", "live"));
    feed.addEventListener("error", () => {
      // CLOSED: refused (too many live views, or not a name of this machine); else it retries.
      if (feed.readyState === EventSource.CLOSED) setStatus("live updates stopped; reload to retry", "down");
      else setStatus("reconnecting…", "down");
    });
    feed.addEventListener("update", (message) => {
      if (feed !== state.feed) return;
      const update = JSON.parse(message.data);
      state.last = update.last;
      addCounts(update.counts);
      addSeconds(update.timeline);
      state.matching += update.matched;
      addRows(update.records, "top", true);
      renderCounters();
      renderChart();
      renderMatching();
    });
  }

  // -- the detail pane ---------------------------------------------------------------------------

  function escapeToken(key) { return key.replace(/~/g, "~0").replace(/\//g, "~1"); }

  function renderJson(value, pointer, depth, into, nodes) {
    const span = el("span", { "data-pointer": pointer });
    nodes.set(pointer, span);
    const pad = "  ".repeat(depth + 1);
    const close = "  ".repeat(depth);
    if (Array.isArray(value)) {
      if (!value.length) span.append("[]");
      else {
        span.append("[\n");
        value.forEach((item, i) => {
          span.append(pad);
          renderJson(item, pointer + "/" + i, depth + 1, span, nodes);
          span.append(i < value.length - 1 ? ",\n" : "\n");
        });
        span.append(close + "]");
      }
    } else if (value !== null && typeof value === "object") {
      const keys = Object.keys(value);
      if (!keys.length) span.append("{}");
      else {
        span.append("{\n");
        keys.forEach((key, i) => {
          span.append(pad, el("span", { class: "k" }, JSON.stringify(key)), ": ");
          renderJson(value[key], pointer + "/" + escapeToken(key), depth + 1, span, nodes);
          span.append(i < keys.length - 1 ? ",\n" : "\n");
        });
        span.append(close + "}");
      }
    } else {
      span.className = value === null ? "null" : typeof value;
      span.textContent = JSON.stringify(value);
    }
    into.append(span);
  }
  function nodeFor(pointer, nodes) {
    // A problem about a missing member points at it; show the closest part that exists.
    let p = pointer === "/" ? "" : (pointer || "");
    while (!nodes.has(p) && p) p = p.slice(0, p.lastIndexOf("/"));
    return nodes.get(p) || null;
  }
  function fact(list, name, value) {
    if (value === null || value === undefined || value === "") return;
    list.append(el("dt", {}, name), el("dd", {}, value));
  }
  function signatureText(record) {
    if (record.signature === "ok") return el("span", { class: "ok" }, "verified ✓");
    if (record.signature === "unchecked") return el("span", { class: "masked" }, "not checked (the listener has no --secret)");
    if (record.signature === "token") return el("span", { class: "bad" }, "not verified: missing or wrong bearer token");
    return el("span", { class: "bad" }, "not verified: " + record.signature);
  }
  function renderDetail(record) {
    $("detail").hidden = false;
    $("d-title").replaceChildren(record.event_type || "(no event type)", " ",
      el("span", { class: "v v-" + record.verdict }, record.verdict), " ", el("span", { class: "reason" }, "HTTP " + (record.status || "none")));
    const facts = $("d-facts");
    facts.replaceChildren();
    fact(facts, "received", new Date(record.received_at * 1000).toISOString());
    fact(facts, "reason", record.reason);
    fact(facts, "signature", signatureText(record));
    fact(facts, "webhook-id", record.webhook_id);
    fact(facts, "event id", record.event_id);
    fact(facts, "tenant", record.tenant_id);
    fact(facts, "event time", record.event_time);
    fact(facts, "latency", `${ms(record.handling_ms) || "-"} handling by the listener` +
      (record.latency_ms ? `; ${ms(record.latency_ms)} injected before answering (--latency)` : "; none injected"));
    fact(facts, "attempt", record.attempt > 1 ? `${record.attempt}${record.duplicate ? " (already acknowledged: a duplicate)" : ""}` : null);
    fact(facts, "order", record.out_of_order ? "out of order (older than an event of this tenant seen before)" : null);
    fact(facts, "fault", record.fault);
    fact(facts, "request", `${record.method || ""} ${record.path || ""} from ${record.remote || "?"}, ${record.body_size} bytes`);

    const headers = $("d-headers");
    headers.replaceChildren();
    for (const [name, value] of Object.entries(record.headers || {})) {
      let shown;
      if (value === "[redacted]") {
        shown = el("span", { class: "masked" }, name === "authorization" ? "Bearer •••••••• (token masked)" : "•••••••• (masked)");
      } else shown = value;
      const row = el("tr", {}, el("td", {}, name), el("td", {}, shown));
      if (name === "webhook-signature") row.append(el("td", {}, signatureText(record)));
      headers.append(row);
    }

    const nodes = new Map();
    const body = $("d-body");
    body.replaceChildren();
    if (record.body !== null && record.body !== undefined) renderJson(record.body, "", 0, body, nodes);
    else if (record.body_text !== null && record.body_text !== undefined) body.textContent = record.body_text;
    else body.append(el("span", { class: "masked" }, "(no body kept: refused before reading, or masked whole)"));

    const problems = $("d-problems");
    problems.replaceChildren();
    $("d-problems-title").textContent = record.problems.length ? `problems (${record.problems.length})` : "problems: none";
    for (const problem of record.problems) {
      const node = nodeFor(problem.pointer, nodes);
      if (node) { node.classList.add("hl"); node.title = problem.message; }
      const item = el("li", { "data-pointer": problem.pointer },
        el("span", { class: problem.severity === "error" ? "bad" : "masked" }, problem.severity), " ",
        problem.code, " at ", el("code", {}, problem.pointer || "/"), ": ", problem.message);
      item.addEventListener("click", () => {
        if (!node) return;
        node.scrollIntoView({ block: "center" });
        node.classList.add("flash");
        setTimeout(() => node.classList.remove("flash"), 800);
      });
      problems.append(item);
    }
  }
  async function select(seq) {
    state.selected = seq;
    for (const row of $("rows").querySelectorAll("tr.selected")) row.classList.remove("selected");
    const row = $("rows").querySelector(`tr[data-seq="${seq}"]`);
    if (row) row.classList.add("selected");
    try {
      const record = await fetchRecord(seq);
      if (state.selected !== seq) return;
      if (record) renderDetail(record);
    } catch (error) {
      setStatus("could not load the delivery: " + error.message, "down");
    }
  }

  // -- wiring ------------------------------------------------------------------------------------

  function fillSelect(select, values) {
    for (const value of values) select.append(el("option", { value: value }, value));
  }
  function readFilters() {
    state.filters = { type: $("f-type").value, verdict: $("f-verdict").value, q: $("f-text").value.trim() };
  }
  let typing = null;
  $("f-type").addEventListener("change", () => { readFilters(); reload(); });
  $("f-verdict").addEventListener("change", () => { readFilters(); reload(); });
  $("f-text").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { readFilters(); reload(); }, 250);
  });
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); readFilters(); reload(); });
  $("counters").addEventListener("click", (event) => {
    const counter = event.target.closest(".counter");
    if (!counter) return;
    $("f-verdict").value = counter.dataset.verdict;
    readFilters();
    reload();
  });
  $("rows").addEventListener("click", (event) => {
    const row = event.target.closest("tr");
    if (row) select(Number(row.dataset.seq));
  });
  $("rows").addEventListener("keydown", (event) => {
    const row = event.target.closest("tr");
    if (!row) return;
    if (event.key === "Enter") select(Number(row.dataset.seq));
    if (event.key === "ArrowDown" && row.nextElementSibling) row.nextElementSibling.focus();
    if (event.key === "ArrowUp" && row.previousElementSibling) row.previousElementSibling.focus();
  });
  $("older").addEventListener("click", loadOlder);
  $("close").addEventListener("click", () => { $("detail").hidden = true; state.selected = null; });

  async function start() {
    if (LIVE) {
      setStatus("connecting…");
      try {
        const summary = await getJson("api/summary");
        VERDICTS = summary.verdicts;
        fillSelect($("f-verdict"), VERDICTS);
        $("source").textContent = summary.source.db;
        fillSelect($("f-type"), summary.types);
        state.last = summary.last;
        state.counts = summary.counts;
        addSeconds(summary.timeline);
      } catch (error) {
        setStatus("could not load: " + error.message, "down");
        return;
      }
      setInterval(renderChart, 1000);
    } else {
      $("source").textContent = `${DATA.source.db} · report written ${new Date(DATA.source.written_at * 1000).toISOString().replace(/\.\d+Z$/, "Z")}`;
      setStatus("report (offline)");
      VERDICTS = DATA.verdicts;
      fillSelect($("f-verdict"), VERDICTS);
      fillSelect($("f-type"), DATA.types);
      state.counts = DATA.counts;
      state.timeline = DATA.timeline;
      for (const [name, id] of [["type", "f-type"], ["verdict", "f-verdict"], ["q", "f-text"]]) {
        if (DATA.filters[name]) $(id).value = DATA.filters[name];
      }
      readFilters();
    }
    renderCounters();
    renderChart();
    await reload();
  }
  start();
})();
