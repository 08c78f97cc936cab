// Shared by every page: the socket (hello, resume, reconnect), a DOM helper, keyed list rendering,
// message tables, storage, and the Intl helpers (times, countries, grapheme counts).
// The pages run under a CSP with Trusted Types and no inline anything: build DOM only with
// createElement / textContent / setAttribute, never with HTML strings.

export const SUBPROTOCOL = "liveqa.v1";
const VERSION = 1;

// Reconnect: capped exponential backoff with full jitter; the attempt count resets after a stable link.
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 5000;
const STABLE_MS = 30000;
const PING_MS = 25000;
const PONG_WAIT_MS = 10000;

// Close codes after which retrying cannot help (see docs/protocol.md). 4001 and 4003 need the person.
const NO_RETRY = new Set([1000, 1003, 1008, 1009, 4004, 4400]);
const TOKEN = /^[A-Za-z0-9_-]{0,64}$/;

/**
 * Open the socket at `path` and keep it open.
 *
 * hello(): extra fields for the first frame (token, passcode); epoch and last_id are added here so that a
 * reconnect resumes where the page left off. onFrame(frame) gets every frame; onStatus({state, code, retryIn})
 * gets "connecting", "live", "reconnecting", "offline", or a stop: "login" (4001), "passcode" (4003),
 * "stopped" (a close code not worth retrying).
 */
export function connect(path, { hello = () => ({}), onFrame, onStatus = () => {} }) {
  let socket = null;
  let welcomed = false;
  let epoch = "";
  let lastId = "";
  let attempt = 0;
  let retryAfterMs = 0;
  let stopped = false;
  let retryTimer = 0;
  let stableTimer = 0;
  let pingTimer = 0;
  let pongTimer = 0;

  function url() {
    const u = new URL(path, location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    return u.href;
  }

  function open() {
    clearTimeout(retryTimer);
    stopped = false;
    welcomed = false;
    onStatus({ state: attempt ? "reconnecting" : "connecting" });
    let ws;
    try {
      ws = new WebSocket(url(), SUBPROTOCOL);
    } catch {
      schedule();
      return;
    }
    socket = ws;
    ws.addEventListener("open", () => {
      if (ws !== socket) return;
      const fields = { ...hello() };
      if (!TOKEN.test(fields.token ?? "")) delete fields.token; // a damaged stored token would cost the socket
      ws.send(JSON.stringify({ ...fields, type: "hello", v: VERSION, epoch, last_id: lastId }));
      stableTimer = setTimeout(() => (attempt = 0), STABLE_MS);
      pingTimer = setInterval(ping, PING_MS);
    });
    ws.addEventListener("message", (message) => receive(ws, message.data));
    ws.addEventListener("close", (event) => closed(ws, event.code));
  }

  function receive(ws, data) {
    if (ws !== socket || typeof data !== "string") return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    clearTimeout(pongTimer); // any frame shows the link is alive
    if (frame.type === "batch" && Array.isArray(frame.frames)) {
      // Several changes at once (participants get at most one frame every 100 ms): each applied in order.
      for (const inner of frame.frames) if (inner && typeof inner.type === "string") handle(inner);
    } else {
      handle(frame);
    }
  }

  function handle(frame) {
    if (frame.type === "welcome") {
      welcomed = true;
      epoch = frame.epoch || "";
    } else if (frame.type === "snapshot" && frame.epoch) {
      epoch = frame.epoch;
    } else if (frame.type === "error" && frame.retry_after_ms) {
      retryAfterMs = frame.retry_after_ms; // used if the server closes next (4029)
    }
    // The log position: every frame that carries a log id except the direct replies.
    if (typeof frame.id === "string" && frame.id && frame.type !== "ack" && frame.type !== "done") lastId = frame.id;
    if (frame.type === "welcome") onStatus({ state: "live" });
    onFrame(frame);
  }

  function cleanup() {
    clearTimeout(stableTimer);
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    welcomed = false;
  }

  function closed(ws, code) {
    if (ws !== socket) return;
    cleanup();
    socket = null;
    if (stopped) return;
    if (code === 4001) return stop("login", code);
    if (code === 4003) return stop("passcode", code);
    if (NO_RETRY.has(code)) return stop("stopped", code);
    schedule(code === 4029 ? retryAfterMs : 0);
  }

  function stop(state, code) {
    stopped = true;
    clearTimeout(retryTimer);
    onStatus({ state, code });
  }

  function schedule(atLeastMs = 0) {
    const delay = Math.max(atLeastMs, Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
    attempt += 1;
    retryAfterMs = 0;
    onStatus({ state: navigator.onLine === false ? "offline" : "reconnecting", retryIn: delay });
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, delay);
  }

  function ping() {
    if (!welcomed) return;
    send("ping");
    clearTimeout(pongTimer);
    pongTimer = setTimeout(drop, PONG_WAIT_MS);
  }

  // The link is dead without a close (sleeping laptop, lost Wi-Fi): give up on this socket and dial again.
  function drop() {
    const ws = socket;
    if (!ws) return;
    cleanup();
    socket = null;
    try {
      ws.close();
    } catch {
      /* already closing */
    }
    schedule();
  }

  function send(type, fields = {}) {
    if (!socket || !welcomed || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify({ ...fields, type }));
    return true;
  }

  addEventListener("online", () => {
    if (!socket && !stopped) {
      attempt = 0;
      open();
    }
  });
  addEventListener("offline", () => {
    if (!welcomed) onStatus({ state: "offline" });
    else ping(); // find out at once whether the socket survived
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && welcomed) ping();
  });

  open();
  return {
    send,
    get connected() {
      return welcomed;
    },
    /** Start again after a stop (for example once a passcode has been entered). */
    reconnect() {
      if (socket) return;
      attempt = 0;
      open();
    },
    close() {
      stopped = true;
      clearTimeout(retryTimer);
      cleanup();
      socket?.close(1000);
      socket = null;
    },
  };
}

