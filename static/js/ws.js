// The /ws event stream with exponential-backoff reconnects.
import { apiToken } from "./api.js";
export function connectEvents(onEvent, onStatus = () => {}) {
  let delay = 1000;
  let socket = null;
  let stopped = false;

  function open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = apiToken() ? `?token=${encodeURIComponent(apiToken())}` : ""; // browsers cannot set headers here
    socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
    onStatus("connecting");
    socket.addEventListener("open", () => { delay = 1000; onStatus("live"); });
    socket.addEventListener("message", (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      onEvent(event);
    });
    socket.addEventListener("close", () => {
      if (stopped) return;
      onStatus("reconnecting");
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  open();
  window.addEventListener("pagehide", () => { stopped = true; socket?.close(1000); });
  return { close: () => { stopped = true; socket?.close(1000); } };
}
