// Shared helpers for every page: CSRF-aware fetch and polling that pauses in hidden tabs.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = meta ? meta.content : "";

  async function api(url, options = {}) {
    const opts = Object.assign({ headers: {} }, options);
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers);
    if (opts.method && opts.method !== "GET") opts.headers["X-CSRFToken"] = csrfToken;
    const response = await fetch(url, opts);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const message = (body && (body.detail || body.error)) || ("Request failed (" + response.status + ")");
      const error = new Error(message); error.status = response.status; error.body = body;
      throw error;
    }
    return body;
  }

  // Calls fn every `ms` while the tab is visible; resumes at once when it becomes visible.
  function poll(fn, ms) {
    let timer = null; let stopped = false;
    async function tick() {
      if (stopped) return;
      if (document.hidden) { timer = null; return; }
      let again = true;
      try { again = (await fn()) !== false; } catch (e) { console.warn(e); }
      if (again && !stopped) timer = setTimeout(tick, ms); else timer = null;
    }
    document.addEventListener("visibilitychange", () => { if (!document.hidden && !timer && !stopped) tick(); });
    tick();
    return { stop() { stopped = true; if (timer) clearTimeout(timer); } };
  }

  const inr = new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR", maximumFractionDigits: 0 });
  const inr2 = new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR", minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const num = new Intl.NumberFormat("en-IN");

  // On a phone a table's rows become cards: each cell shows its column's heading, taken from the
  // table's own <th>s (a cell that already has a data-label keeps it). Call again after
  // redrawing rows.
  function labelCells(root) {
    (root || document).querySelectorAll("table").forEach((table) => {
      const heads = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
      if (!heads.length) return;
      table.querySelectorAll("tbody tr").forEach((tr) => {
        let column = 0;
        Array.from(tr.children).forEach((cell) => {
          if (!cell.hasAttribute("data-label") && heads[column] !== undefined && !cell.hasAttribute("colspan")) {
            cell.setAttribute("data-label", heads[column]);
          }
          column += Number(cell.getAttribute("colspan") || 1);
        });
      });
    });
  }
  labelCells(document);

  window.Paydash = { api, poll, csrfToken, labelCells, fmt: { inr: (v) => inr.format(Number(v)), inr2: (v) => inr2.format(Number(v)), num: (v) => num.format(Number(v)) } };
})();
