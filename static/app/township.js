// Township map and grid page: a click on a village, grid or captain area shows
// who answers for it (names; phones masked by the server) and its households.
(function () {
  "use strict";
  var W = window.W, layers = window.wangge.layers;
  var box = document.getElementById("info");

  function show(layerName, props) {
    if (!box || !props || props.id === undefined) { return; }
    box.replaceChildren(W.el("p", {"class": "note"}, W.t("map.loading")));
    W.send("GET", "/api/map/areas/" + layerName + "/" + encodeURIComponent(props.id))
      .then(function (r) {
        if (!r.ok) {
          box.replaceChildren(W.el("p", {"class": "error"}, r.data.message || W.t("map.error")));
          return;
        }
        var a = r.data;
        var title = W.el("h2", {}, a.name);
        if (a.kind === "grid") {
          title = W.el("h2", {}, W.el("a", {href: "/grids/" + encodeURIComponent(a.code)}, a.name));
        }
        box.replaceChildren(
          title,
          W.el("p", {"class": "code"}, a.code),
          W.el("p", {}, W.t("map.info.households") + ": ",
               W.el("b", {"data-field": "households"}, a.households)),
          W.people(a.people));
      });
  }

  ["villages", "grids", "captain_areas"].forEach(function (name) {
    var layer = layers[name];
    if (!layer) { return; }
    layer.on("click", function (e) {
      L.DomEvent.stopPropagation(e);
      show(name, e.layer && (e.layer.properties || (e.layer.feature && e.layer.feature.properties)));
    });
  });
  window.wangge.showArea = show;
})();
