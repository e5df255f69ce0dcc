// The look-ahead scheduler: a timer wakes every INTERVAL ms and books on the audio clock every note
// that falls within the next LOOKAHEAD seconds, so timing holds while the page is busy.
// Step k of a bar starts at (k + swing * (k % 2)) * stepSeconds, as fastdrum.sequencer.schedule does.

export const LOOKAHEAD = 0.12; // seconds booked ahead
export const INTERVAL = 25; // ms between wake-ups

/** Seconds in one step: a bar of `steps` steps is four beats. */
export function stepSeconds(bpm, steps) {
  return 60 / bpm / (steps / 4);
}

/** Offset of step k from the bar's unswung grid position, in seconds. */
export function swingOffset(k, swing, step) {
  return (k % 2) * swing * step;
}

export class Scheduler {
  /**
   * @param {BaseAudioContext} ctx
   * @param {() => {bpm:number, swing:number, steps:number, tracks:Object<string, number[]>}} getState
   * @param {(voice:string, time:number, velocity:number, step:number) => void} playNote
   * @param {(step:number, time:number) => void} onStep  called once per step booked
   */
  constructor(ctx, getState, playNote, onStep) {
    this.ctx = ctx;
    this.getState = getState;
    this.playNote = playNote;
    this.onStep = onStep;
    this.timer = null;
    this.step = 0;
    this.gridTime = 0;
  }

  get running() {
    return this.timer !== null;
  }

  start() {
    if (this.running) return;
    this.step = 0;
    this.gridTime = this.ctx.currentTime + 0.05;
    this.tick();
    this.timer = setInterval(() => this.tick(), INTERVAL);
  }

  stop() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  tick() {
    const now = this.ctx.currentTime;
    const horizon = now + LOOKAHEAD;
    if (this.gridTime < now - LOOKAHEAD) this.gridTime = now; // the page stalled: skip, do not burst
    for (;;) {
      const s = this.getState();
      const dt = stepSeconds(s.bpm, s.steps);
      const k = this.step % s.steps;
      const time = this.gridTime + swingOffset(k, s.swing, dt);
      if (time >= horizon) break;
      for (const [voice, row] of Object.entries(s.tracks)) {
        const v = row[k] || 0;
        if (v > 0) this.playNote(voice, time, v, k);
      }
      this.onStep(k, time);
      this.step += 1;
      this.gridTime += dt;
    }
  }
}
