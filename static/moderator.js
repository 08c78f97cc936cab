// The moderator console: incoming questions, the queue (buttons, keys or drag to reorder), the screen,
// answered and put-aside questions. Every change goes to the server; the page shows what the log says.
import {
  askerLine,
  connect,
  countryName,
  h,
  languagePicker,
  localize,
  randomId,
  reconcile,
  refreshTimes,
  setText,
  show,
  slugFromPath,
  store,
  timeElement,
  translator,
  updateTime,
} from "./common.js";
import { remaining, syncClock } from "./clock.js";

const { lang, t } = translator();
const slug = slugFromPath();
const $ = (id) => document.getElementById(id);
const SHORTCUTS_KEY = "liveqa:moderator-shortcuts";
const SOUND_KEY = "liveqa:moderator-sound";

// --- state ---------------------------------------------------------------------------------------------

let event = null;
let me = "";
const questions = new Map();
let queue = [];
let screen = "";
let moderators = [];
let banned = new Set(); // participant ids barred from asking and voting
const sent = new Map(); // ref → {type, qid}: waiting for done or error
const panels = new Map(); // qid → "reject" | "edit" | "tags": the open inline form
let selected = "";
let movedQid = ""; // announce its new position when the queue changes
let membersOf = new Map(); // group head id → the questions merged into it, oldest first
const floorRequests = new Map(); // requests for the floor by id
let speakers = []; // the speakers' list, in order
let speaking = ""; // the request that has the floor
let screenMode = "question";
let floorSeconds = 180;

let conn = null;

function onStatus({ state }) {
  $("status").className = `status ${state}`;
  setText($("status"), t(`status.${state}`));
  if (state === "login") setTimeout(() => location.assign(`/e/${slug}/moderate`), 800);
}

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
      syncClock(frame.now);
      me = frame.moderator ?? "";
      setEvent(frame.event);
      break;
    case "snapshot":
      questions.clear();
      for (const q of frame.questions ?? []) questions.set(q.id, q);
      queue = frame.queue ?? [];
      screen = frame.screen ?? "";
      moderators = frame.moderators ?? moderators;
      banned = new Set(frame.banned ?? []);
      floorRequests.clear();
      for (const r of frame.floor ?? []) floorRequests.set(r.id, r);
      speakers = frame.speakers ?? [];
      speaking = frame.speaking ?? "";
      screenMode = frame.screen_mode ?? "question";
      render();
      break;
    case "update":
      if (frame.question?.status === "pending" && !frame.question.group && !questions.has(frame.question.id)) chime();
      for (const q of [frame.question, frame.group, ...(frame.also ?? [])]) if (q) questions.set(q.id, q);
      if (Array.isArray(frame.queue)) queue = frame.queue;
      if (typeof frame.screen === "string") screen = frame.screen;
      if (Array.isArray(frame.banned)) banned = new Set(frame.banned);
      for (const r of frame.floor ?? []) floorRequests.set(r.id, r);
      if (Array.isArray(frame.speakers)) speakers = frame.speakers;
      if (typeof frame.speaking === "string") speaking = frame.speaking;
      if (frame.screen_mode) screenMode = frame.screen_mode;
      render();
      if (movedQid && Array.isArray(frame.queue)) announceMove();
      break;
    case "votes":
      for (const [qid, votes] of Object.entries(frame.votes ?? {})) {
        if (questions.has(qid)) questions.get(qid).votes = votes;
      }
      render();
      break;
    case "event":
      setEvent(frame.event);
      break;
    case "presence":
      moderators = frame.moderators ?? [];
      renderPresence();
      break;
    case "announcement":
      setText($("announce-status"), frame.text);
      break;
    case "done":
      done(frame);
      break;
    case "error":
      failed(frame);
      break;
    default:
      break;
  }
}

function setEvent(info) {
  if (!info) return;
  floorSeconds = info.floor_seconds ?? floorSeconds;
  event = info;
  setText($("title"), info.title);
  document.title = `${info.title} · ${t("title.suffix")}`;
  $("open-toggle").setAttribute("aria-checked", String(Boolean(info.open)));
}

// --- actions -------------------------------------------------------------------------------------------

function act(type, fields = {}) {
  const ref = randomId().slice(0, 12);
  const undo = undoOf(type, fields); // worked out from the state before the action
  if (!conn.send(type, { ...fields, ref })) {
    toast(t("error.offline"));
    return false;
  }
  sent.set(ref, { type, qid: fields.qid ?? "", undo });
  return true;
}

// The action that takes one back, as the question is now: {type, fields}, or null when there is none.
function undoOf(type, fields) {
  const q = questions.get(fields.qid ?? "");
  const back = (undoType, more = {}) => ({ type: undoType, fields: { qid: q.id, ...more } });
  if (type === "clear_screen") return screen ? { type: "show", fields: { qid: screen } } : null;
  if (!q) return null;
  switch (type) {
    case "approve":
    case "reject":
    case "archive":
    case "restore":
    case "answer":
    case "reopen": {
      const next = queueOrder().map((other) => other.id);
      if (q.status === "pending") return type === "answer" ? null : back("restore");
      if (q.status === "approved") return type === "answer" ? back("reopen") : back("approve", { before: next[next.indexOf(q.id) + 1] ?? "" });
      if (q.status === "rejected") return back("reject", { reason: q.reason || "—" });
      if (q.status === "archived") return back("archive");
      return q.status === "answered" ? back("answer") : null;
    }
    case "pin":
    case "unpin":
      return back(type === "pin" ? "unpin" : "pin");
    case "merge":
      return q.group ? back("merge", { into: q.group }) : back("unmerge");
    case "unmerge":
      return back("merge", { into: q.group });
    case "show":
      return screen ? { type: "show", fields: { qid: screen } } : { type: "clear_screen", fields: {} };
    case "edit":
      return back("edit", { text: q.text });
    case "tag":
      return back("tag", { tags: q.tags ?? [] });
    default:
      return null;
  }
}

