// The merchant portal's few behaviours; every page works without them.
(function () {
  "use strict";
  var serverOffset = 0; // server clock minus this browser's clock, in ms: deadlines are the server's
  var lang = document.documentElement.lang || undefined;

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function tickCountdowns() {
    var now = Date.now() + serverOffset;
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Math.floor((Number(el.dataset.deadline) * 1000 - now) / 1000);
      if (left <= 0) { el.textContent = el.dataset.closed; el.classList.add("closed"); return; }
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
      var time = h + ":" + two(m) + ":" + two(s);
      if (d > 0) { time = el.dataset.days.replace("{days}", d) + " " + time; }
      el.textContent = el.dataset.left.replace("{time}", time);
      // The last hours look different from the first days: a short window must not pass for a long one.
      el.classList.toggle("urgent", left < 6 * 3600);
    });
  }

  function localTimes() {
    var format = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" };
    document.querySelectorAll("time.local").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) { el.textContent = when.toLocaleString(lang, format); }
    });
  }

  function describeChosen(zone, input) {
    var list = zone.querySelector(".chosen");
    var form = zone.closest("form");
    list.textContent = "";
    Array.prototype.forEach.call(input.files, function (file) {
      var item = document.createElement("li");
      var isVideo = /^video\//.test(file.type) || /\.mp4$/i.test(file.name);
      var limit = Number(isVideo ? zone.dataset.videoMax : zone.dataset.imageMax) * 1024 * 1024;
      item.textContent = file.name + " (" + (file.size < 1048576 ? Math.max(1, Math.round(file.size / 1024)) + " KB"
        : (file.size / 1048576).toFixed(1) + " MB") + ")";
      if (file.size > limit) {
        item.className = "too-large";
        item.textContent += " — " + form.dataset.tooLarge.replace("{name}", file.name);
      }
      list.appendChild(item);
    });
  }

  function setUpDropZone(zone) {
    var input = zone.querySelector("input[type=file]");
    input.addEventListener("change", function () { describeChosen(zone, input); });
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        describeChosen(zone, input);
      }
    });
  }

  // Send the form with XMLHttpRequest so that the upload's progress can be shown; the server
  // answers with the address to go to when done, or the page with the form's errors.
  function setUpUpload(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var box = form.querySelector(".upload-progress");
      var bar = box.querySelector("progress");
      var button = form.querySelector("button[type=submit]");
      box.hidden = false;
      bar.value = 0;
      button.disabled = true;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round(e.loaded / e.total * 100);
        }
      });
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.addEventListener("load", function () {
        if (xhr.status === 204 && xhr.getResponseHeader("X-Location")) {
          window.location.assign(xhr.getResponseHeader("X-Location"));
          return;
        }
        var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var main = page.querySelector("main");
        if (!main) { document.documentElement.innerHTML = xhr.responseText; return; }
        document.querySelector("main").innerHTML = main.innerHTML;
        start(document.querySelector("main"));
        var summary = document.getElementById("error-summary");
        if (summary) { summary.focus(); }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        box.hidden = true;
        form.submit();
      });
      xhr.send(new FormData(form));
    });
  }

  function start(root) {
    root.querySelectorAll("[data-drop-zone]").forEach(setUpDropZone);
    root.querySelectorAll("form[data-upload]").forEach(setUpUpload);
    localTimes();
    tickCountdowns();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var serverNow = Number(document.body.dataset.serverNow) * 1000;
    if (serverNow) { serverOffset = serverNow - Date.now(); }
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
    start(document);
    window.setInterval(tickCountdowns, 1000);
  });
})();
