// Capture tab: webcam frames go to the add-sample route a few times per second until the
// target number of samples is kept. The "kept / target" count is drawn over the video.
import { api, toast } from './api.js';
import { fitOverlay, grabFrame, startCamera, stopCamera } from './camera.js';
import { COLORS, drawCaption } from './draw.js';

/** Width of the frames sent, in pixels: the camera's usual 640, so samples keep full detail. */
const FRAME_WIDTH = 640;

export function initCapture() {
  const form = document.getElementById('capture-form');
  const video = document.getElementById('capture-video');
  const overlay = document.getElementById('capture-overlay');
  const stopButton = document.getElementById('capture-stop');
  const startButton = document.getElementById('capture-start');
  const message = document.getElementById('capture-message');
  const reasonsBody = document.querySelector('#capture-reasons tbody');
  let session = null;

  function render() {
    if (!session || !video.videoWidth) return;
    const context = fitOverlay(overlay, video);
    context.clearRect(0, 0, overlay.width, overlay.height);
    if (session.lastFace) {
      context.strokeStyle = session.lastKept ? COLORS.known : COLORS.unknown;
      context.lineWidth = 3;
      const { x, y, width, height } = session.lastFace;
      const scale = video.videoWidth / session.frameWidth;
      context.strokeRect(x * scale, y * scale, width * scale, height * scale);
    }
    const fontSize = Math.round(overlay.width / 16);
    drawCaption(context, `${session.kept} / ${session.target}`, 12, 10, fontSize);
    drawCaption(context, session.name, 12, 16 + fontSize, Math.round(fontSize * 0.6));
  }

  function showReasons() {
    reasonsBody.replaceChildren(
      ...Object.entries(session.reasons).map(([reason, count]) => {
        const row = document.createElement('tr');
        row.append(cell(reason), cell(String(count)));
        return row;
      }),
    );
  }

  async function loop(current) {
    const interval = 1000 / current.fps;
    while (session === current && current.kept < current.target) {
      const started = performance.now();
      try {
        const frame = await grabFrame(video, FRAME_WIDTH, 0.92);
        current.frameWidth = frame.width;
        const result = await api(`/api/people/${encodeURIComponent(current.name)}/samples`, { method: 'POST', body: frame.blob });
        current.sent++;
        current.lastKept = result.kept;
        current.lastFace = result.face?.boxPx ?? null;
        if (result.kept) current.kept++;
        else {
          current.reasons[result.reason] = (current.reasons[result.reason] ?? 0) + 1;
          message.textContent = result.detail ?? result.reason;
          showReasons();
        }
        window.facekitCapture = { name: current.name, kept: current.kept, target: current.target, sent: current.sent, reasons: { ...current.reasons } };
      } catch (error) {
        if (session !== current) return;
        toast(error.message);
        if (error.status && error.status !== 503) {
          stop();
          return;
        }
      }
      render();
      const wait = interval - (performance.now() - started);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    if (session === current) {
      message.textContent = `Done: kept ${current.kept} samples of ${current.name} from ${current.sent} frames.`;
      stop();
    }
  }

  function stop() {
    const current = session;
    session = null;
    stopCamera(video);
    startButton.disabled = false;
    stopButton.disabled = true;
    if (current) window.facekitCapture = { ...window.facekitCapture, done: true };
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const name = String(data.get('name')).trim();
    const target = Number(data.get('target'));
    const fps = Number(data.get('fps'));
    if (!name) return;
    startButton.disabled = true;
    stopButton.disabled = false;
    reasonsBody.replaceChildren();
    try {
      await startCamera(video);
    } catch (error) {
      toast(error.message);
      stop();
      return;
    }
    session = { name, target, fps, kept: 0, sent: 0, reasons: {}, lastFace: null, lastKept: false, frameWidth: FRAME_WIDTH };
    window.facekitCapture = { name, kept: 0, target, sent: 0, reasons: {} };
    message.textContent = `Capturing ${name}: look at the camera and turn your head a little.`;
    render();
    void loop(session);
  });
  stopButton.addEventListener('click', stop);

  return { leave: stop };
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}
