// The payroll dashboard: renders the summary embedded in the page, then refetches it from
// /api/dashboard/summary whenever a filter changes (and while chart data is refreshing).
(function () {
  "use strict";
  const dataEl = document.getElementById("dashboard-data");
  const form = document.getElementById("dash-filters");
  if (!dataEl || !form) return;
  const fmt = window.Paydash.fmt;
  const Charts = window.PaydashCharts;
  const $ = (id) => document.getElementById(id);
  let refreshPoll = null;

  const hours = (v) => fmt.num(Math.round(Number(v) * 10) / 10) + " h";
  const people = (v) => fmt.num(v) + (Number(v) === 1 ? " person" : " people");
  const FORMATS = { inr: (v) => fmt.inr(v), num: (v) => fmt.num(v), hours };

  function el(name, className, parent, text) {
    const node = document.createElement(name);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function deltaClass(kpi) {
    if (!kpi.change_pct) return "delta-flat";
    if (kpi.rise_is_good === null) return "delta-neutral";
    return (kpi.change_pct > 0) === kpi.rise_is_good ? "delta-up" : "delta-down";
  }

  function renderKpis(summary) {
    const box = $("dash-kpis");
    box.replaceChildren();
    summary.kpis.forEach((kpi) => {
      const card = el("div", "card kpi kpi-" + kpi.key, box);
      el("div", "kpi-label", card, kpi.label);
      if (kpi.value === null) {
        // A figure the sheet did not have (gross, issue 15): said in words, never shown as 0.
        el("div", "kpi-value kpi-unknown", card, "Not in the sheet");
        el("div", "kpi-delta delta-flat", card, kpi.unknown || "Unknown for this period");
        return;
      }
      // Money totals to the paisa, as on the upload and the month sheet (HR reconciles them).
      const value = el("div", "kpi-value", card, kpi.format === "inr" ? fmt.inr2(kpi.value) : FORMATS[kpi.format](kpi.value));
      if (kpi.format === "inr") value.title = fmt.inr2(kpi.value);
      const delta = el("div", "kpi-delta " + deltaClass(kpi), card);
      if (kpi.unknown) {
        delta.textContent = kpi.unknown;
      } else if (kpi.change_pct === null) {
        delta.textContent = kpi.previous === null ? "No earlier data to compare" : "No change to compare";
      } else {
        const arrow = kpi.change_pct > 0 ? "▲ " : kpi.change_pct < 0 ? "▼ " : "";
        el("strong", "", delta, arrow + Math.abs(kpi.change_pct).toFixed(1) + "%");
        el("span", "muted", delta, " " + (kpi.compare || "vs " + summary.previous.label));
      }
    });
    // The earlier window had months without data: say so, next to the figures it affects.
    if (summary.previous.note) el("p", "muted small kpi-note", box, summary.previous.note);
    const noGross = summary.gross_unknown_months || [];
    if (noGross.length) {
      el("p", "muted small kpi-note", box, "Gross pay is not in the sheet for " + noGross.join(", ") +
        ", so gross and deductions show as unknown there and are left out of their totals and comparisons.").id = "dash-gross-unknown";
    }
  }

  function renderCharts(s) {
    const labels = s.trend.map((p) => p.label);
    // Months whose sheet had no gross leave a gap in the gross line; with no gross at all the
    // chart is of net pay alone, so no bar reads "Gross ₹0".
    const anyGross = s.trend.some((p) => p.gross !== null);
    const trendSeries = [{ name: "Net", values: s.trend.map((p) => p.net), colour: 1 }];
    if (anyGross) trendSeries.unshift({ name: "Gross", values: s.trend.map((p) => p.gross), colour: 0 });
    // Gross and net differ by a few percent: an axis from 0 would draw them as one line.
    Charts.line($("chart-trend"), { title: anyGross ? "Gross vs net pay" : "Net pay (gross not in the sheet)", labels,
      format: fmt.inr, axisFormat: Charts.compactInr, zeroBased: false, yTitle: "₹ a month", series: trendSeries });
    Charts.line($("chart-headcount"), { title: "Headcount", labels, format: people, yTitle: "People", valueFormat: fmt.num,
      series: [{ name: "Headcount", values: s.trend.map((p) => p.headcount), colour: 3 }] });
    const depts = s.by_department;
    // A department without gross in some month has no cost to rank: then every bar is net pay.
    const byNet = depts.some((d) => d.gross === null);
    const cost = (d) => (byNet ? d.net : d.gross);
    // Headcount is written on each row, not hidden in a tooltip touch screens cannot open.
    Charts.hbar($("chart-departments"), { title: byNet ? "Net pay by department (gross not in the sheet)" : "Cost by department",
      labels: depts.map((d) => d.department), values: depts.map(cost), name: byNet ? "Net" : "Gross",
      format: fmt.inr, valueFormat: Charts.compactInr,
      valueText: (i) => (byNet ? "net " : "") + Charts.compactInr(cost(depts[i])) + " · " + people(depts[i].headcount),
      details: depts.map((d) => people(d.headcount) + (byNet ? " · gross not in the sheet" : " · net " + fmt.inr(d.net))) });
    Charts.bar($("chart-bands"), { title: "Salary bands", labels: s.bands.map((b) => b.label),
      axisLabels: s.bands.map((b) => b.short), format: people, valueFormat: fmt.num, yTitle: "People",
      series: [{ name: "Employees", values: s.bands.map((b) => b.count), colour: 1 }] });
    // Departments without overtime are left out: a list of "0 h" rows says nothing.
    const ot = depts.filter((d) => d.ot_hours > 0).sort((a, b) => b.ot_hours - a.ot_hours);
    Charts.hbar($("chart-overtime"), { title: "Overtime by department", labels: ot.map((d) => d.department),
      values: ot.map((d) => d.ot_hours), name: "OT", format: hours, colour: 2, empty: "No overtime in this period.",
      details: ot.map((d) => "OT pay " + fmt.inr(d.ot_pay)) });
    Charts.hbar($("chart-top"), { title: "Top earners", labels: s.top_earners.map((t) => t.rank + ". " + t.name),
      values: s.top_earners.map((t) => t.net), name: "Net", format: fmt.inr, valueFormat: Charts.compactInr, colour: 5,
      details: s.top_earners.map((t) => (t.gross === null ? "Gross not in the sheet" : "Gross " + fmt.inr(t.gross))), empty: s.top_earners_hidden ? "Names and pay of individuals are not shown to platform operators."
        : "No employees in this selection." });
    // The cards' own titles and hints say "gross" too: they say what is drawn when the sheet had none.
    $("chart-trend-title").textContent = anyGross ? "Gross vs net pay" : "Net pay (gross not in the sheet)";
    $("chart-departments-title").textContent = byNet ? "Net pay and headcount by department"
      : "Cost and headcount by department";
    $("chart-trend-hint").textContent = anyGross ? (s.trend.some((p) => p.gross_unknown)
      ? "Monthly payroll cost and what employees were paid; gross is not in the sheet for some months"
      : "Monthly payroll cost and what employees were paid") : "What employees were paid; the sheet has no gross pay";
    $("chart-departments-hint").textContent = (byNet ? "Net pay over the period (gross is not in the sheet)"
      : "Gross pay over the period") + "; headcount in the latest month";
    const detail = " — " + s.detail_month.label;
    $("chart-bands-hint").textContent = "Employees by net pay" + detail;
    $("chart-top-hint").textContent = "Highest net pay" + detail + (s.department ? " · " + s.department : "");
  }

  function renderDepartments(s) {
    const select = $("dash-department");
    const keep = s.department || "";
    const names = s.departments.slice();
    if (keep && !names.includes(keep)) names.push(keep);
    select.replaceChildren(new Option("All departments", ""));
    names.forEach((d) => select.add(new Option(d, d, false, d === keep)));
    select.value = keep;
  }

  function renderMessages(s) {
    const note = $("dash-note");
    note.textContent = s.period.note || "";
    note.hidden = !s.period.note;
    const box = $("dash-refreshing");
    if (s.refreshing.length) {
      const months = s.refreshing.map((r) => new Date(r.year, r.month - 1, 1)
        .toLocaleDateString("en-IN", { month: "short", year: "numeric" }));
      $("dash-refreshing-text").textContent = "Refreshing chart data for " + months.join(", ") +
        ". The figures update by themselves in a few seconds.";
    }
    box.hidden = !s.refreshing.length;
  }

  function render(s) {
    $("dash-subtitle").textContent = s.period.label + (s.department ? " · " + s.department : "");
    renderMessages(s);
    renderDepartments(s);
    const hasData = s.has_data;
    $("dash-empty").hidden = hasData || s.refreshing.length > 0;
    $("dash-body").hidden = !hasData;
    if (hasData) { renderKpis(s); renderCharts(s); }
    if (s.refreshing.length && !refreshPoll) {
      refreshPoll = window.Paydash.poll(async () => {
        const next = await load(false);
        if (next && !next.refreshing.length) { refreshPoll.stop(); refreshPoll = null; return false; }
        return true;
      }, 2000);
    }
  }

  function params() {
    const data = new FormData(form);
    const q = new URLSearchParams();
    const period = data.get("period") || "month";
    if (data.get("tenant")) q.set("tenant", data.get("tenant"));
    if (period === "custom") { q.set("from", data.get("from")); q.set("to", data.get("to")); }
    q.set("period", period);
    if (data.get("department")) q.set("department", data.get("department"));
    return q;
  }

  function showError(message) {
    const note = $("dash-note");
    note.textContent = message;
    note.hidden = false;
    note.classList.add("dash-note-error");
  }

  async function load(pushUrl) {
    const q = params();
    if (q.get("period") === "custom" && (!q.get("from") || !q.get("to"))) return null;
    form.setAttribute("aria-busy", "true");
    try {
      const summary = await window.Paydash.api(form.dataset.api + "?" + q.toString());
      $("dash-note").classList.remove("dash-note-error");
      if (pushUrl) window.history.replaceState(null, "", "?" + q.toString());
      render(summary);
      return summary;
    } catch (err) {
      showError(err.message || "The dashboard could not be loaded. Please try again.");
      return null;
    } finally {
      form.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("change", (event) => {
    if (event.target.name === "period") $("dash-range").hidden = event.target.value !== "custom";
    if (event.target.name === "tenant") form.elements.department.value = "";
    load(true);
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); load(true); });
  document.documentElement.classList.add("js");
  render(JSON.parse(dataEl.textContent));
})();
