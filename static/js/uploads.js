// Upload pages: size check before sending, live job progress, the duplicate choice.
(function () {
  "use strict";
  const POLL_MS = 700;

  // A file over the limit would be refused by the server after the whole upload: say so now.
  function guardUploadForm() {
    const form = document.querySelector("form.upload-form");
    if (!form) return;
    const maxBytes = Number(form.dataset.maxBytes);
    const input = form.querySelector('input[type="file"]');
    const message = form.querySelector(".upload-client-error");
    function problem() {
      const file = input.files && input.files[0];
      if (!file) return null;
      if (maxBytes && file.size > maxBytes) {
        return "This file is " + (file.size / 1048576).toFixed(1) + " MB; the limit is " + form.dataset.maxMb +
          " MB. Remove unused sheets, images or formatting and save it again, or split it by month.";
      }
      return null;
    }
    function show(text) {
      message.textContent = text || "";
      message.hidden = !text;
    }
    input.addEventListener("change", () => show(problem()));
    form.addEventListener("submit", (event) => {
      const text = problem();
      if (text) { event.preventDefault(); show(text); return; }
      markBusy(form);
    });
  }

  function markBusy(form) {
    const button = form.querySelector("button[type=submit][data-busy-text]");
    if (!button) return;
    button.disabled = true;
    button.textContent = button.dataset.busyText;
  }

  // Follows one job until it finishes, then reloads: the server renders the next step.
  function watchJob(box) {
    const bar = box.querySelector("[data-progress-bar]");
    const status = box.querySelector("[data-job-status]");
    const track = box.querySelector(".progress");
    Paydash.poll(async () => {
      let job;
      try {
        job = await Paydash.api(box.dataset.apiUrl);
      } catch (error) {
        // Someone else's job (another HR user started it) is not ours to read: reload instead.
        setTimeout(() => window.location.reload(), 3000);
        return false;
      }
      status.textContent = job.status;
      const total = job.progress && job.progress.total;
      if (total) {
        track.classList.remove("progress-indeterminate");
        const pct = Math.min(100, Math.round((job.progress.done / total) * 100));
        bar.style.width = pct + "%";
        track.setAttribute("aria-valuenow", String(pct));
      }
      if (job.finished) {
        bar.style.width = "100%";
        window.location.reload();
        return false;
      }
      return true;
    }, POLL_MS);
  }

  // "My jobs": keep the plain-words status of unfinished jobs current.
  function followJobList() {
    document.querySelectorAll("[data-live-job]").forEach((item) => {
      const status = item.querySelector("[data-job-status]");
      const badge = item.querySelector("[data-job-state]");
      Paydash.poll(async () => {
        let job;
        try {
          job = await Paydash.api("/api/jobs/" + encodeURIComponent(item.dataset.liveJob));
        } catch (error) {
          return false;  // Gone (cleaned up) or not visible any more: keep what the page says.
        }
        status.textContent = job.status;
        badge.className = "badge badge-" + job.state;
        badge.textContent = job.state.charAt(0) + job.state.slice(1).toLowerCase();
        return !job.finished;
      }, 2000);
    });
  }

  // Confirming a sheet with shared ids or flagged rows needs every explicit choice ticked.
  function guardConfirm() {
    const boxes = Array.from(document.querySelectorAll("input[data-requires-for]"));
    boxes.forEach((box) => {
      const button = document.getElementById(box.dataset.requiresFor);
      const mine = boxes.filter((other) => other.dataset.requiresFor === box.dataset.requiresFor);
      const sync = () => { button.disabled = !mine.every((other) => other.checked); };
      box.addEventListener("change", sync);
      sync();
    });
    document.querySelectorAll("form.confirm-form").forEach((form) => {
      form.addEventListener("submit", () => markBusy(form));
    });
  }

  function reloadLater() {
    const el = document.querySelector("[data-reload-after]");
    if (el) setTimeout(() => window.location.reload(), Number(el.dataset.reloadAfter) || 2000);
  }

  guardUploadForm();
  guardConfirm();
  document.querySelectorAll("[data-watch-job]").forEach(watchJob);
  followJobList();
  reloadLater();
})();
