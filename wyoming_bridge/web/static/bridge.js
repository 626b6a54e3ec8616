// The WebSocket to the bridge (/ws on this page's host): hello, reconnection with backoff, and the
// password handshake. Messages after `ready` go to the handlers.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const LOCKED_OUT_WAIT_MS = 30000;
const CLOSE_BAD_PASSWORD = 4401;
const CLOSE_LOCKED_OUT = 4429;

export class BridgeLink {
  /**
   * handlers:
   *   hello()                    → the hello message's fields (mode, rate, language)
   *   status(connection)         "connecting" | "connected" | "disconnected"
   *   ready(message)             the hello was accepted
   *   message(message)           any other JSON message
   *   audio(arrayBuffer)         reply audio
   *   refused(reason, hadPassword)  "password" (the form is needed) or "locked_out"
   *   closed(wasReady)           the socket is gone (a reconnection may follow)
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.password = null;
    this.socket = null;
    this.isReady = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.waitingForPassword = false;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = `${scheme}//${location.host}/ws`;
    window.addEventListener("online", () => this.retrySoon());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.retrySoon();
    });
  }

  get ready() {
    return this.isReady && this.socket?.readyState === WebSocket.OPEN;
  }

  /** Connect (again), with `password` when given. */
  connect(password = this.password) {
    this.password = password || null;
    this.waitingForPassword = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const old = this.socket;
    if (old) {
      this.socket = null;
      old.close(1000);
    }
    this.isReady = false;
    this.handlers.status("connecting");
    const socket = new WebSocket(this.url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    let refusal = null;

    socket.onopen = () => {
      const hello = { type: "hello", ...this.handlers.hello() };
      if (this.password) hello.password = this.password;
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      if (typeof event.data !== "string") {
        if (this.isReady) this.handlers.audio(event.data);
        return;
      }
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!message || typeof message.type !== "string") return;
      if (message.type === "ready") {
        this.isReady = true;
        this.attempt = 0;
        this.handlers.status("connected");
        this.handlers.ready(message);
      } else if (!this.isReady && message.type === "error" && message.code === "bad_password") {
        refusal = "password";
      } else if (!this.isReady && message.type === "error" && message.code === "too_many_attempts") {
        refusal = "locked_out";
      } else {
        this.handlers.message(message);
      }
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return; // replaced by a newer connection
      const wasReady = this.isReady;
      this.socket = null;
      this.isReady = false;
      this.handlers.status("disconnected");
      this.handlers.closed(wasReady);
      if (refusal === "password" || event.code === CLOSE_BAD_PASSWORD) {
        this.waitingForPassword = true; // no retry until the user gives a password
        this.handlers.refused("password", Boolean(this.password));
      } else if (refusal === "locked_out" || event.code === CLOSE_LOCKED_OUT) {
        this.handlers.refused("locked_out", Boolean(this.password));
        this.schedule(LOCKED_OUT_WAIT_MS);
      } else {
        const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
        this.attempt++;
        this.schedule(base * (0.8 + Math.random() * 0.4));
      }
    };
  }

  schedule(delayMs) {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  /** Reconnect now if a retry is pending (the network came back, the page became visible). */
  retrySoon() {
    if (this.retryTimer !== null && !this.waitingForPassword) this.connect();
  }

  /** Send a JSON message; false when not connected. */
  send(message) {
    if (!this.ready) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Send microphone audio (16-bit PCM); false when not connected. */
  sendAudio(pcm) {
    if (!this.ready) return false;
    this.socket.send(pcm);
    return true;
  }
}
