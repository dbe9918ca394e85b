// Train tab: options with the server's defaults, start and cancel, a live loss and
// accuracy chart per epoch from the job's event stream, then the confusion matrix and
// open-set rates.
import { api, imageUrl, readEvents, toast } from './api.js';
import { drawLineChart } from './draw.js';

const TRAIN_COLOR = '#1f77b4';
const VALIDATION_COLOR = '#d62728';

export function initTrain() {
  const form = document.getElementById('train-form');
  const startButton = document.getElementById('train-start');
  const cancelButton = document.getElementById('train-cancel');
  const progress = document.getElementById('train-progress');
  const warnings = document.getElementById('train-warnings');
  const result = document.getElementById('train-result');
  let defaultsLoaded = false;
  let following = null;

  async function loadDefaults() {
    if (defaultsLoaded) return;
    const defaults = await api('/api/training/defaults');
    for (const [key, value] of Object.entries(defaults)) {
      const field = form.elements.namedItem(key);
      if (!field) continue;
      if (field.type === 'checkbox') field.checked = Boolean(value);
      else field.value = String(value);
    }
    defaultsLoaded = true;
  }

  function readForm() {
    const body = {};
    for (const element of form.elements) {
      if (!element.name || element.value === '') continue;
      if (element.type === 'checkbox') body[element.name] = element.checked;
      else if (element.type === 'number') body[element.name] = Number(element.value);
      else body[element.name] = element.value;
    }
    return body;
  }

  /** Follows a job's event stream until the job ends, updating the progress line, warnings and charts. */
  async function follow(job) {
    following?.abort();
    const controller = new AbortController();
    following = controller;
    startButton.disabled = true;
    cancelButton.disabled = false;
    cancelButton.onclick = async () => {
      try {
        await api(`/api/training/${job.id}/cancel`, { method: 'POST' });
        progress.textContent = 'Cancelling…';
      } catch (error) {
        toast(error.message);
      }
    };

    const history = [];
    warnings.replaceChildren();
    result.replaceChildren();
    drawCharts(history);
    let ended = null;
    try {
      await readEvents(
        `/api/training/${job.id}/events`,
        (name, data) => {
          if (name === 'end') {
            ended = data;
            return;
          }
          onTrainEvent(data, history);
        },
        controller.signal,
      );
    } catch (error) {
      toast(`Lost the training event stream: ${error.message}`);
    }

    if (following !== controller) return;
    following = null;
    startButton.disabled = false;
    cancelButton.disabled = true;
    if (ended) await showEnd(ended);
    window.dispatchEvent(new Event('facekit:status'));
    window.facekitTraining = { status: ended?.status ?? 'unknown', epochs: history.length };
  }

  function onTrainEvent(event, history) {
    switch (event.type) {
      case 'scan':
        progress.textContent = `Dataset: ${event.people} people, ${event.images} images${event.impostors ? `, ${event.impostors} strangers` : ''}.`;
        break;
      case 'prepare':
        progress.textContent = `Detecting and embedding faces: ${event.done} / ${event.total}`;
        break;
      case 'warning': {
        const item = document.createElement('li');
        item.textContent = event.message;
        warnings.append(item);
        break;
      }
      case 'fit':
        if (event.event.type === 'epoch') {
          history.push(event.event);
          const e = event.event;
          progress.textContent = `Epoch ${e.epoch}: loss ${e.loss.toFixed(3)}, validation loss ${e.valLoss.toFixed(3)}, validation accuracy ${(e.valAccuracy * 100).toFixed(1)}%`;
          drawCharts(history);
        } else if (event.event.type === 'early-stop') {
          progress.textContent += ` — stopped early, best epoch ${event.event.bestEpoch}`;
        }
        break;
      case 'calibrated':
        progress.textContent = `Calibrated "unknown": ${event.score} score above ${event.threshold.toFixed(3)} (strangers accepted ${(event.falseAcceptRate * 100).toFixed(1)}%, people rejected ${(event.falseRejectRate * 100).toFixed(1)}%)`;
        break;
      case 'saved':
        progress.textContent = 'Saved the model.';
        break;
    }
  }

  function drawCharts(history) {
    drawLineChart(document.getElementById('train-loss'), [
      { label: 'training', color: TRAIN_COLOR, values: history.map((e) => e.loss) },
      { label: 'validation', color: VALIDATION_COLOR, values: history.map((e) => e.valLoss) },
    ]);
    drawLineChart(
      document.getElementById('train-accuracy'),
      [
        { label: 'training', color: TRAIN_COLOR, values: history.map((e) => e.accuracy) },
        { label: 'validation', color: VALIDATION_COLOR, values: history.map((e) => e.valAccuracy) },
      ],
      [0, 1],
    );
  }

  async function showEnd(job) {
    if (job.status !== 'succeeded') {
      progress.textContent = job.status === 'cancelled' ? 'Training was cancelled; no model was saved.' : `Training failed: ${job.error?.message ?? 'unknown error'}`;
      return;
    }
    const r = job.result;
    progress.textContent = `Model ${r.model}: validation accuracy ${(r.accuracy * 100).toFixed(1)}% after ${r.epochs} epochs (best ${r.bestEpoch})${r.activated ? '; it is now the active model' : ''}.`;
    result.replaceChildren(confusionTable(r.classNames, r.confusionMatrix), openSetList(r.openSet));
    try {
      const image = document.createElement('img');
      image.alt = 'Confusion matrix';
      image.src = await imageUrl(`/api/models/${encodeURIComponent(r.model)}/report/confusion.png`);
      image.style.maxWidth = '480px';
      result.append(image);
    } catch (error) {
      toast(error.message);
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const job = await api('/api/training', { method: 'POST', body: readForm() });
      window.dispatchEvent(new Event('facekit:status'));
      void follow(job);
    } catch (error) {
      toast(error.message);
      progress.textContent = error.message;
    }
  });

  return {
    async enter() {
      try {
        await loadDefaults();
        const { jobs } = await api('/api/training');
        const running = jobs.find((job) => job.status === 'running');
        if (running && !following) void follow(running);
      } catch (error) {
        progress.textContent = error.message;
      }
    },
  };
}

function confusionTable(classNames, matrix) {
  const table = document.createElement('table');
  table.className = 'compact confusion';
  const caption = document.createElement('caption');
  caption.textContent = 'Confusion matrix (rows: true person, columns: predicted)';
  const head = document.createElement('tr');
  head.append(document.createElement('th'), ...classNames.map((name) => th(name)));
  table.append(caption, head);
  matrix.forEach((row, i) => {
    const tr = document.createElement('tr');
    tr.append(th(classNames[i]), ...row.map((count) => td(String(count))));
    table.append(tr);
  });
  return table;
}

function openSetList(rates) {
  const list = document.createElement('ul');
  if (!rates) {
    list.append(item('No open-set rates: the model has no calibrated "unknown" rule.'));
    return list;
  }
  const percent = (value) => (value === null ? 'n/a' : `${(value * 100).toFixed(1)}%`);
  list.append(
    item(`Strangers named as someone (false accept): ${percent(rates.falseAcceptRate)} of ${rates.impostorCount}`),
    item(`Known people called unknown (false reject): ${percent(rates.falseRejectRate)} of ${rates.genuineCount}`),
    item(`Known people named correctly: ${percent(rates.correctAcceptRate)}`),
  );
  return list;
}

function th(text) {
  const element = document.createElement('th');
  element.textContent = text;
  return element;
}

function td(text) {
  const element = document.createElement('td');
  element.textContent = text;
  return element;
}

function item(text) {
  const element = document.createElement('li');
  element.textContent = text;
  return element;
}
