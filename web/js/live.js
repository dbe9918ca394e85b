// Live tab: webcam frames, downscaled, go to the recognise route one at a time; boxes,
// names and confidences are drawn over the video.
import { api, toast } from './api.js';
import { fitOverlay, grabFrame, startCamera, stopCamera } from './camera.js';
import { drawCaption, drawFaces } from './draw.js';

/**
 * Width of the frames sent, in pixels. Faces at webcam distance stay well above the
 * detector's 40-px minimum face size, and a smaller frame means less to encode, send and
 * decode per request.
 */
const FRAME_WIDTH = 384;
/** Window over which the frame rate is measured, in milliseconds. */
const FPS_WINDOW_MS = 2000;

export function initLive() {
  const video = document.getElementById('live-video');
  const overlay = document.getElementById('live-overlay');
  const select = document.getElementById('live-model');
  const stats = document.getElementById('live-stats');
  const startButton = document.getElementById('live-start');
  const stopButton = document.getElementById('live-stop');
  let running = null;

  async function loadModels() {
    try {
      const { active, models } = await api('/api/models');
      select.replaceChildren(
        ...models
          .filter((model) => model.valid)
          .map((model) => {
            const option = document.createElement('option');
            option.value = model.name;
            option.textContent = `${model.name} (${model.classNames.join(', ')})`;
            option.selected = model.name === active;
            return option;
          }),
      );
    } catch (error) {
      stats.textContent = error.message;
    }
  }

  document.getElementById('live-load').addEventListener('click', async () => {
    if (!select.value) return;
    try {
      const loaded = await api(`/api/models/${encodeURIComponent(select.value)}/load`, { method: 'POST' });
      toast(`Loaded ${loaded.name}: ${loaded.classNames.join(', ')}`);
      window.dispatchEvent(new Event('facekit:status'));
    } catch (error) {
      toast(error.message);
    }
  });

  async function loop(current) {
    while (running === current) {
      try {
        const frame = await grabFrame(video, FRAME_WIDTH, 0.8);
        const result = await api('/api/recognize', { method: 'POST', body: frame.blob });
        if (running !== current) return;
        const now = performance.now();
        current.answered.push(now);
        while (current.answered.length && current.answered[0] < now - FPS_WINDOW_MS) current.answered.shift();
        current.total++;
        const fps = current.answered.length / (Math.min(FPS_WINDOW_MS, now - current.started) / 1000);
        const context = fitOverlay(overlay, video);
        context.clearRect(0, 0, overlay.width, overlay.height);
        drawFaces(context, result.faces, video.videoWidth / frame.width);
        drawCaption(context, `${fps.toFixed(1)} fps`, 8, 8, Math.round(overlay.width / 30));
        stats.textContent = `${result.model}: ${result.faces.length} face(s), ${fps.toFixed(1)} frames per second`;
        window.facekitLive = { frames: current.total, fps, labels: result.faces.map((face) => face.label), startedAt: current.started };
      } catch (error) {
        if (running !== current) return;
        toast(error.message);
        if (error.status !== 503) {
          stop();
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  async function start() {
    startButton.disabled = true;
    try {
      await startCamera(video);
    } catch (error) {
      toast(error.message);
      startButton.disabled = false;
      return;
    }
    stopButton.disabled = false;
    running = { started: performance.now(), answered: [], total: 0 };
    void loop(running);
  }

  function stop() {
    running = null;
    stopCamera(video);
    overlay.getContext('2d').clearRect(0, 0, overlay.width, overlay.height);
    startButton.disabled = false;
    stopButton.disabled = true;
  }

  startButton.addEventListener('click', start);
  stopButton.addEventListener('click', stop);
  return { enter: loadModels, leave: stop };
}
