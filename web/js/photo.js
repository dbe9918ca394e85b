// Photo tab: upload an image, then see it with the recognised faces drawn on it.
import { api, toast } from './api.js';
import { drawFaces } from './draw.js';

export function initPhoto() {
  const form = document.getElementById('photo-form');
  const canvas = document.getElementById('photo-canvas');
  const body = document.querySelector('#photo-faces tbody');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = form.elements.namedItem('image').files[0];
    if (!file) return;
    const data = new FormData();
    data.append('image', file);
    let result;
    try {
      result = await api('/api/recognize', { method: 'POST', body: data });
    } catch (error) {
      toast(error.message);
      return;
    }
    // Draw the browser's decode of the file at the size the server reported. Both apply
    // the EXIF orientation, so the boxes line up.
    const bitmap = await createImageBitmap(file);
    canvas.width = result.width;
    canvas.height = result.height;
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0, result.width, result.height);
    drawFaces(context, result.faces);
    body.replaceChildren(
      ...result.faces.map((face) => {
        const row = document.createElement('tr');
        const box = `${Math.round(face.boxPx.x)}, ${Math.round(face.boxPx.y)}, ${Math.round(face.boxPx.width)} × ${Math.round(face.boxPx.height)}`;
        const candidates = face.candidates.map((c) => `${c.label} ${(c.probability * 100).toFixed(0)}%`).join(', ');
        for (const text of [face.label, `${(face.confidence * 100).toFixed(0)}%`, box, candidates]) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        return row;
      }),
    );
  });
  return {};
}