let undoTimer = 0;
let undoAction = null;
function offerUndo(text, undo) {
  undoAction = undo;
  setText($("undo-text"), text);
  show($("undo-bar"), Boolean(undo));
  clearTimeout(undoTimer);
  undoTimer = setTimeout(() => show($("undo-bar"), false), 15000);
}

function done(frame) {
  const action = sent.get(frame.ref ?? "");
  if (!action) return;
  sent.delete(frame.ref);
  if (action.type === "move") return; // announced with the new position
  announce(t(`done.${action.type}`));
  offerUndo(t(`done.${action.type}`), frame.id ? action.undo : null);
}

function failed(frame) {
  const action = sent.get(frame.ref ?? "");
  if (action) sent.delete(frame.ref);
  const key = `error.${frame.code}`;
  let reason = t(key);
  if (reason === key) reason = frame.detail || frame.code;
  if (action?.type === "edit" && frame.code === "conflict") {
    panels.set(action.qid, "edit");
    refreshPanel(action.qid, true);
  }
  if (action?.type === "move") movedQid = "";
  toast(action ? t("error.action", { action: t(`action.${action.type}`), reason }) : reason);
}

let toastTimer = 0;
function toast(text) {
  setText($("toast"), text);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => setText($("toast"), ""), 10000);
}

function announce(text) {
  // Re-set even when equal, so that the same message is read again.
  $("announcer").textContent = "";
  setTimeout(() => setText($("announcer"), text), 50);
}

function announceMove() {
  const order = queueOrder().map((q) => q.id);
  const pos = order.indexOf(movedQid);
  if (pos >= 0) announce(t("q.position", { pos: pos + 1, total: order.length }));
  movedQid = "";
}

function move(qid, where) {
  const order = queueOrder().map((q) => q.id);
  const index = order.indexOf(qid);
  if (index < 0) return;
  let fields = null;
  if (where === "up" && index > 0) fields = { before: order[index - 1] };
  if (where === "down" && index < order.length - 1) fields = { after: order[index + 1] };
  if (where === "top" && index > 0) fields = { before: order[0] };
  if (fields && act("move", { qid, ...fields })) movedQid = qid;
}

// --- columns -------------------------------------------------------------------------------------------

// Filters: by channel (web, email, room…), language, region, tag, and words in the text, asker or merged texts.
const filters = { source: "", lang: "", region: "", tag: "", text: "" };
const FILTER_VALUES = {
  source: (q) => [q.source || "web"],
  lang: (q) => (q.lang ? [q.lang] : []),
  region: (q) => (q.region ? [q.region] : []),
  tag: (q) => q.tags ?? [],
};

function fromSource(q) {
  for (const [name, values] of Object.entries(FILTER_VALUES)) {
    if (filters[name] && !values(q).includes(filters[name])) return false;
  }
  if (!filters.text) return true;
  const words = [q.text, q.name, q.organisation, countryName(q.country, lang), ...(membersOf.get(q.id) ?? []).map((m) => m.text)];
  return words.join("\n").toLocaleLowerCase().includes(filters.text);
}

function queueOrder() {
  const seen = new Set();
  const order = [];
  for (const id of queue) {
    const q = questions.get(id);
    if (q && q.status === "approved" && !seen.has(id)) {
      order.push(q);
      seen.add(id);
    }
  }
  for (const q of questions.values()) if (q.status === "approved" && !seen.has(q.id)) order.push(q);
  return order.filter((q) => !q.group && fromSource(q));
}

let languageNames = null;
const FILTER_LABELS = {
  lang: (code) => {
    languageNames ??= new Intl.DisplayNames([lang], { type: "language", fallback: "code" });
    try {
      return languageNames.of(code);
    } catch {
      return code;
    }
  },
  region: (code) => t(`region.${code}`),
};

// Each filter offers the values the questions have now.
function renderSources() {
  for (const select of document.querySelectorAll("select[data-filter]")) {
    const name = select.dataset.filter;
    const label = FILTER_LABELS[name] ?? ((value) => value);
    const values = [...new Set([...questions.values()].flatMap(FILTER_VALUES[name]))].sort();
    const key = values.join("|");
    if (select.dataset.key === key) continue;
    select.dataset.key = key;
    select.replaceChildren(select.firstElementChild, ...values.map((v) => h("option", { value: v }, label(v))));
    select.value = values.includes(filters[name]) ? filters[name] : "";
  }
}

// --- ranking (docs/ranking.md) and balance ----------------------------------------------------------------
// The score proposes an order for incoming questions and a place in the queue for a newly approved one;
// the queue itself stays in the moderators' order. Every part is shown on the card.

const TAKEN = new Set(["approved", "answered"]);
let tally = null;

