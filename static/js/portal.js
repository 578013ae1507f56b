// The pages' behaviour, from data attributes: the Content-Security-Policy allows scripts from this site only,
// so there are no inline scripts, no on…= handlers and no hx-on (htmx would need eval for those).
(() => {
  "use strict";

  // Buttons and links that close the dialog they are in; outside a dialog a link follows its href,
  // a button goes to data-href.
  document.addEventListener("click", (event) => {
    const closer = event.target.closest("[data-close-dialog]");
    if (!closer) return;
    const dialog = closer.closest("dialog");
    if (dialog) {
      event.preventDefault();
      dialog.close();
    } else if (closer.dataset.href) {
      window.location = closer.dataset.href;
    }
  });

  // Forms that ask before they submit.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);

  // Testers and search boxes: Enter in a text box does not submit the surrounding form.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.tagName === "INPUT" && event.target.closest("[data-enter-does-not-submit]")) {
      event.preventDefault();
    }
  });

  // "Go back" on the error pages.
  document.addEventListener("click", (event) => {
    if (!event.target.closest("[data-history-back]")) return;
    event.preventDefault();
    window.history.back();
  });

  // The mapping editor's dialog opens when its body arrives.
  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    const dialog = target && target.matches("[data-opens-dialog]") ? target.closest("dialog") : null;
    if (dialog && !dialog.open) dialog.showModal();
  });

  // Progress bars: the width comes from data-percent (a style attribute would be inline style).
  function setProgress(root) {
    root.querySelectorAll("[data-percent]").forEach((bar) => { bar.style.width = `${Number(bar.dataset.percent) || 0}%`; });
  }

  // Provisioning logs ---------------------------------------------------------------------------------
  // The date presets: "Custom time interval" reveals Start/End and waits for them instead of fetching at once.
  function dateChanged(event) {
    const select = event.currentTarget;
    const custom = select.value === "custom";
    const range = document.getElementById("custom-range");
    range.hidden = !custom;
    range.querySelectorAll("input").forEach((input) => { input.disabled = !custom; });
    if (custom) event.stopPropagation();
  }

  document.addEventListener("htmx:configRequest", (event) => {
    // Keep shared addresses short: leave out filters that have no value.
    if (!event.target.closest || !event.target.closest("[data-drop-empty]")) return;
    const data = event.detail.formData;
    for (const [name, value] of [...data.entries()]) if (value === "") data.delete(name);
  });

  function deselectRows() {
    document.querySelectorAll(".log-row.selected").forEach((row) => row.classList.remove("selected"));
  }

  document.addEventListener("htmx:afterRequest", (event) => {
    const link = event.target.closest && event.target.closest("[data-selects-row]");
    if (!link) return;
    deselectRows();
    link.closest("tr").classList.add("selected");
  });

  document.addEventListener("click", (event) => {
    const row = event.target.closest(".log-row[data-row-link]");
    if (row && !event.target.closest("a")) row.querySelector("a").click();
    if (event.target.closest("[data-close-log-detail]")) {
      document.getElementById("log-detail").innerHTML = "";
      deselectRows();
    }
  });

  // Provision on demand -------------------------------------------------------------------------------
  // A hint before the server says no: more than the maximum of a group's members cannot be provisioned at once.
  function countMembers() {
    // Provision is usable once something is selected (the selection arrives by HTMX) and not over the limit.
    const button = document.getElementById("od-provision");
    if (!button) return;
    const selected = Boolean(document.querySelector("#selection input[name=subject]"));
    let over = false;
    const limit = document.getElementById("od-limit");
    if (limit) {
      const max = Number(limit.dataset.max);
      const n = document.querySelectorAll("#selection input[name=members]:checked").length;
      over = n > max;
      limit.textContent = over
        ? `${n} selected: on-demand provisioning takes at most ${max} members of a group. Clear ${n - max} to continue.`
        : `${n} of at most ${max} selected.`;
      limit.classList.toggle("over", over);
    }
    button.disabled = !selected || over;
    button.title = selected ? "" : "Select a user or a group first";
  }

  document.addEventListener("change", (event) => {
    if (event.target.closest("[data-count-members]")) countMembers();
  });
  document.addEventListener("htmx:afterSettle", countMembers);

  // Element listeners that must run before htmx sees the event (on the page and on every swapped-in part).
  function bind(root) {
    setProgress(root);
    root.querySelectorAll("select[data-date-preset]").forEach((select) => {
      if (select.dataset.bound) return;
      select.dataset.bound = "1";
      select.addEventListener("change", dateChanged);
    });
  }

  if (window.htmx) {
    window.htmx.onLoad((root) => bind(root.querySelectorAll ? root : document));
  } else {
    document.addEventListener("DOMContentLoaded", () => bind(document));
  }
})();
