// The browser's mirror of paydash/payroll.py, for live figures while HR types.
// The server recomputes everything on save; tests/payroll/test_payroll_rules_js.py runs this file
// in Chromium against the same examples as the Python rules. Money is BigInt paise and
// days, hours and minutes are BigInt hundredths, so every paisa matches the server.
(function (root) {
  "use strict";

  const INPUT_FIELDS = [
    ["present_days", "Present days", "days"],
    ["absent_days", "Absent days", "days"],
    ["paid_holidays", "Paid holidays", "days"],
    ["ot_hours", "OT hours", "hours"],
    ["late_minutes", "Late minutes", "minutes"],
    ["incentive", "Incentive", "money"],
    ["advance", "Advance deduction", "money"],
    ["tds_override", "TDS override", "money"],
  ];
  const MAX_MONEY = 999999999999n; // paise: 9,999,999,999.99
  const NUMBER = /^[0-9]+(\.[0-9]+)?$/;

  // "12.5" -> 1250n (hundredths); null and "" -> 0n. Inputs are checked to 2 places first.
  function h(text) {
    if (text === null || text === undefined || text === "") return 0n;
    const s = String(text);
    const negative = s.startsWith("-");
    const [whole, frac = ""] = (negative ? s.slice(1) : s).split(".");
    const value = BigInt(whole || "0") * 100n + BigInt((frac + "00").slice(0, 2));
    return negative ? -value : value;
  }

  function text2(value) {
    // Hundredths as Python's str(Decimal(value).scaleb(-2)): "22400.00".
    const negative = value < 0n;
    const v = negative ? -value : value;
    const s = (v / 100n).toString() + "." + (v % 100n).toString().padStart(2, "0");
    return negative ? "-" + s : s;
  }

  function plain(value) {
    // Hundredths without trailing zeros: 3250n -> "32.5", 3200n -> "32".
    return text2(value).replace(/\.?0+$/, "");
  }

  function divHalfUp(num, den) {
    if (num < 0n) return -divHalfUp(-num, den);
    return (2n * num + den) / (2n * den);
  }
  const max = (...xs) => xs.reduce((a, b) => (b > a ? b : a));
  const min = (...xs) => xs.reduce((a, b) => (b < a ? b : a));

  function basisHundredths(rules) {
    if (rules.days_basis === "calendar") return BigInt(rules.days_in_month) * 100n;
    return h(rules.days_basis);
  }

  function unpaidDays(rules, inputs) {
    if (inputs.absent_days !== null && inputs.absent_days !== undefined) return h(inputs.absent_days);
    if (inputs.present_days !== null && inputs.present_days !== undefined) {
      const worked = h(inputs.present_days) + h(inputs.paid_holidays);
      return max(0n, BigInt(rules.days_in_month) * 100n - worked);
    }
    return 0n;
  }

  function professionalTax(pt, gross, month) {
    if (!pt) return 0n;
    const base = pt.half_yearly ? gross * 6n : gross;
    let tax = 0n;
    for (const slab of pt.slabs) {
      if (base > h(slab.above)) {
        tax = h(month === 2 && slab.february !== null && slab.february !== undefined ? slab.february : slab.amount);
      }
    }
    return pt.half_yearly ? divHalfUp(tax, 6n) : tax;
  }

  // rules: {days_basis, days_in_month, month, shift_hours, break_hours, statutory: {pf, esi, pt}}
  // terms: {monthly_salary, ot_multiplier, tds_pct, advance_balance} as decimal strings
  // inputs: {field: decimal string or null}. Returns paise as BigInt (paid days in hundredths).
  function computePaise(rules, terms, inputs) {
    const st = rules.statutory || {};
    const monthly = h(terms.monthly_salary);
    const basis = basisHundredths(rules);
    const work = h(rules.shift_hours) - h(rules.break_hours);
    const unpaid = unpaidDays(rules, inputs);
    const paid = max(0n, basis - unpaid);

    const salary = divHalfUp(monthly * paid, basis);
    const ot = divHalfUp(monthly * 10000n * h(inputs.ot_hours) * h(terms.ot_multiplier), basis * work * 10000n);
    const late = divHalfUp(monthly * 10000n * h(inputs.late_minutes), basis * work * 60n * 100n);
    const incentive = h(inputs.incentive);
    const gross = max(0n, salary + ot - late + incentive);

    const tds = inputs.tds_override !== null && inputs.tds_override !== undefined
      ? h(inputs.tds_override) : divHalfUp(gross * h(terms.tds_pct), 10000n);
    let pf = 0n; let esi = 0n;
    if (st.pf) pf = divHalfUp(min(salary, h(st.pf.ceiling)) * h(st.pf.rate_pct), 10000n);
    if (st.esi && gross <= h(st.esi.gross_limit)) esi = divHalfUp(gross * h(st.esi.rate_pct), 10000n);
    const pt = professionalTax(st.pt, gross, Number(rules.month));

    const afterTax = gross - tds - pf - esi - pt;
    const advance = max(0n, min(h(terms.advance_balance), max(0n, afterTax) / 2n, h(inputs.advance)));
    let net = max(0n, afterTax - advance);
    net = (net + 50n) / 100n * 100n;
    return { paid_days: paid, unpaid_days: unpaid, salary_for_paid_days: salary, ot_pay: ot,
             late_deduction: late, incentive, gross, tds, pf, esi, pt, advance, net };
  }

  // The same result as strings, exactly as the server's Pay fields print.
  function compute(rules, terms, inputs) {
    const paise = computePaise(rules, terms, inputs);
    const out = {};
    for (const key of Object.keys(paise)) out[key] = text2(paise[key]);
    return out;
  }

  // A cell's text as a decimal string, null when blank; throws when it is not a number.
  function parseNumber(raw) {
    if (raw === null || raw === undefined) return null;
    let text = String(raw).trim().split(",").join("").split("₹").join("").trim();
    if (text.toLowerCase().startsWith("rs")) text = text.slice(2).replace(/^[. ]+/, "");
    if (text === "") return null;
    if (text.startsWith("-") && NUMBER.test(text.slice(1))) return text;
    if (!NUMBER.test(text)) throw new Error("not a number");
    return text;
  }

  function limitOf(kind, days) {
    const n = BigInt(days);
    return { days: n * 100n, hours: n * 2400n, minutes: n * 144000n, money: MAX_MONEY }[kind];
  }

  function limitText(kind, days) {
    if (kind === "money") return "9,999,999,999.99";
    return Number(limitOf(kind, days) / 100n).toLocaleString("en-US");
  }

  function checkValue(label, kind, value, days) {
    if (value.startsWith("-")) {
      if (/[1-9]/.test(value)) return label + " cannot be negative";
      value = value.slice(1); // "-0" is zero, as the server reads it
    }
    const frac = value.split(".")[1] || "";
    const [whole] = value.split(".");
    // Compare at the precision given, so 31.001 is "more than 31" like the server says.
    const hundredths = BigInt(whole) * 100n + BigInt((frac + "00").slice(0, 2));
    const over = hundredths > limitOf(kind, days)
      || (hundredths === limitOf(kind, days) && /[1-9]/.test(frac.slice(2)));
    if (over) return label + " cannot be more than " + limitText(kind, days);
    if (/[1-9]/.test(frac.slice(2))) return label + ": use at most 2 decimal places";
    return null;
  }

  // HR's cells for one row -> {inputs, errors}; inputs is null when any cell is wrong.
  function parseInputs(raw, daysInMonth) {
    const values = {}; const errors = {};
    for (const [name, label, kind] of INPUT_FIELDS) {
      const cell = raw ? raw[name] : undefined;
      let value;
      try { value = parseNumber(cell); } catch (e) {
        errors[name] = label + ": '" + cell + "' is not a number"; continue;
      }
      if (value !== null) {
        const message = checkValue(label, kind, value, daysInMonth);
        if (message) { errors[name] = message; continue; }
      }
      values[name] = value;
    }
    if (Object.keys(errors).length === 0) {
      const days = h(values.present_days) + h(values.absent_days) + h(values.paid_holidays);
      if (days > BigInt(daysInMonth) * 100n) {
        errors.present_days = "Present, absent and paid holidays add up to " + plain(days)
          + " days; this month has " + daysInMonth;
      }
    }
    if (Object.keys(errors).length) return { inputs: null, errors };
    return { inputs: values, errors: {} };
  }

  // Mirrors payroll_months.is_variance: moved by more than pct % (any change from 0).
  function isVariance(netText, previousText, pctText) {
    const net = h(netText); const prev = h(previousText); const pct = h(pctText);
    if (prev === 0n) return net !== 0n;
    const diff = net > prev ? net - prev : prev - net;
    return diff * 10000n > pct * (prev < 0n ? -prev : prev);
  }

  root.PaydashRules = { INPUT_FIELDS, compute, computePaise, parseInputs, parseNumber, isVariance, text2, h };
})(typeof window !== "undefined" ? window : globalThis);
