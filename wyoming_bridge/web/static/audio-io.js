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
  /** `onMessage(message)` gets the worklet's stats and "drained" notes. */
  constructor(onMessage, { inputRate = 24000, prebufferMs = 100 } = {}) {
    this.onMessage = onMessage;
    this.inputRate = inputRate;
    this.prebufferMs = prebufferMs;
    this.context = null;
    this.node = null;
    this.pending = [];
    this.failed = false;
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
    node.port.onmessage = (event) => this.onMessage(event.data);
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
    this.post({ type: "pcm", pcm }, [pcm]);
  }

  /** Drop what is not played yet. */
  clear() {
    this.pending = this.pending.filter((message) => message.type !== "pcm");
    this.post({ type: "clear" });
  }

  post(message, transfer = []) {
    if (this.node) this.node.port.postMessage(message, transfer);
    else if (!this.failed) this.pending.push(message);
  }
}