// --- DOM -----------------------------------------------------------------------------------------------

/** h("p", {class: "x", dir: "auto", onclick: f}, "text", child): elements, attributes and text nodes only. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) {
      if (typeof value === "function") el.addEventListener(name.slice(2), value);
      continue; // never an inline handler
    }
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    if (child instanceof Node) {
      el.appendChild(child);
    } else {
      el.appendChild(document.createTextNode(String(child))); // text, never parsed as HTML
    }
  }
  return el;
}

/** Set an element's text, doing nothing when it is unchanged (keeps screen readers quiet). */
export function setText(el, text) {
  const value = text == null ? "" : String(text);
  if (el.textContent !== value) el.textContent = value;
}

export function show(el, visible) {
  el.hidden = !visible;
}

const keyedChildren = new WeakMap();

/**
 * Make `parent`'s children match `items`, one element per key, reusing the elements it made before:
 * create(item) builds one, update(el, item) brings it up to date. Moves as little as it can and gives focus
 * back if a move took it away, so that keyboard users keep their place while the list changes.
 */
export function reconcile(parent, items, keyOf, create, update) {
  let byKey = keyedChildren.get(parent);
  if (!byKey) keyedChildren.set(parent, (byKey = new Map()));
  const active = document.activeElement;
  const keep = new Set();
  let cursor = parent.firstChild;
  for (const item of items) {
    const key = keyOf(item);
    keep.add(key);
    let el = byKey.get(key);
    if (!el) byKey.set(key, (el = create(item)));
    update(el, item);
    if (el === cursor) {
      cursor = cursor.nextSibling;
    } else if (el.isConnected && el.parentNode === parent && typeof parent.moveBefore === "function") {
      parent.moveBefore(el, cursor); // keeps focus and state where supported
    } else {
      parent.insertBefore(el, cursor);
    }
  }
  for (const [key, el] of byKey) {
    if (!keep.has(key)) {
      el.remove();
      byKey.delete(key);
    }
  }
  if (active && active !== document.activeElement && active.isConnected) active.focus({ preventScroll: true });
}

// --- messages ------------------------------------------------------------------------------------------

export const LANGUAGES = { ar: "العربية", en: "English", es: "Español", fr: "Français", ru: "Русский", zh: "中文" };

/**
 * t(key, vars) in the page's language. The server chose it (?lang=, the picker's cookie, or the browser's first of
 * the six) and put its messages into the page, English under any key a translation lacks: no extra request.
 * A message is a string with {name} placeholders, or plural forms ({one, few, other…}) chosen by vars.n.
 */
export function translator() {
  const messages = JSON.parse(document.getElementById("messages")?.textContent || "{}");
  const lang = document.documentElement.lang || "en";
  const plurals = new Intl.PluralRules(lang);
  function t(key, vars = {}) {
    let message = messages[key] ?? key;
    if (typeof message === "object") message = message[plurals.select(vars.n ?? 0)] ?? message.other;
    return message.replace(/\{(\w+)\}/g, (_, name) => (name === "n" ? formatNumber(vars.n, lang) : vars[name] ?? ""));
  }
  return { lang, t };
}

/** The six languages in a <select>: choosing one keeps the choice and reloads the page in it. */
export function languagePicker(lang, label) {
  const select = h("select", { "aria-label": label, class: "lang" }, Object.entries(LANGUAGES).map(
    ([code, name]) => h("option", { value: code, lang: code, selected: code === lang }, name)));
  select.addEventListener("change", () => {
    document.cookie = `liveqa_lang=${select.value}; path=/; max-age=31536000; samesite=lax`;
    const url = new URL(location.href);
    url.searchParams.delete("lang");
    location.assign(url);
  });
  return select;
}

