// Web Audio: one bus per voice (volume, pan, mute/solo) into a master gain.

export class Mixer {
  constructor() {
    this.ctx = new AudioContext({ latencyHint: "interactive" });
    this.master = this.ctx.createGain();
    this.master.gain.value = 0.9;
    this.master.connect(this.ctx.destination);
    this.buses = new Map();
    this.buffers = new Map();
  }

  resume() {
    return this.ctx.state === "suspended" ? this.ctx.resume() : Promise.resolve();
  }

  bus(voice) {
    let bus = this.buses.get(voice);
    if (!bus) {
      const gain = this.ctx.createGain();
      const pan = this.ctx.createStereoPanner();
      gain.connect(pan).connect(this.master);
      bus = { gain, pan };
      this.buses.set(voice, bus);
    }
    return bus;
  }

  /** Volume, pan and whether the voice is heard (mute and solo resolved by the caller). */
  setVoice(voice, { volume, pan, audible }) {
    const bus = this.bus(voice);
    bus.gain.gain.setTargetAtTime(audible ? volume : 0, this.ctx.currentTime, 0.01);
    bus.pan.pan.setTargetAtTime(pan, this.ctx.currentTime, 0.01);
  }

  setClip(voice, samples, sampleRate) {
    const buffer = this.ctx.createBuffer(1, samples.length, sampleRate);
    buffer.copyToChannel(samples, 0);
    this.buffers.set(voice, buffer);
  }

  /** Play the voice's clip at `time` (audio clock) with `velocity` in (0, 1]. */
  play(voice, time, velocity) {
    const buffer = this.buffers.get(voice);
    if (!buffer) return false;
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    const amp = this.ctx.createGain();
    amp.gain.value = velocity;
    source.connect(amp).connect(this.bus(voice).gain);
    source.start(Math.max(time, this.ctx.currentTime));
    return true;
  }
}

/** Draw a clip's waveform (min/max per pixel column) on a canvas. */
export function drawWaveform(canvas, samples) {
  const g = canvas.getContext("2d");
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  g.fillStyle = getComputedStyle(canvas).color || "#8cf";
  const per = Math.max(1, Math.floor(samples.length / width));
  for (let x = 0; x < width; x++) {
    let lo = 0;
    let hi = 0;
    const end = Math.min(samples.length, (x + 1) * per);
    for (let i = x * per; i < end; i++) {
      if (samples[i] < lo) lo = samples[i];
      if (samples[i] > hi) hi = samples[i];
    }
    const top = ((1 - hi) / 2) * height;
    const bottom = ((1 - lo) / 2) * height;
    g.fillRect(x, top, 1, Math.max(1, bottom - top));
  }
}
