// The agents' websocket: delivers events, reconnects with backoff, and says when to resync.
// The socket only notifies; the page catches up over REST after every reconnect.

export class LiveSocket {
  constructor({ onEvent, onOpen, onState }) {
    this.onEvent = onEvent;
    this.onOpen = onOpen;
    this.onState = onState;
    this.attempt = 0;
    this.socket = null;
    this.pingTimer = null;
    this.paused = false;
  }

  connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws/agent/?presence=1`);
    this.socket = socket;
    this.onState("connecting");
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.onState("live");
      this.pingTimer = window.setInterval(() => this.send({ type: "ping" }), 25000);
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      if (event.type === "hello") this.onOpen(event);
      else if (event.type !== "pong") this.onEvent(event);
    });
    socket.addEventListener("close", (close) => {
      window.clearInterval(this.pingTimer);
      if (this.paused) {
        this.onState("offline");
        return;
      }
      if (close.code === 4401) {
        // The session ended: sign in again.
        window.location.assign(`/login/?next=${encodeURIComponent(window.location.pathname)}`);
        return;
      }
      this.onState("offline");
      // Exponential backoff with jitter, at most 30 s, so a restarted server is not stampeded.
      const delay = Math.min(30000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      window.setTimeout(() => this.connect(), delay);
    });
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  // An outage, for tests: drop the connection and stay away until resume().
  pause() {
    this.paused = true;
    if (this.socket) this.socket.close(4000, "paused");
  }

  resume() {
    this.paused = false;
    this.connect();
  }
}
