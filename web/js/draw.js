// Canvas drawing shared by the tabs: face boxes with name tags, and line charts.

/** Mark colours, the same as MARK_COLORS in src/image/annotate.ts: green for a known person, orange for unknown. */
export const COLORS = { known: '#00c853', unknown: '#ff6d00' };

/**
 * Draws each face's box and a "name 93%" tag. `scale` maps the coordinates of the image the
 * server saw to canvas pixels.
 */
export function drawFaces(context, faces, scale = 1) {
  const lineWidth = Math.max(2, Math.round(context.canvas.width / 240));
  const fontSize = Math.max(12, Math.round(context.canvas.width / 36));
  context.lineWidth = lineWidth;
  context.font = `${fontSize}px system-ui, sans-serif`;
  context.textBaseline = 'bottom';
  for (const face of faces) {
    const color = face.known === false ? COLORS.unknown : COLORS.known;
    const x = face.boxPx.x * scale;
    const y = face.boxPx.y * scale;
    const width = face.boxPx.width * scale;
    const height = face.boxPx.height * scale;
    context.strokeStyle = color;
    context.strokeRect(x, y, width, height);
    const text = face.label === undefined ? `${Math.round(face.score * 100)}%` : `${face.label} ${Math.round(face.confidence * 100)}%`;
    const textWidth = context.measureText(text).width + 8;
    const tagTop = y - fontSize - 6 < 0 ? y : y - fontSize - 6;
    context.fillStyle = color;
    context.fillRect(x - lineWidth / 2, tagTop, textWidth, fontSize + 6);
    context.fillStyle = '#000';
    context.fillText(text, x + 4 - lineWidth / 2, tagTop + fontSize + 3);
  }
}

/** Draws text with a dark outline, readable on any video frame. */
export function drawCaption(context, text, x, y, fontSize) {
  context.font = `bold ${fontSize}px system-ui, sans-serif`;
  context.textBaseline = 'top';
  context.lineWidth = Math.max(3, fontSize / 6);
  context.strokeStyle = 'rgba(0, 0, 0, 0.8)';
  context.strokeText(text, x, y);
  context.fillStyle = '#fff';
  context.fillText(text, x, y);
}

/**
 * Draws a line chart of several series against epoch numbers (from 1). `series` is
 * `[{ label, color, values }]`; `range` fixes the y axis, otherwise it spans the data.
 */
export function drawLineChart(canvas, series, range) {
  const context = canvas.getContext('2d');
  const { width, height } = canvas;
  const margin = { left: 48, right: 12, top: 24, bottom: 28 };
  context.clearRect(0, 0, width, height);
  context.font = '12px system-ui, sans-serif';
  const count = Math.max(1, ...series.map((s) => s.values.length));
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  let [low, high] = range ?? [Math.min(0, ...all), Math.max(1e-6, ...all)];
  if (high <= low) high = low + 1;
  const x = (index) => margin.left + (count === 1 ? 0 : (index / (count - 1)) * (width - margin.left - margin.right));
  const y = (value) => height - margin.bottom - ((value - low) / (high - low)) * (height - margin.top - margin.bottom);

  context.strokeStyle = '#d2d2d7';
  context.fillStyle = '#6e6e73';
  context.lineWidth = 1;
  context.textBaseline = 'middle';
  for (let k = 0; k <= 4; k++) {
    const value = low + ((high - low) * k) / 4;
    context.beginPath();
    context.moveTo(margin.left, y(value));
    context.lineTo(width - margin.right, y(value));
    context.stroke();
    context.fillText(value.toFixed(2), 4, y(value));
  }
  context.textBaseline = 'top';
  context.fillText('epoch 1', margin.left, height - margin.bottom + 8);
  if (count > 1) context.fillText(String(count), width - margin.right - 16, height - margin.bottom + 8);

  series.forEach((s, index) => {
    context.strokeStyle = s.color;
    context.lineWidth = 2;
    context.beginPath();
    s.values.forEach((value, i) => (i === 0 ? context.moveTo(x(i), y(value)) : context.lineTo(x(i), y(value))));
    context.stroke();
    context.fillStyle = s.color;
    context.fillText(s.label, margin.left + 8 + index * 110, 4);
  });
}
