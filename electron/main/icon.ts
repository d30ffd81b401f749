/**
 * The app's icon drawn in code (a play triangle on a blue disc), as a BGRA bitmap for
 * nativeImage.createFromBitmap, so the tray and the window need no image file at run time.
 */
export function iconBitmap(size: number): Buffer {
  const buf = Buffer.alloc(size * size * 4);
  const c = (size - 1) / 2;
  const r = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x - c;
      const dy = y - c;
      // Coverage of the disc's edge, for a soft (anti-aliased) rim.
      const alpha = Math.max(0, Math.min(1, r - Math.hypot(dx, dy)));
      if (alpha === 0) continue;
      const white = inTriangle(dx / r, dy / r);
      const i = (y * size + x) * 4;
      buf[i] = white ? 255 : 0xf6; // B
      buf[i + 1] = white ? 255 : 0x82; // G
      buf[i + 2] = white ? 255 : 0x3b; // R
      buf[i + 3] = Math.round(alpha * 255);
    }
  }
  return buf;
}

/** A right-pointing triangle in unit coordinates (-1..1), centred a little right like a play sign. */
function inTriangle(x: number, y: number): boolean {
  const left = -0.3;
  const right = 0.5;
  if (x < left || x > right) return false;
  const half = 0.45 * ((right - x) / (right - left));
  return Math.abs(y) <= half;
}
