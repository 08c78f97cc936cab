// The screen: the projector (large type, title, join QR code) or, with ?mode=overlay, a lower third for a
// broadcast (transparent, safe margins). Shows the one question the moderators put on screen.
import { remaining, syncClock } from "./clock.js";
import { askerLine, connect, localize, setText, slugFromPath, translator } from "./common.js";

const { lang, t } = translator();
const $ = (id) => document.getElementById(id);
const slug = slugFromPath();
const params = new URLSearchParams(location.search);
const overlay = params.get("mode") === "overlay";
const token = params.get("token") ?? "";
const FADE_MS = 400;
const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");

let shown = null; // the question on screen, or null
const floor = { mode: "question", speaking: null, next: null, seconds: 180 };
let generation = 0; // the latest change wins when changes come quickly

document.body.classList.add(overlay ? "overlay" : "projector");
document.documentElement.classList.toggle("transparent", overlay);

function onStatus({ state, code }) {
  let text = t(`status.${state}`);
  if (state === "stopped" && code === 4004) text = t("status.unknown_event");
  setText($("status"), text);
  $("status").className = `screen-status ${state}`;
  if (overlay && state === "stopped") console.warn("LiveQA screen stopped:", text);
}

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
      syncClock(frame.now);
      setEvent(frame.event);
      break;
    case "snapshot":
      setEvent(frame.event);
      present(frame.question ?? null);
      showFloor(frame);
      break;
    case "floor":
      showFloor(frame);
      break;
    case "screen":
      present(frame.question ?? null);
      break;
    case "event":
      setEvent(frame.event);
      break;
    default:
      break;
  }
}

function setEvent(event) {
  if (!event) return;
  floor.seconds = event.floor_seconds ?? floor.seconds;
  setText($("title"), event.title);
  document.title = event.title;
}

// The floor: who speaks (with their time counting down), who is next; shown instead of the question when the
// moderators choose it.
function showFloor(frame) {
  floor.mode = frame.mode ?? "question";
  floor.speaking = frame.speaking ?? null;
  floor.next = frame.next ?? null;
  const on = floor.mode === "floor";
  $("floor").hidden = !on;
  $("slot").hidden = on;
  document.body.classList.toggle("floor-mode", on);
  const who = floor.speaking;
  setText($("floor-who"), who ? askerLine(who, lang) || "—" : t("floor.nobody"));
  setText($("floor-topic"), who?.topic ?? "");
  setText($("floor-next"), floor.next ? askerLine(floor.next, lang) || "—" : "");
  $("floor-after").hidden = !floor.next;
  tick();
}

function tick() {
  const who = floor.speaking;
  const clock = who?.started ? remaining(who.started, floor.seconds) : null;
  setText($("floor-clock"), clock?.text ?? "");
  $("floor-clock").classList.toggle("over", Boolean(clock?.over));
}
setInterval(tick, 500);

function same(a, b) {
  if (a === b) return true;
  if (!a || !b) return false;
  return ["id", "text", "name", "organisation", "country", "display"].every((k) => (a[k] ?? "") === (b[k] ?? ""));
}

/** Fade the old question out, the new one in (or just swap, for people who asked for less motion). */
function present(question) {
  if (same(question, shown)) return;
  const changedQuestion = question?.id !== shown?.id;
  shown = question;
  const mine = ++generation;
  const card = $("card");
  const swap = () => {
    if (mine !== generation) return;
    fill(question);
    setText($("join-cta"), t(question ? "join.cta" : "join.ctaLarge"));
    document.body.classList.toggle("empty", !question);
    document.body.classList.toggle("has-question", Boolean(question));
    fit();
    card.classList.toggle("visible", Boolean(question));
  };
  if (!changedQuestion || reducedMotion.matches || !card.classList.contains("visible")) {
    swap();
    return;
  }
  card.classList.remove("visible");
  setTimeout(swap, FADE_MS);
}

function fill(question) {
  setText($("text"), question?.text ?? "");
  setText($("display"), question?.display ?? "");
  $("display").hidden = !question?.display;
  if (question?.display_lang) $("display").lang = question.display_lang;
  else $("display").removeAttribute("lang");
  setText($("who"), question ? askerLine(question, lang) : "");
  $("who").hidden = !$("who").textContent;
}

/** The largest font size (binary search, whole pixels) at which the question fits its box. */
function fit() {
  const box = $("fit");
  const inner = $("fit-inner");
  if (!shown || !box.clientWidth) return;
  const limit = parseFloat(getComputedStyle(box).maxBlockSize);
  const height = Number.isFinite(limit) ? limit : box.clientHeight;
  const width = box.clientWidth;
  const viewport = Math.min(innerHeight, innerWidth * 0.6);
  let lo = 14;
  let hi = Math.max(lo, Math.round(viewport * (overlay ? 0.075 : 0.13)));
  inner.classList.add("measuring"); // no breaking inside words while measuring: a long word must fit whole
  const fits = (px) => {
    inner.style.setProperty("--fit", `${px}px`);
    return inner.scrollHeight <= height && inner.scrollWidth <= width;
  };
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  inner.style.setProperty("--fit", `${lo}px`);
  inner.classList.remove("measuring");
}

let fitTimer = 0;
new ResizeObserver(() => {
  cancelAnimationFrame(fitTimer);
  fitTimer = requestAnimationFrame(fit);
}).observe($("slot"));
document.fonts?.ready.then(fit);

// --- start ---------------------------------------------------------------------------------------------

localize(document, t);
const link = `${location.origin}/e/${slug}`;
setText($("link"), `${location.host}/e/${slug}`);
$("qr").src = `/e/${slug}/qr.svg`;
$("qr").alt = t("qr.alt", { link });
document.body.classList.add("empty");
setText($("join-cta"), t("join.ctaLarge"));
connect(`/ws/e/${slug}/screen`, { hello: () => ({ token }), onFrame, onStatus });
