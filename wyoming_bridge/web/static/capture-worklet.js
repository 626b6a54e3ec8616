// Microphone capture: the input's Float32 samples become 16-bit PCM frames of about 20 ms, posted to the
// main thread as transferable ArrayBuffers together with the frame's peak level (0..1).

class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const frameMs = options?.processorOptions?.frameMs ?? 20;
    this.frameSize = Math.max(1, Math.round((sampleRate * frameMs) / 1000));
    this.frame = new Int16Array(this.frameSize);
    this.filled = 0;
    this.peak = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) {
      return true; // nothing connected (yet)
    }
    const count = channels[0].length;
    for (let i = 0; i < count; i++) {
      let value = channels[0][i];
      if (channels.length > 1) {
        // The node asks for mono; mix down anyway should a browser hand over more channels.
        for (let c = 1; c < channels.length; c++) value += channels[c][i];
        value /= channels.length;
      }
      if (value > 1) value = 1;
      else if (value < -1) value = -1;
      const magnitude = value < 0 ? -value : value;
      if (magnitude > this.peak) this.peak = magnitude;
      this.frame[this.filled++] = value < 0 ? Math.round(value * 0x8000) : Math.round(value * 0x7fff);
      if (this.filled === this.frameSize) {
        const pcm = this.frame.buffer;
        this.port.postMessage({ pcm, peak: this.peak }, [pcm]);
        this.frame = new Int16Array(this.frameSize);
        this.filled = 0;
        this.peak = 0;
      }
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