/** Fill the page's fixed text from the table: data-t (text), data-t-label (aria-label), data-t-placeholder. */
export function localize(root, t) {
  for (const el of root.querySelectorAll("[data-t]")) setText(el, t(el.dataset.t));
  for (const el of root.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", t(el.dataset.tLabel));
  for (const el of root.querySelectorAll("[data-t-placeholder]")) el.placeholder = t(el.dataset.tPlaceholder);
  for (const el of root.querySelectorAll("[data-t-title]")) el.title = t(el.dataset.tTitle);
}

export function formatNumber(n, lang) {
  return new Intl.NumberFormat(lang).format(n ?? 0);
}

// --- storage -------------------------------------------------------------------------------------------

/** JSON in localStorage, surviving a browser that refuses storage (private modes, full quota). */
export const store = {
  get(key, fallback) {
    try {
      const raw = localStorage.getItem(key);
      return raw == null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      /* storage unavailable: the page still works for this visit */
    }
  },
  remove(key) {
    try {
      localStorage.removeItem(key);
    } catch {
      /* as above */
    }
  },
};

/** A random id for a submission (crypto.randomUUID needs a secure context; this does not). */
export function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The event slug in /e/{slug}/…. */
export function slugFromPath() {
  const match = location.pathname.match(/^\/e\/([a-z0-9][a-z0-9-]{0,39})(?:\/|$)/);
  return match ? match[1] : "";
}

// --- Intl ----------------------------------------------------------------------------------------------

const relativeFormats = new Map();
const UNITS = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["week", 7 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
];

/** "2 minutes ago", "now"… for a time in ms since the epoch. */
export function relativeTime(ms, lang, now = Date.now()) {
  let format = relativeFormats.get(lang);
  if (!format) relativeFormats.set(lang, (format = new Intl.RelativeTimeFormat(lang, { numeric: "auto" })));
  let seconds = Math.round((ms - now) / 1000);
  if (seconds > 0 && seconds < 60) seconds = 0; // clocks differ a little: never "in 2 s"
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(0, "second");
}

export function absoluteTime(ms, lang) {
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));
}

/** <time> elements made by timeElement() are refreshed by calling this every so often. */
export function refreshTimes(root, lang) {
  const now = Date.now();
  for (const el of root.querySelectorAll("time[data-ms]")) setText(el, relativeTime(Number(el.dataset.ms), lang, now));
}

export function timeElement(ms, lang) {
  const el = h("time", { "data-ms": ms, datetime: new Date(ms).toISOString(), title: absoluteTime(ms, lang) });
  el.textContent = relativeTime(ms, lang);
  return el;
}

export function updateTime(el, ms, lang) {
  if (el.dataset.ms === String(ms)) return;
  el.dataset.ms = String(ms);
  el.setAttribute("datetime", new Date(ms).toISOString());
  el.title = absoluteTime(ms, lang);
  setText(el, relativeTime(ms, lang));
}

// ISO 3166-1 alpha-2: every officially assigned code (249).
export const COUNTRIES = (
  "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY " +
  "BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM " +
  "FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT " +
  "JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN " +
  "MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT " +
  "PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL " +
  "TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
).split(" ");

const regionNames = new Map();

/** A country's name in `lang` ("NE" → "Niger"); the code itself if the browser has no name for it. */
export function countryName(code, lang) {
  if (!code) return "";
  let names = regionNames.get(lang);
  if (names === undefined) {
    try {
      names = new Intl.DisplayNames([lang], { type: "region", fallback: "code" });
    } catch {
      names = null;
    }
    regionNames.set(lang, names);
  }
  try {
    return names?.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** [code, name] pairs sorted by name as people of `lang` sort them. */
export function countryOptions(lang) {
  const collator = new Intl.Collator(lang);
  return COUNTRIES.map((code) => [code, countryName(code, lang)]).sort((a, b) => collator.compare(a[1], b[1]));
}

let segmenter;

/** Characters as a reader counts them (extended grapheme clusters), as the server limits them. */
export function graphemes(text) {
  const normalized = text.normalize("NFC").trim();
  if (segmenter === undefined) {
    segmenter = typeof Intl.Segmenter === "function" ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
  }
  if (!segmenter) return [...normalized].length;
  let count = 0;
  for (const _ of segmenter.segment(normalized)) count += 1;
  return count;
}

/** "Amina · Voices of the Sahel · Niger": what a question shows of its asker. */
export function askerLine(question, lang) {
  return [question.name, question.organisation, countryName(question.country, lang)].filter(Boolean).join(" · ");
}
