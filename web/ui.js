// DOM helpers shared by the pages: elements, data values, announcements.

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'text') element.textContent = value;
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

// A value that is data, not text of the interface (a name, a date, a code).
export function data(value, tag = 'span', attrs = {}) {
  return h(tag, { ...attrs, 'data-i18n-data': true }, String(value));
}

const SVG = 'http://www.w3.org/2000/svg';
const ICONS = {
  // A video camera, a house, three people: drawn with strokes, 24x24.
  checkin: ['M3 7h11v10H3z', 'M14 10l6-3v10l-6-3z'],
  visit: ['M3 11l9-7 9 7', 'M5 10v10h14V10', 'M10 20v-6h4v6'],
  case_meeting: [
    'M8 11a3 3 0 1 0 0-6a3 3 0 1 0 0 6',
    'M16 11a3 3 0 1 0 0-6a3 3 0 1 0 0 6',
    'M2 20c0-4 3-6 6-6s6 2 6 6',
    'M12 15c1-1 2.5-1 4-1c3 0 6 2 6 6',
  ],
};

// A decorative icon (the text next to it says what it is).
export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

let announceTimer = null;

// Says something to screen readers through the page's polite live region.
export function announce(...parts) {
  const announcer = document.getElementById('announcer');
  announcer.textContent = '';
  window.clearTimeout(announceTimer);
  announceTimer = window.setTimeout(() => {
    announcer.replaceChildren(...parts);
  }, 50);
}

export function clearAnnouncement() {
  window.clearTimeout(announceTimer);
  const announcer = document.getElementById('announcer');
  if (announcer) announcer.textContent = '';
}

// Marks a field as wrong with a short text next to it (or clears the mark: text null).
export function markField(input, text) {
  const errorId = `${input.id}-error`;
  const old = document.getElementById(errorId);
  if (old) old.remove();
  const hintId = input.dataset.hint || null;
  if (!text) {
    input.setAttribute('aria-invalid', 'false');
    if (hintId) input.setAttribute('aria-describedby', hintId);
    else input.removeAttribute('aria-describedby');
    return;
  }
  input.before(h('p', { class: 'field-error', id: errorId }, text));
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', hintId ? `${errorId} ${hintId}` : errorId);
}
