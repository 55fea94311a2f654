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
