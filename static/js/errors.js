/*
 * Every htmx request that fails tells the person why, in one message bar: htmx does not swap 4xx/5xx
 * answers, so without this a refused form (a NUL character, an expired CSRF token, a 400 from a view)
 * is a click that does nothing. One handler for every form on every page (loaded by base.html); no
 * inline script, so it works under a Content-Security-Policy without 'unsafe-inline'.
 *
 * The message is read from the answer: an element marked data-error-message (the error pages mark
 * theirs), else the page's field errors or error bars, else a JSON "message"/"detail", else its text.
 * Text only (textContent): nothing from an answer is ever inserted as HTML.
 */
(function () {
  "use strict";

  var BAR_ID = "request-error";
  var MAX_LENGTH = 600;
  var failedSource = null;  // the form (or element) whose request the bar is about
  var STATUS_TEXT = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 413: "Request Entity Too Large", 422: "Unprocessable Content", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"
  };

  function clean(text) {
    text = (text || "").replace(/\s+/g, " ").trim();
    return text.length > MAX_LENGTH ? text.slice(0, MAX_LENGTH - 1) + "…" : text;
  }

  function texts(nodes) {
    var seen = [];
    Array.prototype.forEach.call(nodes, function (node) {
      var text = clean(node.textContent);
      if (text && seen.indexOf(text) === -1) { seen.push(text); }
    });
    return seen;
  }

  function fromHtml(body) {
    var doc = new DOMParser().parseFromString(body, "text/html");
    var marked = texts(doc.querySelectorAll("[data-error-message]"));
    if (marked.length) { return marked.join(" "); }
    var errors = texts(doc.querySelectorAll(".field-error, .errorlist li, .msgbar-error"));
    if (errors.length) { return errors.join(" "); }
    var heading = doc.querySelector(".error-page h1, main h1");
    if (heading) { return clean(heading.textContent); }
    var main = doc.querySelector("main") || doc.body;
    return main ? clean(main.textContent) : "";
  }

  function fromJson(body) {
    try {
      var data = JSON.parse(body);
      if (typeof data === "string") { return clean(data); }
      var message = data && (data.message || data.detail || data.error || data.errors);
      if (Array.isArray(message)) { message = message.join(" "); }
      if (message && typeof message === "object") { message = JSON.stringify(message); }
      return clean(message ? String(message) : body);
    } catch (ignored) {
      return clean(body);
    }
  }

  function messageOf(xhr) {
    var type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase();
    var body = xhr.responseText || "";
    if (!body) { return ""; }
    if (type.indexOf("json") !== -1) { return fromJson(body); }
    if (type.indexOf("html") !== -1 || /^\s*</.test(body)) { return fromHtml(body); }
    return clean(body);
  }

  function container(trigger) {
    // A modal dialog sits in the top layer: a bar outside it would be hidden behind the backdrop.
    var dialog = trigger && trigger.closest ? trigger.closest("dialog[open]") : null;
    return dialog || document.querySelector("main") || document.body;
  }

  function source(elt) {
    return elt && elt.closest ? (elt.closest("form") || elt) : elt;
  }

  function show(title, detail, trigger) {
    failedSource = source(trigger);
    var place = container(trigger);
    var bar = document.getElementById(BAR_ID);
    if (!bar) {
      bar = document.createElement("div");
      bar.id = BAR_ID;
      bar.className = "msgbar msgbar-error request-error";
      bar.setAttribute("role", "alert");
    }
    if (bar.parentNode !== place) { place.insertBefore(bar, place.firstChild); }
    bar.textContent = "";
    var heading = document.createElement("span");
    heading.className = "msgbar-title";
    heading.textContent = title;
    bar.appendChild(heading);
    if (detail) {
      var text = document.createElement("p");
      text.textContent = detail;
      bar.appendChild(text);
    }
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "btn-link request-error-dismiss";
    dismiss.textContent = "Dismiss";
    dismiss.addEventListener("click", hide);
    bar.appendChild(dismiss);
    bar.hidden = false;
    if (bar.scrollIntoView) { bar.scrollIntoView({ block: "nearest" }); }
  }

  function hide() {
    var bar = document.getElementById(BAR_ID);
    if (bar) { bar.hidden = true; }
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var status = xhr.status;
    var label = "HTTP " + status + (xhr.statusText || STATUS_TEXT[status] ? " " + (xhr.statusText || STATUS_TEXT[status]) : "");
    var title = status >= 500
      ? "The portal could not finish this request (" + label + ")."
      : "This was not done (" + label + ").";
    var detail = messageOf(xhr);
    if (!detail) {
      detail = status >= 500
        ? "Try again in a moment; if it happens again, tell your portal administrator the time (the details are in the server log)."
        : "The portal refused the request without saying why. Reload the page and try again.";
    }
    show(title, detail, event.detail.elt);
  });

  document.addEventListener("htmx:sendError", function (event) {
    show("The portal could not be reached.",
      "The request was not answered: check your network connection and that the portal is running, then try again.",
      event.detail.elt);
  });

  document.addEventListener("htmx:timeout", function (event) {
    show("The portal did not answer in time.", "Try again; if a change was being saved, reload the page to see whether it was.",
      event.detail.elt);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    // The same form sent again and answered: the failure is stale. (Polling elsewhere on the page leaves it.)
    if (event.detail.successful && failedSource && source(event.detail.elt) === failedSource) { hide(); }
  });
})();
