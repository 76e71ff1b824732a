// Fake camera pictures for Chromium's `--use-file-for-fake-video-capture` (the file loops).
//
// With Debian's ffmpeg: the `testsrc` pattern plus a frame counter drawn with DejaVu Sans Bold
// (without the font, the pattern alone). Without ffmpeg: a Y4M written here directly (moving
// colour bars), so the tests never depend on ffmpeg being installed.

import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

/** @returns {boolean} */
function haveFfmpeg() {
  const probe = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' });
  return probe.status === 0;
}

/**
 * Write `<dir>/<name>.y4m` (yuv420p).
 * @param {string} dir
 * @param {string} name   also drawn into the picture
 * @param {number} width
 * @param {number} height
 * @param {{fps?: number, seconds?: number}} [options]
 * @returns {string} the file path
 */
export function makeY4m(dir, name, width, height, options = {}) {
  const fps = options.fps ?? 15;
  const seconds = options.seconds ?? 3;
  const file = path.join(dir, `${name}.y4m`);
  if (haveFfmpeg()) {
    const filters = [];
    if (existsSync(FONT)) {
      const size = Math.max(12, Math.round(height / 9));
      filters.push(
        `drawtext=fontfile=${FONT}:text='${name} %{frame_num}':x=8:y=8:fontsize=${size}:fontcolor=white:box=1:boxcolor=black`,
      );
    }
    const args = [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
      ...(filters.length ? ['-vf', filters.join(',')] : []),
      '-pix_fmt', 'yuv420p', file,
    ];
    const run = spawnSync('ffmpeg', args, { encoding: 'utf8' });
    if (run.status === 0) return file;
    // Fall through to the built-in writer.
  }
  writeY4m(file, width, height, fps, seconds);
  return file;
}

/**
 * A Y4M with moving colour bars, no dependencies.
 * @param {string} file @param {number} width @param {number} height @param {number} fps @param {number} seconds
 */
function writeY4m(file, width, height, fps, seconds) {
  const frames = Math.max(1, Math.round(fps * seconds));
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
  const ySize = width * height;
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const cSize = cw * ch;
  const frameMarker = Buffer.from('FRAME\n');
  const parts = [header];
  // Eight bars (YUV of white, yellow, cyan, green, magenta, red, blue, black).
  const bars = [
    [235, 128, 128], [210, 16, 146], [170, 166, 16], [145, 54, 34],
    [106, 202, 222], [81, 90, 240], [41, 240, 110], [16, 128, 128],
  ];
  for (let f = 0; f < frames; f++) {
    const frame = Buffer.alloc(ySize + 2 * cSize);
    const shift = Math.floor((f * width) / frames);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bar = bars[Math.floor((((x + shift) % width) * 8) / width)];
        frame[y * width + x] = bar[0];
      }
    }
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const bar = bars[Math.floor((((2 * x + shift) % width) * 8) / width)];
        frame[ySize + y * cw + x] = bar[1];
        frame[ySize + cSize + y * cw + x] = bar[2];
      }
    }
    parts.push(frameMarker, frame);
  }
  writeFileSync(file, Buffer.concat(parts));
}
