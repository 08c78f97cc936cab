// In the room: ask for the floor (on what, in which language) and follow the request: listed, speaking, done.
// The identity is the participant page's (same token), so a person's questions and requests are one person's.
import {
  connect,
  countryOptions,
  h,
  LANGUAGES,
  languagePicker,
  localize,
  randomId,
  setText,
  show,
  slugFromPath,
  store,
  translator,
} from "./common.js";

const { lang, t } = translator();
const slug = slugFromPath();
const $ = (id) => document.getElementById(id);
const TOKEN = `liveqa:${slug}:token`;
const mine = new Map(); // my requests by id
let conn = null;

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
      if (frame.token) store.set(TOKEN, frame.token);
      setText($("title"), frame.event?.title ?? "");
      document.title = `${frame.event?.title ?? ""} · ${t("heading")}`;
      break;
    case "snapshot":
      mine.clear();
      for (const r of frame.floor ?? []) mine.set(r.id, r);
      render();
      break;
    case "own_floor":
      mine.set(frame.request.id, frame.request);
      render();
      break;
    case "floor_ack":
      $("topic").value = "";
      $("send").disabled = false;
      break;
    case "error":
      $("send").disabled = false;
      setText($("form-error"), t("error.other", { reason: frame.detail || frame.code }));
      break;
    default:
      break;
  }
}

function render() {
  const items = [...mine.values()].filter((r) => r.status !== "withdrawn").sort((a, b) => b.created - a.created);
  $("mine").replaceChildren(
    ...items.map((r) =>
      h(
        "li",
        { class: "q mine" },
        h(
          "div",
          { class: "q-body" },
          h("p", { class: "q-text", dir: "auto" }, r.topic),
          h("p", { class: "q-meta" }, h("span", { class: `badge state floor-${r.status}` }, t(`floor.${r.status}`))),
          r.reason ? h("p", { class: "q-reason", dir: "auto" }, r.reason) : null,
          ["requested", "listed"].includes(r.status)
            ? h("p", { class: "q-actions" }, h("button", { type: "button", onclick: () => conn.send("withdraw_floor", { fid: r.id }) }, t("withdraw")))
            : null,
        ),
      ),
    ),
  );
  show($("mine-section"), items.length > 0);
}

function submit(e) {
  e.preventDefault();
  setText($("form-error"), "");
  const profile = { name: $("name").value.trim(), organisation: $("organisation").value.trim(), country: $("country").value };
  const topic = $("topic").value.trim();
  if (!topic) return setText($("form-error"), t("error.topic"));
  if (!profile.name || !profile.organisation || !profile.country) return setText($("form-error"), t("error.profile"));
  store.set("liveqa:profile", { ...store.get("liveqa:profile", {}), ...profile });
  const sent = conn.send("request_floor", { cid: randomId(), topic, lang: $("speak-lang").value, ...profile });
  if (!sent) return setText($("form-error"), t("error.offline"));
  $("send").disabled = true;
}

localize(document, t);
document.querySelector(".topbar").append(languagePicker(lang, t("language")));
const profile = store.get("liveqa:profile", {});
$("country").append(h("option", { value: "" }, t("countryChoose")), ...countryOptions(lang).map(([code, name]) => h("option", { value: code }, name)));
$("name").value = profile.name ?? "";
$("organisation").value = profile.organisation ?? "";
$("country").value = profile.country ?? "";
$("speak-lang").append(...Object.entries(LANGUAGES).map(([code, name]) => h("option", { value: code, lang: code }, name)));
$("speak-lang").value = lang;
$("floor-form").addEventListener("submit", submit);
conn = connect(`/ws/e/${slug}/participant`, {
  hello: () => ({ token: store.get(TOKEN, "") }),
  onFrame,
  onStatus: ({ state }) => {
    $("status").className = `status ${state}`;
    setText($("status"), t(`status.${state}`));
  },
});
