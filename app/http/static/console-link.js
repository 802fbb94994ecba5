// A console sign-in link: use it at once (the button does the same without a script).
(function () {
  "use strict";
  var form = document.getElementById("link-form");
  if (form) { form.submit(); }
})();
