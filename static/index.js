// The start page: type an event code, go to /e/{code}.
import { languagePicker, localize, translator } from "./common.js";

const { lang, t } = translator();
localize(document, t);
document.querySelector(".brand").append(" ", languagePicker(lang, t("language")));

const form = document.getElementById("join");
const input = document.getElementById("code");
form.noValidate = true;
form.addEventListener("submit", (e) => {
  e.preventDefault();
  // People copy the whole link, or type the code in capitals: accept both.
  const code = input.value.trim().replace(/^.*\/e\//, "").replace(/[/?#].*$/, "").toLowerCase();
  if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(code)) {
    input.setAttribute("aria-invalid", "true");
    document.getElementById("code-error").textContent = t("invalid");
    input.focus();
    return;
  }
  location.assign(`/e/${encodeURIComponent(code)}`);
});
input.addEventListener("input", () => {
  input.removeAttribute("aria-invalid");
  document.getElementById("code-error").textContent = "";
});
