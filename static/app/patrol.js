// The patrol map: routes, checkpoints, hazard hotspots and the tracks walked in
// the view (tracks only where the user may see them). Filled by the patrol work.
(function () {
  "use strict";
  var W = window.W, map = window.wangge.map;
  var styles = {
    routes: {color: "#1c7ed6", weight: 4, opacity: 0.8},
    checkpoints: {radius: 6, color: "#7048e8", fillOpacity: 0.8},
    hotspots: {color: "#e03131", weight: 1, fillOpacity: 0.35},
    tracks: {color: "#2f9e44", weight: 2, dashArray: "3 3"}
  };
  var names = {routes: "patrol.routes", checkpoints: "patrol.checkpoints",
               hotspots: "patrol.hotspots", tracks: "patrol.tracks"};
  var groups = {}, overlays = {};
  Object.keys(styles).forEach(function (k) {
    groups[k] = L.geoJSON(null, {
      style: styles[k],
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, styles.checkpoints); },
      onEachFeature: function (f, layer) {
        var p = f.properties || {};
        var text = p.name || (p["class"] ? p["class"] + " z=" + p.z : "") ||
                   (p.started_at ? p.started_at.slice(0, 16).replace("T", " ") : "") ||
                   (p.route_id ? "#" + p.route_id + " · " + p.n : "#" + p.id);
        var body = W.el("div", {}, W.el("b", {}, W.t(names[k])), W.el("br"), text);
        if (k === "routes") {  // the phone takes the route as GPX
          body.appendChild(W.el("br"));
          body.appendChild(W.el("a", {href: "/api/patrol/routes/" + p.id + ".gpx"}, "GPX"));
        }
        layer.bindPopup(body);
      }
    }).addTo(map);
    overlays[W.t(names[k])] = groups[k];
  });
  L.control.layers(null, overlays, {collapsed: false}).addTo(map);

  var api = {groups: groups, loaded: 0};
  function load() {
    W.send("GET", "/api/map/patrol?bbox=" + W.bbox(map)).then(function (r) {
      if (!r.ok) { return; }
      Object.keys(groups).forEach(function (k) {
        groups[k].clearLayers();
        groups[k].addData(r.data[k]);
        var n = document.getElementById("n-" + k);
        if (n) { n.textContent = r.data[k].features.length; }
      });
      api.loaded++;
    });
  }
  map.on("moveend", load);
  api.load = load;
  window.wangge.patrol = api;

  // ?route=ID (links from a week plan): draw that route on top and open the map on it.
  var asked = new URLSearchParams(location.search).get("route") || "";
  if (/^[0-9]+$/.test(asked)) {
    W.send("GET", "/api/patrol/routes/" + asked).then(function (r) {
      if (!r.ok) { return; }
      var shown = L.geoJSON(r.data, {style: {color: "#f08c00", weight: 7, opacity: 0.9}});
      shown.bindPopup(W.el("div", {}, W.el("b", {}, W.t("patrol.routes")), W.el("br"),
                           r.data.properties.name || "#" + r.data.id));
      shown.addTo(map);
      api.selected = shown;
      map.fitBounds(shown.getBounds(), {animate: false});
    });
  }
  load();
})();
