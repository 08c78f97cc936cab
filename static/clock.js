// A speaker's time on the floor, counted down the same way on the console and on the screen: from the server's
// `started` and the event's seconds, against the server's clock (the page's clock corrected by the offset
// measured when the socket was welcomed).

let offset = 0; // server clock − this page's clock, ms

/** Call with the welcome frame's `now`. */
export function syncClock(serverNow) {
  if (serverNow) offset = serverNow - Date.now();
}

/** {text: "2:41" or "+0:12" once over, over: boolean} for a speaker who started at `started` with `seconds`. */
export function remaining(started, seconds) {
  const left = Math.round((started + seconds * 1000 - (Date.now() + offset)) / 1000);
  const abs = Math.abs(left);
  const text = `${left < 0 ? "+" : ""}${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, "0")}`;
  return { text, over: left < 0 };
}
