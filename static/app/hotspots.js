// Hotspot layers of a map page (config "hotspots"): the Gi* cells coloured by class
// (hot core / hot) with popups in words, the trends of the latest emerging run,
// and the incident density drawn from our kernel density (a small raster of
// levels painted on a canvas and laid on the map as an image). Labels by textContent.
(function () {
  "use strict";
  var W = window.W, map = window.wangge.map, hc = W.cfg.hotspots;
  if (!hc) { return; }  // the user may not see hotspots
  var api = {emergingLoaded: 0, heatLoaded: 0, heat: null};

  function num(v, digits) {
    return v === null || v === undefined ? "–" : Number(v).toFixed(digits);
  }

  function popup() {
    var body = W.el("div", {"class": "hotspot-popup"});
    for (var i = 0; i < arguments.length; i++) {
      if (i) { body.appendChild(W.el("br")); }
      body.appendChild(i ? document.createTextNode(arguments[i]) : W.el("b", {}, arguments[i]));
    }
    return body;
  }

  function gistarStyle(f) {
    var core = f.properties["class"] === "hot_core";
    var c = core ? hc.hot.hot_core : hc.hot.hot;
    return {color: c, weight: 1, fillColor: c, fillOpacity: core ? 0.6 : 0.35};
  }

  function gistarPopup(f, layer) {
    var p = f.properties;
    layer.bindPopup(popup(W.t("hotspot." + p["class"]), "z = " + num(p.z, 2),
                          W.t("hotspot.count") + ": " + p.count));
  }

  // The patrol map's hotspot group (filled by patrol.js from /api/map/patrol):
  // styled by class and explained in words. Its first answer is still on its way.
  var patrol = window.wangge.patrol;
  if (patrol && patrol.groups && patrol.groups.hotspots) {
    patrol.groups.hotspots.options.style = gistarStyle;
    patrol.groups.hotspots.options.onEachFeature = gistarPopup;
  }
  api.gistarStyle = gistarStyle;
  api.gistarPopup = gistarPopup;

  // -- trends of the latest emerging run --------------------------------------------------
  var emerging = L.geoJSON(null, {
    filter: function (f) { return hc.trends[f.properties["class"]] !== undefined; },
    style: function (f) {
      var c = hc.trends[f.properties["class"]];
      return {color: c, weight: 1, fillColor: c, fillOpacity: 0.5};
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindPopup(popup(W.t("hotspot.trend." + p["class"]),
                            W.t("hotspot.count") + ": " + p.count,
                            W.t("hotspot.trend_z") + " = " + num(p.trend_z, 2)));
    }
  });
  api.emerging = emerging;
  var emergingBox = document.getElementById("show-emerging");
  var emergingAsked = false;
  function showEmerging(on) {
    if (!on) { map.removeLayer(emerging); return; }
    emerging.addTo(map);
    if (emergingAsked || !hc.emerging) { return; }
    emergingAsked = true;
    // The run the legend names, by id, so the layer and its legend always agree.
    W.send("GET", "/api/hotspots?run=" + encodeURIComponent(hc.emerging)).then(function (r) {
      if (!r.ok) { emergingAsked = false; return; }
      emerging.addData(r.data);
      api.emergingLoaded++;
    });
  }
  if (emergingBox) {
    emergingBox.addEventListener("change", function () { showEmerging(emergingBox.checked); });
  }
  api.showEmerging = showEmerging;

  // -- heat: our kernel density as levels 0–5 ------------------------------------------------
  function rgb(hex) {
    var v = parseInt(hex.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }

  function heatImage(d) {
    var canvas = document.createElement("canvas");
    canvas.width = d.width;
    canvas.height = d.height;
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(d.width, d.height);
    var colours = d.colours.map(rgb), px = img.data;
    d.rows.forEach(function (row, y) {
      for (var x = 0; x < d.width; x++) {
        var level = row.charCodeAt(x) - 48;
        if (level <= 0) { continue; }
        var c = colours[level - 1], at = 4 * (y * d.width + x);
        px[at] = c[0]; px[at + 1] = c[1]; px[at + 2] = c[2]; px[at + 3] = 200;
      }
    });
    ctx.putImageData(img, 0, 0);
    return canvas.toDataURL("image/png");
  }

  function heatLegend(d) {
    var items = document.querySelectorAll("#heat-legend .heat-break");
    var unit = W.t("hotspot.heat.unit");
    items.forEach(function (item, i) {
      item.textContent = d.breaks_per_km2 ? "≥ " + num(d.breaks_per_km2[i], 0) + " " + unit : "";
    });
    var label = document.getElementById("heat-label");
    if (label) {
      label.textContent = d.empty ? W.t("hotspot.heat.none") :
        d.period[0] + " – " + d.period[1] + " · " + W.t("hotspot.count") + " " + d.incidents +
        " · σ " + d.bandwidth_m + " m";
    }
  }

  var heatBox = document.getElementById("show-heat");
  var heatAsked = false;
  function showHeat(on) {
    if (!on) { if (api.heat) { map.removeLayer(api.heat); } return; }
    if (api.heat) { api.heat.addTo(map); return; }
    if (heatAsked) { return; }
    heatAsked = true;
    W.send("GET", "/api/hotspots/heat").then(function (r) {
      heatAsked = false;
      if (!r.ok) { return; }
      heatLegend(r.data);
      api.heat = L.imageOverlay(heatImage(r.data), r.data.bounds,
                                {opacity: 0.75, interactive: false, className: "heat-raster"});
      api.heatData = r.data;
      if (!heatBox || heatBox.checked) { api.heat.addTo(map); }
      api.heatLoaded++;
    });
  }
  if (heatBox) { heatBox.addEventListener("change", function () { showHeat(heatBox.checked); }); }
  api.showHeat = showHeat;

  window.wangge.hotspots = api;
})();
