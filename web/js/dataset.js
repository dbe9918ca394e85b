// Dataset tab: people with sample thumbnails, delete a sample, rename or delete a person,
// and the dataset audit's warnings.
import { api, imageUrl, toast } from './api.js';

export function initDataset() {
  const container = document.getElementById('dataset-people');
  const summary = document.getElementById('dataset-summary');
  const warnings = document.getElementById('dataset-warnings');
  let objectUrls = [];

  function releaseImages() {
    for (const url of objectUrls) URL.revokeObjectURL(url);
    objectUrls = [];
  }

  async function refresh() {
    releaseImages();
    let people;
    try {
      ({ people } = await api('/api/people'));
    } catch (error) {
      summary.textContent = error.message;
      container.replaceChildren();
      return;
    }
    const total = people.reduce((sum, person) => sum + person.samples, 0);
    summary.textContent = `${people.length} people, ${total} samples`;
    container.replaceChildren(...people.map(renderPerson));
    void loadAudit();
  }

  /** Lists the audit's issues; `quick` checks counts and file bytes, `full` also runs every face through the model. */
  async function loadAudit(depth = 'quick') {
    try {
      const audit = await api(`/api/dataset/audit?depth=${depth}`);
      warnings.replaceChildren(
        ...audit.issues.map((issue) => {
          const item = document.createElement('li');
          item.textContent = `${issue.severity === 'error' ? 'Error' : 'Warning'}: ${issue.message}`;
          return item;
        }),
      );
      if (depth === 'full' && audit.issues.length === 0) toast('The full audit found no problems.');
    } catch (error) {
      warnings.replaceChildren();
      toast(`Audit failed: ${error.message}`);
    }
  }

  function renderPerson(person) {
    const box = document.createElement('div');
    box.className = 'person';
    box.dataset.person = person.name;
    const title = document.createElement('h3');
    const name = document.createElement('span');
    name.textContent = `${person.name} (${person.samples})`;
    const rename = button('Rename', async () => {
      const next = prompt(`New name for ${person.name}`, person.name);
      if (!next || next === person.name) return;
      await run(() => api(`/api/people/${encodeURIComponent(person.name)}`, { method: 'PATCH', body: { name: next } }));
    });
    const remove = button('Delete person', async () => {
      if (!confirm(`Delete ${person.name} and all ${person.samples} samples?`)) return;
      await run(() => api(`/api/people/${encodeURIComponent(person.name)}`, { method: 'DELETE' }));
    });
    title.append(name, rename, remove);
    const thumbs = document.createElement('div');
    thumbs.className = 'thumbs';
    box.append(title, thumbs);
    void loadThumbnails(person, thumbs);
    return box;
  }

  async function loadThumbnails(person, thumbs) {
    let samples;
    try {
      ({ samples } = await api(`/api/people/${encodeURIComponent(person.name)}/samples`));
    } catch (error) {
      toast(error.message);
      return;
    }
    for (const sample of samples) {
      const wrapper = document.createElement('div');
      wrapper.className = 'thumb';
      const img = document.createElement('img');
      img.alt = sample.id;
      img.title = sample.id;
      const remove = button('×', async () => {
        await run(() => api(sample.url, { method: 'DELETE' }));
      });
      remove.title = `Delete ${sample.id}`;
      wrapper.append(img, remove);
      thumbs.append(wrapper);
      imageUrl(sample.thumbnailUrl).then(
        (url) => {
          objectUrls.push(url);
          img.src = url;
        },
        () => (img.alt = `${sample.id} (thumbnail failed)`),
      );
    }
  }

  async function run(action) {
    try {
      await action();
    } catch (error) {
      toast(error.message);
    }
    await refresh();
  }

  document.getElementById('dataset-refresh').addEventListener('click', refresh);
  document.getElementById('dataset-audit').addEventListener('click', async (event) => {
    event.target.disabled = true;
    await loadAudit('full');
    event.target.disabled = false;
  });
  return { enter: refresh, leave: releaseImages };
}

function button(text, onClick) {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = text;
  element.addEventListener('click', onClick);
  return element;
}
