// The index: search text, category, distro, variant and end-of-life
// filters over every spec of the catalog. The specs are the compact rows
// of #index-data ([ref, page, title, distro, variant, tags, status,
// eol status, eol date, categories, main package]); the page ships the
// first rows as HTML and this script renders the matching rows lazily, a
// page at a time, as the reader scrolls or asks for more, so the index of
// 1,300+ specs loads fast. The filter state is kept in the URL hash so a
// filtered view can be linked to.
(function () {
  "use strict";
  var table = document.getElementById("specs");
  var src = document.getElementById("index-data");
  if (!table || !src) { return; }
  var PAGE = 100;
  var eolLabels = { supported: "supported", ending: "ending within 90 days", past: "past end of life (exception)" };
  var statusLabels = { stale: "built from an earlier version of this spec; run hic build" };
  var all = JSON.parse(src.textContent).map(function (r) {
    return { ref: r[0], page: r[1], title: r[2], distro: r[3], variant: r[4], tags: r[5], status: r[6], eol: r[7],
      eolDate: r[8], category: " " + r[9] + " ", search: (r[0] + " " + r[2] + " " + r[10] + " " + r[5]).toLowerCase() };
  });
  var body = table.tBodies[0];
  var q = document.getElementById("q");
  var sel = {
    category: document.getElementById("f-category"),
    distro: document.getElementById("f-distro"),
    variant: document.getElementById("f-variant"),
    eol: document.getElementById("f-eol")
  };
  var count = document.getElementById("count");
  var more = document.getElementById("more");
  if (!more) {
    more = document.createElement("button");
    more.type = "button";
    more.id = "more";
    var p = document.createElement("p");
    p.appendChild(more);
    table.parentNode.parentNode.insertBefore(p, table.parentNode.nextSibling);
  }
  var matches = all, shown = body.rows.length;

  function cell(tr, text, cls) {
    var td = tr.insertCell(-1);
    if (cls) { td.className = cls; }
    td.textContent = text;
    return td;
  }
  function badge(td, cls, text) {
    var s = document.createElement("span");
    s.className = "badge " + cls;
    s.textContent = text;
    td.insertBefore(s, td.firstChild);
  }
  function row(x) {
    var tr = document.createElement("tr");
    var a = document.createElement("a");
    a.href = x.page;
    a.textContent = x.ref;
    tr.insertCell(-1).appendChild(a);
    cell(tr, x.title);
    cell(tr, x.distro);
    cell(tr, x.variant);
    cell(tr, x.tags, "tags");
    badge(cell(tr, ""), "s-" + x.status, statusLabels[x.status] || x.status);
    badge(cell(tr, x.eolDate ? " " + x.eolDate : ""), "e-" + x.eol, eolLabels[x.eol] || x.eol);
    return tr;
  }
  // renderMore appends the next page of matching rows.
  function renderMore() {
    var f = document.createDocumentFragment();
    var end = Math.min(shown + PAGE, matches.length);
    for (var i = shown; i < end; i++) { f.appendChild(row(matches[i])); }
    body.appendChild(f);
    shown = end;
    status();
  }
  function status() {
    var left = matches.length - shown;
    var text = matches.length + " of " + all.length + " specs match";
    if (left > 0) { text += ", the first " + shown + " listed"; }
    count.textContent = text;
    more.hidden = left <= 0;
    more.textContent = "Show " + Math.min(PAGE, left) + " more of " + left;
  }
  function apply() {
    var words = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var c = sel.category.value, d = sel.distro.value, v = sel.variant.value, e = sel.eol.value;
    matches = all.filter(function (x) {
      for (var w = 0; w < words.length; w++) { if (x.search.indexOf(words[w]) < 0) { return false; } }
      return (!c || x.category.indexOf(" " + c + " ") >= 0) && (!d || x.distro === d) && (!v || x.variant === v) && (!e || x.eol === e);
    });
    body.textContent = "";
    shown = 0;
    renderMore();
    var h = [];
    if (q.value) { h.push("q=" + encodeURIComponent(q.value)); }
    for (var k in sel) { if (sel[k].value) { h.push(k + "=" + encodeURIComponent(sel[k].value)); } }
    if (history.replaceState) { history.replaceState(null, "", h.length ? "#" + h.join("&") : location.pathname); }
  }
  (location.hash || "").replace(/^#/, "").split("&").forEach(function (kv) {
    var p = kv.split("="), k = p[0], val = decodeURIComponent(p[1] || "");
    if (k === "q") { q.value = val; } else if (sel[k]) { sel[k].value = val; }
  });
  q.addEventListener("input", apply);
  for (var k in sel) { sel[k].addEventListener("change", apply); }
  more.addEventListener("click", renderMore);
  // Scrolling near the end of the list renders the next page.
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (es) {
      if (es[0].isIntersecting && shown < matches.length) { renderMore(); }
    }, { rootMargin: "600px" }).observe(more);
  }
  if (location.hash) { apply(); } else { status(); }
})();
