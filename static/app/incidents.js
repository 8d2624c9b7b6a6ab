// The incident map of a 铁三角 team: incidents of the view and the filters as
// clustered markers coloured by status, an optional heat layer, a list beside
// the map that follows the same filters, and details with history on click.
(function () {
  "use strict";
  var W = window.W, map = window.wangge.map, cfg = W.cfg;
  var form = document.getElementById("filters");
  var list = document.getElementById("incident-list");
  var summary = document.getElementById("summary");
  var detail = document.getElementById("detail");
  var LIST_MAX = 300;  // the list shows the newest; the map shows them all

  var cluster = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false});
  cluster.addTo(map);
  var heat = L.heatLayer([], {radius: 18, blur: 14, minOpacity: 0.3});

  function group(code) {
    var s = cfg.statuses[code] || {};
    if (code === "parked" || code === "rejected") { return "st-parked"; }
    if (!s.open) { return "st-done"; }
    return code === "in_progress" || code === "handled" ? "st-progress" : "st-open";
  }

  function query() {
    var data = new FormData(form), q = ["bbox=" + W.bbox(map)];
    ["category", "status", "grid", "since", "until"].forEach(function (k) {
      var v = data.get(k);
      if (v) { q.push(k + "=" + encodeURIComponent(v)); }
    });
    return "/api/incidents?" + q.join("&");
  }

  function showDetail(id) {
    detail.hidden = false;
    detail.replaceChildren(W.el("p", {"class": "note"}, W.t("map.loading")));
    W.send("GET", "/api/incidents/" + encodeURIComponent(id)).then(function (r) {
      if (!r.ok) {
        detail.replaceChildren(W.el("p", {"class": "error"}, r.data.message || W.t("map.error")));
        return;
      }
      var i = r.data, history = W.el("ol", {"class": "history"});
      i.history.forEach(function (h) {
        history.appendChild(W.el("li", {}, (h.at || "").slice(0, 16).replace("T", " ") + " " +
          (h.from || "") + " → " + h.to + (h.note ? ": " + h.note : "")));
      });
      detail.replaceChildren(
        W.el("h2", {"class": "title"}, i.title),
        W.el("dl", {"class": "facts"},
          W.el("dt", {}, W.t("incident.category")), W.el("dd", {}, i.category_zh),
          W.el("dt", {}, W.t("incident.status")), W.el("dd", {}, i.status_zh),
          W.el("dt", {}, W.t("incident.grid")), W.el("dd", {}, i.grid),
          W.el("dt", {}, W.t("incident.reported_at")),
          W.el("dd", {}, (i.reported_at || "").slice(0, 16).replace("T", " ")),
          W.el("dt", {}, W.t("incident.description")),
          W.el("dd", {"class": "description"}, i.description)),
        W.el("h3", {}, W.t("incident.history")), history);
    });
  }

  var api = {cluster: cluster, heat: heat, loaded: 0, features: []};
  var seq = 0;

  function load() {
    var mine = ++seq;
    W.send("GET", query()).then(function (r) {
      if (mine !== seq) { return; }  // a newer request is on its way
      if (!r.ok) { summary.textContent = r.data.message || W.t("map.error"); return; }
      var features = r.data.features;
      var markers = [], points = [];
      list.replaceChildren();
      features.forEach(function (f, n) {
        var p = f.properties, c = f.geometry.coordinates, latlng = [c[1], c[0]];
        var icon = L.divIcon({className: "inc-dot " + group(p.status) + (p.overdue ? " overdue" : ""),
                              iconSize: [14, 14]});
        var marker = L.marker(latlng, {icon: icon, title: p.title});
        marker.bindPopup(W.el("div", {"class": "inc-popup"}, W.el("b", {}, p.title),
                              W.el("br"), p.status_zh + " · " + p.category_zh));
        marker.on("click", function () { showDetail(p.id); });
        markers.push(marker);
        points.push(latlng);
        if (n < LIST_MAX) {
          var li = W.el("li", {"data-id": p.id},
            W.el("span", {"class": "title"}, p.title), " ",
            W.el("span", {"class": "status " + group(p.status)}, "·"), " ",
            W.el("small", {}, p.status_zh + " " + p.reported_at.slice(0, 10)),
            p.overdue ? W.el("span", {"class": "overdue-tag"}, W.t("incidents.overdue")) : null);
          li.addEventListener("click", function () {
            showDetail(p.id);
            // Jump, not fly: an animated zoom would reload the markers under a cluster
            // animation still holding the old ones. The details are in the side panel.
            map.setView(latlng, Math.max(map.getZoom(), 18), {animate: false});
          });
          list.appendChild(li);
        }
      });
      cluster.clearLayers();
      cluster.addLayers(markers);
      heat.setLatLngs(points);
      summary.textContent = features.length + " " + W.t("incidents.count") +
        (r.data.truncated ? " — " + W.t("incidents.truncated") : "");
      api.features = features;
      api.loaded++;
    });
  }

  var timer = null;
  function soon() { clearTimeout(timer); timer = setTimeout(load, 150); }
  form.addEventListener("change", function (e) {
    if (e.target.name === "heat") {
      if (e.target.checked) { heat.addTo(map); } else { map.removeLayer(heat); }
      return;
    }
    soon();
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); soon(); });
  map.on("moveend", soon);
  api.load = load;
  api.showDetail = showDetail;
  window.wangge.incidents = api;
  load();
})();
