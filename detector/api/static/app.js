// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // Queue filters: re-run the search as soon as a select changes.
  document.querySelectorAll("select[data-autosubmit]").forEach((el) => {
    el.addEventListener("change", () => el.form.submit());
  });
  // Ask before a blocking decision.
  document.querySelectorAll("form[data-confirm-block]").forEach((form) => {
    form.addEventListener("submit", (ev) => {
      const choice = form.querySelector("input[name=decision]:checked");
      if (choice && choice.value === "confirm-block" &&
          !window.confirm("Block this account at the gateway?")) {
        ev.preventDefault();
      }
    });
  });
  // Buttons that ask first (take over someone else's claim).
  document.querySelectorAll("[data-confirm]").forEach((btn) => {
    btn.addEventListener("click", (ev) => {
      if (!window.confirm(btn.dataset.confirm)) ev.preventDefault();
    });
  });
  keyboard();
  // Click a header of a .sortable table to sort by that column.
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("th").forEach((th, col) => {
      th.addEventListener("click", () => {
        const body = table.tBodies[0];
        const asc = th.dataset.dir !== "asc";
        th.dataset.dir = asc ? "asc" : "desc";
        const key = (tr) => {
          const t = tr.cells[col].textContent.trim();
          const n = parseFloat(t);
          return Number.isNaN(n) ? t : n;
        };
        [...body.rows].sort((a, b) => {
          const x = key(a), y = key(b);
          const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return asc ? c : -c;
        }).forEach((tr) => body.appendChild(tr));
      });
    });
  });
});


// Keyboard shortcuts (the help line #key-help lists them). Queue: j/k move the selection,
// o or Enter opens it; c confirm-block (asks first), a clear (allow), e escalate decide the
// selected row through the hidden #queue-decision-form (CSRF token, the row's verdict day)
// and come back to the same queue view. Account page: c, a, e select the decision and submit
// the form (a block still asks first), m claim, n next in queue, q back to the queue. Keys
// typed into a field, or with a modifier, are left alone.
function keyboard() {
  const rows = [...document.querySelectorAll("#queue-table tbody tr")];
  let at = -1;
  const select = (i) => {
    if (!rows.length) return;
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, j) => r.classList.toggle("selected", j === at));
    rows[at].scrollIntoView({block: "nearest"});
  };
  const decideRow = (value) => {
    const form = document.getElementById("queue-decision-form");
    if (!form || at < 0) return;
    const row = rows[at];
    const id = row.dataset.account;
    if (value === "confirm-block" && !window.confirm(`Block ${id} at the gateway?`)) return;
    form.action = `/accounts/${encodeURIComponent(id)}/decisions`;
    form.elements.decision.value = value;
    form.elements.date.value = row.dataset.date || "";
    form.elements.next.value = window.location.pathname + window.location.search;
    form.submit();
  };
  const decide = (value) => {
    if (rows.length) return decideRow(value);
    const form = document.getElementById("decision-form");
    const choice = form && form.querySelector(`input[name=decision][value="${value}"]`);
    if (!choice) return;
    choice.checked = true;
    form.requestSubmit();
  };
  const go = (el) => { if (el) window.location.href = el.href; };
  const keys = {
    j: () => select(at + 1),
    k: () => select(at - 1),
    o: () => at >= 0 && go(rows[at].querySelector("a.acct-link")),
    Enter: () => at >= 0 && go(rows[at].querySelector("a.acct-link")),
    c: () => decide("confirm-block"),
    a: () => decide("clear"),
    e: () => decide("escalate"),
    m: () => { const b = document.getElementById("claim-button"); if (b) b.click(); },
    n: () => go(document.getElementById("next-review") || document.getElementById("next-in-queue")),
    q: () => { if (!rows.length) window.location.href = "/queue"; },
  };
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
    const t = ev.target;
    if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
    const act = keys[ev.key];
    if (!act) return;
    if (ev.key === "Enter" && (at < 0 || (t && ["A", "BUTTON"].includes(t.tagName)))) return;
    ev.preventDefault();
    act();
  });
}
