// The join page behind a personal link (/join#<code>): no sign-in.
//
// The code is in the fragment, which the browser never sends: opening the page changes
// nothing. This script POSTs the code to /api/v1/join. Before the waiting room opens the
// page counts down and then posts the code again by itself; once it is open, the person is
// in the waiting room. The join token stays in this module's memory only (never in the URL
// or in storage) and is renewed with the code when it runs out.

import { currentLanguage, savedLanguage, t, translateStatic, useLanguage } from './i18n.js';
import { formatWhen } from './time.js';
import { announce, clearAnnouncement, data, h } from './ui.js';

const CHECK_EVERY_MS = 30_000; // in the waiting room: is the appointment still on?
const DAY_MS = 24 * 3600 * 1000;

const code = readCode();
let token = null; // the join token: memory only
let answer = null; // the last answer of /api/v1/join
let phase = 'checking'; // checking | early | open | refused | problem
let refusal = null; // { title, text } while refused or on a problem
let offset = 0; // the server's clock minus ours, in ms (from the Date header)
let tickTimer = null;
let checkTimer = null;
let spoken = null; // the last minute count said to screen readers

function readCode() {
  try {
    return decodeURIComponent(window.location.hash.replace(/^#/, '')).trim();
  } catch {
    return '';
  }
}

const REFUSALS = {
  cancelled: () => ({ title: t('join.cancelled.title'), text: t('join.cancelled') }),
  ended: () => ({ title: t('join.ended.title'), text: t('join.ended') }),
  not_a_call: () => ({ title: t('join.visit.title'), text: t('join.visit') }),
  unknown: () => ({ title: t('join.unknown.title'), text: t('join.unknown') }),
  other: () => ({ title: t('join.unknown.title'), text: t('join.other') }),
  network: () => ({ title: t('join.problem.title'), text: t('error.network'), retry: true }),
  busy: () => ({ title: t('join.problem.title'), text: t('error.tooMany'), retry: true }),
  server: () => ({ title: t('join.problem.title'), text: t('error.server'), retry: true }),
};

// Talking to Beeldbel ------------------------------------------------------------------------

function noteClock(response) {
  const date = Date.parse(response.headers.get('Date') || '');
  if (!Number.isNaN(date)) offset = date - Date.now();
}

function serverNow() {
  return Date.now() + offset;
}

async function send(method, path, body, bearer = null) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  });
  noteClock(response);
  let json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  return { status: response.status, ok: response.ok, json };
}

function refusalFor(status, json) {
  const reason = json && json.error && json.error.details ? json.error.details.reason : null;
  if (status === 409 && REFUSALS[reason]) return reason;
  if (status === 404 || status === 403 || status === 422) return 'unknown';
  if (status === 429) return 'busy';
  if (status >= 500) return 'server';
  return 'other';
}

async function exchange() {
  if (!code) {
    refuse('unknown');
    return;
  }
  let result;
  try {
    result = await send('POST', '/api/v1/join', { code });
  } catch {
    refuse('network');
    return;
  }
  if (!result.ok) {
    refuse(refusalFor(result.status, result.json));
    return;
  }
  answer = result.json;
  token = answer.token;
  if (answer.state === 'open') enter();
  else wait();
}

async function check() {
  let result;
  try {
    result = await send(
      'GET',
      `/api/v1/join/appointments/${answer.appointment_id}`,
      undefined,
      token,
    );
  } catch {
    return; // no connection for a moment: the next check tries again
  }
  if (result.status === 401) {
    await exchange(); // the join token ran out: the code gives a new one
    return;
  }
  if (!result.ok) refuse(refusalFor(result.status, result.json));
}

// States -------------------------------------------------------------------------------------

function stopTimers() {
  window.clearTimeout(tickTimer);
  window.clearInterval(checkTimer);
  tickTimer = null;
  checkTimer = null;
}

function refuse(reason) {
  stopTimers();
  token = null;
  phase = REFUSALS[reason]().retry ? 'problem' : 'refused';
  refusal = reason;
  render();
  const made = REFUSALS[reason]();
  announce(made.title);
}

function wait() {
  const first = phase !== 'early';
  phase = 'early';
  spoken = null;
  if (first) render();
  else update();
  tick();
}

function enter() {
  const first = phase !== 'open';
  window.clearTimeout(tickTimer);
  phase = 'open';
  if (first) {
    render();
    announce(t('join.open.title'), ' ', t('join.open.wait'));
  }
  if (!checkTimer) checkTimer = window.setInterval(check, CHECK_EVERY_MS);
}

function remainingMs() {
  return Date.parse(answer.lobby_opens_at) - serverNow();
}

