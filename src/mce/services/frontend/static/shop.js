// Progressive enhancement only: every page works without this file.
document.documentElement.classList.add("js");

// Sort and category selects apply as soon as they change; without JavaScript the Apply button does it.
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-autosubmit]");
  if (form && event.target.matches("select")) {
    form.requestSubmit();
  }
});
