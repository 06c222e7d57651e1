// The month's payroll sheet: spreadsheet-like cells, live figures, drafts and save.
// Figures come from PaydashRules (the mirror of paydash/payroll.py); a change recomputes
// only its own row and adjusts the totals by the difference, so 500 rows stay smooth.
(function () {
  "use strict";
  const dataEl = document.getElementById("payroll-data");
  const body = document.getElementById("pm-body");
  if (!dataEl || !body) return;
  const R = window.PaydashRules;
  const view = JSON.parse(dataEl.textContent);
  const urls = document.getElementById("payroll-urls").dataset;
  const locked = urls.locked === "true";
  const FIELDS = R.INPUT_FIELDS.map((f) => f[0]);
  const st = view.rules.statutory || {};
  const OUT = ["paid_days", "salary_for_paid_days", "ot_pay", "late_deduction", "gross", "tds"]
    .concat(st.pf ? ["pf"] : [], st.esi ? ["esi"] : [], st.pt ? ["pt"] : [], ["advance", "net"]);
  const TOTALS = OUT.filter((k) => k !== "paid_days");
  const ZERO = {}; TOTALS.forEach((k) => { ZERO[k] = 0n; });

  const inputs = {};          // employee id -> {field: text}
  const rowPaise = [];        // row index -> {column: BigInt} counted in the totals
  const totals = Object.assign({}, ZERO);
  const flagged = new Map();  // employee id -> variance entry
  const rows = [];            // row index -> {tr, cells: {field: input}, out: {col: td}, emp}

  // --- Draft: the server's, or this browser's when it is newer and different --------------
  let restored = false;
  Object.assign(inputs, view.draft || {});

  function canonical(cells) {
    return JSON.stringify(Object.keys(cells || {}).sort().map((id) =>
      [id, Object.keys(cells[id] || {}).sort().map((f) => [f, String(cells[id][f])])]));
  }

  try {
    const local = JSON.parse(localStorage.getItem(urls.storageKey) || "null");
    const serverAt = view.draft_saved_at ? Date.parse(view.draft_saved_at) : 0;
    // The tab writes its draft on every unload, so a newer local copy that says the same
    // as the server's is no change at all.
    if (local && local.inputs && local.at > serverAt && !locked
        && canonical(local.inputs) !== canonical(inputs)) {
      Object.keys(inputs).forEach((k) => delete inputs[k]);
      Object.assign(inputs, local.inputs);
      restored = true;
    }
  } catch (e) { /* A broken local draft is ignored: the server's draft stands. */ }

  // --- Building the rows ---------------------------------------------------------------
  function td(text, cls) {
    const cell = document.createElement("td");
    if (cls) cell.className = cls;
    if (text !== undefined) cell.textContent = text;
    return cell;
  }

  function buildRow(emp, index) {
    const tr = document.createElement("tr");
    tr.dataset.id = emp.id;
    tr.appendChild(td(emp.code, "code"));
    const name = td(emp.name, "name"); name.title = emp.department; tr.appendChild(name);
    tr.appendChild(td(Paydash.fmt.inr2(emp.monthly_salary), "num"));
    const cells = {};
    FIELDS.forEach((field, col) => {
      const cell = td(undefined, "in");
      const input = document.createElement("input");
      input.className = "cell"; input.inputMode = "decimal"; input.autocomplete = "off";
      input.dataset.row = index; input.dataset.col = col; input.dataset.field = field;
      input.setAttribute("aria-label", R.INPUT_FIELDS[col][1] + " for " + emp.name);
      input.value = (inputs[emp.id] || {})[field] || "";
      if (locked) input.readOnly = true;
      const msg = document.createElement("span"); msg.className = "cell-error"; msg.hidden = true;
      cell.appendChild(input); cell.appendChild(msg);
      tr.appendChild(cell); cells[field] = input;
    });
    const out = {};
    OUT.forEach((key) => { out[key] = td("", "num out-" + key); tr.appendChild(out[key]); });
    return { tr, cells, out, emp };
  }

  // --- Figures -------------------------------------------------------------------------
  function showError(input, message) {
    const msg = input.nextElementSibling;
    input.setAttribute("aria-invalid", message ? "true" : "false");
    msg.hidden = !message; msg.textContent = message || "";
  }

  function recompute(index) {
    const row = rows[index];
    const raw = {};
    FIELDS.forEach((f) => { raw[f] = row.cells[f].value; });
    const parsed = R.parseInputs(raw, view.rules.days_in_month);
    FIELDS.forEach((f) => showError(row.cells[f], parsed.errors[f]));
    const old = rowPaise[index] || ZERO;
    let now = ZERO;
    if (parsed.inputs) {
      const pay = R.computePaise(view.rules, row.emp, parsed.inputs);
      now = {}; TOTALS.forEach((k) => { now[k] = pay[k]; });
      OUT.forEach((k) => {
        row.out[k].textContent = k === "paid_days" ? R.text2(pay[k]).replace(/\.00$/, "")
          : k === "net" ? Paydash.fmt.inr(R.text2(pay[k])) : Paydash.fmt.inr2(R.text2(pay[k]));
      });
      checkVariance(row, R.text2(pay.net));
    } else {
      OUT.forEach((k) => { row.out[k].textContent = "—"; });
      row.tr.classList.remove("variance");
    }
    row.tr.classList.toggle("invalid", !parsed.inputs);
    TOTALS.forEach((k) => { totals[k] += now[k] - old[k]; });
    rowPaise[index] = now;
  }

  function checkVariance(row, netText) {
    const prev = row.emp.previous_net;
    const hit = prev !== null && prev !== undefined && R.isVariance(netText, prev, view.variance_pct);
    row.tr.classList.toggle("variance", hit);
    if (hit) flagged.set(row.emp.id, { emp: row.emp, net: netText, prev }); else flagged.delete(row.emp.id);
  }

  const totalCells = {};
  document.querySelectorAll("[data-total]").forEach((cell) => { totalCells[cell.dataset.total] = cell; });
  function renderTotals() {
    TOTALS.forEach((k) => {
      if (totalCells[k]) totalCells[k].textContent = k === "net" ? Paydash.fmt.inr(R.text2(totals[k])) : Paydash.fmt.inr2(R.text2(totals[k]));
    });
    renderVariance();
  }

  const varianceBox = document.getElementById("variance");
  // An imported month shows the sheet's own figures; the grid (and its flags) only once HR
  // chooses to recalculate the month in the browser.
  const grid = document.getElementById("pm-grid");
  const recalculate = document.getElementById("recalculate");
  if (recalculate) recalculate.addEventListener("click", () => {
    grid.hidden = false;
    const save = document.getElementById("save-month");
    if (save) save.hidden = false;
    recalculate.disabled = true;
    renderVariance();
  });
  function renderVariance() {
    varianceBox.hidden = flagged.size === 0 || (grid && grid.hidden);
    document.getElementById("variance-count").textContent = flagged.size;
    const list = document.getElementById("variance-list");
    list.replaceChildren();
    Array.from(flagged.values()).slice(0, 50).forEach((f) => {
      const li = document.createElement("li");
      li.textContent = f.emp.code + " " + f.emp.name + ": " + Paydash.fmt.inr(f.prev) + " → " + Paydash.fmt.inr(f.net);
      list.appendChild(li);
    });
  }

  view.employees.forEach((emp, i) => { const row = buildRow(emp, i); rows.push(row); });
  const frag = document.createDocumentFragment();
  rows.forEach((row) => frag.appendChild(row.tr));
  body.appendChild(frag);
  rows.forEach((_r, i) => recompute(i));
  const monthlyTotal = view.employees.reduce((s, e) => s + R.h(e.monthly_salary), 0n);
  if (totalCells.monthly_salary) totalCells.monthly_salary.textContent = Paydash.fmt.inr2(R.text2(monthlyTotal));
  renderTotals();

  // --- Typing, moving and pasting --------------------------------------------------------
  function cellAt(row, col) {
    return rows[row] ? rows[row].cells[FIELDS[col]] : null;
  }

  function focusCell(row, col) {
    const target = cellAt(row, col);
    if (target) { target.focus(); target.select(); }
    return Boolean(target);
  }

  function remember(index) {
    const row = rows[index]; const id = row.emp.id; const cells = {};
    FIELDS.forEach((f) => { if (row.cells[f].value.trim() !== "") cells[f] = row.cells[f].value; });
    if (Object.keys(cells).length) inputs[id] = cells; else delete inputs[id];
  }

  body.addEventListener("input", (event) => {
    const input = event.target;
    if (!input.classList.contains("cell")) return;
    const index = Number(input.dataset.row);
    recompute(index); remember(index); renderTotals(); draftChanged();
  });

  body.addEventListener("keydown", (event) => {
    const input = event.target;
    if (!input.classList.contains("cell")) return;
    const row = Number(input.dataset.row); const col = Number(input.dataset.col);
    const atStart = input.selectionStart === 0 && input.selectionEnd === 0;
    const atEnd = input.selectionStart === input.value.length;
    let moved = false;
    if (event.key === "ArrowDown" || (event.key === "Enter" && !event.shiftKey)) moved = focusCell(row + 1, col);
    else if (event.key === "ArrowUp" || (event.key === "Enter" && event.shiftKey)) moved = focusCell(row - 1, col);
    else if (event.key === "ArrowRight" && (atEnd || input.selectionEnd === input.value.length)) moved = focusCell(row, col + 1);
    else if (event.key === "ArrowLeft" && atStart) moved = focusCell(row, col - 1);
    if (moved || event.key === "Enter") event.preventDefault();
  });

  body.addEventListener("paste", (event) => {
    const input = event.target;
    if (!input.classList.contains("cell") || locked) return;
    const text = (event.clipboardData || window.clipboardData).getData("text/plain") || "";
    if (!/[\t\n\r]/.test(text.replace(/[\r\n]+$/, ""))) return; // One value: let the browser paste it.
    event.preventDefault();
    const grid = text.replace(/\r\n?/g, "\n").replace(/\n+$/, "").split("\n").map((line) => line.split("\t"));
    const row0 = Number(input.dataset.row); const col0 = Number(input.dataset.col);
    const touched = new Set();
    grid.forEach((values, r) => values.forEach((value, c) => {
      const cell = cellAt(row0 + r, col0 + c);
      if (cell) { cell.value = value.trim(); touched.add(row0 + r); }
    }));
    touched.forEach((index) => { recompute(index); remember(index); });
    renderTotals(); draftChanged();
  });

  // --- Mark paid: offered once the month is saved and nothing changed since --------------
  const markPaid = document.getElementById("mark-paid");
  const markPaidHint = document.getElementById("mark-paid-hint");
  let status = view.status;
  let edits = 0;              // cell changes since the page opened
  let savedEdits = (view.unsaved_changes || restored) ? -1 : 0;  // `edits` at the last save

  function showMarkPaid() {
    const unsaved = edits !== savedEdits;
    // The variance box speaks of the month as it is: to check before saving, or as saved.
    const lead = document.getElementById("variance-lead");
    if (lead) lead.textContent = status !== "draft" && !unsaved ? "Saved with" : "Check before saving:";
    if (!markPaid) return;
    markPaid.hidden = status !== "saved" || unsaved;
    markPaidHint.hidden = status !== "saved" || !unsaved;
  }
  showMarkPaid();

  // --- Drafts: this browser at once, the server after a pause ------------------------------
  const draftStatus = document.getElementById("draft-status");
  // Times in the tenant's zone, labelled, as every server-drawn page shows them (issue 17).
  const zoned = new Intl.DateTimeFormat("en-IN", { timeZone: draftStatus.dataset.tz || undefined,
    day: "numeric", month: "short", hour: "numeric", minute: "2-digit", timeZoneName: "short" });
  const at = (when) => zoned.format(when);
  let localTimer = null; let serverTimer = null; let saving = false; let pending = false;
  if (restored) draftStatus.textContent = "Restored unsaved changes kept in this browser.";
  else if (view.draft_saved_at) draftStatus.textContent = "Draft saved " + at(new Date(view.draft_saved_at));

  function draftChanged() {
    if (locked) return;
    edits += 1; showMarkPaid();
    clearTimeout(localTimer); clearTimeout(serverTimer);
    localTimer = setTimeout(saveLocal, 250);
    serverTimer = setTimeout(saveServerDraft, 1500);
    draftStatus.textContent = "Unsaved changes…";
  }

  function saveLocal() {
    try { localStorage.setItem(urls.storageKey, JSON.stringify({ inputs, at: Date.now() })); }
    catch (e) { /* Storage full or disabled: the server draft still keeps the work. */ }
  }

  async function saveServerDraft() {
    if (saving) { pending = true; return; }
    saving = true;
    try {
      await Paydash.api(urls.draft, { method: "PUT", headers: { "Content-Type": "application/json" },
                                      body: JSON.stringify({ inputs }) });
      draftStatus.textContent = "Draft saved " + at(new Date());
    } catch (e) {
      draftStatus.textContent = "Draft kept in this browser only (" + e.message + ")";
    } finally {
      saving = false;
      if (pending) { pending = false; saveServerDraft(); }
    }
  }

  window.addEventListener("beforeunload", () => { if (!locked) saveLocal(); });

  // --- Save: the server recomputes, stores the rows and updates the dashboard -------------
  const saveButton = document.getElementById("save-month");
  const saveBox = document.getElementById("save-status");
  const saveText = document.getElementById("save-text");
  const saveBar = document.getElementById("save-bar");
  const saveError = document.getElementById("save-error");
  const saveErrorBox = document.getElementById("save-error-box");
  const saveErrorList = document.getElementById("save-error-list");
  const rowsById = new Map(rows.map((row) => [row.emp.id, row]));

  function showServerErrors(errors) {
    let first = null;
    rows.forEach((row) => {
      const rowErrors = errors[String(row.emp.id)] || {};
      FIELDS.forEach((f) => { if (rowErrors[f]) { showError(row.cells[f], rowErrors[f]); first = first || row.cells[f]; } });
    });
    if (first) first.focus();
  }

  function firstBadCell(row) {
    return FIELDS.map((f) => row.cells[f]).find((c) => c.getAttribute("aria-invalid") === "true") || row.cells[FIELDS[0]];
  }

  // Every employee the server refused, by code and name: a cell message alone is easy to
  // miss among 500 rows, and an employee added since this page opened has no row here.
  function showErrorSummary(summary) {
    saveErrorList.replaceChildren();
    (summary || []).forEach((entry) => {
      const item = document.createElement("li");
      const row = rowsById.get(entry.employee_id);
      const label = entry.code + " " + entry.name;
      if (row) {
        const jump = document.createElement("button");
        jump.type = "button"; jump.className = "link"; jump.textContent = label;
        jump.addEventListener("click", () => { const c = firstBadCell(row); c.focus(); c.select(); });
        item.appendChild(jump);
      } else {
        item.append(label + " (not on this page: reload it to see this employee)");
      }
      item.append(": " + entry.messages.join("; "));
      saveErrorList.appendChild(item);
    });
  }

  function watchJob(job) {
    saveBox.hidden = false;
    const poller = Paydash.poll(async () => {
      const state = await Paydash.api(urls.jobs + encodeURIComponent(job.id));
      const done = state.progress && state.progress.total ? state.progress.done / state.progress.total : 0;
      saveBar.style.width = Math.round((state.finished ? 1 : Math.max(0.1, done)) * 100) + "%";
      if (state.state === "SUCCESS") {
        saveText.replaceChildren("Done — dashboard updated. ");
        const link = document.createElement("a"); link.href = urls.dashboard; link.textContent = "Open the dashboard";
        saveText.appendChild(link);
        saveButton.disabled = false;
        return false;
      }
      if (state.finished) {
        saveText.textContent = "The salary rows are saved, but the dashboard update failed: " + state.status;
        saveButton.disabled = false;
        return false;
      }
      saveText.textContent = "Saved. Updating the dashboard: " + state.status;
      return true;
    }, 800);
    return poller;
  }

  if (saveButton) saveButton.addEventListener("click", async () => {
    saveButton.disabled = true; saveErrorBox.hidden = true;
    const editsSent = edits;
    saveBox.hidden = false; saveText.textContent = "Saving…"; saveBar.style.width = "5%";
    clearTimeout(serverTimer);
    try {
      const result = await Paydash.api(urls.save, { method: "POST", headers: { "Content-Type": "application/json" },
                                                   body: JSON.stringify({ inputs }) });
      saveLocal();
      status = "saved"; savedEdits = editsSent; showMarkPaid();
      const badge = document.getElementById("month-status");
      badge.textContent = "saved"; badge.className = "badge badge-pm-saved";
      document.getElementById("register-link").hidden = false;
      draftStatus.textContent = "Saved " + at(new Date());
      watchJob(result.job);
    } catch (e) {
      saveBox.hidden = true; saveButton.disabled = false;
      saveErrorBox.hidden = false;
      saveError.textContent = e.message + (e.body && e.body.detail && e.body.detail !== e.message ? ": " + e.body.detail : "");
      showErrorSummary(e.body && e.body.summary);
      if (e.body && e.body.errors) showServerErrors(e.body.errors);
    }
  });
})();
