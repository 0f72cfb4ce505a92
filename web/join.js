// The join page behind a personal link (/join#<code>): no sign-in.
//
// The code is in the fragment, which the browser never sends: opening the page changes
// nothing. This script POSTs the code to /api/v1/join. Before the waiting room opens the
// page counts down and then posts the code again by itself; once it is open, the person is
// in the waiting room at once (connected to the call, so their worker sees them waiting),
// with a check of camera, microphone, speaker and connection to pass the time. When the
// worker lets them in, the call opens by itself: large buttons for the microphone, the
// camera and hanging up. A dropped connection says "Verbinding herstellen…" and comes back
// by itself, each time with a fresh join token for the same code. The join token stays in
// this module's memory only (never in the URL or in storage).

import { CallSession } from './call.js';
import {
  ChatPanel,
  hangupIcon,
  mediaButtons,
  mediaNotes,
  peerStateText,
  qualityHint,
  reconnectBanner,
  remoteTile,
  selfNotes,
  show,
  soundBlocked,
  soundOn,
  videoElement,
  whenSoundBlocked,
} from './callui.js';
import { DeviceCheck, openMedia } from './devices.js';
import { currentLanguage, savedLanguage, t, translateStatic, useLanguage } from './i18n.js';
import { formatWhen } from './time.js';
import { announce, clearAnnouncement, data, h } from './ui.js';

const CHECK_EVERY_MS = 30_000; // in the waiting room: is the appointment still on?
const DAY_MS = 24 * 3600 * 1000;

const code = readCode();
let token = null; // the join token: memory only
let answer = null; // the last answer of /api/v1/join
// checking | early | open (the waiting room) | call | ended | left | elsewhere | refused | problem
let phase = 'checking';
let refusal = null; // { title, text } while refused or on a problem
let offset = 0; // the server's clock minus ours, in ms (from the Date header)
let tickTimer = null;
let checkTimer = null;
let spoken = null; // the last minute count said to screen readers
let session = null; // the call (CallSession) once the waiting room is open
let check = null; // the camera and sound check (DeviceCheck)
let checkDone = false; // the person said "Alles werkt"
let firstToken = null; // the token of the answer that opened the room, used once
let chat = null;
let selfVideo = null;
const remoteVideos = new Map(); // participant id -> <video>

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
  consent: () => ({ title: t('join.consent.title'), text: t('join.consent') }),
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
  if (answer.state === 'open') {
    firstToken = token;
    enter();
  } else wait();
}

