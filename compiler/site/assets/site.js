// Filters the index table in place: search text, category, distro,
// variant and end-of-life status. The filter state is kept in the URL hash
// so a filtered view can be linked to.
(function () {
  "use strict";
  var table = document.getElementById("specs");
  if (!table) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var q = document.getElementById("q");
  var sel = {
    category: document.getElementById("f-category"),
    distro: document.getElementById("f-distro"),
    variant: document.getElementById("f-variant"),
    eol: document.getElementById("f-eol")
  };
  var count = document.getElementById("count");
  var data = rows.map(function (r) {
    return { row: r, search: r.getAttribute("data-search"), category: " " + r.getAttribute("data-category") + " ",
      distro: r.getAttribute("data-distro"), variant: r.getAttribute("data-variant"), eol: r.getAttribute("data-eol") };
  });
  function apply() {
    var words = q.value.toLowerCase().split(/\s+/).filter(Boolean);
    var c = sel.category.value, d = sel.distro.value, v = sel.variant.value, e = sel.eol.value;
    var shown = 0;
    for (var i = 0; i < data.length; i++) {
      var x = data[i], ok = true;
      for (var w = 0; ok && w < words.length; w++) { ok = x.search.indexOf(words[w]) >= 0; }
      ok = ok && (!c || x.category.indexOf(" " + c + " ") >= 0) && (!d || x.distro === d) && (!v || x.variant === v) && (!e || x.eol === e);
      x.row.hidden = !ok;
      if (ok) { shown++; }
    }
    count.textContent = shown + " of " + data.length + " specs shown";
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
  if (location.hash) { apply(); }
})();
