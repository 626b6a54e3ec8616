// Reply playback: a queue of mono PCM chunks (Int16 or Float32) at `inputRate`, played with a small jitter
// buffer. Playback starts once `prebufferMs` of audio is queued, or once the first chunk has waited that
// long (a short reply still plays). When the queue runs dry the player waits for the buffer to refill.
//
// Messages in:  {type: "pcm", pcm: ArrayBuffer (Int16 LE) | Int16Array | Float32Array},
//               {type: "clear", generation}  (drop what is queued; `generation` numbers the clears)
// Messages out: {type: "stats" | "drained", received, played, peak, buffered, generation, sinceClear}
//               (samples at inputRate; peak on the Int16 scale 0..32767, the loudest sample played so far;
//               sinceClear: samples received since the clear numbered `generation`); "drained" when it
//               runs dry. Stats come on every chunk, on a clear, when drained, and every 50 ms while playing.

const STATS_INTERVAL_S = 0.05;

class PcmPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const settings = options?.processorOptions ?? {};
    const inputRate = settings.inputRate ?? sampleRate;
    this.step = inputRate / sampleRate; // input samples per output sample (1 when the rates agree)
    this.prebuffer = Math.max(1, Math.round((inputRate * (settings.prebufferMs ?? 100)) / 1000));
    this.maxWait = Math.round((sampleRate * (settings.prebufferMs ?? 100)) / 1000); // output frames
    this.statsEvery = Math.round(sampleRate * STATS_INTERVAL_S);
    this.chunks = [];
    this.index = 0; // next sample in chunks[0]
    this.buffered = 0; // input samples queued
    this.playing = false;
    this.waited = 0;
    this.sinceStats = 0;
    // Linear interpolation between the last two samples taken (only matters when the rates differ).
    this.previous = 0;
    this.next = 0;
    this.position = 1;
    this.received = 0;
    this.played = 0;
    this.generation = 0;
    this.sinceClear = 0;
    this.peak = 0;
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(message) {
    if (message?.type === "pcm") {
      const samples = toFloat(message.pcm);
      if (samples.length > 0) {
        this.chunks.push(samples);
        this.buffered += samples.length;
        this.received += samples.length;
        this.sinceClear += samples.length;
      }
      this.postStats();
    } else if (message?.type === "clear") {
      this.generation = message.generation ?? this.generation + 1;
      this.sinceClear = 0;
      this.chunks = [];
      this.index = 0;
      this.buffered = 0;
      this.playing = false;
      this.waited = 0;
      this.previous = this.next = 0;
      this.position = 1;
      this.postStats();
    }
  }

  take() {
    const chunk = this.chunks[0];
    const value = chunk[this.index++];
    if (this.index >= chunk.length) {
      this.chunks.shift();
      this.index = 0;
    }
    this.buffered--;
    this.played++;
    return value;
  }

  process(_inputs, outputs) {
    const output = outputs[0];
    if (!output || output.length === 0) return true;
    const out = output[0];
    const frames = out.length;
    let written = 0;

    if (!this.playing && this.buffered > 0) {
      this.waited += frames;
      if (this.buffered >= this.prebuffer || this.waited >= this.maxWait) {
        this.playing = true;
      }
    }
    if (this.playing) {
      let peak = this.peak;
      outer: for (; written < frames; written++) {
        while (this.position >= 1) {
          if (this.buffered === 0) break outer;
          this.previous = this.next;
          this.next = this.take();
          this.position -= 1;
        }
        const value = this.previous + (this.next - this.previous) * this.position;
        this.position += this.step;
        out[written] = value;
        const level = Math.min(32767, Math.round((value < 0 ? -value : value) * 32768));
        if (level > peak) peak = level;
      }
      this.peak = peak;
      if (written < frames) {
        // Ran dry: wait for the buffer to fill again.
        this.playing = false;
        this.waited = 0;
        this.postStats("drained");
      }
    }
    out.fill(0, written);
    for (let c = 1; c < output.length; c++) output[c].set(out);

    this.sinceStats += frames;
    if (this.sinceStats >= this.statsEvery && (this.playing || written > 0)) {
      this.postStats();
    }
    return true;
  }

  postStats(type = "stats") {
    this.sinceStats = 0;
    this.port.postMessage({
      type,
      received: this.received,
      played: this.played,
      peak: this.peak,
      buffered: this.buffered,
      generation: this.generation,
      sinceClear: this.sinceClear,
    });
  }
}

function toFloat(pcm) {
  if (pcm instanceof Float32Array) return pcm;
  let ints;
  if (pcm instanceof Int16Array) ints = pcm;
  else if (pcm instanceof ArrayBuffer) ints = new Int16Array(pcm, 0, pcm.byteLength >> 1);
  else return new Float32Array(0);
  const samples = new Float32Array(ints.length);
  for (let i = 0; i < ints.length; i++) samples[i] = ints[i] / 32768;
  return samples;
}

registerProcessor("pcm-player", PcmPlayer);
