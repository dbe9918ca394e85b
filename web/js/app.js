// Tab switching and the status line. Each tab module may return `enter` and `leave`
// hooks; leaving the Capture or Live tab stops its camera.
import { api } from './api.js';
import { initCapture } from './capture.js';
import { initDataset } from './dataset.js';
import { initLive } from './live.js';
import { initPhoto } from './photo.js';
import { initTrain } from './train.js';

const tabs = {
  capture: initCapture(),
  dataset: initDataset(),
  train: initTrain(),
  live: initLive(),
  photo: initPhoto(),
};
let current = 'capture';

async function showTab(name) {
  if (!Object.hasOwn(tabs, name)) return;
  if (name !== current) tabs[current].leave?.();
  current = name;
  for (const button of document.querySelectorAll('nav [data-tab]')) button.setAttribute('aria-selected', String(button.dataset.tab === name));
  for (const panel of document.querySelectorAll('[role="tabpanel"]')) panel.hidden = panel.id !== `tab-${name}`;
  if (location.hash.slice(1) !== name) history.replaceState(null, '', `#${name}`);
  await tabs[name].enter?.();
  void refreshStatus();
}

async function refreshStatus() {
  const status = document.getElementById('status');
  try {
    const health = await api('/api/health');
    status.textContent = `facekit ${health.version} · model: ${health.activeModel ?? 'none loaded'}${health.training ? ' · training…' : ''}`;
  } catch (error) {
    status.textContent = error.message;
  }
}

// Tabs send this event after they change the active model or start or end training.
window.addEventListener('facekit:status', () => void refreshStatus());
for (const button of document.querySelectorAll('nav [data-tab]')) button.addEventListener('click', () => showTab(button.dataset.tab));
window.addEventListener('hashchange', () => showTab(location.hash.slice(1)));
void showTab(location.hash.slice(1) || 'capture');
