// Shared helpers of the map pages. Every label is set with textContent: user
// text (names, incident descriptions) never reaches innerHTML.
(function () {
  "use strict";
  var cfg = (window.wangge && window.wangge.config) || {};
  var csrf = document.querySelector('meta[name="csrf-token"]');

  function t(key) { return (cfg.t && cfg.t[key]) || key; }

  // el("li", {class: "x"}, "text", child, …): a DOM element from text and children.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "class") { node.className = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) { continue; }
      node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // fetch() with the CSRF header on writes; resolves {ok, status, data} for any answer.
  function send(method, url, body) {
    var opts = {method: method, credentials: "same-origin", headers: {Accept: "application/json"}};
    if (method !== "GET") {
      opts.headers["X-CSRF-Token"] = csrf ? csrf.content : "";
    }
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        return {ok: r.ok, status: r.status, data: data};
      });
    });
  }

  function bbox(map) {
    var b = map.getBounds();
    var f = function (v) { return v.toFixed(6); };
    return [f(b.getWest()), f(b.getSouth()), f(b.getEast()), f(b.getNorth())].join(",");
  }

  function people(list) {
    if (!list || !list.length) { return el("p", {"class": "note"}, t("map.info.none")); }
    var ul = el("ul", {"class": "people"});
    list.forEach(function (p) {
      ul.appendChild(el("li", {},
        el("span", {"class": "role"}, cfg.lang === "en" ? p.role_en : p.role_zh), " ",
        el("span", {"class": "name"}, p.name), " ",
        el("span", {"class": "phone"}, p.phone || "")));
    });
    return ul;
  }

  window.W = {cfg: cfg, t: t, el: el, send: send, bbox: bbox, people: people};
  if (window.wangge && cfg.bounds) {
    // No animation: the layers that load right after must see the final view.
    window.wangge.map.fitBounds(cfg.bounds, {maxZoom: 17, animate: false});
  }
})();
