// Direct mode: the browser's own WebSocket to Gemini Live, opened with a single-use ephemeral token the
// bridge minted (docs/web-console.md, "Direct mode"). One token per Gemini session.
//
// What is sent before Gemini's setupComplete (activityStart, the first audio frames) waits in a queue.

const MAX_QUEUED = 500; // messages held while connecting (about 10 s of 20 ms frames)

export class DirectSession {
  /**
   * handlers:
   *   token()                         → a Promise of the bridge's `token` message
   *   audio(arrayBuffer)              reply audio, 16-bit PCM at 24 kHz
   *   transcript(role, text, final)   "user" | "model"
   *   interrupted()
   *   turnComplete()
   *   toolCall(calls)                 [{id, name, args}]
   *   goAway(timeLeft)
   *   closed({code, reason, opened})   Gemini (or the network) closed the session, not the page
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.socket = null;
    this.state = "closed"; // "connecting" | "open" | "closed"
    this.queue = [];
    this.opening = null;
    this.abortOpening = null;
    this.generation = 0; // a session closed by the page while it opened must not come back to life
  }

  get isOpen() {
    return this.state === "open";
  }

  /** Whether a session is open or on its way. */
  get active() {
    return this.state !== "closed";
  }

  /** Open a session unless one is open or opening; resolves once Gemini's setup is complete. */
  ensure() {
    if (this.state === "open") return Promise.resolve();
    if (this.state === "connecting") return this.opening;
    const generation = ++this.generation;
    this.state = "connecting";
    this.queue = [];
    this.opening = this.connect(generation);
    this.opening.catch(() => {});
    return this.opening;
  }

  async connect(generation) {
    let token;
    try {
      token = await this.handlers.token();
    } catch (error) {
      if (generation === this.generation) {
        this.state = "closed";
        this.queue = [];
      }
      throw error;
    }
    if (generation !== this.generation) throw closedByPage();
    const separator = token.url.includes("?") ? "&" : "?";
    const socket = new WebSocket(`${token.url}${separator}access_token=${encodeURIComponent(token.token)}`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    let inbox = Promise.resolve(); // keeps the messages in order (a Blob is read asynchronously)

    return new Promise((resolve, reject) => {
      let opened = false;
      this.abortOpening = () => reject(closedByPage());
      socket.onopen = () => socket.send(JSON.stringify({ setup: token.setup ?? {} }));
      socket.onmessage = (event) => {
        inbox = inbox
          .then(() => decode(event.data))
          .then((message) => {
            if (this.socket !== socket || !message) return;
            if (message.setupComplete !== undefined && !opened) {
              opened = true;
              this.abortOpening = null;
              this.state = "open";
              for (const queued of this.queue.splice(0)) socket.send(queued);
              resolve();
            }
            this.dispatch(message);
          })
          .catch((error) => console.warn("Gemini: unreadable message", error));
      };
      socket.onclose = (event) => {
        if (this.socket !== socket) return; // the page closed it
        this.socket = null;
        this.state = "closed";
        this.queue = [];
        this.abortOpening = null;
        const info = { code: event.code, reason: event.reason, opened };
        if (!opened) {
          const error = new Error(event.reason || `code ${event.code}`);
          error.info = info;
          reject(error);
        }
        this.handlers.closed(info);
      };
    });
  }

  dispatch(message) {
    const content = message.serverContent;
    if (content) {
      for (const part of content.modelTurn?.parts ?? []) {
        const data = part.inlineData;
        if (data?.data && (data.mimeType ?? "audio/pcm").startsWith("audio/pcm")) {
          this.handlers.audio(base64ToBuffer(data.data));
        }
      }
      const heard = content.inputTranscription;
      if (heard) this.handlers.transcript("user", heard.text ?? "", Boolean(heard.finished));
      const said = content.outputTranscription;
      if (said) this.handlers.transcript("model", said.text ?? "", Boolean(said.finished));
      if (content.interrupted) this.handlers.interrupted();
      if (content.turnComplete) this.handlers.turnComplete();
    }
    const calls = message.toolCall?.functionCalls;
    if (Array.isArray(calls) && calls.length > 0) {
      this.handlers.toolCall(calls.map((call) => ({ id: call.id ?? "", name: call.name, args: call.args ?? {} })));
    }
    if (message.toolCallCancellation) {
      console.info("Gemini cancelled tool calls", message.toolCallCancellation.ids);
    }
    if (message.goAway) {
      console.info("Gemini will close this session soon", message.goAway.timeLeft);
      this.handlers.goAway(message.goAway.timeLeft);
    }
  }

  /** Send a message now (open), later (connecting, up to a limit) or not at all (closed): whether it went. */
  send(message) {
    const text = JSON.stringify(message);
    if (this.state === "open" && this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(text);
      return true;
    }
    if (this.state === "connecting" && this.queue.length < MAX_QUEUED) {
      this.queue.push(text);
      return true;
    }
    return false;
  }

  /** Microphone audio (Int16Array at `rate`). */
  sendAudio(pcm, rate) {
    return this.send({
      realtimeInput: { audio: { data: bufferToBase64(pcm.buffer, pcm.byteOffset, pcm.byteLength), mimeType: `audio/pcm;rate=${rate}` } },
    });
  }

  activityStart() {
    return this.send({ realtimeInput: { activityStart: {} } });
  }

  activityEnd() {
    return this.send({ realtimeInput: { activityEnd: {} } });
  }

  /** Automatic mode: the microphone stopped; Gemini flushes its activity detection. */
  audioStreamEnd() {
    return this.send({ realtimeInput: { audioStreamEnd: true } });
  }

  text(text) {
    return this.send({ realtimeInput: { text } });
  }

  toolResponse(responses) {
    return this.send({ toolResponse: { functionResponses: responses } });
  }

  /** Close the session (the page's choice: no error is shown). */
  close() {
    if (this.state === "closed") return;
    this.generation++;
    this.state = "closed";
    this.queue = [];
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000);
    const abort = this.abortOpening;
    this.abortOpening = null;
    abort?.();
  }
}

function closedByPage() {
  const error = new Error("closed");
  error.byPage = true;
  return error;
}

const utf8 = new TextDecoder();

/** A frame's JSON: Gemini sends JSON in text and in binary frames. */
async function decode(data) {
  let text;
  if (typeof data === "string") text = data;
  else if (data instanceof ArrayBuffer) text = utf8.decode(data);
  else if (data instanceof Blob) text = await data.text();
  else return null;
  return JSON.parse(text);
}

function base64ToBuffer(base64) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length & ~1);
  for (let i = 0; i < bytes.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

function bufferToBase64(buffer, offset, length) {
  const bytes = new Uint8Array(buffer, offset, length);
  let binary = "";
  const step = 0x2000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  }
  return btoa(binary);
}
