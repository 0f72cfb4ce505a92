// Message catalogs: every word the user sees comes from web/i18n/<lang>.json.
// HTML elements carry data-i18n="key" (text) or data-i18n-label="key" (aria-label);
// code calls t() with the key. Values that are data (names, dates, codes) sit in elements
// marked data-i18n-data.

const STORAGE_KEY = 'beeldbel.lang';
export const LANGUAGES = ['nl', 'en'];
const LOCALES = { nl: 'nl-NL', en: 'en-GB' };
const TIME_ZONE = 'Europe/Amsterdam';

let language = 'nl';
let catalog = {};

export function currentLanguage() {
  return language;
}

export function savedLanguage() {
  try {
    const saved = window.localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(saved) ? saved : 'nl';
  } catch {
    return 'nl';
  }
}

export async function useLanguage(wanted, { remember = false } = {}) {
  const chosen = LANGUAGES.includes(wanted) ? wanted : 'nl';
  const response = await fetch(`/static/i18n/${chosen}.json`, { cache: 'no-cache' });
  if (!response.ok) throw new Error('catalog');
  catalog = await response.json();
  language = chosen;
  document.documentElement.lang = chosen;
  if (remember) {
    try {
      window.localStorage.setItem(STORAGE_KEY, chosen);
    } catch {
      // Private mode: the choice lasts as long as the page.
    }
  }
}

export function t(key) {
  // A missing key shows itself, so a test (and a user) notices it.
  return Object.prototype.hasOwnProperty.call(catalog, key) ? catalog[key] : key;
}

export function translateStatic(root = document) {
  for (const element of root.querySelectorAll('[data-i18n]')) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll('[data-i18n-label]')) {
    element.setAttribute('aria-label', t(element.dataset.i18nLabel));
  }
}

export function formatDate(date) {
  return new Intl.DateTimeFormat(LOCALES[language], {
    timeZone: TIME_ZONE,
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  }).format(date);
}

// The calendar date in Amsterdam as YYYY-MM-DD (for <time datetime>).
export function isoDate(date) {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: TIME_ZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(date);
}

export function formatDateTime(date) {
  return new Intl.DateTimeFormat(LOCALES[language], {
    timeZone: TIME_ZONE,
    dateStyle: 'long',
    timeStyle: 'short',
  }).format(date);
}
