// The application page: evidence view modes, the overlay wipe and blink, heat-map zoom,
// and reasons that fit the chosen outcome. Everything works without it except these aids.
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
})();
