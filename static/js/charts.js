// PaydashCharts: a small SVG chart library of our own (line, grouped bar, horizontal bar).
// Colours come from CSS classes (s0, s1, ...) so dark mode and the CSP (no inline styles)
// both hold; positions are SVG attributes, tooltips are placed through the CSSOM.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";

  function svg(name, attrs, parent) {
    const el = document.createElementNS(NS, name);
    for (const key in attrs) if (attrs[key] !== undefined && attrs[key] !== null) el.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(el);
    return el;
  }

  function html(name, className, parent, text) {
    const el = document.createElement(name);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    if (parent) parent.appendChild(el);
    return el;
  }

  // ₹ amounts in Indian units for axes: 12.5k, 3.4L (lakh), 1.2Cr (crore).
  function compactInr(v) {
    const a = Math.abs(v);
    const fix = (x) => (Math.round(x * 10) / 10).toString();
    if (a >= 1e7) return "₹" + fix(v / 1e7) + "Cr";
    if (a >= 1e5) return "₹" + fix(v / 1e5) + "L";
    if (a >= 1e3) return "₹" + fix(v / 1e3) + "k";
    return "₹" + Math.round(v);
  }

  function compactNum(v) {
    const a = Math.abs(v);
    if (a >= 1e5) return (Math.round(v / 1e4) / 10) + "L";
    if (a >= 1e4) return (Math.round(v / 100) / 10) + "k";
    return new Intl.NumberFormat("en-IN").format(Math.round(v * 10) / 10);
  }

  // Round axis steps (1, 2, 2.5, 5 × 10^n) so gridlines land on readable values.
  function niceScale(max, count) {
    if (!(max > 0)) return { max: 1, ticks: [0, 1] };
    const raw = max / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const top = Math.ceil(max / step) * step;
    const ticks = [];
    for (let t = 0; t <= top + step / 2; t += step) ticks.push(t);
    return { max: top, ticks };
  }

  function truncate(text, chars) {
    text = String(text);
    return text.length > chars ? text.slice(0, Math.max(1, chars - 1)) + "…" : text;
  }

  // One tooltip per chart container, shown on hover and on keyboard focus.
  function tooltip(container) {
    const tip = html("div", "tooltip chart-tooltip", container);
    tip.hidden = true;
    tip.setAttribute("aria-hidden", "true");
    return {
      show(lines, target) {
        tip.replaceChildren();
        lines.forEach((line, i) => html("div", i === 0 ? "tooltip-title" : "tooltip-line", tip, line));
        tip.hidden = false;
        const box = container.getBoundingClientRect();
        const r = target.getBoundingClientRect();
        const w = tip.offsetWidth, h = tip.offsetHeight;
        let left = r.left - box.left + r.width / 2 - w / 2;
        left = Math.max(0, Math.min(left, box.width - w));
        let top = r.top - box.top - h - 8;
        if (top < 0) top = r.bottom - box.top + 8;
        tip.style.left = left + "px";
        tip.style.top = top + "px";
      },
      hide() { tip.hidden = true; },
    };
  }

  function legend(container, series) {
    if (series.length < 2) return;
    const box = html("div", "chart-legend", container);
    series.forEach((s, i) => {
      const item = html("span", "legend-item", box);
      html("span", "swatch s" + (s.colour ?? i), item);
      html("span", "", item, s.name);
    });
  }

  function bindTip(el, tip, lines) {
    el.setAttribute("tabindex", "0");
    el.setAttribute("role", "img");
    el.setAttribute("aria-label", lines.join(", "));
    const show = () => { el.classList.add("active"); tip.show(lines, el); };
    const hide = () => { el.classList.remove("active"); tip.hide(); };
    el.addEventListener("pointerenter", show);
    el.addEventListener("pointerleave", hide);
    el.addEventListener("focus", show);
    el.addEventListener("blur", hide);
  }

  // Draws through `draw(width)` now and again whenever the container's width changes.
  function mount(el, opts, draw) {
    if (el._pdObserver) el._pdObserver.disconnect();
    let lastWidth = 0;
    const render = () => {
      const width = Math.max(240, Math.floor(el.clientWidth || 600));
      if (Math.abs(width - lastWidth) < 2) return;
      lastWidth = width;
      el.replaceChildren();
      const tip = tooltip(el);
      if (!opts.labels.length) { html("p", "chart-empty muted", el, opts.empty || "No data for this period."); return; }
      legend(el, opts.series || []);
      const root = svg("svg", { role: "group", "aria-label": opts.title || "", class: "pd-svg" }, el);
      draw(root, width, tip);
    };
    if (window.ResizeObserver) {
      el._pdObserver = new ResizeObserver(() => window.requestAnimationFrame(render));
      el._pdObserver.observe(el);
    }
    render();
  }

  function yAxis(root, scale, frame, format) {
    const g = svg("g", { class: "axis" }, root);
    scale.ticks.forEach((t) => {
      const y = frame.top + frame.h - (t / scale.max) * frame.h;
      svg("line", { x1: frame.left, x2: frame.left + frame.w, y1: y, y2: y, class: "grid-line" }, g);
      svg("text", { x: frame.left - 8, y: y + 4, "text-anchor": "end", class: "axis-label" }, g).textContent = format(t);
    });
  }

  function xLabels(root, labels, frame, xAt) {
    const g = svg("g", { class: "axis" }, root);
    const widest = Math.max(...labels.map((l) => Math.min(10, String(l).length)));
    const every = Math.max(1, Math.ceil(labels.length * (widest * 6.6 + 12) / frame.w));
    labels.forEach((label, i) => {
      // Count from the last label so the latest month always has its label.
      if ((labels.length - 1 - i) % every) return;
      svg("text", { x: xAt(i), y: frame.top + frame.h + 18, "text-anchor": "middle", class: "axis-label" }, g)
        .textContent = truncate(label, 10);
    });
  }

  function frameFor(width, height, scale, axisFormat) {
    const widest = Math.max.apply(null, scale.ticks.map((t) => axisFormat(t).length));
    const left = 14 + widest * 7;
    return { left, top: 10, w: width - left - 28, h: height - 10 - 28, width, height };
  }

  function chartHeight(width, preferred) {
    return Math.round(Math.min(preferred || 260, Math.max(190, width * 0.62)));
  }

  // line(el, {labels, series: [{name, values}], format, axisFormat, title})
  function line(el, opts) {
    mount(el, opts, (root, width, tip) => {
      const height = chartHeight(width, opts.height);
      const values = opts.series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
      const scale = niceScale(Math.max(0, ...values), 4);
      const axisFormat = opts.axisFormat || compactNum;
      const f = frameFor(width, height, scale, axisFormat);
      root.setAttribute("viewBox", `0 0 ${width} ${height}`);
      yAxis(root, scale, f, axisFormat);
      const n = opts.labels.length;
      const xAt = (i) => f.left + (n === 1 ? f.w / 2 : (i * f.w) / (n - 1));
      const yAt = (v) => f.top + f.h - (v / scale.max) * f.h;
      xLabels(root, opts.labels, f, xAt);
      opts.series.forEach((s, si) => {
        let d = "";
        s.values.forEach((v, i) => {
          if (v === null || v === undefined) return;
          const prev = s.values[i - 1];
          d += (d && prev !== null && prev !== undefined ? "L" : "M") + xAt(i).toFixed(1) + " " + yAt(v).toFixed(1);
        });
        svg("path", { d, class: "line s" + (s.colour ?? si) }, root);
      });
      opts.series.forEach((s, si) => {
        const g = svg("g", { class: "points s" + (s.colour ?? si) }, root);
        s.values.forEach((v, i) => {
          if (v === null || v === undefined) return;
          const pt = svg("circle", { cx: xAt(i), cy: yAt(v), r: n > 18 ? 3 : 4.5, class: "point" }, g);
          bindTip(pt, tip, [opts.labels[i], s.name + ": " + opts.format(v)]);
        });
      });
    });
  }

  // bar(el, {labels, axisLabels, series: [{name, values}], format, axisFormat, title}): grouped
  // vertical bars; `axisLabels` are short forms of `labels` for the x axis.
  function bar(el, opts) {
    mount(el, opts, (root, width, tip) => {
      const height = chartHeight(width, opts.height);
      const scale = niceScale(Math.max(0, ...opts.series.flatMap((s) => s.values)), 4);
      const axisFormat = opts.axisFormat || compactNum;
      const f = frameFor(width, height, scale, axisFormat);
      root.setAttribute("viewBox", `0 0 ${width} ${height}`);
      yAxis(root, scale, f, axisFormat);
      const n = opts.labels.length, band = f.w / n;
      const groupW = Math.min(band * 0.72, 90), barW = groupW / opts.series.length;
      const xAt = (i) => f.left + band * i + band / 2;
      xLabels(root, opts.axisLabels || opts.labels, f, xAt);
      opts.series.forEach((s, si) => {
        const g = svg("g", { class: "bars s" + (s.colour ?? si) }, root);
        s.values.forEach((v, i) => {
          const h = Math.max(v > 0 ? 1 : 0, (v / scale.max) * f.h);
          const rect = svg("rect", { x: xAt(i) - groupW / 2 + si * barW, y: f.top + f.h - h,
            width: Math.max(1, barW - 2), height: h, rx: 3, class: "bar" }, g);
          bindTip(rect, tip, [opts.labels[i], s.name + ": " + opts.format(v)]);
        });
      });
    });
  }

  // hbar(el, {labels, values, format, details: [text], name, title}): one bar per row, ranked.
  function hbar(el, opts) {
    mount(el, opts, (root, width, tip) => {
      const rowH = 30, top = 4;
      const height = top + opts.labels.length * rowH + 4;
      const labelChars = Math.max(8, Math.min(22, Math.floor(width * 0.3 / 7)));
      const labelW = Math.min(labelChars, Math.max(...opts.labels.map((l) => String(l).length))) * 7 + 12;
      const valueW = 86;
      const plotW = Math.max(40, width - labelW - valueW);
      const max = Math.max(0, ...opts.values) || 1;
      root.setAttribute("viewBox", `0 0 ${width} ${height}`);
      opts.labels.forEach((label, i) => {
        const y = top + i * rowH;
        const v = opts.values[i];
        const w = Math.max(v > 0 ? 2 : 0, (v / max) * plotW);
        const row = svg("g", { class: "hbar-row s" + (opts.colour ?? 0) }, root);
        svg("text", { x: labelW - 10, y: y + rowH / 2 + 4, "text-anchor": "end", class: "axis-label hbar-label" }, row)
          .textContent = truncate(label, labelChars);
        svg("rect", { x: labelW, y: y + 5, width: plotW, height: rowH - 10, rx: 4, class: "bar-track" }, row);
        const rect = svg("rect", { x: labelW, y: y + 5, width: w, height: rowH - 10, rx: 4, class: "bar" }, row);
        svg("text", { x: labelW + w + 6, y: y + rowH / 2 + 4, class: "value-label" }, row)
          .textContent = (opts.valueFormat || opts.format)(v);
        const lines = [String(label), (opts.name ? opts.name + ": " : "") + opts.format(v)];
        if (opts.details && opts.details[i]) lines.push(opts.details[i]);
        bindTip(rect, tip, lines);
      });
    });
  }

  window.PaydashCharts = { line, bar, hbar, compactInr, compactNum, niceScale };
})();