function countTallies() {
  const counts = { org: new Map(), country: new Map(), asker: new Map(), received: new Map(), taken: new Map() };
  counts.first = Infinity;
  counts.takenTotal = 0;
  counts.total = 0;
  const bump = (map, key) => key && map.set(key, (map.get(key) ?? 0) + 1);
  for (const q of questions.values()) {
    if (q.status === "withdrawn") continue;
    counts.first = Math.min(counts.first, q.created || Infinity);
    counts.total += 1;
    bump(counts.received, q.region || "-");
    if (!TAKEN.has(q.status) || q.group) continue;
    counts.takenTotal += 1;
    bump(counts.taken, q.region || "-");
    bump(counts.org, orgKey(q));
    bump(counts.country, q.country);
    bump(counts.asker, q.pid);
  }
  return counts;
}

const orgKey = (q) => (q.organisation ?? "").trim().toLocaleLowerCase();

function scoreOf(q) {
  const w = event?.ranking ?? {};
  const self = TAKEN.has(q.status) && !q.group ? 1 : 0; // a queued question is not its own competition
  const orgTaken = orgKey(q) ? (tally.org.get(orgKey(q)) ?? 0) - self : 0;
  const countryTaken = q.country ? (tally.country.get(q.country) ?? 0) - self : 0;
  let region = 0;
  if (q.region && tally.takenTotal > self) {
    const share = (tally.received.get(q.region) ?? 0) / tally.total;
    const taken = ((tally.taken.get(q.region) ?? 0) - self) / (tally.takenTotal - self);
    region = Math.max(0, 1 - taken / share);
  }
  const parts = {
    votes: (w.votes ?? 1) * Math.log(2 + (q.votes ?? 0)),
    age: ((q.created || tally.first) - tally.first) / 60000 / (w.age_minutes ?? 30),
    organisation: -(w.organisation ?? 0.5) * orgTaken,
    country: -(w.country ?? 0.25) * countryTaken,
    first_time: (tally.asker.get(q.pid) ?? 0) - self > 0 ? 0 : (w.first_time ?? 0.5),
    region: (w.region ?? 0.5) * region,
  };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  return { total, parts, counts: { organisation: orgTaken, country: countryTaken } };
}