async function stillOn() {
  if (phase !== 'open') return; // in the call, the call itself says when it ends
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
  endSession();
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
  const first = phase !== 'open' && phase !== 'call';
  window.clearTimeout(tickTimer);
  if (first) {
    phase = 'open';
    startCall();
    render();
    announce(t('join.open.title'), ' ', t('join.open.wait'));
  }
  if (!checkTimer) checkTimer = window.setInterval(stillOn, CHECK_EVERY_MS);
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

// The call -----------------------------------------------------------------------------------

// The connect payload: the token that opened the room once, then a fresh one for the code
// each time (a reconnect may come after the token ran out).
async function callAuth() {
  let fresh = firstToken;
  firstToken = null;
  if (!fresh) {
    let result;
    try {
      result = await send('POST', '/api/v1/join', { code });
    } catch {
      throw new Error('network'); // try again later
    }
    if (!result.ok) {
      const reason = refusalFor(result.status, result.json);
      if (['network', 'busy', 'server'].includes(reason)) throw new Error(reason);
      throw { refusal: { code: 'join_refused', reason } };
    }
    if (result.json.state !== 'open') throw new Error('early');
    fresh = result.json.token;
    token = fresh;
  }
  return { appointment_id: answer.appointment_id, join_token: fresh };
}

function startCall() {
  session = new CallSession({
    appointmentId: answer.appointment_id,
    auth: callAuth,
    waitIfEarly: true,
  });
  session.addEventListener('change', (event) => onCallChange(event.detail.what));
  check = new DeviceCheck({ onStream: (stream) => session && session.useStream(stream) });
  checkDone = false;
  chat = new ChatPanel(session, nameOf);
  selfVideo = videoElement('self-video', t('room.selfVideo'), { muted: true });
  check.start().then((stream) => {
    if (session && stream) session.useStream(stream);
    if (phase === 'open') showCheck();
  });
  session.start();
}

function endSession() {
  const [ending, checking] = [session, check];
  session = null;
  check = null;
  if (ending) ending.close();
  if (checking) checking.stop();
}

function nameOf(participantId) {
  const seat = session ? session.seat(participantId) : null;
  if (seat && seat.role === 'worker' && answer.with_names && answer.with_names.length === 1) {
    return data(answer.with_names[0]);
  }
  const role = seat ? seat.role : 'worker';
  if (role === 'guest') return h('span', {}, t('participant.guest'));
  if (role === 'client') return h('span', {}, t('participant.client'));
  return h('span', {}, t('participant.worker'));
}

const PHASES = {
  waiting: 'open',
  connecting: 'open',
  in_call: 'call',
  ended: 'ended',
  left: 'left',
};

function onCallChange(what) {
  if (!session) return;
  if (what === 'phase') {
    if (session.phase === 'refused') {
      const found = session.refusal || {};
      let reason = 'other';
      if (found.code === 'join_refused') reason = REFUSALS[found.reason] ? found.reason : 'other';
      if (found.code === 'consent_required') reason = 'consent';
      if (found.code === 'forbidden' || found.code === 'not_found') reason = 'unknown';
      refuse(reason);
      return;
    }
    const next = session.phase === 'elsewhere' ? 'elsewhere' : PHASES[session.phase];
    if (!next || next === phase) return;
    phase = next;
    if (phase === 'call' && check) check.stop();
    if (phase === 'ended' || phase === 'left' || phase === 'elsewhere') {
      stopTimers();
      const stream = session.stream;
      if (stream) for (const track of stream.getTracks()) track.stop();
    }
    render();
    const titles = {
      open: t('join.open.title'),
      call: t('join.call.title'),
      ended: t('room.ended.title'),
      left: t('room.left.title'),
      elsewhere: t('room.elsewhere.title'),
    };
    announce(titles[phase]);
    return;
  }
  if (what === 'connection') {
    const banner = document.getElementById('reconnecting');
    if (banner) banner.hidden = !session.reconnecting;
    if (session.online && check && phase === 'open' && !check.checked) {
      check.checked = true;
      check.checkConnection(session.ice);
    }
    return;
  }
  if (phase !== 'call') return;
  if (what === 'hint' || what === 'quality' || what === 'mode') {
    const old = document.getElementById('quality-hint');
    if (old) old.replaceWith(qualityHint(session, nameOf));
    return;
  }
  if (what === 'chat') chat.update();
  else if (what === 'local') updateControls();
  else updateStage();
}

function showCheck() {
  const box = document.getElementById('check-area');
  if (box) box.replaceWith(checkArea());
}

function checkArea() {
  if (!check || !check.stream) {
    if (check && check.problem) {
      check.render();
      return h('div', { id: 'check-area' }, check.root);
    }
    return h('div', { id: 'check-area' });
  }
  if (checkDone) {
    return h(
      'div',
      { id: 'check-area', class: 'check-done' },
      h('p', { class: 'big', id: 'check-ready' }, t('check.ready')),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          id: 'check-again',
          onclick: () => {
            checkDone = false;
            showCheck();
            document.getElementById('check-title')?.focus();
          },
        },
        t('check.again'),
      ),
    );
  }
  check.render();
  check.listen(); // the microphone level (again, after a call)
  return h(
    'div',
    { id: 'check-area' },
    h('p', { class: 'big' }, t('check.intro')),
    check.root,
    h(
      'button',
      {
        type: 'button',
        id: 'check-done',
        class: 'big-button',
        onclick: () => {
          checkDone = true;
          showCheck();
          document.getElementById('check-again')?.focus();
        },
      },
      t('check.done'),
    ),
  );
}

function remoteSeats() {
  return session.others().filter((seat) => seat.status === 'in_call' || seat.status === 'away');
}

