// The sample explorer: filters, pages and shows one task's samples from window.FAKEVLM_SAMPLES (column
// arrays over the string table "s"; -1 means none). The URL hash #doc=<doc key> opens one doc: a permalink.
(function () {
  "use strict";
  var D = window.FAKEVLM_SAMPLES;
  var S = D.s, docs = D.docs, A = D.answers, M = D.names;  // D.models: the full names
  var N = docs.key.length, PAGE = 50;
  var page = 0, shown = [];
  var byKey = new Map();
  docs.key.forEach(function (k, d) { byKey.set(S[k], d); });

  function $(id) { return document.getElementById(id); }
  function str(i) { return i === undefined || i === null || i < 0 ? null : S[i]; }
  function node(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (attrs[name] !== undefined && attrs[name] !== null) e.setAttribute(name, attrs[name]);  // never class="undefined"
    });
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function fmt(v, digits) { return v === null || v === undefined ? "–" : v.toFixed(digits); }

  // What a model's answer to doc d reads as, and how it scored (a task without our records: its answer, unscored
  // unless lmms-eval logged a score).
  function verdict(a, d) {
    if (a.has[d] !== 1) return { text: "–", cls: "", title: "no answer logged" };
    if (a.ok[d] === -1) return { text: str(a.read[d]) || "(no text)", cls: "", title: "not scored here" };
    var cls = a.failed[d] === 1 ? "failed" : a.unknown[d] === 1 ? "unknown" : a.ok[d] === 1 ? "ok" : "wrong";
    var mark = a.ok[d] === 1 ? " ✓" : " ✗";
    return { text: (str(a.read[d]) || "?") + mark, cls: cls, title: cls };
  }
  function thumb(d, cls) {
    var name = str(docs.thumb[d]);
    if (!name) return node("span", { class: "noimg" }, "no image");
    return node("img", { src: "thumbs/" + name, alt: "image of " + S[docs.key[d]], loading: "lazy", class: cls });
  }

  // ------------------------------------------------------------------ filters
  function options(select, indices, label) {
    indices.forEach(function (i) { select.appendChild(node("option", { value: String(i) }, label(i))); });
  }
  function distinct(column) {
    return Array.from(new Set(column.filter(function (i) { return i >= 0; }))).sort(function (a, b) {
      return S[a].localeCompare(S[b]);
    });
  }
  function chosenModels() {
    var v = $("f-model").value;
    return v === "" ? M.map(function (_, k) { return k; }) : [Number(v)];
  }
  function anyModel(models, d, test) {
    return models.some(function (k) { return A[k].has[d] === 1 && test(A[k]); });
  }
  function disagree(d) {
    var seen = new Set();
    A.forEach(function (a) { if (a.has[d] === 1) seen.add(a.read[d]); });
    return seen.size > 1;
  }
  function keep(d, models, f) {
    if (f.category !== "" && docs.cat[d] !== Number(f.category)) return false;
    if (f.truth !== "" && docs.truth[d] !== Number(f.truth)) return false;
    if (f.wrong && !anyModel(models, d, function (a) { return a.ok[d] === 0; })) return false;
    if (f.unknown && !anyModel(models, d, function (a) { return a.unknown[d] === 1; })) return false;
    if (f.failed && !anyModel(models, d, function (a) { return a.failed[d] === 1; })) return false;
    if (f.disagree && !disagree(d)) return false;
    return true;
  }
  function applyFilters() {
    var f = {
      category: $("f-category").value, truth: $("f-truth").value, wrong: $("f-wrong").checked,
      unknown: $("f-unknown").checked, failed: $("f-failed").checked, disagree: $("f-disagree").checked
    };
    var models = chosenModels();
    shown = [];
    for (var d = 0; d < N; d++) if (keep(d, models, f)) shown.push(d);
    page = 0;
    renderList();
  }

  // --------------------------------------------------------------------- list
  function renderList() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    $("count").textContent = shown.length + " of " + N + " docs";
    $("page").textContent = "page " + (page + 1) + " of " + pages;
    $("prev").disabled = page === 0;
    $("next").disabled = page >= pages - 1;
    var rows = document.createDocumentFragment();
    shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (d) {
      var key = S[docs.key[d]];
      var tr = node("tr", { "data-doc": key });
      var td = node("td");
      td.appendChild(thumb(d));
      tr.appendChild(td);
      td = node("td");
      td.appendChild(node("a", { href: "#doc=" + encodeURIComponent(key) }, key));
      tr.appendChild(td);
      tr.appendChild(node("td", {}, str(docs.truth[d])));
      tr.appendChild(node("td", {}, str(docs.cat[d])));
      A.forEach(function (a) {
        var v = verdict(a, d), cell = node("td");
        cell.appendChild(node("span", { class: "v " + v.cls, title: v.title }, v.text));
        tr.appendChild(cell);
      });
      rows.appendChild(tr);
    });
    $("list-body").replaceChildren(rows);
    markCurrent();
  }
  function header() {
    var tr = $("list-head");
    ["image", "doc", "truth", "category"].forEach(function (h) { tr.appendChild(node("th", { scope: "col" }, h)); });
    M.forEach(function (m, k) { tr.appendChild(node("th", { scope: "col", class: "model", title: D.models[k] }, m)); });
  }

  // ------------------------------------------------------------------- detail
  function inside(flat, at) {
    for (var i = 0; i + 1 < flat.length; i += 2) if (flat[i] <= at && at < flat[i + 1]) return true;
    return false;
  }
  // The answer with the words each reading was read from marked: <mark class="hl"> (the scored reading),
  // <mark class="hl-alt"> (the other one).
  function highlighted(text, hl, alt) {
    var cuts = new Set([0, text.length]);
    hl.concat(alt).forEach(function (x) { cuts.add(x); });
    var points = Array.from(cuts).sort(function (a, b) { return a - b; });
    var out = node("p", { class: "text" });
    for (var i = 0; i + 1 < points.length; i++) {
      var piece = text.slice(points[i], points[i + 1]);
      var classes = [];
      if (inside(hl, points[i])) classes.push("hl");
      if (inside(alt, points[i])) classes.push("hl-alt");
      if (classes.length) {
        var names = classes.map(function (c) { return c === "hl" ? D.readings[0] : D.readings[1]; });
        out.appendChild(node("mark", { class: classes.join(" "), title: "read by the " + names.join(" and the ") }, piece));
      } else {
        out.appendChild(document.createTextNode(piece));
      }
    }
    return out;
  }
  function field(dl, name, value) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(node("dt", {}, name));
    dl.appendChild(node("dd", {}, value));
  }
  function answerBlock(k, d) {
    var a = A[k], box = node("div", { class: "answer" });
    box.appendChild(node("h3", { title: D.models[k] }, M[k]));
    var v = verdict(a, d);
    var line = node("p", { class: "meta" });
    line.appendChild(document.createTextNode(D.readings[0] + ": "));
    line.appendChild(node("span", { class: "v " + v.cls }, v.text));
    var other = str(a.alt[d]);
    if (other !== null) line.appendChild(document.createTextNode(" · " + D.readings[1] + ": " + other));
    if (a.failed[d] === 1) line.appendChild(document.createTextNode(" · failed: " + (str(a.failure[d]) || "no answer")));
    box.appendChild(line);
    var text = str(a.text[d]);
    box.appendChild(text === null ? node("p", { class: "meta" }, "(no text answer)") : highlighted(text, a.hl[d], a.hl_alt[d]));
    var scores = ["ROUGE-L " + fmt(a.rouge[d], 1) + " (evidence only " + fmt(a.rouge_ev[d], 1) + ")"];
    if (a.css[d] !== null) scores.push("CSS " + fmt(a.css[d], 1));
    if (a.p_real[d] !== null) scores.push("P(real) " + fmt(a.p_real[d], 3));
    box.appendChild(node("p", { class: "meta scores" }, scores.join(" · ")));
    if (a.prompt[d] !== docs.q[d] && str(a.prompt[d]) !== null) box.appendChild(node("p", { class: "meta" }, "asked: " + str(a.prompt[d])));
    return box;
  }
  function openDoc(key) {
    var box = $("detail"), d = byKey.get(key);
    box.replaceChildren();
    box.hidden = false;
    var close = node("p");
    close.appendChild(node("a", { href: "#", id: "close" }, "close"));
    if (d === undefined) {
      box.appendChild(node("p", {}, "No doc " + key + " in this task."));
      box.appendChild(close);
      return;
    }
    box.appendChild(node("h2", {}, key));
    var top = node("div", { class: "top" });
    top.appendChild(thumb(d, "large"));
    var dl = node("dl");
    field(dl, "truth", str(docs.truth[d]));
    field(dl, "category", str(docs.cat[d]));
    field(dl, "lmms-eval doc_id", String(docs.doc_id[d]));
    field(dl, "question", str(docs.q[d]));
    field(dl, "reference", str(docs.ref[d]));
    top.appendChild(dl);
    box.appendChild(top);
    A.forEach(function (a, k) { if (a.has[d] === 1) box.appendChild(answerBlock(k, d)); });
    box.appendChild(close);
    markCurrent();
    box.scrollIntoView({ block: "start" });
  }
  function currentKey() {
    var m = /^#doc=(.*)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }
  function markCurrent() {
    var key = currentKey();
    document.querySelectorAll("#list-body tr").forEach(function (tr) {
      tr.classList.toggle("current", tr.getAttribute("data-doc") === key);
    });
  }
  function route() {
    var key = currentKey();
    if (key === null) { $("detail").hidden = true; markCurrent(); } else openDoc(key);
  }

  // --------------------------------------------------------------------- start
  options($("f-model"), M.map(function (_, k) { return k; }), function (k) { return M[k]; });
  options($("f-category"), distinct(docs.cat), function (i) { return S[i]; });
  options($("f-truth"), distinct(docs.truth), function (i) { return S[i]; });
  $("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  $("filters").addEventListener("change", applyFilters);
  $("prev").addEventListener("click", function () { page -= 1; renderList(); });
  $("next").addEventListener("click", function () { page += 1; renderList(); });
  window.addEventListener("hashchange", route);
  if (D.notes.length) {
    var notes = node("ul", { class: "notes" });
    D.notes.forEach(function (n) { notes.appendChild(node("li", {}, n)); });
    $("count").before(notes);
  }
  header();
  applyFilters();
  route();
})();
