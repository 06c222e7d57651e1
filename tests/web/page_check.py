"""What the every-page browser test (and the gallery) measure on a page: shared helpers.

`LAYOUT_PROBLEMS` runs in the page and returns what a person at this width could not do:
the page scrolls sideways, or an action (link button, button, form field, nav link) sits
partly off-screen. Elements inside a `.scroll-x` box (a wide table that scrolls inside
its own box with its key column pinned) are reachable by scrolling that box, so they count
as reachable.
"""

LAYOUT_PROBLEMS = r"""() => {
  const width = window.innerWidth;
  const problems = [];
  const docWidth = document.documentElement.scrollWidth;
  if (docWidth > width) {
    // Name the innermost elements that stick out, so the message says what to fix.
    const out = Array.from(document.querySelectorAll("body *")).filter((el) =>
      el.getBoundingClientRect().right > width + 1 && !el.closest(".scroll-x") &&
      !Array.from(el.children).some((c) => c.getBoundingClientRect().right > width + 1));
    // Text spilling out of its box does not widen any element: name the box it spills from.
    if (!out.length) out.push(...Array.from(document.querySelectorAll("main *")).filter((el) =>
      el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible").slice(-3));
    const names = out.slice(0, 3).map((el) => el.tagName.toLowerCase() +
      (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : ""));
    problems.push(`page is ${docWidth} px wide in a ${width} px window (sticking out: ${names.join(", ")})`);
  }
  const actions = document.querySelectorAll(
    "main a.btn, main button, main input:not([type=hidden]), main select, main textarea, header a, header button");
  for (const el of actions) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;            // not shown
    if (getComputedStyle(el).visibility === "hidden") continue;
    if (el.closest(".scroll-x, .visually-hidden, .skip-link")) continue;
    if (box.left < -1 || box.right > width + 1) {
      const name = (el.innerText || el.getAttribute("aria-label") || el.name || el.tagName).trim().slice(0, 40);
      problems.push(`"${name}" is off-screen (${Math.round(box.left)}..${Math.round(box.right)} px)`);
    }
  }
  if (width > 720) {
    // Every cell of a table row ends on the same line (a flex cell breaks the row's border).
    for (const tr of document.querySelectorAll("main tbody tr")) {
      const bottoms = Array.from(tr.children).map((c) => Math.round(c.getBoundingClientRect().bottom));
      if (bottoms.length > 1 && Math.max(...bottoms) - Math.min(...bottoms) > 0) {
        problems.push(`a row's cells end at different heights (${Math.min(...bottoms)}..${Math.max(...bottoms)} px)`);
        break;
      }
    }
  }
  return problems;
}"""


def serious_axe_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe  # noqa: PLC0415
    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{violation['impact']}: {violation['id']} — {violation['help']} at {targets}")
    return found