function tick() {
  window.clearTimeout(tickTimer);
  const remaining = remainingMs();
  if (remaining <= 0) {
    // Open now (by the server's clock, as far as we know it): ask again, a moment later
    // to be on the safe side. If the server still says early, wait() counts on.
    update();
    tickTimer = window.setTimeout(exchange, remaining > -2000 ? 300 : 2000);
    return;
  }
  update();
  speak(remaining);
  tickTimer = window.setTimeout(tick, Math.min(1000, remaining % 1000 || 1000));
}

function clockText(ms) {
  const total = Math.ceil(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours
    ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}`
    : `${minutes}:${seconds}`;
}

// Once a minute at most (and only every quarter hour while it is far off), never every second.
function speak(remaining) {
  if (remaining >= DAY_MS) return;
  const minutes = Math.ceil(remaining / 60000);
  if (minutes === spoken) return;
  const first = spoken === null;
  spoken = minutes;
  if (!first && minutes > 15 && minutes % 15 !== 0) return;
  if (minutes <= 1) announce(t('join.lessThanMinute'));
  else
    announce(
      t('join.opensIn'),
      ' ',
      data(minutes),
      ' ',
      minutes === 1 ? t('join.minute') : t('join.minutes'),
    );
}

// The page -----------------------------------------------------------------------------------

function facts() {
  const names = answer.with_names || [];
  return [
    h(
      'p',
      { class: 'big' },
      h('span', {}, t('join.starts')),
      ' ',
      data(formatWhen(new Date(answer.starts_at)), 'strong', { id: 'starts' }),
    ),
    names.length
      ? h(
          'p',
          { class: 'big' },
          h('span', {}, t('join.with')),
          ' ',
          data(names.join(', '), 'strong', { id: 'with' }),
        )
      : null,
  ];
}

function countdown() {
  const remaining = remainingMs();
  if (remaining >= DAY_MS) {
    return h(
      'p',
      { class: 'big', id: 'opens-at' },
      h('span', {}, t('join.opensAt')),
      ' ',
      data(formatWhen(new Date(answer.lobby_opens_at)), 'strong'),
    );
  }
  return h(
    'div',
    { class: 'countdown-box' },
    h('p', { class: 'countdown-label', id: 'countdown-label' }, t('join.opensIn')),
    data(clockText(Math.max(remaining, 0)), 'p', {
      class: 'countdown',
      id: 'countdown',
      role: 'timer',
      'aria-labelledby': 'countdown-label countdown',
    }),
  );
}

function update() {
  const shown = document.getElementById('countdown');
  if (shown && remainingMs() < DAY_MS) shown.textContent = clockText(Math.max(remainingMs(), 0));
  else if (phase === 'early') {
    const box = document.querySelector('.countdown-box, #opens-at');
    if (box) box.replaceWith(countdown());
  }
}

function content() {
  if (phase === 'early') {
    return [
      h('h1', { tabindex: '-1' }, t('join.early.title')),
      ...facts(),
      countdown(),
      h('p', { class: 'big' }, t('join.early.wait')),
    ];
  }
  if (phase === 'open') {
    return [
      h('h1', { tabindex: '-1', id: 'inside' }, t('join.open.title')),
      h('p', { class: 'big waiting' }, t('join.open.wait')),
      ...facts(),
      h('p', { class: 'big' }, t('join.open.keep')),
    ];
  }
  if (phase === 'refused' || phase === 'problem') {
    const made = REFUSALS[refusal]();
    return [
      h('h1', { tabindex: '-1' }, made.title),
      h('p', { class: 'big refusal', id: 'refusal' }, made.text),
      made.retry
        ? h(
            'button',
            {
              type: 'button',
              id: 'retry',
              onclick: () => {
                phase = 'checking';
                render();
                exchange();
              },
            },
            t('join.retry'),
          )
        : null,
    ];
  }
  return [
    h('h1', { tabindex: '-1' }, t('join.title')),
    h('p', { role: 'status', class: 'big' }, t('join.checking')),
  ];
}

function render({ focus = true } = {}) {
  translateStatic();
  clearAnnouncement();
  const main = document.getElementById('main');
  main.replaceChildren(...content().filter(Boolean));
  document.title = `${t('join.title')} – ${t('app.name')}`;
  if (focus) main.querySelector('h1').focus();
}

async function switchLanguage() {
  const next = currentLanguage() === 'nl' ? 'en' : 'nl';
  try {
    await useLanguage(next, { remember: true });
  } catch {
    return;
  }
  render({ focus: false });
  const button = document.getElementById('lang-switch');
  button.setAttribute('lang', currentLanguage() === 'nl' ? 'en' : 'nl');
  button.focus();
}

async function start() {
  await useLanguage(savedLanguage());
  const button = document.getElementById('lang-switch');
  button.setAttribute('lang', currentLanguage() === 'nl' ? 'en' : 'nl');
  button.addEventListener('click', switchLanguage);
  render({ focus: false });
  document.body.dataset.ready = 'true';
  await exchange();
}

start();
