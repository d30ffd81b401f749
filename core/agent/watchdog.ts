import type { Clock, TimerHandle } from '../shared/clock.ts';

/**
 * Calls `onStall` when the encode's output time has not advanced for `stallMs`. ffmpeg that hangs
 * on a broken stream or a wedged GPU keeps its process alive forever; this is what ends it.
 */
export function startWatchdog(clock: Clock, stallMs: number, onStall: (idleMs: number) => void) {
  let lastOutTime = -1;
  let lastAdvanceAt = clock.now();
  let timer: TimerHandle | undefined;
  const checkEvery = Math.max(50, Math.min(5000, Math.floor(stallMs / 4)));

  const check = () => {
    const idle = clock.now() - lastAdvanceAt;
    if (idle >= stallMs) {
      timer = undefined;
      onStall(idle);
      return;
    }
    timer = clock.setTimeout(check, checkEvery);
  };
  timer = clock.setTimeout(check, checkEvery);

  return {
    /** Feed every progress report; only a later output time counts as progress. */
    observe(outTimeS: number): void {
      if (outTimeS > lastOutTime) {
        lastOutTime = outTimeS;
        lastAdvanceAt = clock.now();
      }
    },
    stop(): void {
      if (timer) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
