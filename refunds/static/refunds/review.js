// The application page: evidence view modes, synchronised zoom and pan side by side, the
// overlay wipe and blink, heat-map zoom, reasons that fit the chosen outcome, and the
// decision panel's keyboard shortcuts. Everything works without it except these aids.
(function () {
  "use strict";

  function load(img) {
    if (img && !img.getAttribute("src") && img.dataset.src) img.setAttribute("src", img.dataset.src);
  }

  document.querySelectorAll(".rh-evidence").forEach(function (card) {
    var blinking = null;
    card.querySelectorAll(".rh-mode").forEach(function (button) {
      button.addEventListener("click", function () {
        var mode = button.dataset.mode;
        card.querySelectorAll(".rh-mode").forEach(function (b) {
          b.classList.toggle("rh-mode-active", b === button);
          b.setAttribute("aria-selected", b === button ? "true" : "false");
        });
        card.querySelectorAll(".rh-pane").forEach(function (pane) {
          pane.hidden = pane.dataset.pane !== mode;
          if (!pane.hidden) pane.querySelectorAll("img[data-src]").forEach(load);
        });
      });
    });
    var top = card.querySelector(".rh-overlay-top");
    var wipe = card.querySelector(".rh-wipe");
    if (top && wipe) {
      var apply = function () { top.style.clipPath = "inset(0 " + (100 - wipe.value) + "% 0 0)"; };
      wipe.addEventListener("input", apply);
      apply();
    }
    var blink = card.querySelector(".rh-blink");
    if (top && blink) {
      blink.addEventListener("click", function () {
        if (blinking) {
          clearInterval(blinking);
          blinking = null;
          top.style.visibility = "";
          blink.classList.remove("rh-mode-active");
          return;
        }
        top.style.clipPath = "none";
        blink.classList.add("rh-mode-active");
        blinking = setInterval(function () {
          top.style.visibility = top.style.visibility === "hidden" ? "" : "hidden";
        }, 600);
      });
    }
    card.querySelectorAll(".rh-zoom").forEach(function (button) {
      button.addEventListener("click", function () {
        var heat = card.querySelector(".rh-heat");
        heat.style.width = (100 * Number(button.dataset.zoom)) + "%";
        heat.style.maxWidth = "none";
        card.querySelectorAll(".rh-zoom").forEach(function (b) { b.classList.toggle("rh-mode-active", b === button); });
      });
    });
  });

  // Side by side, the evidence and the reference zoom and move together: one view (a centre
  // in fractions of the image box, and a scale) is applied to both, so the same part of each
  // stays in sight whichever image is dragged, wheeled or driven by the keyboard.
  var MAX_SCALE = 8, STEP = 1.5, KEY_PAN = 0.1;

  function syncPair(pair, tools) {
    var views = Array.prototype.slice.call(pair.querySelectorAll(".rh-sync-view"));
    var level = tools.querySelector(".rh-sync-level");
    var view = { scale: 1, x: 0.5, y: 0.5 };

    function clampView() {
      view.scale = Math.min(MAX_SCALE, Math.max(1, view.scale));
      var half = 0.5 / view.scale;
      view.x = Math.min(1 - half, Math.max(half, view.x));
      view.y = Math.min(1 - half, Math.max(half, view.y));
    }
    function render() {
      clampView();
      var tx = (0.5 - view.x * view.scale) * 100, ty = (0.5 - view.y * view.scale) * 100;
      views.forEach(function (box) {
        var img = box.querySelector("img");
        img.style.transform = "translate(" + tx + "%, " + ty + "%) scale(" + view.scale + ")";
      });
      pair.classList.toggle("rh-sync-zoomed", view.scale > 1);
      level.textContent = Math.round(view.scale * 100) + "%";
    }
    // Zoom by `factor` keeping the image under the point (fx, fy) of the view (fractions) in place.
    function zoom(factor, fx, fy) {
      var before = view.scale;
      view.scale = Math.min(MAX_SCALE, Math.max(1, before * factor));
      if (fx !== undefined) {
        view.x += (fx - 0.5) * (1 / before - 1 / view.scale);
        view.y += (fy - 0.5) * (1 / before - 1 / view.scale);
      }
      render();
    }
    function fit() { view = { scale: 1, x: 0.5, y: 0.5 }; render(); }
    function pan(dx, dy) { view.x += dx / view.scale; view.y += dy / view.scale; render(); }

    tools.querySelector(".rh-sync-in").addEventListener("click", function () { zoom(STEP); });
    tools.querySelector(".rh-sync-out").addEventListener("click", function () { zoom(1 / STEP); });
    tools.querySelector(".rh-sync-fit").addEventListener("click", fit);

    views.forEach(function (box) {
      box.tabIndex = 0;
      box.addEventListener("wheel", function (event) {
        // Only with Ctrl or ⌘ held (a trackpad's pinch arrives so too): the plain wheel keeps
        // scrolling the page, which a reviewer does over these images all day.
        if (!event.ctrlKey && !event.metaKey) return;
        event.preventDefault();
        var rect = box.getBoundingClientRect();
        zoom(event.deltaY < 0 ? STEP : 1 / STEP, (event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height);
      }, { passive: false });
      box.addEventListener("pointerdown", function (event) {
        if (view.scale <= 1 || event.button !== 0) return;
        var last = { x: event.clientX, y: event.clientY };
        var rect = box.getBoundingClientRect();
        box.setPointerCapture(event.pointerId);
        pair.classList.add("rh-sync-dragging");
        function move(e) {
          pan(-(e.clientX - last.x) / rect.width, -(e.clientY - last.y) / rect.height);
          last = { x: e.clientX, y: e.clientY };
        }
        function up() {
          pair.classList.remove("rh-sync-dragging");
          box.removeEventListener("pointermove", move);
          box.removeEventListener("pointerup", up);
          box.removeEventListener("pointercancel", up);
        }
        box.addEventListener("pointermove", move);
        box.addEventListener("pointerup", up);
        box.addEventListener("pointercancel", up);
      });
      box.addEventListener("keydown", function (event) {
        if (event.altKey || event.ctrlKey || event.metaKey) return;
        var moves = { ArrowLeft: [-KEY_PAN, 0], ArrowRight: [KEY_PAN, 0], ArrowUp: [0, -KEY_PAN], ArrowDown: [0, KEY_PAN] };
        if (event.key === "+" || event.key === "=") zoom(STEP);
        else if (event.key === "-" || event.key === "_") zoom(1 / STEP);
        else if (event.key === "0") fit();
        else if (moves[event.key] && view.scale > 1) pan(moves[event.key][0], moves[event.key][1]);
        else return;
        event.preventDefault();
        event.stopPropagation();
      });
    });
    tools.hidden = false;
    render();
  }

  document.querySelectorAll(".rh-pane[data-pane=side]").forEach(function (pane) {
    var tools = pane.querySelector(".rh-sync-tools"), pair = pane.querySelector(".rh-sync");
    if (tools && pair) syncPair(pair, tools);
  });

  var form = document.getElementById("decision-form");
  if (form) {
    var fit = function () {
      var chosen = form.querySelector("input[name=outcome]:checked");
      var outcome = chosen ? chosen.value : "";
      form.querySelector(".rh-partial").hidden = outcome !== "partially_approved";
      form.querySelectorAll(".rh-check").forEach(function (label) {
        var fits = !outcome || label.dataset.fits.split(" ").indexOf(outcome) >= 0;
        label.hidden = !fits;
        if (!fits) label.querySelector("input").checked = false;
      });
    };
    form.querySelectorAll("input[name=outcome]").forEach(function (radio) { radio.addEventListener("change", fit); });
    fit();
  }

  // Keyboard shortcuts: each control carries its key (data-key); "?" shows the list. Never
  // while typing in a field, and never with a modifier (the browser's own shortcuts).
  var help = document.getElementById("shortcuts");
  var opener = document.getElementById("show-shortcuts");
  var NOT_TYPING = ["radio", "checkbox", "button", "submit", "reset", "range", "file"];

  function typing(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    return target.tagName === "INPUT" && NOT_TYPING.indexOf(target.type) < 0;
  }
  function toggleHelp() {
    if (!help) return;
    if (help.open) help.close();
    else help.showModal();
  }
  if (opener) opener.addEventListener("click", toggleHelp);

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "?") {
      event.preventDefault();
      toggleHelp();
      return;
    }
    if ((help && help.open) || !/^[a-z]$/i.test(event.key)) return;
    var control = document.querySelector('[data-key="' + event.key.toLowerCase() + '"]');
    if (!control || control.disabled || control.closest("fieldset[disabled], [hidden]")) return;
    // Stop the letter itself from landing in the field that gets the focus.
    event.preventDefault();
    if (control.type === "radio") {
      control.checked = true;
      control.dispatchEvent(new Event("change", { bubbles: true }));
      var amount = form && !form.querySelector(".rh-partial").hidden && form.querySelector("input[name=approved_amount]");
      (amount || control).focus();
    } else if (control.tagName === "TEXTAREA") {
      control.focus();
    } else {
      control.click();
    }
  });
})();
