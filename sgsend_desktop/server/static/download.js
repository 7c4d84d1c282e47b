// Builds the sgsend:// link from this page's own address. The fragment (transfer id and key) stays
// in the browser: it is only handed to the desktop app through the custom scheme.
(function () {
  "use strict";
  var link = document.getElementById("open-app");
  if (link) {
    link.setAttribute("href", "sgsend://open?url=" + encodeURIComponent(window.location.href));
  }
  if (!window.location.hash || window.location.hash.length < 2) {
    var status = document.getElementById("status");
    if (status) {
      status.textContent = "This link has no transfer id after '#'. Ask the sender for the full link.";
    }
  }
})();