function stage() {
  const tiles = remoteSeats().map((seat) => {
    const id = seat.participant_id;
    if (!remoteVideos.has(id)) {
      remoteVideos.set(id, videoElement(`remote-${id}`, t('room.remoteVideo')));
    }
    const video = remoteVideos.get(id);
    const peer = session.peers.get(id);
    show(video, peer && peer.remote, t('room.remoteVideo'), check && check.speakerId);
    return remoteTile(
      video,
      nameOf(id),
      peerStateText(peer, seat),
      mediaNotes(session.media.get(id)),
      id,
    );
  });
  const hostHere = session
    .others()
    .some((seat) => seat.role === 'worker' && seat.status === 'in_call');
  show(selfVideo, session.stream, t('room.selfVideo'));
  return h(
    'div',
    { class: 'stage', id: 'stage' },
    hostHere ? null : h('p', { class: 'big waiting', id: 'host-away' }, t('join.hostAway')),
    h('div', { class: 'remotes' }, tiles),
    h(
      'figure',
      { class: 'tile self' },
      selfVideo,
      h('figcaption', {}, h('span', {}, t('room.chat.me')), selfNotes(session)),
    ),
  );
}

function updateStage() {
  const old = document.getElementById('stage');
  if (old) old.replaceWith(stage());
  for (const [id, video] of remoteVideos) {
    if (!session.seat(id) || !remoteSeats().some((seat) => seat.participant_id === id)) {
      video.srcObject = null;
      remoteVideos.delete(id);
    }
  }
}

// The browser would not start the sound by itself: one tap does.
function soundButton() {
  return h(
    'button',
    {
      type: 'button',
      id: 'sound-on',
      class: 'big-button',
      hidden: !soundBlocked(),
      onclick: (event) => {
        soundOn();
        event.currentTarget.hidden = true;
        document.getElementById('leave-call')?.focus();
      },
    },
    t('room.soundOn'),
  );
}

whenSoundBlocked(() => {
  const button = document.getElementById('sound-on');
  if (button) button.hidden = false;
});

function controls() {
  return h(
    'div',
    { class: 'controls big-controls', id: 'controls' },
    mediaButtons(session),
    h(
      'button',
      {
        type: 'button',
        id: 'leave-call',
        class: 'control danger-solid',
        onclick: () => session.leave(),
      },
      hangupIcon(),
      h('span', {}, t('room.leave')),
    ),
  );
}

function updateControls() {
  const focused = document.activeElement ? document.activeElement.id : null;
  const old = document.getElementById('controls');
  if (old) old.replaceWith(controls());
  updateStage();
  if (focused) document.getElementById(focused)?.focus();
}

async function rejoin() {
  const choice = check ? check.choice : {};
  const { stream } = await openMedia({ audioId: choice.audio, videoId: choice.video });
  if (!session) return;
  if (check) check.stream = stream;
  checkDone = true; // checked before: straight to the waiting room
  await session.useStream(stream);
  session.rejoin();
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
      session ? reconnectBanner(session) : null,
      h('p', { class: 'big waiting' }, t('join.open.wait')),
      ...facts(),
      h('p', { class: 'big' }, t('join.open.keep')),
      checkArea(),
    ];
  }
  if (phase === 'call') {
    const names = answer.with_names || [];
    return [
      h('h1', { tabindex: '-1', id: 'in-call' }, t('join.call.title')),
      reconnectBanner(session),
      qualityHint(session, nameOf),
      names.length
        ? h(
            'p',
            { class: 'big' },
            h('span', {}, t('join.with')),
            ' ',
            data(names.join(', '), 'strong'),
          )
        : null,
      soundButton(),
      stage(),
      controls(),
      chat.render(),
    ];
  }
  if (phase === 'ended') {
    return [
      h('h1', { tabindex: '-1', id: 'call-ended' }, t('room.ended.title')),
      h('p', { class: 'big' }, t('room.ended.client')),
    ];
  }
  if (phase === 'left') {
    return [
      h('h1', { tabindex: '-1', id: 'call-left' }, t('room.left.title')),
      h('p', { class: 'big' }, t('room.left.text')),
      h(
        'button',
        { type: 'button', id: 'rejoin', class: 'big-button', onclick: rejoin },
        t('room.left.rejoin'),
      ),
    ];
  }
  if (phase === 'elsewhere') {
    return [
      h('h1', { tabindex: '-1', id: 'call-elsewhere' }, t('room.elsewhere.title')),
      h('p', { class: 'big' }, t('room.elsewhere.text')),
      h(
        'button',
        { type: 'button', id: 'continue-here', class: 'big-button', onclick: rejoin },
        t('room.elsewhere.here'),
      ),
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
