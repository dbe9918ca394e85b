/** Shared data shapes. Coordinates are in pixels of the image they refer to, origin top-left. */

/** 8-bit RGB pixels, interleaved (R, G, B per pixel), row-major, no padding between rows. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** An axis-aligned box in pixels: top-left corner and size. */
export interface BoxPx {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A point in pixels, `[x, y]`. */
export type PointPx = [number, number];
