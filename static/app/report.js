/* The phone-sized report page and "my reports". Text from the server is inserted as
   text (textContent), never as HTML. No request leaves our own origin. */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function send(url, body) {
    var init = { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body instanceof FormData) init.body = body;
    else { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    return fetch(url, init).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, status: r.status, body: j }; });
    });
  }

  function reportPage(root) {
    var centre = JSON.parse(root.dataset.centre);
    var map = L.map("map").setView([centre[1], centre[0]], 15);
    // Reachable for scripted checks (as the map pages' wangge.layers are).
    window.wangge = window.wangge || {};
    window.wangge.reportMap = map;
    var marker = null;
    var where = document.getElementById("where");
    fetch(root.dataset.grids, { credentials: "same-origin" }).then(function (r) { return r.json(); })
      .then(function (fc) {
        var layer = L.geoJSON(fc, { style: { weight: 1, color: "#0b4f6c", fillOpacity: 0.05 } });
        layer.addTo(map);
        // No animation: a tap during the zoom animation would land off its place.
        if (fc.features.length && !marker) map.fitBounds(layer.getBounds(), { animate: false });
      });
    function place(lat, lon, how) {
      document.getElementById("lat").value = lat.toFixed(7);
      document.getElementById("lon").value = lon.toFixed(7);
      if (marker) marker.setLatLng([lat, lon]); else marker = L.marker([lat, lon]).addTo(map);
      where.textContent = how + " " + lat.toFixed(6) + ", " + lon.toFixed(6);
    }
    map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng, "📍"); });
    document.getElementById("locate").addEventListener("click", function () {
      if (!navigator.geolocation) { where.textContent = "无法定位 / no location on this device"; return; }
      navigator.geolocation.getCurrentPosition(function (p) {
        place(p.coords.latitude, p.coords.longitude, "🛰");
        map.setView([p.coords.latitude, p.coords.longitude], 17);
      }, function () { where.textContent = "定位失败，请在地图上点选 / could not locate: tap the map"; },
      { enableHighAccuracy: true, timeout: 15000 });
    });
    var form = document.getElementById("report-form");
    var result = document.getElementById("result");
    function show(text, error) {
      result.hidden = false; result.textContent = text; result.className = "result" + (error ? " error" : "");
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var files = document.getElementById("photos").files;
      if (files.length > 3) { show("最多 3 张照片 / at most 3 photos", true); return; }
      for (var i = 0; i < files.length; i++) {
        if (files[i].size > 10 * 1024 * 1024) { show("每张照片不超过 10 MB / photos up to 10 MB each", true); return; }
      }
      var data = new FormData(form);
      data.append("client_key", "web-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10));
      document.getElementById("submit").disabled = true;
      send(root.dataset.post, data).then(function (r) {
        document.getElementById("submit").disabled = false;
        if (!r.ok) { show(r.body.message || ("错误 / error " + r.status), true); return; }
        show("已上报 / reported: " + r.body.code + "（" + r.body.grid_name + "）", false);
        offerMerge(r.body);
        form.reset();
      }, function () {
        document.getElementById("submit").disabled = false;
        show("网络错误，请重试 / network error, try again", true);
      });
    });
    function offerMerge(body) {
      body.duplicates.forEach(function (d) {
        var b = el("button", "附近已有同类事件 " + d.code + "（" + d.distance_m + " 米），合并 / merge");
        b.type = "button"; b.className = "secondary";
        b.addEventListener("click", function () {
          send("/api/incidents/" + body.id + "/transitions", { action: "merge", into: d.id })
            .then(function (r) { show(r.ok ? "已合并 / merged" : r.body.message, !r.ok); });
        });
        result.appendChild(b);
      });
    }
  }

  function minePage(root) {
    var list = document.getElementById("mine-list");
    function load() {
      fetch(root.dataset.api, { credentials: "same-origin" }).then(function (r) { return r.json(); })
        .then(function (j) {
          list.textContent = "";
          j.reports.forEach(function (r) {
            var li = el("li");
            li.appendChild(el("strong", r.code + " " + r.category_zh));
            li.appendChild(el("div", r.status_zh + (r.merged ? "（已合并 / merged）" : "")));
            if (r.overdue) li.appendChild(el("div", "已超期 / overdue", "overdue"));
            li.appendChild(el("div", r.description));
            if (r.may_rate) {
              var stars = el("div", "评价 / rate: ", "stars");
              [1, 2, 3, 4, 5].forEach(function (n) {
                var b = el("button", "★"); b.type = "button"; b.title = String(n);
                b.addEventListener("click", function () {
                  send("/api/incidents/" + r.id + "/transitions", { action: "feedback", satisfaction: n }).then(load);
                });
                stars.appendChild(b);
              });
              li.appendChild(stars);
            } else if (r.satisfaction) {
              li.appendChild(el("div", "您的评价 / your rating: " + "★".repeat(r.satisfaction)));
            }
            list.appendChild(li);
          });
        });
    }
    load();
  }

  var report = document.getElementById("report");
  if (report) reportPage(report);
  var mine = document.getElementById("mine");
  if (mine) minePage(mine);
})();
