/*
 * creator-chat embed: <script src="https://CHAT-HOST/widget.js" data-creator="SLUG" async></script>
 * mounts the creator's chat (an iframe to /c/SLUG?embed=1 on CHAT-HOST) where the tag is, or
 * inside the element named by data-target="#css-selector". Optional: data-height (CSS length,
 * default 640px), data-title (the frame's accessible name).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || script.getAttribute("data-mounted")) return;
  script.setAttribute("data-mounted", "true");
  var slug = script.getAttribute("data-creator") || "";
  if (!/^[a-z0-9][a-z0-9-]{1,62}$/.test(slug)) {
    console.error("creator-chat widget: data-creator must be a creator slug, got " + JSON.stringify(slug));
    return;
  }
  var origin = new URL(script.src, document.baseURI).origin;
  var height = script.getAttribute("data-height") || "640px";
  if (!/^\d+(\.\d+)?(px|rem|em|vh|%)$/.test(height)) height = "640px";
  var frame = document.createElement("iframe");
  frame.src = origin + "/c/" + encodeURIComponent(slug) + "?embed=1";
  frame.title = script.getAttribute("data-title") || "Chat with " + slug;
  frame.loading = "lazy";
  frame.referrerPolicy = "strict-origin-when-cross-origin";
  frame.className = "creator-chat-frame";
  frame.style.cssText = "display:block;width:100%;max-width:48rem;height:" + height +
    ";border:1px solid #d9d5cc;border-radius:0.6rem;background:#fff;";
  function mount() {
    var selector = script.getAttribute("data-target");
    var target = selector ? document.querySelector(selector) : null;
    if (target) target.appendChild(frame);
    else if (script.parentNode) script.parentNode.insertBefore(frame, script.nextSibling);
  }
  if (script.getAttribute("data-target") && document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mount);
  } else {
    mount();
  }
})();
