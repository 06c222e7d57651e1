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

  // A scale from a rounded value below `min` (not from 0), for lines whose differences matter
  // more than their size (gross vs net); the axis labels say where it starts.
  function niceRange(min, max, count) {
    if (max > 0 && min > 0) {
      const spread = Math.max(max - min, max * 0.1);
      const base = niceScale(spread, count);
      const step = base.ticks[1] - base.ticks[0];
      const low = Math.max(0, Math.floor((min - step / 2) / step) * step);
      const ticks = [];
      for (let t = low; t <= max + step * 0.999; t += step) ticks.push(t);
      if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
      return { min: low, max: ticks[ticks.length - 1], ticks };
    }
    return Object.assign({ min: 0 }, niceScale(max, count));
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

  function yAxis(root, scale, frame, format, title) {
    const g = svg("g", { class: "axis" }, root);
    const low = scale.min || 0;
    if (title) svg("text", { x: 2, y: 10, class: "axis-title" }, g).textContent = title;
    scale.ticks.forEach((t) => {
      const y = frame.top + frame.h - ((t - low) / (scale.max - low)) * frame.h;
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
    return { left, top: 22, w: width - left - 28, h: height - 22 - 28, width, height };
  }

  function chartHeight(width, preferred) {
    return Math.round(Math.min(preferred || 260, Math.max(190, width * 0.62)));
  }

  // line(el, {labels, series: [{name, values}], format, axisFormat, title})
  function line(el, opts) {
    // One month is a comparison of figures, not a trend: bars with their values, not lone dots.
    if (opts.labels.length === 1) return bar(el, Object.assign({}, opts, { axisLabels: opts.labels }));
    mount(el, opts, (root, width, tip) => {
      const height = chartHeight(width, opts.height);
      const values = opts.series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
      const scale = opts.zeroBased === false ? niceRange(Math.min(...values), Math.max(0, ...values), 4)
        : Object.assign({ min: 0 }, niceScale(Math.max(0, ...values), 4));
      const axisFormat = opts.axisFormat || compactNum;
      const f = frameFor(width, height, scale, axisFormat);
      root.setAttribute("viewBox", `0 0 ${width} ${height}`);
      yAxis(root, scale, f, axisFormat, opts.yTitle);
      const n = opts.labels.length;
      const xAt = (i) => f.left + (n === 1 ? f.w / 2 : (i * f.w) / (n - 1));
      const yAt = (v) => f.top + f.h - ((v - scale.min) / (scale.max - scale.min)) * f.h;
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
      // The latest value of each series is written beside its point: readable without hovering.
      // A series with gaps (minutes without data) is labelled at its last point that has one.
      const lastOf = (s) => {
        for (let i = n - 1; i >= 0; i--) if (s.values[i] !== null && s.values[i] !== undefined) return i;
        return -1;
      };
      const ends = opts.series.map((s, si) => ({ si, at: lastOf(s), name: s.name }))
        .filter((e) => e.at >= 0).map((e) => Object.assign(e, { v: opts.series[e.si].values[e.at] }))
        .sort((a, b) => yAt(a.v) - yAt(b.v));
      let previousY = -Infinity;
      ends.forEach((e) => {
        const y = Math.max(yAt(e.v) - 8, previousY + 13);
        previousY = y;
        const text = (opts.series.length > 1 ? e.name + " " : "") + axisFormat(e.v);
        // Anchored to the left of its point, unless that would run off the plot's left edge.
        const room = xAt(e.at) - 4 - f.left >= text.length * 6.6;
        svg("text", { x: room ? xAt(e.at) - 4 : xAt(e.at) + 4, y, "text-anchor": room ? "end" : "start",
          class: "value-label end-label s" + (opts.series[e.si].colour ?? e.si) }, root).textContent = text;
      });
    });
  }

  // bar(el, {labels, axisLabels, series: [{name, values}], format, axisFormat, title}): grouped
  // vertical bars; `axisLabels` are short forms of `labels` for the x axis.
  function bar(el, opts) {
    mount(el, opts, (root, width, tip) => {
      const axisLabels = opts.axisLabels || opts.labels;
      const widest = Math.max(...axisLabels.map((l) => Math.min(10, String(l).length)));
      if (opts.series.length === 1 && opts.labels.length * (widest * 6.6 + 12) > width - 80) {
        // Too narrow for every label under its bar (a phone): the same figures as rows.
        drawHbar(root, width, tip, { labels: opts.labels, values: opts.series[0].values, format: opts.format,
          valueFormat: opts.valueFormat || opts.format, name: opts.series[0].name, colour: opts.series[0].colour ?? 0 });
        return;
      }
      const height = chartHeight(width, opts.height);
      const scale = niceScale(Math.max(0, ...opts.series.flatMap((s) => s.values)), 4);
      const axisFormat = opts.axisFormat || compactNum;
      const f = frameFor(width, height, scale, axisFormat);
      root.setAttribute("viewBox", `0 0 ${width} ${height}`);
      yAxis(root, scale, f, axisFormat, opts.yTitle);
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
          // Each bar carries its value (counts, amounts): no hover needed, touch screens included.
          const text = (opts.series.length > 1 ? s.name + " " : "") + (opts.valueFormat || axisFormat)(v);
          if (text.length * 6.2 <= band * 0.98 / (opts.series.length > 1 && band < 150 ? opts.series.length : 1) || n === 1) {
            svg("text", { x: xAt(i) - groupW / 2 + si * barW + Math.max(1, barW - 2) / 2, y: f.top + f.h - h - 5,
              "text-anchor": "middle", class: "value-label" }, g).textContent = text;
          }
        });
      });
    });
  }

  // hbar(el, {labels, values, format, details: [text], name, title}): one bar per row, ranked.
  function hbar(el, opts) {
    mount(el, opts, (root, width, tip) => drawHbar(root, width, tip, opts));
  }

  // Rows of bars. Wide: the name left of its bar. Narrow (a phone): the whole name above the
  // bar, so "Meera Gupta" is never cut to "Meera Gup…". `valueFormat` writes each row's value
  // (and `valueText(i)` may add more, e.g. the headcount) at the end of its bar.
  function drawHbar(root, width, tip, opts) {
    // Names longer than the space left of the bars go above them instead of being cut.
    const longest = Math.max(...opts.labels.map((l) => String(l).length));
    const narrow = width < 480 || longest > Math.max(8, Math.min(22, Math.floor(width * 0.3 / 7)));
    const rowH = narrow ? 44 : 30, top = 4, barTop = narrow ? 18 : 5, barH = narrow ? 18 : 20;
    const height = top + opts.labels.length * rowH + 4;
    const texts = opts.labels.map((_, i) => (opts.valueText ? opts.valueText(i) : (opts.valueFormat || opts.format)(opts.values[i])));
    const valueW = Math.max(...texts.map((t) => t.length)) * 6.6 + 12;
    const labelChars = narrow ? Math.floor(width / 6.8) : Math.max(8, Math.min(22, Math.floor(width * 0.3 / 7)));
    const labelW = narrow ? 0 : Math.min(labelChars, Math.max(...opts.labels.map((l) => String(l).length))) * 7 + 12;
    const plotW = Math.max(40, width - labelW - valueW);
    const max = Math.max(0, ...opts.values) || 1;
    root.setAttribute("viewBox", `0 0 ${width} ${height}`);
    opts.labels.forEach((label, i) => {
      const y = top + i * rowH;
      const v = opts.values[i];
      const w = Math.max(v > 0 ? 2 : 0, (v / max) * plotW);
      const row = svg("g", { class: "hbar-row s" + (opts.colour ?? 0) }, root);
      svg("text", narrow ? { x: 0, y: y + 13, class: "axis-label hbar-label" }
        : { x: labelW - 10, y: y + rowH / 2 + 4, "text-anchor": "end", class: "axis-label hbar-label" }, row)
        .textContent = truncate(label, labelChars);
      svg("rect", { x: labelW, y: y + barTop, width: plotW, height: barH, rx: 4, class: "bar-track" }, row);
      const rect = svg("rect", { x: labelW, y: y + barTop, width: w, height: barH, rx: 4, class: "bar" }, row);
      svg("text", { x: labelW + w + 6, y: y + barTop + barH / 2 + 4, class: "value-label" }, row).textContent = texts[i];
      const lines = [String(label), (opts.name ? opts.name + ": " : "") + opts.format(v)];
      if (opts.details && opts.details[i]) lines.push(opts.details[i]);
      bindTip(rect, tip, lines);
    });
  }

  window.PaydashCharts = { line, bar, hbar, compactInr, compactNum, niceScale, niceRange };
})();