function scoreText(q) {
  const { total, parts, counts } = scoreOf(q);
  const fmt = (v) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(2)}`;
  const shown = Object.entries(parts)
    .filter(([, v]) => Math.abs(v) >= 0.005)
    .map(([name, v]) => t(`score.${name}`, { v: fmt(v), n: counts[name] ?? "" }));
  return t("q.score", { total: total.toFixed(2), parts: shown.join(" · ") });
}

// Where the ranking proposes a newly approved question: before the first unpinned queued one it outranks.
function approvePosition(q) {
  const mine = scoreOf(q).total;
  const next = queueOrder().find((other) => !other.pinned && scoreOf(other).total < mine);
  return next ? next.id : "";
}

function renderBalance() {
  const rows = (entries) =>
    entries.map(([label, received, approved, answered]) =>
      h("tr", {}, h("th", { scope: "row", dir: "auto" }, label), h("td", {}, received), h("td", {}, approved), h("td", {}, answered)),
    );
  const by = (keyOf, labelOf) => {
    const table = new Map();
    for (const q of questions.values()) {
      if (q.status === "withdrawn") continue;
      const key = keyOf(q);
      const row = table.get(key) ?? [labelOf(q), 0, 0, 0];
      row[1] += 1;
      if (q.status === "approved" && !q.group) row[2] += 1;
      if (q.status === "answered" && !q.group) row[3] += 1;
      table.set(key, row);
    }
    return [...table.values()].sort((a, b) => b[1] - a[1]);
  };
  const head = h("tr", {}, h("th", {}, ""), ...["received", "approved", "answered"].map((c) => h("th", { scope: "col" }, t(`balance.${c}`))));
  const regionName = (q) => (q.region ? t(`region.${q.region}`) : t("balance.none"));
  const orgName = (q) => (q.organisation ?? "").trim() || t("balance.none");
  const groupName = (q) => (q.un_group ? t(`group.${q.un_group}`) : t("balance.none"));
  const key = JSON.stringify([by((q) => q.region, regionName), by((q) => q.un_group, groupName), by(orgKey, orgName).slice(0, 10)]);
  const box = $("balance-tables");
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  const [regions, groups, orgs] = JSON.parse(key);
  box.replaceChildren(
    h("table", {}, h("caption", {}, t("balance.region")), h("thead", {}, head.cloneNode(true)), h("tbody", {}, rows(regions))),
    h("table", {}, h("caption", {}, t("balance.group")), h("thead", {}, head.cloneNode(true)), h("tbody", {}, rows(groups))),
    h("table", {}, h("caption", {}, t("balance.organisation")), h("thead", {}, head), h("tbody", {}, rows(orgs))),
  );
}

function columns() {
  tally = countTallies();
  membersOf = new Map();
  for (const q of questions.values()) {
    if (!q.group) continue;
    if (!membersOf.has(q.group)) membersOf.set(q.group, []);
    membersOf.get(q.group).push(q);
  }
  for (const list of membersOf.values()) list.sort((a, b) => Number(a.id) - Number(b.id));
  const all = [...questions.values()].filter((q) => !q.group && fromSource(q));
  const newest = (a, b) => (b.created ?? 0) - (a.created ?? 0);
  const latest = (a, b) => (b.updated ?? 0) - (a.updated ?? 0);
  return {
    incoming: all.filter((q) => q.status === "pending").sort((a, b) => scoreOf(b).total - scoreOf(a).total || newest(a, b)),
    queue: queueOrder(),
    screen: questions.has(screen) ? [questions.get(screen)] : [],
    answered: all.filter((q) => q.status === "answered").sort((a, b) => (b.answered ?? 0) - (a.answered ?? 0)),
    closed: all.filter((q) => q.status === "rejected" || q.status === "archived").sort(latest),
  };
}

function render() {
  renderSources();
  const active = document.activeElement;
  const activeCard = active?.closest?.(".mq");
  const activeList = activeCard?.parentElement;
  const activeIndex = activeList ? [...activeList.children].indexOf(activeCard) : -1;
  const cols = columns();
  for (const [name, items] of Object.entries(cols)) {
    const list = $(name);
    reconcile(list, items, (q) => q.id, (q) => createCard(q, name), (el, q) => updateCard(el, q, name, items));
    show($(`${name}-empty`), items.length === 0);
    const count = $(`${name}-count`);
    if (count) setText(count, String(items.length));
  }
  $("clear-screen").disabled = !screen;
  // The card in focus left its column (approved, rejected…): keep the keyboard user in the same place.
  if (activeCard && !activeCard.isConnected && activeList) {
    const next = activeList.children[Math.min(activeIndex, activeList.children.length - 1)];
    if (next) select(next.dataset.qid, true, activeList);
    else {
      const heading = activeList.closest(".col")?.querySelector("h2");
      heading?.setAttribute("tabindex", "-1");
      heading?.focus({ preventScroll: true });
    }
  }
  renderPresence();
  renderBalance();
  renderFloor();
  markSelected();
}

// --- the floor: requests to speak in the room, the speakers' list, who speaks now ------------------------------

function floorCard(r, buttons) {
  const who = askerLine(r, lang) || t("q.anonymous");
  const langName = r.lang ? FILTER_LABELS.lang(r.lang) : "";
  return h(
    "li",
    { class: "mq floor-card", "data-fid": r.id },
    h("p", { class: "mq-text", dir: "auto" }, r.topic),
    h("p", { class: "mq-who", dir: "auto" }, who),
    langName ? h("p", { class: "mq-meta" }, t("floor.lang", { lang: langName })) : null,
    h(
      "p",
      { class: "mq-actions" },
      buttons.map(([name, label, send]) => h("button", { type: "button", "data-action": name, onclick: send }, label)),
    ),
  );
}

function floorAct(fid, action) {
  if (action !== "decline") return act("floor", { fid, action });
  const reason = window.prompt(t("floor.declineReason"), t("floor.declineDefault"));
  if (reason?.trim()) act("floor", { fid, action, reason: reason.trim() });
}

function renderFloor() {
  $("mode-question").checked = screenMode === "question";
  $("mode-floor").checked = screenMode === "floor";
  const now = floorRequests.get(speaking);
  const box = $("floor-speaking");
  const key = now?.status === "speaking" ? `${now.id}|${now.started}` : "";
  if (box.dataset.key !== key) {
    box.dataset.key = key;
    box.replaceChildren(
      ...(key
        ? [
            h("p", { class: "floor-label" }, t("floor.speaking")),
            floorCard(now, [["finish", t("floor.finish"), () => floorAct(now.id, "finish")]]),
            h("p", { class: "floor-clock", id: "console-clock", role: "timer", dir: "ltr" }),
          ]
        : []),
    );
  }
  show(box, Boolean(key));
  const listed = speakers.map((fid) => floorRequests.get(fid)).filter(Boolean);
  const waiting = [...floorRequests.values()].filter((r) => r.status === "requested").sort((a, b) => a.created - b.created);
  const move = (r, i, by) => {
    const other = listed[i + by];
    if (other) act("move_speaker", { fid: r.id, ...(by < 0 ? { before: other.id } : { after: other.id }) });
  };
  $("speakers").replaceChildren(
    ...listed.map((r, i) =>
      floorCard(r, [
        ["call", t("floor.call"), () => floorAct(r.id, "call")],
        ["up", t("action.up"), () => move(r, i, -1)],
        ["down", t("action.down"), () => move(r, i, 1)],
        ["decline", t("floor.decline"), () => floorAct(r.id, "decline")],
      ]),
    ),
  );
  $("floor-requests").replaceChildren(
    ...waiting.map((r) =>
      floorCard(r, [
        ["list", t("floor.list"), () => floorAct(r.id, "list")],
        ["call", t("floor.call"), () => floorAct(r.id, "call")],
        ["decline", t("floor.decline"), () => floorAct(r.id, "decline")],
      ]),
    ),
  );
  setText($("floor-count"), String(listed.length + waiting.length));
  show($("floor-empty"), !key && !listed.length && !waiting.length);
  tickFloor();
}

function tickFloor() {
  const now = floorRequests.get(speaking);
  const clock = $("console-clock");
  if (!clock || now?.status !== "speaking") return;
  const left = remaining(now.started, floorSeconds);
  setText(clock, left.text);
  clock.classList.toggle("over", left.over);
}
setInterval(tickFloor, 500);

function renderPresence() {
  const others = [...moderators];
  const mine = others.indexOf(me);
  if (mine >= 0) others.splice(mine, 1);
  setText($("presence"), others.length ? t("presence.others", { names: others.join(", ") }) : t("presence.alone"));
}

function createCard(q, column) {
  const id = `${column}-${q.id}`;
  const parts = {
    badges: h("p", { class: "mq-badges" }),
    votes: h("span", { class: "mq-votes" }),
    text: h("p", { class: "mq-text", dir: "auto", id: `${id}-text` }),
    original: h("details", { class: "mq-original" }, h("summary", {}, t("q.original")), h("p", { dir: "auto" })),
    score: h("p", { class: "mq-score", hidden: true }),
    similar: h("div", { class: "mq-similar", hidden: true }),
    group: h("details", { class: "mq-group", hidden: true }, h("summary", {}), h("ul", {})),
    who: h("p", { class: "mq-who", dir: "auto" }),
    shown: h("span", { class: "mq-shown" }),
    time: timeElement(q.created || Date.now(), lang),
    tags: h("p", { class: "mq-tags" }),
    reason: h("p", { class: "mq-reason", dir: "auto" }),
    notes: h("p", { class: "mq-notes", dir: "auto" }),
    actions: h("div", { class: "mq-actions" }),
    panel: h("div", { class: "mq-panel" }),
  };
  const li = h(
    "li",
    { class: "mq", tabindex: "-1", "data-qid": q.id, "aria-labelledby": `${id}-text` },
    h("div", { class: "mq-head" }, parts.badges, parts.votes),
    parts.text,
    parts.original,
    parts.who,
    h("p", { class: "mq-meta" }, parts.time, " ", parts.shown),
    parts.score,
    parts.similar,
    parts.group,
    parts.tags,
    parts.notes,
    parts.reason,
    parts.actions,
    parts.panel,
  );
  li.parts = parts;
  li.column = column;
  li.addEventListener("focusin", () => select(q.id, false));
  li.addEventListener("click", () => select(q.id, false));
  if (column === "queue") dragAndDrop(li, q.id);
  return li;
}

function updateCard(li, q, column, items) {
  const p = li.parts;
  const onScreen = screen === q.id;
  const badges = [];
  if (q.pinned && q.status === "approved") badges.push(h("span", { class: "badge pin" }, t("q.pinned")));
  if (onScreen && column !== "screen") badges.push(h("span", { class: "badge live" }, t("q.onScreen")));
  if (q.held) badges.push(h("span", { class: "badge held" }, t("q.held", { word: q.held })));
  if (q.listed) badges.push(h("span", { class: "badge listed" }, t("q.listed", { status: t(`listed.${q.listed}`) })));
  if (q.source && q.source !== "web") badges.push(h("span", { class: "badge" }, t("q.source", { source: q.source })));
  if (q.original) badges.push(h("span", { class: "badge" }, t("q.edited")));
  if (q.pid && banned.has(q.pid)) badges.push(h("span", { class: "badge held" }, t("q.banned")));
  const badgeKey = badges.map((b) => b.textContent).join("|");
  if (p.badges.dataset.key !== badgeKey) {
    p.badges.dataset.key = badgeKey;
    p.badges.replaceChildren(...badges);
  }
  li.classList.toggle("on-screen", onScreen && column !== "screen");
  li.classList.toggle("pinned", Boolean(q.pinned) && q.status === "approved");
  const counted = q.status === "approved" || q.status === "answered" || q.votes > 0; // merged askers count
  setText(p.votes, counted ? t("q.votes", { n: q.votes ?? 0 }) : "");
  setText(p.text, q.text);
  show(p.original, Boolean(q.original));
  setText(p.original.lastChild, q.original ?? "");
  const asker = askerLine(q, lang);
  setText(p.who, asker || t("q.anonymous"));
  const shown = [
    q.show_name && q.name ? t("q.fieldName") : "",
    q.show_organisation && q.organisation ? t("q.fieldOrganisation") : "",
    q.show_country && q.country ? t("q.fieldCountry") : "",
  ].filter(Boolean);
  setText(p.shown, asker ? (shown.length ? t("q.public", { fields: shown.join(", ") }) : t("q.publicNone")) : "");
  if (q.created) updateTime(p.time, q.created, lang);
  const tagKey = (q.tags ?? []).join("\u0000");
  if (p.tags.dataset.key !== tagKey) {
    p.tags.dataset.key = tagKey;
    p.tags.replaceChildren(...(q.tags ?? []).map((tag) => h("span", { class: "tag", dir: "auto" }, tag)));
  }
  show(p.tags, (q.tags ?? []).length > 0);
  const extra = [
    q.display ? t("q.display", { lang: q.display_lang || "?", text: q.display }) : "",
    q.answer ? t("q.answer", { text: q.answer }) : "",
  ].filter(Boolean);
  setText(p.notes, extra.join("\n"));
  show(p.notes, extra.length > 0);
  const reason = q.status === "rejected" && q.reason ? t("q.reason", { reason: q.reason }) : "";
  setText(p.reason, reason + (q.by && column === "closed" ? ` (${t("q.by", { name: q.by })})` : ""));
  show(p.reason, Boolean(reason));
  show(p.score, column === "incoming");
  if (column === "incoming") setText(p.score, scoreText(q));
  if (column !== "screen") {
    updateSimilar(p.similar, q);
    updateGroup(p.group, q);
  }
  updateActions(li, q, column, items);
  if (column !== "screen") refreshPanel(q.id, false, li);
}

// "Possible duplicate of …": what the grouping step found but did not merge, with one-click merge.
function updateSimilar(box, q) {
  let other = q.similar ? questions.get(q.similar) : null;
  if (other?.group) other = questions.get(other.group);
  const key = other && !q.group ? `${other.id}|${other.text}|${q.similarity}` : "";
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  show(box, Boolean(key));
  if (!key) return box.replaceChildren();
  box.replaceChildren(
    h("p", { class: "mq-similar-label" }, t("q.similar", { score: Math.round((q.similarity || 0) * 100) })),
    h("blockquote", { dir: "auto" }, other.text),
    h(
      "p",
      { class: "actions" },
      h("button", { type: "button", "data-action": "merge", onclick: () => act("merge", { qid: q.id, into: other.id }) }, t("action.merge")),
      h("button", { type: "button", "data-action": "distinct", onclick: () => act("distinct", { qid: q.id }) }, t("action.distinct")),
    ),
  );
}

// The questions merged into this one: every text, asker and organisation, to split off or to word it by.
function updateGroup(box, q) {
  const members = membersOf.get(q.id) ?? [];
  const key = members.map((m) => `${m.id}|${m.text}|${m.name}|${m.organisation}|${m.country}`).join("\u0000") + `|${q.text}`;
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  show(box, members.length > 0);
  setText(box.firstChild, t("q.merged", { n: members.length }));
  box.lastChild.replaceChildren(
    ...members.map((m) =>
      h(
        "li",
        { "data-qid": m.id },
        h("p", { class: "mq-member-text", dir: "auto" }, m.text),
        h("p", { class: "mq-who", dir: "auto" }, askerLine(m, lang) || t("q.anonymous")),
        h(
          "p",
          { class: "actions" },
          h("button", { type: "button", "data-action": "unmerge", onclick: () => act("unmerge", { qid: m.id }) }, t("action.unmerge")),
          m.text === q.text
            ? null
            : h("button", { type: "button", "data-action": "useText", onclick: () => act("edit", { qid: q.id, text: m.text, rev: q.rev }) }, t("action.useText")),
        ),
      ),
    ),
  );
}

// Buttons by status. Up/down/top keep their place and only switch aria-disabled, so focus stays put.
function buttonsFor(q, column) {
  if (column === "screen") return ["answer"];
  const ban = q.pid ? [banned.has(q.pid) ? "unban" : "ban"] : [];
  switch (q.status) {
    case "pending":
      return ["approve", "reject", "answer", "archive", "edit", "tag", "translate", ...ban];
    case "approved":
      return [
        "up", "down", "top", q.pinned ? "unpin" : "pin", "show", "answer", "reject", "archive", "edit", "tag",
        "reply", "translate", ...ban,
      ];
    case "answered":
      return ["reopen", "show", "archive", "edit", "tag", "reply", "translate"];
    case "rejected":
      return ["restore", "approve", "archive", "edit", ...ban];
    case "archived":
      return ["restore", "approve", "edit", "reply"];
    default:
      return [];
  }
}

const ICONS = { up: "↑", down: "↓", top: "⤒" };

function updateActions(li, q, column, items) {
  const names = buttonsFor(q, column);
  const key = names.join(",");
  const p = li.parts;
  if (p.actions.dataset.key !== key) {
    const focused = li.contains(document.activeElement) ? document.activeElement.dataset.action : "";
    p.actions.dataset.key = key;
    p.actions.replaceChildren(
      ...names.map((name) =>
        h(
          "button",
          {
            type: "button",
            class: `act-${name}${name === "approve" ? " primary" : ""}${ICONS[name] ? " icon" : ""}`,
            "data-action": name,
            "aria-label": ICONS[name] ? t(`action.${name}`) : null,
            title: ICONS[name] ? t(`action.${name}`) : null,
            onclick: (e) => e.currentTarget.getAttribute("aria-disabled") !== "true" && perform(name, q.id),
          },
          ICONS[name] ?? t(`action.${name}`),
        ),
      ),
    );
    const twin = { pin: "unpin", unpin: "pin" }[focused] ?? focused;
    if (focused) p.actions.querySelector(`[data-action="${twin}"]`)?.focus({ preventScroll: true });
  }
  if (column === "queue") {
    const index = items.indexOf(q);
    for (const [name, disabled] of [
      ["up", index <= 0],
      ["top", index <= 0],
      ["down", index >= items.length - 1],
    ]) {
      p.actions.querySelector(`[data-action="${name}"]`)?.setAttribute("aria-disabled", String(disabled));
    }
  }
  const showButton = p.actions.querySelector('[data-action="show"]');
  showButton?.setAttribute("aria-disabled", String(screen === q.id));
}

function perform(name, qid) {
  const q = questions.get(qid);
  if (!q) return;
  switch (name) {
    case "up":
    case "down":
    case "top":
      move(qid, name);
      break;
    case "reject":
    case "edit":
    case "tag":
    case "reply":
    case "translate":
      panels.set(qid, name === "tag" ? "tags" : name);
      refreshPanel(qid, true);
      break;
    case "ban":
      if (window.confirm(t("ban.confirm"))) act("ban", { pid: q.pid });
      break;
    case "unban":
      act("unban", { pid: q.pid });
      break;
    case "clear_screen":
      act("clear_screen");
      break;
    case "show":
      if (screen !== qid) act("show", { qid });
      break;
    case "approve":
      act("approve", { qid, before: approvePosition(q) });
      break;
    default:
      act(name, { qid });
  }
}

// --- inline forms: reject (with a reason), edit, tags ---------------------------------------------------

function cardFor(qid) {
  for (const list of ["incoming", "queue", "answered", "closed"]) {
    const el = $(list).querySelector(`:scope > [data-qid="${qid}"]`);
    if (el) return el;
  }
  return null;
}

function refreshPanel(qid, focus, li = cardFor(qid)) {
  if (!li) return;
  const q = questions.get(qid);
  let kind = panels.get(qid) ?? "";
  if (q && kind === "reject" && !["pending", "approved"].includes(q.status)) kind = "";
  if (!kind) panels.delete(qid);
  const panel = li.parts.panel;
  if (panel.dataset.kind === kind && !focus) return; // leave an open form as the person left it
  panel.dataset.kind = kind;
  if (!kind || !q) {
    panel.replaceChildren();
    return;
  }
  const forms = { reject: rejectForm, edit: editForm, tags: tagsForm, reply: replyForm, translate: translateForm };
  const form = forms[kind](q);
  panel.replaceChildren(form);
  if (focus) form.querySelector("input, textarea")?.focus();
}

function closePanel(qid) {
  panels.delete(qid);
  refreshPanel(qid, false);
  cardFor(qid)?.querySelector(".mq-actions button")?.focus();
}

function rejectForm(q) {
  const id = `reject-${q.id}`;
  const input = h("input", { id, maxlength: 300, dir: "auto", autocomplete: "off" });
  const error = h("p", { class: "error", role: "alert" });
  const presets = t("reject.presets")
    .split("|")
    .map((text) =>
      h("button", { type: "button", class: "chip", onclick: () => ((input.value = text), input.focus()) }, text),
    );
  return h(
    "form",
    {
      class: "mq-form",
      onsubmit: (e) => {
        e.preventDefault();
        const reason = input.value.trim();
        if (!reason) {
          setText(error, t("error.reasonNeeded"));
          input.setAttribute("aria-invalid", "true");
          return input.focus();
        }
        if (act("reject", { qid: q.id, reason })) closePanel(q.id);
      },
      onkeydown: (e) => e.key === "Escape" && closePanel(q.id),
    },
    h("fieldset", {}, h("legend", {}, t("reject.legend")), h("p", { class: "chips" }, presets)),
    h("label", { for: id }, t("reject.reason")),
    input,
    error,
    h(
      "p",
      { class: "actions" },
      h("button", { type: "submit", class: "danger" }, t("reject.confirm")),
      h("button", { type: "button", onclick: () => closePanel(q.id) }, t("form.cancel")),
    ),
  );
}





// One inline form: its fields, a save button and cancel; `send` returns the action to send, or null to stay.
function panelForm(q, kind, fields, send) {
  return h(
    "form",
    {
      class: "mq-form",
      onsubmit: (e) => {
        e.preventDefault();
        const action = send();
        if (action && act(action.type, { qid: q.id, ...action.fields })) closePanel(q.id);
      },
      onkeydown: (e) => e.key === "Escape" && closePanel(q.id),
    },
    ...fields,
    h(
      "p",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, t(`${kind}.save`)),
      h("button", { type: "button", onclick: () => closePanel(q.id) }, t("form.cancel")),
    ),
  );
}

function labelled(id, label, control) {
  return [h("label", { for: id }, label), control];
}

function editForm(q) {
  const area = h("textarea", { id: `edit-${q.id}`, rows: 4, dir: "auto" });
  area.value = q.text;
  const rev = q.rev;
  return panelForm(q, "edit", labelled(area.id, t("edit.label"), area), () => {
    const text = area.value.trim();
    return text ? { type: "edit", fields: { text, rev } } : null;
  });
}

function tagsForm(q) {
  const input = h("input", { id: `tags-${q.id}`, dir: "auto", autocomplete: "off" });
  input.value = (q.tags ?? []).join(", ");
  return panelForm(q, "tags", labelled(input.id, t("tags.label"), input), () => {
    const tags = input.value
      .split(/[,，、،\s]+/)
      .map((tag) => tag.trim())
      .filter(Boolean);
    return { type: "tag", fields: { tags } };
  });
}

function replyForm(q) {
  const area = h("textarea", { id: `reply-${q.id}`, rows: 4, dir: "auto", maxlength: 4000 });
  area.value = q.answer ?? "";
  return panelForm(q, "reply", labelled(area.id, t("reply.label"), area), () => ({
    type: "reply",
    fields: { text: area.value.trim() },
  }));
}

function translateForm(q) {
  const area = h("textarea", { id: `translate-${q.id}`, rows: 3, dir: "auto", maxlength: 2000 });
  area.value = q.display ?? "";
  const lang = h("input", { id: `translate-lang-${q.id}`, size: 6, autocomplete: "off" });
  lang.value = q.display_lang || "en";
  const fields = [...labelled(area.id, t("translate.label"), area), ...labelled(lang.id, t("translate.lang"), lang)];
  return panelForm(q, "translate", fields, () => {
    const text = area.value.trim();
    return { type: "translate", fields: { text, lang: text ? lang.value.trim() : "" } };
  });
}

// --- drag and drop (the up/down/top buttons do the same without a pointer) ------------------------------

let dragging = "";

function dragAndDrop(li, qid) {
  li.draggable = true;
  const clear = () => li.classList.remove("drop-before", "drop-after");
  const before = (e) => {
    const box = li.getBoundingClientRect();
    return e.clientY < box.top + box.height / 2;
  };
  li.addEventListener("dragstart", (e) => {
    if (e.target !== li) return;
    dragging = qid;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", qid);
    li.classList.add("dragging");
  });
  li.addEventListener("dragend", () => {
    dragging = "";
    li.classList.remove("dragging");
    for (const el of document.querySelectorAll(".drop-before, .drop-after")) {
      el.classList.remove("drop-before", "drop-after");
    }
  });
  li.addEventListener("dragover", (e) => {
    if (!dragging || dragging === qid) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    const up = before(e);
    li.classList.toggle("drop-before", up);
    li.classList.toggle("drop-after", !up);
  });
  li.addEventListener("dragleave", clear);
  li.addEventListener("drop", (e) => {
    e.preventDefault();
    clear();
    const moving = dragging || e.dataTransfer.getData("text/plain");
    if (!moving || moving === qid) return;
    if (act("move", before(e) ? { qid: moving, before: qid } : { qid: moving, after: qid })) movedQid = moving;
  });
}

// --- selection and single-key shortcuts ----------------------------------------------------------------

function allCards() {
  return ["incoming", "queue", "answered", "closed"].flatMap((id) => [...$(id).children]);
}

function select(qid, focus, within = null) {
  selected = qid;
  markSelected();
  if (focus) {
    const el = (within ?? document).querySelector(`.mq[data-qid="${qid}"]`);
    el?.focus({ preventScroll: true });
    el?.scrollIntoView({ block: "nearest" });
  }
}

function markSelected() {
  for (const el of document.querySelectorAll(".mq.selected")) {
    if (el.dataset.qid !== selected) el.classList.remove("selected");
  }
  for (const el of allCards()) if (el.dataset.qid === selected) el.classList.add("selected");
}

function onKey(e) {
  if (!$("shortcuts").checked || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest?.("input, textarea, select, [contenteditable]")) return;
  const cards = allCards();
  const index = cards.findIndex((el) => el.dataset.qid === selected && el === document.activeElement?.closest?.(".mq"));
  const current = index >= 0 ? index : cards.findIndex((el) => el.dataset.qid === selected);
  const q = questions.get(selected);
  switch (e.key) {
    case "j":
    case "k": {
      if (!cards.length) return;
      const step = e.key === "j" ? 1 : -1;
      const next = cards[Math.max(0, Math.min(cards.length - 1, current < 0 ? 0 : current + step))];
      select(next.dataset.qid, false);
      next.focus({ preventScroll: true });
      next.scrollIntoView({ block: "nearest" });
      break;
    }
    case "a":
      if (q && ["pending", "rejected", "archived"].includes(q.status)) perform("approve", q.id);
      break;
    case "r":
      if (q && ["pending", "approved"].includes(q.status)) perform("reject", q.id);
      break;
    case "s":
      if (q && ["approved", "answered"].includes(q.status)) perform("show", q.id);
      break;
    default:
      return;
  }
  e.preventDefault();
}

// --- start ---------------------------------------------------------------------------------------------

localize(document, t);
$("logout-form").before(languagePicker(lang, t("language")));
$("export-csv").href = `/e/${slug}/export.csv`;
$("export-xlsx").href = `/e/${slug}/export.xlsx`;
// A short chime on each new question, when switched on (off by default; browsers allow sound only after a click,
// and ticking the box is one).
let audio = null;
function chime() {
  if (!$("sound").checked) return;
  audio ??= new AudioContext();
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.frequency.value = 880;
  gain.gain.setValueAtTime(0.2, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.3);
  tone.connect(gain).connect(audio.destination);
  tone.start();
  tone.stop(audio.currentTime + 0.3);
  window.liveqaChimes = (window.liveqaChimes ?? 0) + 1; // for the tests: a sound can't be heard there
}
$("sound").checked = store.get(SOUND_KEY, false);
$("sound").addEventListener("change", () => {
  store.set(SOUND_KEY, $("sound").checked);
  if ($("sound").checked) audio ??= new AudioContext(); // created on this click, so it may play later
});
$("shortcuts").checked = store.get(SHORTCUTS_KEY, true);
$("shortcuts").addEventListener("change", () => store.set(SHORTCUTS_KEY, $("shortcuts").checked));
$("open-toggle").addEventListener("click", () => event && act("set_open", { open: !event.open }));
$("announce-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("announce-text");
  const text = input.value.trim();
  if (text && act("announce", { text })) input.value = "";
});
for (const select of document.querySelectorAll("select[data-filter]")) {
  select.addEventListener("change", () => {
    filters[select.dataset.filter] = select.value;
    render();
  });
}
$("search").addEventListener("input", (e) => {
  filters.text = e.target.value.trim().toLocaleLowerCase();
  render();
});
$("clear-screen").addEventListener("click", () => act("clear_screen"));
for (const radio of document.querySelectorAll("input[name=screen-mode]")) {
  radio.addEventListener("change", () => radio.checked && act("screen_mode", { mode: radio.value }));
}
$("undo").addEventListener("click", () => {
  show($("undo-bar"), false);
  if (undoAction) act(undoAction.type, undoAction.fields);
});
document.addEventListener("keydown", onKey);
render();
conn = connect(`/ws/e/${slug}/moderator`, { onFrame, onStatus });
setInterval(() => refreshTimes(document.body, lang), 30000);
