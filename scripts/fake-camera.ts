/**
 * Headless Chromium with a fake webcam, for the web UI's browser test and its benchmark: the
 * browser's path and the command-line switches that make it play a Y4M file as the camera.
 */

/** Debian's `chromium` package, which `.ci/run` installs. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Returns the Chromium switches for a headless run without a GPU or background traffic, whose
 * camera plays `video` (a Y4M file) in a loop and whose camera prompt is accepted.
 */
export function fakeCameraArgs(video: string): string[] {
  return [
    '--no-sandbox',
    '--headless',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-video-capture=${video}`,
  ];
}
