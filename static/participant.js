// The participant page: ask (with an offline outbox), follow your own questions, vote on the queue.
import {
  absoluteTime,
  askerLine,
  connect,
  formatNumber,
  countryOptions,
  graphemes,
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

const { lang, t } = translator();
const slug = slugFromPath();
const KEYS = {
  token: `liveqa:${slug}:token`,
  outbox: `liveqa:${slug}:outbox`,
  votes: `liveqa:${slug}:votes`,
  event: `liveqa:${slug}:event`,
  profile: "liveqa:profile",
  privacy: `liveqa:${slug}:privacy`,
};
const $ = (id) => document.getElementById(id);
const RETRY_CODES = new Set(["rate_limited", "unavailable"]);
const HOLD_CODES = new Set(["questions_closed", "banned"]);

// --- state ---------------------------------------------------------------------------------------------

let event = store.get(KEYS.event, null);
const questions = new Map(); // public view: approved and answered
let queue = [];
let screen = "";
const mine = new Map(); // own questions, any status
const sent = new Map(); // cid → {qid, text, created}: acknowledged, waiting for its `own` frame
let outbox = store.get(KEYS.outbox, []).filter((item) => item && item.cid && item.fields);
for (const item of outbox) item.state = "queued";
const voted = new Set(store.get(KEYS.votes, []));
let announcements = [];
let lastAction = null; // the latest edit/withdraw/vote sent: errors without a cid are about it
let passcode = "";
const ui = { editing: new Set(), confirming: new Set(), focus: "" }; // focus: qid whose controls take focus next

// --- connection ----------------------------------------------------------------------------------------

let conn = null; // made at the end, once everything it may call is in place

function onStatus({ state, code }) {
  const el = $("status");
  el.className = `status ${state}`;
  let text = t(`status.${state}`);
  if (state === "stopped" && code === 4004) text = t("status.unknown_event");
  setText(el, text);
  show($("passcode-form"), state === "passcode");
  if (state === "passcode") $("passcode").focus();
  if (state !== "live") {
    for (const item of outbox) if (item.state === "sending") item.state = "queued";
    renderMine();
  }
}

function onFrame(frame) {
  switch (frame.type) {
    case "welcome":
      welcome(frame);
      break;
    case "snapshot":
      questions.clear();
      for (const q of frame.questions ?? []) questions.set(q.id, q);
      queue = frame.queue ?? [];
      screen = frame.screen ?? "";
      mine.clear();
      for (const q of frame.mine ?? []) addOwn(q);
      announcements = frame.announcements ?? [];
      renderAll();
      flushOutbox();
      break;
    case "resumed":
      flushOutbox();
      break;
    case "update":
      for (const q of [frame.question, frame.group]) if (q) questions.set(q.id, q);
      if (frame.removed) questions.delete(frame.removed);
      if (Array.isArray(frame.queue)) queue = frame.queue;
      if (Array.isArray(frame.place)) place(frame.place[0], frame.place[1]);
      if (frame.unqueue) queue = queue.filter((id) => id !== frame.unqueue);
      if (typeof frame.screen === "string") screen = frame.screen;
      renderSoon(renderPublic);
      break;
    case "votes":
      for (const [qid, votes] of Object.entries(frame.votes ?? {})) {
        if (questions.has(qid)) questions.get(qid).votes = votes;
        if (mine.has(qid)) mine.get(qid).votes = votes;
      }
      renderSoon(renderPublic);
      break;
    case "own":
      if (frame.question) addOwn(frame.question);
      renderSoon(renderMine);
      renderSoon(renderPublic);
      break;
    case "event":
      setEvent(frame.event);
      if (accepting()) {
        for (const item of outbox) if (item.state === "held") item.state = "queued";
        flushOutbox();
      }
      break;
    case "announcement":
      announcements.push({ text: frame.text, at: frame.at });
      renderNotices();
      break;
    case "ack":
      acknowledged(frame);
      break;
    case "similar":
      if (frame.ref === String(hintRef)) renderSimilar(frame.questions ?? []);
      break;
    case "error":
      failed(frame);
      break;
    default:
      break; // pong, or a frame from a newer server
  }
}

const dirty = new Set();

/** Render once after the frame being handled: a batch of many changes is one render, not one per change. */
function renderSoon(render) {
  if (dirty.has(render)) return;
  dirty.add(render);
  queueMicrotask(() => {
    dirty.delete(render);
    render();
  });
}

function welcome(frame) {
  if (frame.organisation && !profile.organisation) {
    $("organisation").value = frame.organisation; // an invite code named it
    readProfile();
  }
  if (frame.token) {
    const before = store.get(KEYS.token, "");
    if (before && before !== frame.token) {
      voted.clear(); // a new identity (new event epoch, or the old token died): its votes start afresh
      store.set(KEYS.votes, []);
    }
    store.set(KEYS.token, frame.token);
  }
  passcode = "";
  setEvent(frame.event);
}

function addOwn(q) {
  mine.set(q.id, q);
  if (q.cid) settle(q.cid);
  for (const [cid, item] of sent) if (item.qid === q.id) sent.delete(cid);
}

// --- outbox --------------------------------------------------------------------------------------------

function saveOutbox() {
  store.set(
    KEYS.outbox,
    outbox.map(({ cid, fields, created }) => ({ cid, fields, created })),
  );
}

function settle(cid) {
  const before = outbox.length;
  outbox = outbox.filter((item) => item.cid !== cid);
  if (outbox.length !== before) saveOutbox();
  sent.delete(cid);
}

/** Send every queued question; the server stores each cid once, so sending again after a reconnect is safe. */
function flushOutbox() {
  const now = Date.now();
  for (const item of outbox) {
    if (item.state !== "queued" || (item.retryAt ?? 0) > now) continue;
    if (conn?.send("submit", { cid: item.cid, ...item.fields })) item.state = "sending";
  }
  renderMine();
}

function acknowledged(frame) {
  const item = outbox.find((entry) => entry.cid === frame.cid);
  settle(frame.cid);
  if (!mine.has(frame.qid)) {
    sent.set(frame.cid, { qid: frame.qid, text: frame.text ?? item?.fields.text ?? "", created: item?.created });
  }
  renderMine();
}

function failed(frame) {
  const code = frame.code ?? "";
  const seconds = Math.ceil((frame.retry_after_ms ?? 1000) / 1000);
  if (frame.cid) {
    const item = outbox.find((entry) => entry.cid === frame.cid);
    if (!item) return;
    if (RETRY_CODES.has(code)) {
      item.state = "queued";
      item.retryAt = Date.now() + (frame.retry_after_ms || 1000);
      setTimeout(flushOutbox, (frame.retry_after_ms || 1000) + 50);
      showError("form-error", t(`error.${code}`, { seconds }));
    } else if (HOLD_CODES.has(code)) {
      item.state = "held";
      showError("form-error", t(`error.${code}`));
    } else {
      // The text or the author can't be accepted as it is: give the text back to be fixed.
      settle(item.cid);
      if (!$("text").value.trim()) $("text").value = item.fields.text;
      updateCount();
      showError("form-error", errorText(frame));
    }
    renderMine();
    return;
  }
  if (code === "wrong_passcode" || code === "passcode_required") {
    setText($("passcode-error"), code === "wrong_passcode" ? t("passcode.wrong") : "");
    return;
  }
  const action = lastAction;
  if (!conn?.connected) return; // refused at connect (e.g. 4029, too many joins): the status line says what next
  if (action?.kind === "vote") {
    lastAction = null; // undo once
    undoVote(action, code);
    showError("vote-error", code === "rate_limited" ? t("error.rate_limited_vote", { seconds }) : errorText(frame));
  } else if (action) {
    showError("mine-error", errorText(frame));
  } else {
    showError("form-error", errorText(frame));
  }
}

function errorText(frame) {
  const key = `error.${frame.code}`;
  const text = t(key, { detail: frame.detail ?? "", seconds: Math.ceil((frame.retry_after_ms ?? 0) / 1000) });
  return text === key ? t("error.generic", { detail: frame.detail || frame.code }) : text;
}

function showError(id, text) {
  setText($(id), text);
}

function clearErrors() {
  for (const id of ["form-error", "mine-error", "vote-error"]) setText($(id), "");
}

// --- event ---------------------------------------------------------------------------------------------

function setEvent(info) {
  if (!info) return;
  event = info;
  store.set(KEYS.event, info);
  renderEvent();
}

function accepting() {
  if (!event || event.ended || !event.open) return false;
  const now = Date.now();
  return !(event.opens_at && now < event.opens_at) && !(event.closes_at && now >= event.closes_at);
}

// --- the form ------------------------------------------------------------------------------------------

const DEFAULT_PROFILE = {
  name: "",
  organisation: "",
  country: "",
  anonymous: false,
  show_name: false,
  show_organisation: true,
  show_country: true,
};
let profile = { ...DEFAULT_PROFILE, ...store.get(KEYS.profile, {}) };

function buildForm() {
  const select = $("country");
  select.append(h("option", { value: "" }, t("profile.countryChoose")));
  for (const [code, name] of countryOptions(lang)) select.append(h("option", { value: code }, name));
  $("name").value = profile.name;
  $("organisation").value = profile.organisation;
  select.value = profile.country;
  $("anonymous").checked = profile.anonymous;
  $("show-name").checked = profile.show_name;
  $("show-organisation").checked = profile.show_organisation;
  $("show-country").checked = profile.show_country;
  $("profile").open = !profileComplete();
  for (const id of ["name", "organisation", "country", "anonymous", "show-name", "show-organisation", "show-country"]) {
    $(id).addEventListener("change", readProfile);
    $(id).addEventListener("input", readProfile);
  }
  $("text").addEventListener("input", updateCount);
  $("text").addEventListener("input", askSimilar);
  $("organisation").addEventListener("input", suggestOrgs);
  $("ask-form").addEventListener("submit", submit);
  $("passcode-form").addEventListener("submit", (e) => {
    e.preventDefault();
    passcode = $("passcode").value.trim();
    if (!passcode) return;
    setText($("passcode-error"), "");
    conn.reconnect();
  });
}

function readProfile() {
  profile = {
    name: $("name").value,
    organisation: $("organisation").value,
    country: $("country").value,
    anonymous: $("anonymous").checked,
    show_name: $("show-name").checked,
    show_organisation: $("show-organisation").checked,
    show_country: $("show-country").checked,
  };
  for (const id of ["name", "organisation", "country"]) {
    if ($(id).value.trim()) $(id).removeAttribute("aria-invalid");
  }
  store.set(KEYS.profile, profile);
  renderProfile();
}

function anonymous() {
  return Boolean(event?.anonymous_allowed && profile.anonymous);
}

function profileComplete() {
  return anonymous() || Boolean(profile.name.trim() && profile.organisation.trim() && profile.country);
}

function renderProfile() {
  const anon = anonymous();
  show($("anonymous-row"), Boolean(event?.anonymous_allowed));
  show($("identity"), !anon);
  show($("visibility"), !anon);
  let summary = t("profile.summaryMissing");
  if (anon) summary = t("profile.summaryAnonymous");
  else if (profileComplete()) summary = askerLine(profile, lang);
  setText($("profile-summary"), `(${summary})`);
}

function maxLength() {
  return event?.max_length ?? 500;
}

function updateCount() {
  const count = graphemes($("text").value);
  const max = maxLength();
  const over = count > max;
  setText($("count"), t(over ? "ask.countOver" : "ask.count", { count, max }));
  $("count").classList.toggle("over", over);
  if (over) $("text").setAttribute("aria-invalid", "true");
  else $("text").removeAttribute("aria-invalid");
}

function submit(e) {
  e.preventDefault();
  clearErrors();
  const text = $("text").value.trim();
  if (!accepting()) return showError("form-error", t(event?.ended ? "notice.ended" : "error.questions_closed"));
  if (!text) {
    $("text").focus();
    return showError("form-error", t("error.empty"));
  }
  if (graphemes(text) > maxLength()) {
    $("text").focus();
    return showError("form-error", t("error.tooLong", { max: maxLength() }));
  }
  if (!store.get(KEYS.privacy, false)) {
    if (!$("privacy-ok").checked) {
      $("privacy-ok").focus();
      return showError("form-error", t("privacy.needed"));
    }
    store.set(KEYS.privacy, true);
    show($("privacy"), false);
  }
  const anon = anonymous();
  if (!anon) {
    const missing = ["name", "organisation", "country"].filter((id) => !$(id).value.trim());
    if (missing.length) {
      $("profile").open = true;
      for (const id of missing) $(id).setAttribute("aria-invalid", "true");
      $(missing[0]).focus();
      return showError("form-error", t(event?.anonymous_allowed ? "error.profileOrAnonymous" : "error.profile"));
    }
  }
  const fields = anon
    ? { text, name: "", organisation: "", country: "", show_name: false, show_organisation: false, show_country: false }
    : {
        text,
        name: profile.name.trim(),
        organisation: profile.organisation.trim(),
        country: profile.country,
        show_name: profile.show_name,
        show_organisation: profile.show_organisation,
        show_country: profile.show_country,
      };
  outbox.push({ cid: randomId(), fields, created: Date.now(), state: "queued" });
  saveOutbox();
  $("text").value = "";
  renderSimilar([]);
  updateCount();
  $("profile").open = false;
  flushOutbox();
}

// --- rendering -----------------------------------------------------------------------------------------

function renderAll() {
  renderEvent();
  renderMine();
  renderPublic();
}

function renderEvent() {
  if (!event) return;
  setText($("title"), event.title);
  document.title = `${event.title} · ${t("title.suffix")}`;
  $("send").disabled = !accepting();
  setText($("privacy-text"), `${t("privacy.text")} ${t("privacy.erased", { n: event.retention_days ?? 30 })}`);
  show($("privacy"), !store.get(KEYS.privacy, false));
  renderProfile();
  updateCount();
  renderNotices();
}

function renderNotices() {
  const box = $("notices");
  const items = [];
  if (event?.ended) items.push(h("p", { class: "notice" }, t("notice.ended")));
  else if (event && event.opens_at && Date.now() < event.opens_at && event.open) {
    items.push(h("p", { class: "notice" }, t("notice.opens", { time: absoluteTime(event.opens_at, lang) })));
  } else if (event && !accepting()) items.push(h("p", { class: "notice" }, t("notice.closed")));
  else if (event?.closes_at) items.push(h("p", { class: "notice" }, t("notice.closes"), " ", timeElement(event.closes_at, lang)));
  for (const said of announcements.slice(-3).reverse()) {
    items.push(
      h(
        "p",
        { class: "notice announcement" },
        h("strong", {}, t("notice.announcement")),
        " ",
        h("span", { dir: "auto" }, said.text),
        " ",
        said.at ? timeElement(said.at, lang) : null,
      ),
    );
  }
  box.replaceChildren(...items);
}

/** A question joined the queue or moved in it: it now follows `after` ("" for the head). */
function place(qid, after) {
  queue = queue.filter((id) => id !== qid);
  queue.splice(after ? queue.indexOf(after) + 1 : 0, 0, qid);
}

function renderPublic() {
  const seen = new Set();
  const approved = [];
  for (const id of queue) {
    const q = questions.get(id);
    if (q && q.status === "approved" && !seen.has(id)) {
      approved.push(q);
      seen.add(id);
    }
  }
  const answered = [];
  for (const q of questions.values()) {
    if (q.status === "approved" && !seen.has(q.id)) approved.push(q);
    if (q.status === "answered") answered.push(q);
  }
  answered.sort((a, b) => (b.answered || b.created || 0) - (a.answered || a.created || 0));
  reconcile($("queue"), approved, (q) => q.id, createPublic, updatePublic);
  reconcile($("answered"), answered, (q) => q.id, createPublic, updatePublic);
  setText($("queue-heading"), t("queue.heading", { n: approved.length }));
  setText($("answered-heading"), t("answered.heading", { n: answered.length }));
  show($("queue-empty"), approved.length === 0);
  show($("answered-section"), answered.length > 0);
}

function createPublic(q) {
  const parts = {
    pinned: h("span", { class: "badge pin" }, t("q.pinned")),
    live: h("span", { class: "badge live" }, t("q.onScreen")),
    yours: h("span", { class: "badge yours" }, t("q.yours")),
    text: h("p", { class: "q-text", dir: "auto" }),
    display: h("p", { class: "q-display", dir: "auto" }),
    who: h("span", { class: "q-who", dir: "auto" }),
    time: q.created ? timeElement(q.created, lang) : h("span"),
    answerText: h("span", { dir: "auto" }),
    votes: h("span", { class: "vote-count" }),
    tally: h("span", { class: "tally" }),
  };
  parts.flags = h("p", { class: "q-flags" }, parts.pinned, parts.live, parts.yours);
  parts.answer = h("p", { class: "q-answer" }, h("strong", {}, t("q.answer")), " ", parts.answerText);
  parts.vote = h(
    "button",
    { type: "button", class: "vote", "aria-pressed": "false", onclick: () => toggleVote(q.id) },
    h("span", { class: "arrow", "aria-hidden": "true" }),
    parts.votes,
  );
  const li = h(
    "li",
    { class: "q", "data-qid": q.id },
    h(
      "div",
      { class: "q-body" },
      parts.flags,
      parts.text,
      parts.display,
      h("p", { class: "q-meta" }, parts.who, " ", parts.time),
      parts.answer,
      parts.tally,
    ),
    parts.vote,
  );
  li.parts = parts;
  return li;
}

function updatePublic(li, q) {
  const p = li.parts;
  const onScreen = screen === q.id;
  const isMine = mine.has(q.id);
  const approved = q.status === "approved";
  li.classList.toggle("pinned", Boolean(q.pinned));
  li.classList.toggle("on-screen", onScreen);
  show(p.pinned, Boolean(q.pinned) && approved);
  show(p.live, onScreen);
  show(p.yours, isMine);
  show(p.flags, (Boolean(q.pinned) && approved) || onScreen || isMine);
  setText(p.text, q.text);
  setText(p.display, q.display ?? "");
  if (q.display_lang) p.display.lang = q.display_lang;
  show(p.display, Boolean(q.display));
  setText(p.who, askerLine(q, lang));
  if (q.created && p.time.tagName === "TIME") updateTime(p.time, q.created, lang);
  setText(p.answerText, q.answer ?? "");
  show(p.answer, Boolean(q.answer));
  const votes = q.votes ?? 0;
  const pressed = voted.has(q.id);
  show(p.vote, approved);
  p.vote.setAttribute("aria-pressed", String(pressed));
  p.vote.disabled = isMine;
  p.vote.setAttribute("aria-label", t("vote.label", { n: votes }));
  setText(p.votes, formatNumber(votes, lang));
  setText(p.tally, approved ? "" : t("vote.count", { n: votes }));
  show(p.tally, !approved);
}

// Listed organisations as the name is typed (any script, accents optional)
let orgTimer = 0;
function suggestOrgs() {
  clearTimeout(orgTimer);
  orgTimer = setTimeout(async () => {
    const q = $("organisation").value.trim();
    const found = q.length < 2 ? [] : (await (await fetch(`/api/organisations?q=${encodeURIComponent(q)}`)).json()).organisations;
    $("orgs").replaceChildren(...found.map((o) => h("option", { value: o.name }, [o.acronym, o.country].filter(Boolean).join(" · "))));
  }, 300);
}

// Similar questions, after a pause in typing
let hintRef = 0;
let hintTimer = 0;
function askSimilar() {
  clearTimeout(hintTimer);
  hintTimer = setTimeout(() => {
    const text = $("text").value.trim();
    hintRef += 1;
    if (text.length < 12) renderSimilar([]);
    else conn.send("similar", { text, ref: String(hintRef) });
  }, 600);
}

function renderSimilar(found) {
  const list = found.filter((q) => questions.has(q.id));
  show($("similar"), list.length > 0);
  const support = (e, qid) => toggleVote(qid, (e.currentTarget.disabled = true));
  $("similar-list").replaceChildren(
    ...list.map((q) =>
      h("li", {}, h("span", { dir: "auto" }, q.text), " ",
        h("button", { type: "button", disabled: voted.has(q.id) || mine.has(q.id), onclick: (e) => support(e, q.id) }, t("similar.support"))),
    ),
  );
}

function toggleVote(qid) {
  clearErrors();
  const up = !voted.has(qid);
  if (!conn.send(up ? "upvote" : "unvote", { qid })) return showError("vote-error", t("error.offline"));
  lastAction = { kind: "vote", qid, up };
  applyVote(qid, up);
}

function applyVote(qid, up) {
  if (up) voted.add(qid);
  else voted.delete(qid);
  store.set(KEYS.votes, [...voted]);
  const q = questions.get(qid);
  if (q) q.votes = Math.max(0, (q.votes ?? 0) + (up ? 1 : -1)); // the next `votes` frame has the true tally
  renderPublic();
}

function undoVote(action, code) {
  if (code === "already_voted") {
    // The server already had this vote (another tab, or a lost local record): we are in that state now.
    const q = questions.get(action.qid);
    if (q) q.votes = Math.max(0, (q.votes ?? 0) - 1);
    voted.add(action.qid);
    store.set(KEYS.votes, [...voted]);
    renderPublic();
  } else if (code === "not_voted") {
    const q = questions.get(action.qid);
    if (q) q.votes = (q.votes ?? 0) + 1;
    voted.delete(action.qid);
    store.set(KEYS.votes, [...voted]);
    renderPublic();
  } else {
    applyVote(action.qid, !action.up);
  }
}

// My questions: the outbox (not yet stored), then acknowledged ones, then the server's view of each.
function renderMine() {
  const items = [];
  for (const item of [...outbox].reverse()) items.push({ key: `c:${item.cid}`, local: item });
  for (const [cid, item] of sent) items.push({ key: `c:${cid}`, local: { ...item, cid, state: "sent" } });
  const own = [...mine.values()].filter((q) => q.status !== "withdrawn");
  own.sort((a, b) => (b.created ?? 0) - (a.created ?? 0) || Number(b.id) - Number(a.id));
  for (const q of own) items.push({ key: `q:${q.id}`, q });
  reconcile($("mine"), items, (item) => item.key, createMine, updateMine);
  show($("mine-section"), items.length > 0);
}

function createMine(item) {
  const parts = {
    text: h("p", { class: "q-text", dir: "auto" }),
    state: h("span", { class: "badge state" }),
    reason: h("p", { class: "q-reason", dir: "auto" }),
    answerText: h("span", { dir: "auto" }),
    actions: h("p", { class: "q-actions" }),
    editor: null,
  };
  parts.answer = h("p", { class: "q-answer" }, h("strong", {}, t("q.answer")), " ", parts.answerText);
  const li = h(
    "li",
    { class: "q mine" },
    h(
      "div",
      { class: "q-body" },
      parts.text,
      h("p", { class: "q-meta" }, parts.state),
      parts.reason,
      parts.answer,
      parts.actions,
    ),
  );
  li.parts = parts;
  return li;
}

function updateMine(li, item) {
  const p = li.parts;
  if (item.local) {
    const local = item.local;
    const state = local.state === "queued" && (local.retryAt ?? 0) > Date.now() ? "waiting" : local.state;
    setText(p.text, local.fields?.text ?? local.text);
    setText(p.state, t(`state.${state}`));
    p.state.className = `badge state ${state}`;
    show(p.reason, false);
    show(p.answer, false);
    const discardable = state === "queued" || state === "held" || state === "waiting";
    p.actions.replaceChildren(
      ...(discardable
        ? [h("button", { type: "button", class: "link", onclick: () => discard(local.cid) }, t("mine.discard"))]
        : []),
    );
    return;
  }
  const q = item.q;
  setText(p.text, q.text);
  setText(p.state, t(`status.${q.status}`));
  p.state.className = `badge state status-${q.status}`;
  const head = q.group && questions.get(q.group);
  const why = q.group ? (head ? t("mine.merged", { text: head.text }) : t("mine.mergedHidden")) : q.reason;
  setText(p.reason, q.group ? why : why ? t("mine.reason", { reason: why }) : "");
  show(p.reason, Boolean(q.group) || (q.status === "rejected" && Boolean(q.reason)));
  setText(p.answerText, q.answer ?? "");
  show(p.answer, Boolean(q.answer));
  const pending = q.status === "pending";
  if (!pending) {
    ui.editing.delete(q.id);
    ui.confirming.delete(q.id);
  }
  const mode = ui.editing.has(q.id) ? "edit" : ui.confirming.has(q.id) ? "confirm" : pending ? "buttons" : "none";
  if (li.dataset.mode === mode) return; // keep an open editor (and focus) as the person left it
  const moveFocus = ui.focus === q.id;
  if (moveFocus) ui.focus = "";
  li.dataset.mode = mode;
  if (mode === "edit") p.actions.replaceChildren(editor(q));
  else if (mode === "confirm") {
    p.actions.replaceChildren(
      h("span", {}, t("mine.withdrawAsk")),
      " ",
      h("button", { type: "button", class: "danger", onclick: () => withdraw(q.id) }, t("mine.withdrawConfirm")),
      " ",
      h("button", { type: "button", onclick: () => setMode(q.id, null) }, t("mine.withdrawKeep")),
    );
    if (moveFocus) p.actions.lastChild.focus();
  } else if (mode === "buttons") {
    p.actions.replaceChildren(
      h("button", { type: "button", onclick: () => setMode(q.id, "edit") }, t("mine.edit")),
      " ",
      h("button", { type: "button", onclick: () => setMode(q.id, "confirm") }, t("mine.withdraw")),
    );
    if (moveFocus) p.actions.firstChild.focus();
  } else p.actions.replaceChildren();
}

function editor(q) {
  const id = `edit-${q.id}`;
  const area = h("textarea", { id, rows: 3, dir: "auto" });
  area.value = q.text;
  const save = (e) => {
    e.preventDefault();
    const text = area.value.trim();
    if (!text) return showError("mine-error", t("error.empty"));
    if (graphemes(text) > maxLength()) return showError("mine-error", t("error.tooLong", { max: maxLength() }));
    if (!conn.send("edit", { qid: q.id, text })) return showError("mine-error", t("error.offline"));
    lastAction = { kind: "edit", qid: q.id };
    setMode(q.id, null);
  };
  const form = h(
    "form",
    { class: "q-edit", onsubmit: save },
    h("label", { for: id }, t("mine.editLabel")),
    area,
    h(
      "span",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, t("mine.save")),
      " ",
      h("button", { type: "button", onclick: () => setMode(q.id, null) }, t("mine.cancel")),
    ),
  );
  queueMicrotask(() => area.focus());
  return form;
}

