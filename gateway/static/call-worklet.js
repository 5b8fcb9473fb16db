// AudioWorklet: microphone audio at the context's rate -> 20 ms frames of 16-bit PCM at the
// target rate (16 kHz), posted to the page. Decimation averages the samples of each output
// period (a box low-pass), enough against aliasing for speech recognition.
"use strict";

class HotlineCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const target = options.processorOptions.targetRate;
    this.step = sampleRate / target; // input samples per output sample
    this.frameSamples = target / 50;
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.phase = 0;
    this.sum = 0;
    this.count = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      this.sum += channel[i];
      this.count++;
      this.phase += 1;
      if (this.phase >= this.step) {
        this.phase -= this.step;
        const v = Math.max(-1, Math.min(1, this.sum / this.count));
        this.sum = 0;
        this.count = 0;
        this.frame[this.filled++] = v < 0 ? v * 32768 : v * 32767;
        if (this.filled === this.frameSamples) {
          this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
          this.frame = new Int16Array(this.frameSamples);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("hotline-capture", HotlineCapture);
