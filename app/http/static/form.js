// The patient form, enhanced: a slider shows its value and counts as answered once moved; with
// an error, focus goes to the error summary. Without this script the form still works.
(function () {
  "use strict";
  var form = document.querySelector("form.questionnaire");
  if (!form) { return; }
  form.elements.namedItem("js").value = "1";
  var sliders = form.querySelectorAll("input[type=range]");
  Array.prototype.forEach.call(sliders, function (slider) {
    var output = document.getElementById(slider.getAttribute("data-output"));
    var touched = form.elements.namedItem(slider.getAttribute("data-touched-field"));
    function show() {
      output.textContent = touched.value ? slider.value.replace(".", output.getAttribute("data-decimal") || ".") : output.getAttribute("data-unset");
    }
    slider.addEventListener("input", function () { touched.value = "1"; show(); });
    show();
  });
  var summary = document.getElementById("error-summary");
  if (summary && document.activeElement !== summary) { summary.focus(); }
})();