function setMode(qid, mode) {
  clearErrors();
  ui.editing.delete(qid);
  ui.confirming.delete(qid);
  if (mode === "edit") ui.editing.add(qid);
  if (mode === "confirm") ui.confirming.add(qid);
  ui.focus = qid;
  renderMine();
}

function withdraw(qid) {
  if (!conn.send("withdraw", { qid })) return showError("mine-error", t("error.offline"));
  lastAction = { kind: "withdraw", qid };
  setMode(qid, null);
}

function discard(cid) {
  settle(cid);
  renderMine();
}

// --- start ---------------------------------------------------------------------------------------------

localize(document, t);
document.querySelector(".topbar").append(languagePicker(lang, t("language")));
buildForm();
if (event) renderEvent();
else {
  // First visit: show the title before the socket says hello (it may wait for a passcode).
  fetch(`/api/events/${slug}`)
    .then((response) => (response.ok ? response.json() : null))
    .then((info) => info && !event && setEvent(info))
    .catch(() => {});
}
renderMine();
renderPublic();
conn = connect(`/ws/e/${slug}/participant`, {
  hello: () => ({
    token: store.get(KEYS.token, ""),
    invite: new URLSearchParams(location.search).get("invite") ?? "",
    ...(passcode ? { passcode } : {}),
  }),
  onFrame,
  onStatus,
});
setInterval(() => refreshTimes(document.body, lang), 30000);
addEventListener("storage", (e) => {
  // Another tab voted: keep the buttons honest.
  if (e.key === KEYS.votes) {
    voted.clear();
    for (const qid of store.get(KEYS.votes, [])) voted.add(qid);
    renderPublic();
  }
});
