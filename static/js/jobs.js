// Job dashboard: live overview, live job detail and workers, progress bar widths (CSP: no inline styles).
(function () {
  "use strict";
  const P = window.Paydash;

  function setWidths(root) {
    root.querySelectorAll(".progress[data-percent]").forEach((bar) => {
      const span = bar.querySelector("span");
      if (span) span.style.width = Math.max(0, Math.min(100, Number(bar.dataset.percent))) + "%";
    });
  }

  function get(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }

  function duration(s) {
    if (s == null) return "—";
    s = Math.round(Number(s));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  function format(value, how) {
    if (how === "text") return value == null ? "" : String(value);
    if (how === "percent") return (Number(value) * 100).toFixed(1) + "%";
    if (how === "duration") return duration(value);
    if (how === "time") return new Date(value).toLocaleTimeString();
    return P.fmt.num(value);
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text != null) node.textContent = text;
    return node;
  }

  function badge(state) {
    return el("span", { class: "badge badge-" + state }, state === "WORKER_LOST" ? "WORKER LOST" : state);
  }

  // The `progress` macro of templates/jobs/_macros.html: a bar with done / total, rate and ETA
  // when the total is known, else "N done", else nothing.
  function progressNodes(p) {
    if (p && p.total) {
      const wrap = el("div", { class: "job-progress" });
      const bar = el("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
        "aria-valuenow": String(p.percent || 0), "data-percent": String(p.percent || 0) });
      bar.appendChild(el("span"));
      let text = P.fmt.num(p.done) + " / " + P.fmt.num(p.total);
      if (p.rate) text += " · " + p.rate + "/s";
      if (p.eta_seconds) text += " · ETA " + duration(p.eta_seconds);
      wrap.append(bar, el("span", { class: "small muted" }, text));
      return [wrap];
    }
    if (p && p.done) return [el("span", { class: "small muted" }, P.fmt.num(p.done) + " done")];
    return [];
  }

  function progressCell(p) {
    const cell = el("td");
    cell.append(...progressNodes(p));
    return cell;
  }

  // Every [data-k] under root gets the value at that path of data, formatted by data-format.
  function fill(root, data) {
    root.querySelectorAll("[data-k]").forEach((node) => {
      const value = get(data, node.dataset.k);
      if (value === undefined) return;
      // "Oldest pending" with nothing pending is no age at all, not "0 s".
      const waiting = Object.values(data.pending || {}).reduce((a, b) => a + b, 0);
      node.textContent = node.dataset.format === "pending-age"
        ? (waiting ? duration(value) : "Nothing waiting") : format(value, node.dataset.format);
    });
  }

  // Succeeded and failed jobs per minute (or hour) on a time axis, in the viewer's time zone,
  // drawn by the dashboard's own chart code (static/js/charts.js); totals are written above.
  function drawSeries(box, series, zone) {
    const perHour = box.dataset.series === "per_hour";
    const clock = new Intl.DateTimeFormat("en-IN", perHour
      ? { timeZone: zone, day: "numeric", month: "short", hour: "numeric" }
      : { timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false });
    const labels = series.map((s) => clock.format(new Date(s.at)));
    // Under the hourly bars the axis names the days; each bar's tooltip keeps its hour.
    const day = new Intl.DateTimeFormat("en-IN", { timeZone: zone, day: "numeric", month: "short" });
    const axisLabels = perHour ? series.map((s) => day.format(new Date(s.at))) : labels;
    const ok = series.map((s) => s.completed), bad = series.map((s) => s.failed);
    const total = (xs) => xs.reduce((a, b) => a + b, 0);
    const summary = box.parentElement.querySelector("[data-series-total]");
    if (summary) summary.textContent = P.fmt.num(total(ok)) + " succeeded · " + P.fmt.num(total(bad)) + " failed";
    window.PaydashCharts.bar(box, { title: box.getAttribute("aria-label"), labels, axisLabels, height: 200,
      yTitle: perHour ? "Jobs per hour" : "Jobs per minute", format: (v) => P.fmt.num(v) + " jobs",
      empty: "No jobs finished in this time.",
      series: [{ name: "Succeeded", values: ok, colour: 1 }, { name: "Failed", values: bad, colour: 4 }] });
  }

  // A wait in seconds, to a tenth below ten seconds ("0.4 s"), whole seconds below a minute,
  // then minutes and seconds.
  function wait(s) {
    if (s == null) return "—";
    if (s < 10) return (Math.round(s * 10) / 10) + " s";
    return duration(s);
  }

  // Queue latency: the median and 95th percentile wait of the jobs that started in each
  // minute, on the same time axis as the throughput; minutes in which nothing started are
  // gaps. The axis is in seconds, or in minutes once the waits reach two minutes.
  function drawLatency(box, series, zone, waiting) {
    const clock = new Intl.DateTimeFormat("en-IN", { timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false });
    const started = series.reduce((sum, s) => sum + s.count, 0);
    const summary = box.parentElement.querySelector("[data-latency-summary]");
    const busy = series.filter((s) => s.count);
    if (summary) {
      if (!busy.length) summary.textContent = "No job started in the last hour";
      else {
        const worst = busy.reduce((a, b) => (b.p95 > a.p95 ? b : a));
        const latest = busy[busy.length - 1];
        summary.textContent = P.fmt.num(started) + " jobs started · latest minute (" + clock.format(new Date(latest.at)) +
          "): median " + wait(latest.p50) + ", p95 " + wait(latest.p95) + " · slowest minute (" +
          clock.format(new Date(worst.at)) + "): p95 " + wait(worst.p95) + ", longest " + wait(worst.max);
      }
      // A stalled queue starts nothing, so its wait shows here rather than on the chart.
      if (waiting) summary.textContent += " · oldest still waiting: " + wait(waiting);
    }
    const inMinutes = busy.some((s) => s.p95 >= 120);
    const unit = inMinutes ? 60 : 1;
    const scaled = (key) => series.map((s) => (s.count ? s[key] / unit : null));
    const axisFormat = (v) => P.fmt.num(Math.round(v * 10) / 10) + (inMinutes ? " min" : " s");
    window.PaydashCharts.line(box, { title: box.getAttribute("aria-label"), height: 220,
      labels: busy.length ? series.map((s) => clock.format(new Date(s.at))) : [],
      yTitle: inMinutes ? "Wait, minutes" : "Wait, seconds", axisFormat,
      format: (v) => wait(v * unit), empty: "No job started in the last hour.",
      series: [{ name: "Median", values: scaled("p50"), colour: 0 }, { name: "p95", values: scaled("p95"), colour: 3 }] });
  }

  function renderOverview(root, data) {
    fill(root, data);
    const clock = new Intl.DateTimeFormat("en-IN", { timeZone: root.dataset.tz, timeStyle: "medium" });
    document.querySelectorAll('[data-k="at"]').forEach((n) => { n.textContent = clock.format(new Date(data.at)); });
    const banner = root.querySelector("[data-health]");
    banner.hidden = data.health.ok;
    banner.replaceChildren(...data.health.problems.map((p) => el("p", {}, p)));
    root.querySelectorAll("[data-series]").forEach((box) => drawSeries(box, data[box.dataset.series] || [], root.dataset.tz));
    root.querySelectorAll("[data-latency]").forEach((box) => drawLatency(box, data.latency_per_minute || [], root.dataset.tz,
      data.pending_total ? data.oldest_pending_seconds : 0));
    const detailUrl = root.dataset.detail;
    const running = root.querySelector("[data-running]");
    running.replaceChildren(...(data.running_jobs.length ? data.running_jobs.map((j) => {
      const tr = el("tr"), link = el("a", { class: "mono", href: detailUrl.replace("JOBID", j.id), title: j.id }, j.id.slice(0, 8));
      const first = el("td"); first.appendChild(link);
      const state = el("td"); state.appendChild(badge(j.display_state));
      tr.append(first, el("td", {}, j.task), state, el("td", { class: "mono small" }, j.worker || ""),
        el("td", { class: "num" }, duration(j.timings.running)), progressCell(j.progress));
      return tr;
    }) : [emptyRow(6, "Nothing is running.")]));
    const runtimes = root.querySelector("[data-runtimes]");
    runtimes.replaceChildren(...(data.runtimes.length ? data.runtimes.map((r) => {
      const tr = el("tr");
      tr.append(el("td", {}, r.task), el("td", { class: "num" }, String(r.count)),
        ...["p50", "p95", "p99"].map((q) => el("td", { class: "num" }, r[q] + " s")));
      return tr;
    }) : [emptyRow(5, "No finished runs in the last 24 h.")]));
    setWidths(root);
    P.labelCells(root);
  }

  function emptyRow(cols, text) {
    const tr = el("tr", { class: "empty-row" });
    tr.appendChild(el("td", { colspan: String(cols), class: "muted" }, text));
    return tr;
  }

  function initOverview(root) {
    const seed = document.getElementById("overview-data");
    if (seed) renderOverview(root, JSON.parse(seed.textContent));
    P.poll(async () => { renderOverview(root, await P.api(root.dataset.api)); }, 2000);
  }

  // The detail page's progress, as the template draws it: the bar (or "—"), then the message.
  function renderProgress(box, p) {
    const nodes = progressNodes(p);
    if (!nodes.length) nodes.push(document.createTextNode("—"));
    if (p && p.message) nodes.push(document.createTextNode(" "), el("span", { class: "small muted" }, p.message));
    box.replaceChildren(...nodes);
    setWidths(box);
  }

  function initDetail(root) {
    // Progress, attempts and timings update in place from the light `live` endpoint; the page
    // reloads only when the job's state changes, so every section (result, error) is current.
    if (root.dataset.finished === "true") return;
    P.poll(async () => {
      const data = await P.api(root.dataset.live);
      if (data.job.display_state !== root.dataset.state) { window.location.reload(); return false; }
      fill(root, data.job);
      root.querySelectorAll("[data-progress]").forEach((box) => renderProgress(box, data.job.progress));
      return true;
    }, 2000);
  }

  function initWorkers(root) {
    P.poll(async () => {
      const data = await P.api(root.dataset.api);
      data.workers.forEach((w) => {
        const row = root.querySelector('[data-worker="' + CSS.escape(w.id) + '"]');
        const badgeEl = row && row.querySelector("[data-status]");
        if (badgeEl) { badgeEl.textContent = w.status; badgeEl.className = "badge badge-" + w.status; }
      });
    }, 5000);
  }

  setWidths(document);
  const overview = document.getElementById("jobs-overview");
  if (overview) initOverview(overview);
  const detail = document.getElementById("job-detail");
  if (detail) initDetail(detail);
  const workers = document.getElementById("workers-page");
  if (workers) initWorkers(workers);
})();
