// Kiosk mode: after the thank-you page, the screen returns to a neutral page by itself.
(function () {
  "use strict";
  var note = document.getElementById("kiosk");
  if (!note) { return; }
  var seconds = parseInt(note.getAttribute("data-kiosk-seconds"), 10) || 8;
  window.setTimeout(function () { window.location.replace(note.getAttribute("data-kiosk-url")); }, seconds * 1000);
})();
