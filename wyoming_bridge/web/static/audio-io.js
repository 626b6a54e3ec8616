// The page's two audio paths: the microphone (its own AudioContext at the device's rate, feeding the
// capture worklet) and the reply player (an AudioContext at 24 kHz with the player worklet).

const MIC_CONSTRAINTS = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
};
const MIN_RATE = 8000;
const MAX_RATE = 96000;

function audioContext(options) {
  const Context = window.AudioContext ?? window.webkitAudioContext;
  if (!Context) throw new Error("this browser has no Web Audio");
  return new Context(options);
}

/** Whether the browser can run the worklets (they need a secure context). */
export function audioSupported() {
  return Boolean(window.isSecureContext && (window.AudioContext ?? window.webkitAudioContext) && window.AudioWorkletNode);
}

export class Microphone {
  /** `onFrame(Int16Array, peak)` gets each ~20 ms frame once the microphone is open. */
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.context = null;
    this.moduleLoaded = null;
    this.stream = null;
    this.node = null;
    this.opening = null;
  }

  /** Make the AudioContext (suspended until a user gesture) and return its sample rate, the rate sent. */
  prepare() {
    let context = audioContext({ latencyHint: "interactive" });
    if (context.sampleRate < MIN_RATE || context.sampleRate > MAX_RATE) {
      context.close();
      context = audioContext({ latencyHint: "interactive", sampleRate: 48000 });
    }
    this.context = context;
    if (context.audioWorklet) {
      this.moduleLoaded = context.audioWorklet.addModule(new URL("./capture-worklet.js", import.meta.url));
      this.moduleLoaded.catch(() => {}); // reported when the microphone is opened
    }
    return Math.round(context.sampleRate);
  }

  get rate() {
    return this.context ? Math.round(this.context.sampleRate) : 0;
  }

  get isOpen() {
    return this.node !== null;
  }

  resume() {
    if (this.context && this.context.state === "suspended") this.context.resume().catch(() => {});
  }

  /** Open the microphone (once; later calls return at once or join the pending one). */
  open() {
    if (this.node) return Promise.resolve();
    if (!this.opening) {
      this.opening = this.connect().finally(() => {
        this.opening = null;
      });
    }
    return this.opening;
  }

  async connect() {
    if (!navigator.mediaDevices?.getUserMedia || !this.context?.audioWorklet) {
      const error = new Error("insecure");
      error.insecure = true;
      throw error;
    }
    const stream = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
    try {
      await this.moduleLoaded;
      const source = this.context.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(this.context, "pcm-capture", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: 1,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
        processorOptions: { frameMs: 20 },
      });
      node.port.onmessage = (event) => this.onFrame(new Int16Array(event.data.pcm), event.data.peak);
      source.connect(node);
      node.connect(this.context.destination); // silent: keeps the node pulled in every browser
      for (const track of stream.getAudioTracks()) {
        track.addEventListener("ended", () => this.disconnect(source, node));
      }
      this.stream = stream;
      this.node = node;
      this.resume();
    } catch (error) {
      for (const track of stream.getTracks()) track.stop();
      throw error;
    }
  }

  disconnect(source, node) {
    if (this.node !== node) return;
    source.disconnect();
    node.disconnect();
    node.port.onmessage = null;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.node = null; // the next press opens it again
  }
}

export class Player {
  /**
   * `onMessage(message)` gets the worklet's stats and "drained" notes; `onBusy(busy)` is called when the
   * player starts or stops having reply audio to play (what the user hears, for the page's state).
   */
  constructor(onMessage, { inputRate = 24000, prebufferMs = 100, onBusy = () => {} } = {}) {
    this.onMessage = onMessage;
    this.onBusy = onBusy;
    this.inputRate = inputRate;
    this.prebufferMs = prebufferMs;
    this.context = null;
    this.node = null;
    this.pending = [];
    this.failed = false;
    this.generation = 0; // numbers the clears, so stats sent before one are not mistaken for after
    this.pushed = 0; // samples pushed since the last clear
    this.heard = { sinceClear: 0, buffered: 0 }; // the worklet's latest stats for this generation
    this.wasBusy = false;
  }

  /** Whether reply audio is queued or playing: pushed and not yet played out. */
  get busy() {
    if (this.failed) return false;
    return this.pushed > this.heard.sinceClear || this.heard.buffered > 0;
  }

  noteBusy() {
    const busy = this.busy;
    if (busy !== this.wasBusy) {
      this.wasBusy = busy;
      this.onBusy(busy);
    }
  }

  onWorklet(message) {
    if ((message?.type === "stats" || message?.type === "drained") && message.generation === this.generation) {
      this.heard = { sinceClear: message.sinceClear, buffered: message.buffered };
    }
    this.onMessage(message);
    this.noteBusy();
  }

  /** Make the 24 kHz AudioContext and load the worklet; audio pushed before this ends is queued. */
  async prepare() {
    try {
      await this.start();
    } catch (error) {
      this.failed = true;
      this.pending = [];
      throw error;
    }
  }

  async start() {
    try {
      this.context = audioContext({ sampleRate: this.inputRate, latencyHint: "interactive" });
    } catch {
      this.context = audioContext({ latencyHint: "interactive" }); // the worklet resamples
    }
    if (!this.context.audioWorklet) throw new Error("insecure");
    await this.context.audioWorklet.addModule(new URL("./player-worklet.js", import.meta.url));
    const node = new AudioWorkletNode(this.context, "pcm-player", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { inputRate: this.inputRate, prebufferMs: this.prebufferMs },
    });
    node.port.onmessage = (event) => this.onWorklet(event.data);
    node.connect(this.context.destination);
    this.node = node;
    for (const message of this.pending.splice(0)) this.post(message);
  }

  resume() {
    if (this.context && this.context.state === "suspended") this.context.resume().catch(() => {});
  }

  /** Queue 16-bit PCM at 24 kHz (an ArrayBuffer, handed over to the worklet). */
  push(pcm) {
    if (pcm.byteLength < 2) return;
    if (!this.failed) this.pushed += pcm.byteLength >> 1;
    this.post({ type: "pcm", pcm }, [pcm]);
    this.noteBusy();
  }

  /** Drop what is not played yet. */
  clear() {
    this.pending = this.pending.filter((message) => message.type !== "pcm");
    this.generation++;
    this.pushed = 0;
    this.heard = { sinceClear: 0, buffered: 0 };
    this.post({ type: "clear", generation: this.generation });
    this.noteBusy();
  }

  post(message, transfer = []) {
    if (this.node) this.node.port.postMessage(message, transfer);
    else if (!this.failed) this.pending.push(message);
  }
}
