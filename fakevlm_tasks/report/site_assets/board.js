// Sortable tables: a click (or Enter) on a column header sorts the body rows by that column.
// Numeric columns (data-type="num") sort by each cell's data-v, highest first; blank cells always go last.
(function () {
  "use strict";

  function value(cell, numeric) {
    if (!cell) return null;
    if (numeric) {
      var v = cell.getAttribute("data-v");
      return v === null || v === "" ? null : Number(v);
    }
    var t = cell.textContent.trim().toLowerCase();
    return t === "" ? null : t;
  }

  function sortBy(table, th, column) {
    var numeric = th.getAttribute("data-type") === "num";
    var first = numeric ? "descending" : "ascending";
    var order = th.getAttribute("aria-sort") === first ? (first === "descending" ? "ascending" : "descending") : first;
    table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", order);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a.cells[column], numeric), y = value(b.cells[column], numeric);
      if (x === null || y === null) return (x === null) - (y === null);
      var c = numeric ? x - y : x.localeCompare(y);
      return order === "descending" ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, column) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th, column); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th, column); }
      });
    });
  });
})();
