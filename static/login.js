// The moderator login page: the form posts by itself; this adds the event's title, the failure message,
// and remembers the display name.
import { languagePicker, localize, slugFromPath, store, translator } from "./common.js";

const { lang, t } = translator();
localize(document, t);
document.querySelector(".brand").append(" ", languagePicker(lang, t("language")));
const slug = slugFromPath();
const name = document.getElementById("name");
const password = document.getElementById("password");
const error = document.getElementById("login-error");

name.value = store.get("liveqa:moderator-name", "");
const failed = new URLSearchParams(location.search).get("failed");
if (failed) {
  error.textContent = t(failed === "limited" ? "limited" : "failed");
  password.setAttribute("aria-invalid", "true");
}
(name.value ? password : name).focus();
document.getElementById("login").addEventListener("submit", () => {
  store.set("liveqa:moderator-name", name.value.trim());
});

fetch(`/api/events/${slug}`)
  .then((response) => (response.ok ? response.json() : null))
  .then((event) => {
    if (!event) return;
    document.getElementById("event-title").textContent = event.title;
    document.title = `${event.title} · ${t("titleSuffix")}`;
  })
  .catch(() => {});
