import { beforeEach, describe, expect, it, vi } from 'vitest';
import { setupSingleInstance } from '../../electron/main/single-instance.ts';
import type { App } from 'electron';
import { asElectron, fakeElectron, resetFakeElectron } from './fake-electron.ts';

describe('setupSingleInstance', () => {
  beforeEach(resetFakeElectron);

  it('focuses the running window when a second instance starts', () => {
    const focus = vi.fn();
    expect(setupSingleInstance(asElectron<App>(fakeElectron.app), focus)).toBe(true);
    fakeElectron.app.emit('second-instance', {}, ['encodefarm'], '/home/u');
    expect(focus).toHaveBeenCalledTimes(1);
  });

  it('tells the second instance to quit', () => {
    fakeElectron.app.hasLock = false;
    const focus = vi.fn();
    expect(setupSingleInstance(asElectron<App>(fakeElectron.app), focus)).toBe(false);
    expect(fakeElectron.app.listenerCount('second-instance')).toBe(0);
  });
});
