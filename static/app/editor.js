// The boundary editor: Leaflet.draw on the boundaries the user may edit; each
// create, reshape or delete goes to /api/boundaries with the CSRF header. A
// refused or conflicting save is kept as a draft in localStorage (nothing the
// officer drew is lost); a conflict also shows the other edit, dashed.
(function () {
  "use strict";
  var W = window.W, map = window.wangge.map, cfg = window.W.cfg;
  var PREFIX = "wangge.boundary.";
  var select = document.getElementById("edit-level");
  var countBox = document.getElementById("count");
  var messageBox = document.getElementById("message");
  var draftBox = document.getElementById("drafts");
  var nameInput = document.getElementById("edit-name");
  var splitButton = document.getElementById("split-start");
  var splitBox = document.getElementById("split");

  var items = new L.FeatureGroup().addTo(map);   // editable boundaries
  var theirs = L.layerGroup().addTo(map);         // the other edit after a conflict
  var marks = L.layerGroup().addTo(map);          // where a shape was refused
  var OK = {color: "#1864ab", weight: 2, fillOpacity: 0.1};
  var BAD = {color: "#b42318", weight: 2, dashArray: "6 4", fillOpacity: 0.15};

  var LINE = {color: "#d9480f", weight: 4, opacity: 0.9};
  var LINES = {street: true, lane: true};

  function current() {
    var v = select.value.split(":");
    return {kind: v[0], level: v[1] ? parseInt(v[1], 10) : null};
  }
  function isLine(kind) { return LINES[kind] === true; }

  // Areas are drawn as polygons, streets and lanes as polylines: the toolbar
  // offers only the tool that fits what is being edited.
  var drawControl = null;
  function makeControl() {
    var line = isLine(current().kind);
    if (drawControl) { map.removeControl(drawControl); }
    drawControl = new L.Control.Draw({
      position: "topleft",
      draw: {
        // The server judges validity (and says where it fails), so drawing a
        // crossing ring is allowed here rather than silently blocked.
        polygon: line ? false : {allowIntersection: true, showArea: false, shapeOptions: OK},
        rectangle: line ? false : {showArea: false, shapeOptions: OK},
        polyline: line ? {allowIntersection: true, shapeOptions: LINE} : false,
        circle: false, marker: false, circlemarker: false
      },
      edit: {featureGroup: items, remove: true}
    });
    map.addControl(drawControl);
  }
  makeControl();

  function say(kind, text, where) {
    messageBox.className = "message " + kind;
    messageBox.replaceChildren(W.el("span", {}, text));
    marks.clearLayers();
    if (where) {
      var tip = W.el("span", {"class": "shape-error-text"}, text);
      L.circleMarker([where[1], where[0]], {radius: 9, color: "#b42318", className: "shape-error"})
        .bindTooltip(tip, {permanent: true, direction: "right"}).addTo(marks);
    }
  }

  function showCount(data) {
    var parts = [W.el("span", {}, W.t("edit.households") + ": "),
                 W.el("b", {"data-field": "households"}, data.households === null ? "–" : data.households)];
    if (data.rule) {
      parts.push(W.el("span", {}, " · " + W.t("edit.rule") + " " + data.rule[0] + "–" + data.rule[1] + " · "));
      parts.push(W.el("b", {"class": data.within ? "" : "error", "data-field": "within"},
                      W.t(data.within ? "edit.within" : "edit.outside")));
    }
    if (data.problem) { parts.push(W.el("p", {"class": "error"}, data.problem)); }
    countBox.replaceChildren.apply(countBox, parts);
  }

  // Households inside the shape as it is drawn; one request at a time, the latest wins.
  var counting = null, pending = null;
  function count(geometry) {
    if (isLine(current().kind)) { return; }
    pending = geometry;
    if (counting) { return; }
    var c = current(), g = pending;
    pending = null;
    counting = W.send("POST", "/api/boundaries/count", {kind: c.kind, level: c.level, geometry: g})
      .then(function (r) { if (r.ok) { showCount(r.data); } })
      .finally(function () { counting = null; if (pending) { count(pending); } });
  }

  function ring(latlngs) {
    var coords = latlngs.map(function (p) { return [p.lng, p.lat]; });
    coords.push(coords[0]);
    return {type: "Polygon", coordinates: [coords]};
  }

  map.on("draw:drawvertex", function (e) {
    if (splitting) { return; }
    var pts = [];
    e.layers.eachLayer(function (m) { pts.push(m.getLatLng()); });
    if (pts.length >= 3) { count(ring(pts)); }
  });
  map.on("draw:editvertex", function (e) {
    if (e.poly) { count(e.poly.toGeoJSON().geometry); }
  });

  // --- drafts ----------------------------------------------------------------

  function draftKey(p) { return PREFIX + p.kind + "." + (p.code || p.draft); }

  function keepDraft(layer) {
    var p = layer.feature.properties;
    if (!p.code && !p.draft) { p.draft = "new-" + Date.now(); }
    localStorage.setItem(draftKey(p), JSON.stringify({
      kind: p.kind, level: p.level, code: p.code || null, draft: p.draft || null,
      version: p.version || null, geometry: layer.toGeoJSON().geometry, at: new Date().toISOString()
    }));
    renderDrafts();
  }

  function dropDraft(p) {
    localStorage.removeItem(draftKey(p));
    renderDrafts();
  }

  function drafts() {
    var c = current(), out = [];
    Object.keys(localStorage).forEach(function (k) {
      if (k.indexOf(PREFIX) !== 0) { return; }
      try {
        var d = JSON.parse(localStorage.getItem(k));
        if (d && d.kind === c.kind && d.level === c.level) { d.key = k; out.push(d); }
      } catch (err) { /* not ours */ }
    });
    return out;
  }

  function renderDrafts() {
    var list = drafts();
    draftBox.replaceChildren();
    if (!list.length) { return; }
    draftBox.appendChild(W.el("h2", {}, W.t("edit.draft")));
    list.forEach(function (d) {
      var resave = W.el("button", {type: "button", "class": "resave"}, W.t("edit.resave"));
      var discard = W.el("button", {type: "button", "class": "discard"}, W.t("edit.discard"));
      resave.addEventListener("click", function () { resaveDraft(d); });
      discard.addEventListener("click", function () {
        localStorage.removeItem(d.key);
        theirs.clearLayers();
        load();
      });
      draftBox.appendChild(W.el("div", {"class": "draft", "data-code": d.code || ""},
        W.el("span", {}, (d.code || W.t("edit.draft")) + " "), resave, discard));
    });
  }

  // Save a kept draft on top of the newest stored version: the officer has
  // seen the other edit (dashed) and chooses his shape.
  function resaveDraft(d) {
    var layer = L.geoJSON(d.geometry).getLayers()[0];
    layer.feature = {type: "Feature", properties: {kind: d.kind, level: d.level, code: d.code,
                                                   draft: d.draft}};
    var ready = d.code
      ? W.send("GET", "/api/boundaries/" + d.kind + "/" + encodeURIComponent(d.code))
          .then(function (r) { layer.feature.properties.version = r.data.properties.version; })
      : Promise.resolve();
    return ready.then(function () {
      // Draw it in place of the stored shape, then save as any edit.
      items.eachLayer(function (l) {
        if (d.code && l.feature.properties.code === d.code) { items.removeLayer(l); }
      });
      items.addLayer(layer);
      return save(layer);
    }).then(function (ok) { if (ok) { theirs.clearLayers(); } });
  }

  // --- saving ----------------------------------------------------------------

  function save(layer) {
    var p = layer.feature.properties, geometry = layer.toGeoJSON().geometry;
    var name = nameInput && nameInput.value.trim() ? nameInput.value.trim() : undefined;
    var request = p.code
      ? W.send("PUT", "/api/boundaries/" + p.kind + "/" + encodeURIComponent(p.code),
               {version: p.version, geometry: geometry})
      : W.send("POST", "/api/boundaries/" + p.kind, {level: p.level, geometry: geometry,
                                                      name: name});
    return request.then(function (r) {
      if (r.ok) {
        if (p.draft || p.code) { dropDraft(p); }
        layer.feature = r.data.feature;
        layer.setStyle(isLine(p.kind) ? LINE : OK);
        if (!p.code && nameInput) { nameInput.value = ""; }
        say("ok", W.t("edit.saved") + " " + r.data.feature.properties.name +
                  " (v" + r.data.feature.properties.version + ")");
        if (!isLine(p.kind)) {
          showCount({households: r.data.households, rule: r.data.rule, within: r.data.within});
        }
        return true;
      }
      keepDraft(layer);
      layer.setStyle(BAD);
      if (r.status === 409 && r.data.current) {
        theirs.clearLayers();
        L.geoJSON(r.data.current, {style: {color: "#5f3dc4", weight: 2, dashArray: "4 4",
                                            fill: false, className: "their-edit"}})
          .bindTooltip(W.el("span", {}, W.t("edit.theirs"))).addTo(theirs);
        say("error conflict", r.data.message);
      } else {
        say("error", r.data.message || W.t("edit.refused"), r.data.where);
      }
      return false;
    });
  }

  function remove(layer) {
    var p = layer.feature.properties;
    if (!p.code) { dropDraft(p); return Promise.resolve(true); }
    return W.send("DELETE", "/api/boundaries/" + p.kind + "/" + encodeURIComponent(p.code) +
                  "?version=" + encodeURIComponent(p.version))
      .then(function (r) {
        if (r.ok) { say("ok", W.t("edit.deleted") + " " + p.name); return true; }
        items.addLayer(layer);  // still there: show it again
        say("error", r.data.message, r.data.where);
        return false;
      });
  }

  map.on(L.Draw.Event.CREATED, function (e) {
    if (splitting) { splitLine(e.layer); return; }
    var c = current();
    e.layer.feature = {type: "Feature", properties: {kind: c.kind, level: c.level}};
    items.addLayer(e.layer);
    save(e.layer);
  });
  map.on(L.Draw.Event.EDITED, function (e) { e.layers.eachLayer(save); });
  map.on(L.Draw.Event.DELETED, function (e) { e.layers.eachLayer(remove); });

  // --- splitting -------------------------------------------------------------
  // Split: pick a grid (or, for the town, a village), draw a line across it, see
  // both parts' households against the size rule and what moves with the new
  // part (a preview the server computes with every check of the real split),
  // then confirm or cancel. Nothing is stored before confirming.

  var splitting = null;                           // {layer, line, handler}
  var preview = L.layerGroup().addTo(map);
  var PARTS = [{color: "#2b8a3e", weight: 3, fillOpacity: 0.25, className: "split-part keep"},
               {color: "#e67700", weight: 3, fillOpacity: 0.25, className: "split-part new"}];

  function cancelSplit() {
    if (splitting && splitting.handler) { splitting.handler.disable(); }
    splitting = null;
    preview.clearLayers();
    splitBox.replaceChildren();
    var style = isLine(current().kind) ? LINE : OK;
    items.eachLayer(function (l) { if (l.setStyle) { l.setStyle(style); } });
  }

  function startSplit() {
    cancelSplit();
    splitting = {};
    splitBox.replaceChildren(W.el("p", {"class": "note"},
      W.t(current().kind === "village" ? "edit.split.pick_any" : "edit.split.pick")));
  }

  items.on("click", function (e) {
    if (!splitting || splitting.layer) { return; }
    var layer = e.layer;
    splitting.layer = layer;
    layer.setStyle({color: "#e67700", weight: 3, fillOpacity: 0.15});
    splitBox.replaceChildren(W.el("p", {"class": "note"}, W.t("edit.split.draw") + " " +
                                  layer.feature.properties.name));
    splitting.handler = new L.Draw.Polyline(map, {allowIntersection: true,
                                                  shapeOptions: {color: "#e67700", weight: 3}});
    splitting.handler.enable();
  });

  function partRow(part, rule) {
    var p = part.feature.properties;
    var row = W.el("li", {"class": "part " + (part.keeps_code ? "keep" : "new")},
      W.el("b", {}, p.code), " ",
      W.el("span", {}, part.keeps_code ? W.t("edit.split.keeps")
                                       : W.t(p.kind === "village" ? "edit.split.new_village"
                                                                  : "edit.split.new")), " · ",
      W.el("span", {}, W.t("edit.households") + " "),
      W.el("b", {"data-field": "households"}, part.households));
    if (rule) {
      row.appendChild(W.el("span", {}, " · "));
      row.appendChild(W.el("b", {"class": part.within ? "" : "error", "data-field": "within"},
                           W.t(part.within ? "edit.within" : "edit.outside")));
    }
    return row;
  }

  // What else the split changes: grids recoded, what moves to a new village, and
  // streets or lanes left across the new boundary. All text goes in as text.
  var MOVES = ["grids", "households", "captain_areas", "captain_areas_cut", "streets", "lanes",
               "persons", "incidents"];
  function splitDetails(data) {
    var out = [];
    if (data.recoded && data.recoded.length) {
      var grids = W.el("ul", {"class": "split-recoded"});
      data.recoded.forEach(function (g) {
        grids.appendChild(W.el("li", {"data-code": g.code}, g.code + " → ",
                               W.el("b", {}, g.new_code), " " + g.name));
      });
      out.push(W.el("p", {}, W.t("edit.split.recoded")), grids);
    }
    if (data.moves) {
      var moves = W.el("ul", {"class": "split-moves"});
      MOVES.forEach(function (k) {
        if (data.moves[k] === undefined) { return; }
        moves.appendChild(W.el("li", {"data-move": k},
                               W.el("b", {}, String(data.moves[k])), " " + W.t("edit.split.move." + k)));
      });
      out.push(W.el("p", {}, W.t("edit.split.moves") + " " + (data.new_name || data.new_code) +
                             " (" + data.new_code + ")"), moves);
    }
    if (data.crossing && data.crossing.length) {
      var lines = W.el("ul", {"class": "split-crossing"});
      data.crossing.forEach(function (x) {
        lines.appendChild(W.el("li", {}, x.name + " (" + x.kind + " " + x.id + ")"));
      });
      out.push(W.el("p", {"class": "note"}, W.t("edit.split.crossing")), lines);
    }
    return out;
  }

  function splitLine(lineLayer) {
    var s = splitting, p = s.layer.feature.properties;
    s.line = lineLayer.toGeoJSON().geometry;
    s.handler = null;
    var url = "/api/boundaries/" + p.kind + "/" + encodeURIComponent(p.code) + "/split";
    return W.send("POST", url, {version: p.version, line: s.line, preview: true})
      .then(function (r) {
        if (splitting !== s) { return; }
        preview.clearLayers();
        if (!r.ok) {
          say("error", r.data.message || W.t("edit.refused"), r.data.where);
          splitBox.replaceChildren();
          if (r.status === 409) { load(); }
          splitting = null;
          s.layer.setStyle(OK);
          return;
        }
        r.data.parts.forEach(function (part, i) { L.geoJSON(part.feature, {style: PARTS[i]}).addTo(preview); });
        var list = W.el("ul", {"class": "split-parts"});
        r.data.parts.forEach(function (part) { list.appendChild(partRow(part, r.data.rule)); });
        var confirm = W.el("button", {type: "button", id: "split-confirm"}, W.t("edit.split.confirm"));
        var cancel = W.el("button", {type: "button", id: "split-cancel"}, W.t("edit.split.cancel"));
        confirm.addEventListener("click", function () { confirmSplit(s, url); });
        cancel.addEventListener("click", cancelSplit);
        var rule = r.data.rule ? W.el("p", {}, W.t("edit.rule") + " " + r.data.rule[0] + "–" +
                                       r.data.rule[1]) : null;
        splitBox.replaceChildren.apply(splitBox, [W.el("h2", {}, W.t("edit.split")), rule, list]
          .concat(splitDetails(r.data), [confirm, cancel]).filter(Boolean));
      });
  }

  function confirmSplit(s, url) {
    var p = s.layer.feature.properties;
    return W.send("POST", url, {version: p.version, line: s.line}).then(function (r) {
      if (r.ok) {
        var names = r.data.parts.map(function (x) { return x.feature.properties.code; });
        return load().then(function () {
          say("ok", W.t("edit.split.done") + " " + names.join(" + "));
          var details = splitDetails(r.data);
          if (details.length) { splitBox.replaceChildren.apply(splitBox, details); }
        });
      }
      say("error" + (r.status === 409 ? " conflict" : ""), r.data.message || W.t("edit.refused"),
          r.data.where);
      cancelSplit();
      if (r.status === 409) { load(); }
    });
  }

  splitButton.addEventListener("click", startSplit);

  // --- loading ---------------------------------------------------------------

  var api = {items: items, theirs: theirs, save: save, remove: remove, loaded: false};

  function load() {
    var c = current();
    api.loaded = false;
    cancelSplit();
    items.clearLayers();
    marks.clearLayers();
    // Level-1 grids are their village's outline: the village itself is split (town only).
    splitButton.hidden = !(c.kind === "village" || (c.kind === "grid" && c.level !== 1));
    var url = "/api/boundaries?kind=" + c.kind + (c.level ? "&level=" + c.level : "");
    return W.send("GET", url).then(function (r) {
      L.geoJSON(r.data, {style: isLine(c.kind) ? LINE : OK}).eachLayer(function (layer) {
        layer.bindTooltip(W.el("span", {}, layer.feature.properties.name));
        items.addLayer(layer);
      });
      renderDrafts();
      api.loaded = true;
    });
  }

  select.addEventListener("change", function () { makeControl(); load(); });
  api.load = load;
  window.wangge.editor = api;
  load();
})();
