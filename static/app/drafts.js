// Keep what an officer typed: forms marked data-draft="key" are saved to
// localStorage as they change and restored on load, so an expired session
// (a trip through the login page) or a refused save loses nothing. The
// server ends a draft by rendering <meta name="draft-done" content="key">
// on the page that confirms the form was accepted.
(function () {
  "use strict";
  var PREFIX = "wangge.draft.";
  document.querySelectorAll('meta[name="draft-done"]').forEach(function (m) {
    localStorage.removeItem(PREFIX + m.content);
  });
  document.querySelectorAll("form[data-draft]").forEach(function (form) {
    var key = PREFIX + form.dataset.draft;
    var fields = form.querySelectorAll(
      "input:not([type=hidden]):not([type=password]), textarea, select");
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { saved = null; }
    if (saved) {
      fields.forEach(function (f) { if (f.name in saved && !f.value) { f.value = saved[f.name]; } });
    }
    form.addEventListener("input", function () {
      var data = {};
      fields.forEach(function (f) { data[f.name] = f.value; });
      localStorage.setItem(key, JSON.stringify(data));
    });
  });
})();
