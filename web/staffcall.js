// The worker's call screen (#/call/<appointment id>): first a check of camera, microphone,
// speaker and connection, then "Open wachtkamer" connects to the call. In the call: who
// waits (with a sound and a visible cue), letting them in (one or all), the pictures with
// the other side's connection state, microphone, camera, screen sharing, messages, and
// ending the call for everyone; once it has ended, "Verslag schrijven" for the call's client.
// Leaving the page leaves the call.

import { ROLE_TEXT, reportLinks } from './agenda.js';
import { ApiError, call, freshAccessToken } from './api.js';
import { CallSession } from './call.js';
import {
  ChatPanel,
  mediaButtons,
  mediaNotes,
  peerStateText,
  qualityPanel,
  reconnectBanner,
  remoteTile,
  screenButton,
  selfNotes,
  show,
  videoElement,
} from './callui.js';
import { DeviceCheck, playTone } from './devices.js';
import { t } from './i18n.js';
import { announce, data, h } from './ui.js';

const STATUS_TEXT = {
  waiting: () => t('room.status.waiting'),
  in_call: () => t('room.status.in_call'),
  away: () => t('room.status.away'),
  left: () => t('room.status.left'),
};

const REFUSED_TEXT = {
  early: () => t('room.refused.early'),
  closed: () => t('room.refused.closed'),
  forbidden: () => t('room.refused.forbidden'),
  notFound: () => t('room.refused.notFound'),
  session: () => t('error.sessionExpired'),
  other: () => t('room.refused.other'),
};

let room = null;

export function callRoomTitle() {
  return t('room.title');
}

// The view for app.js; the room lives on between renders (a language switch re-renders).
export function callRoomView(rest) {
  const id = rest[0] || '';
  if (!room || room.id !== id) {
    leaveCallRoom();
    room = newRoom(id);
    load(room);
  }
  renderRoom({ focus: false });
  return [room.root];
}

// Leaving the page leaves the call (and frees the camera).
export function leaveCallRoom() {
  if (!room) return;
  const old = room;
  room = null;
  if (old.check) old.check.stop();
  if (old.session) {
    const session = old.session;
    if (!session.stopped) session.leave().finally(() => session.close());
    else session.close();
  } else if (old.check && old.check.stream) {
    for (const track of old.check.stream.getTracks()) track.stop();
  }
}

function newRoom(id) {
  return {
    id,
    step: 'loading', // loading | prepare | call | ended | refused | elsewhere | problem
    appointment: null,
    session: null,
    check: null,
    chat: null,
    refused: null,
    alert: null,
    confirmEnd: false,
    waitingSeen: new Set(),
    selfVideo: videoElement('self-video', t('room.selfVideo'), { muted: true }),
    remoteVideos: new Map(),
    phoneNumber: null,
    root: h('div', { class: 'room', id: 'room' }),
  };
}

async function load(r) {
  try {
    r.appointment = await call('GET', `/api/v1/appointments/${encodeURIComponent(r.id)}`);
  } catch (error) {
    if (room !== r) return;
    r.step = 'problem';
    r.refused = error instanceof ApiError && error.status === 401 ? 'session' : 'notFound';
    renderRoom();
    return;
  }
  if (room !== r) return;
  r.step = 'prepare';
  r.check = new DeviceCheck({ onStream: (stream) => r.session && r.session.useStream(stream) });
  renderRoom();
  await r.check.start();
  if (room !== r) {
    r.check.stop();
    return;
  }
  if (r.step === 'prepare') renderRoom({ focus: false });
  r.check.checkConnection();
}

// Who is who: names from the appointment.
function person(participantId) {
  const found = room.appointment
    ? room.appointment.participants.find((p) => p.id === participantId)
    : null;
  if (found && found.name) return data(found.name);
  const seat = room.session ? room.session.seat(participantId) : null;
  const role = (found && found.role) || (seat && seat.role) || 'client';
  return h('span', {}, ROLE_TEXT[role] ? ROLE_TEXT[role]() : t('participant.client'));
}

function subject() {
  const a = room.appointment;
  if (!a) return null;
  if (a.client) return data(a.client.name);
  if (a.title) return data(a.title);
  return null;
}

async function workerAuth() {
  try {
    return { appointment_id: room.id, access_token: await freshAccessToken() };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      throw { refusal: { code: 'session_expired' } };
    }
    throw error;
  }
}

function openRoom() {
  const r = room;
  const session = new CallSession({
    appointmentId: r.id,
    auth: workerAuth,
    stream: r.check ? r.check.stream : null,
  });
  r.session = session;
  r.chat = new ChatPanel(session, person);
  session.addEventListener('change', (event) => {
    if (room === r) onChange(event.detail.what, event.detail.data);
  });
  r.step = 'call';
  if (r.check) r.check.stop();
  session.start();
  renderRoom();
}

function refusedKind(refusal) {
  if (!refusal) return 'other';
  if (refusal.code === 'session_expired' || refusal.code === 'unauthenticated') return 'session';
  if (refusal.code === 'join_refused') return refusal.reason === 'early' ? 'early' : 'closed';
  if (refusal.code === 'forbidden') return 'forbidden';
  if (refusal.code === 'not_found') return 'notFound';
  return 'other';
}

function onChange(what, detail) {
  const session = room.session;
  if (what === 'phase') {
    if (session.phase === 'refused') {
      room.step = 'refused';
      room.refused = refusedKind(session.refusal);
    } else if (session.phase === 'ended' || session.phase === 'left') {
      room.step = 'ended';
    } else if (session.phase === 'elsewhere') {
      room.step = 'elsewhere';
    } else return;
    if (session.stream) for (const track of session.stream.getTracks()) track.stop();
    renderRoom();
    announce(document.querySelector('#room h1').textContent);
    return;
  }
  if (room.step !== 'call') return;
  if (what === 'connection') {
    const banner = document.getElementById('reconnecting');
    if (banner) banner.hidden = !session.reconnecting;
    return;
  }
  if (what === 'chat') {
    room.chat.update();
    return;
  }
  if (what === 'notice' && detail && detail.what === 'seat_released') {
    room.alert = [h('span', {}, t('room.notice.released')), ' ', person(detail.about)];
    updatePart('room-alert', alertBox());
    return;
  }
  if (what === 'quality' || what === 'hint' || what === 'mode' || what === 'phone') {
    if (what === 'phone') {
      loadPhoneNumber(room);
      announce(t('quality.phone.title'));
    }
    updatePart('quality', quality(), true);
    return;
  }
  if (what === 'call' || what === 'cue') noticeWaiting();
  if (what === 'local') {
    updatePart('controls', controls(), true);
  }
  updatePart('stage', stage());
  updatePart('people', people(), true);
  updatePart('quality', quality(), true);
}

// Phoning is the advice when even sound fails: the client's number from the file (a read of
// the record, audited like any other).
async function loadPhoneNumber(r) {
  const clientId = r.appointment && r.appointment.client ? r.appointment.client.id : null;
  if (!clientId || r.phoneNumber) return;
  try {
    const client = await call('GET', `/api/v1/clients/${encodeURIComponent(clientId)}`);
    if (room !== r) return;
    r.phoneNumber = client.phone || null;
    updatePart('quality', quality(), true);
  } catch {
    // the advice stands without the number
  }
}

function quality() {
  const session = room.session;
  return qualityPanel(session, person, {
    phoneNumber: room.phoneNumber,
    onPhone: () => session.send('quality', { phoned: true }).catch(() => {}),
  });
}

// A new person in the waiting room: a sound, the cue on screen, and a word for screen readers.
function noticeWaiting() {
  const waiting = room.session.others().filter((seat) => seat.status === 'waiting');
  const fresh = waiting.filter((seat) => !room.waitingSeen.has(seat.participant_id));
  room.waitingSeen = new Set(waiting.map((seat) => seat.participant_id));
  updatePart('waiting-room', waitingRoom(), true);
  if (!fresh.length) return;
  playTone('cue', room.check ? room.check.speakerId : null);
  announce(t('room.waiting.cue'), ' ', ...fresh.map((seat) => person(seat.participant_id)));
}

function updatePart(id, fresh, keepFocus = false) {
  const old = document.getElementById(id);
  if (!old) return;
  const focused = keepFocus && document.activeElement ? document.activeElement.id : null;
  old.replaceWith(fresh);
  if (focused && !document.getElementById(focused) && id === 'waiting-room') {
    // the person just let in is no longer listed: go on with the list or the stage
    (document.querySelector('#waiting-room button') || document.querySelector('#room h1'))?.focus();
  } else if (focused) document.getElementById(focused)?.focus();
}

// Pieces of the call screen ----------------------------------------------------------------------

function alertBox() {
  return h('div', { class: 'alert', id: 'room-alert', role: 'alert' }, room.alert || []);
}

async function admit(participantId, button) {
  button.disabled = true;
  try {
    const answer = await room.session.admit(participantId);
    if (!answer || !answer.ok) throw new Error('refused');
  } catch {
    room.alert = [t('room.admitFailed')];
    updatePart('room-alert', alertBox());
  } finally {
    if (button.isConnected) button.disabled = false;
  }
}

function waitingRoom() {
  const waiting = room.session.others().filter((seat) => seat.status === 'waiting');
  return h(
    'section',
    { class: 'waiting-room', id: 'waiting-room', 'aria-labelledby': 'waiting-title' },
    h('h2', { id: 'waiting-title' }, t('room.waiting.title')),
    waiting.length
      ? [
          h(
            'p',
            { class: 'cue', id: 'waiting-cue' },
            h('span', {}, t('room.waiting.cue')),
            ' ',
            waiting.map((seat, index) => [index ? ', ' : '', person(seat.participant_id)]),
          ),
          h(
            'ul',
            { class: 'waiting-list', id: 'waiting-list' },
            waiting.map((seat) =>
              h(
                'li',
                { 'data-participant': seat.participant_id },
                h(
                  'span',
                  {},
                  person(seat.participant_id),
                  ' (',
                  h('span', {}, ROLE_TEXT[seat.role] ? ROLE_TEXT[seat.role]() : ''),
                  ')',
                ),
                h(
                  'button',
                  {
                    type: 'button',
                    id: `admit-${seat.participant_id}`,
                    class: 'admit',
                    onclick: (event) => admit(seat.participant_id, event.currentTarget),
                  },
                  t('room.admit'),
                ),
              ),
            ),
          ),
          waiting.length > 1
            ? h(
                'button',
                {
                  type: 'button',
                  id: 'admit-all',
                  class: 'secondary',
                  onclick: (event) => admit(null, event.currentTarget),
                },
                t('room.admitAll'),
              )
            : null,
        ]
      : h('p', { class: 'hint', id: 'nobody-waiting' }, t('room.waiting.none')),
  );
}

function people() {
  const session = room.session;
  const seats = session.others().filter((seat) => seat.status !== 'waiting');
  return h(
    'section',
    { class: 'people-in-call', id: 'people', 'aria-labelledby': 'people-title' },
    h('h2', { id: 'people-title' }, t('room.present.title')),
    seats.length
      ? h(
          'ul',
          { class: 'people' },
          seats.map((seat) =>
            h(
              'li',
              { 'data-participant': seat.participant_id, 'data-status': seat.status },
              person(seat.participant_id),
              ': ',
              h('span', {}, STATUS_TEXT[seat.status]()),
              seat.status === 'in_call'
                ? [
                    ' · ',
                    h(
                      'span',
                      { class: 'peer-state' },
                      peerStateText(session.peers.get(seat.participant_id), seat, {
                        showPath: true,
                      }),
                    ),
                  ]
                : null,
            ),
          ),
        )
      : h('p', { class: 'hint' }, t('room.present.none')),
  );
}

function stage() {
  const session = room.session;
  const seats = session
    .others()
    .filter((seat) => seat.status === 'in_call' || seat.status === 'away');
  const sinkId = room.check ? room.check.speakerId : null;
  const tiles = seats.map((seat) => {
    const id = seat.participant_id;
    if (!room.remoteVideos.has(id)) {
      room.remoteVideos.set(id, videoElement(`remote-${id}`, t('room.remoteVideo')));
    }
    const video = room.remoteVideos.get(id);
    const peer = session.peers.get(id);
    show(video, peer && peer.remote, t('room.remoteVideo'), sinkId);
    return remoteTile(
      video,
      person(id),
      peerStateText(peer, seat, { showPath: true }),
      mediaNotes(session.media.get(id)),
      id,
    );
  });
  for (const [id, video] of room.remoteVideos) {
    if (!seats.some((seat) => seat.participant_id === id)) {
      video.srcObject = null;
      room.remoteVideos.delete(id);
    }
  }
  show(room.selfVideo, session.stream, t('room.selfVideo'));
  return h(
    'div',
    { class: 'stage', id: 'stage' },
    h(
      'div',
      { class: 'remotes' },
      tiles.length ? tiles : h('p', { class: 'empty-stage' }, t('room.nobodyYet')),
    ),
    h(
      'figure',
      { class: 'tile self' },
      room.selfVideo,
      h('figcaption', {}, h('span', {}, t('room.chat.me')), selfNotes(session)),
    ),
  );
}

function controls() {
  const session = room.session;
  if (room.confirmEnd) {
    return h(
      'div',
      {
        class: 'controls confirm',
        id: 'controls',
        role: 'group',
        'aria-labelledby': 'end-question',
      },
      h('p', { id: 'end-question' }, h('strong', {}, t('room.endConfirm'))),
      h(
        'button',
        {
          type: 'button',
          id: 'end-yes',
          class: 'danger-solid',
          onclick: async (event) => {
            event.currentTarget.disabled = true;
            try {
              const answer = await session.end();
              if (!answer || !answer.ok) throw new Error('refused');
            } catch {
              room.confirmEnd = false;
              room.alert = [t('room.endFailed')];
              updatePart('room-alert', alertBox());
              updatePart('controls', controls());
            }
          },
        },
        t('room.endYes'),
      ),
      h(
        'button',
        {
          type: 'button',
          id: 'end-no',
          class: 'secondary',
          onclick: () => {
            room.confirmEnd = false;
            updatePart('controls', controls());
            document.getElementById('end-call')?.focus();
          },
        },
        t('room.endNo'),
      ),
    );
  }
  return h(
    'div',
    { class: 'controls', id: 'controls' },
    mediaButtons(session),
    screenButton(session, (text) => {
      room.alert = [text];
      updatePart('room-alert', alertBox());
    }),
    h(
      'button',
      {
        type: 'button',
        id: 'end-call',
        class: 'control danger-solid',
        onclick: () => {
          room.confirmEnd = true;
          updatePart('controls', controls());
          document.getElementById('end-no')?.focus();
        },
      },
      h('span', {}, t('room.end')),
    ),
  );
}

function backLink() {
  return h(
    'a',
    {
      class: 'button secondary',
      id: 'back-to-appointment',
      href: `#/agenda/appointment/${room.id}`,
    },
    t('room.backToAppointment'),
  );
}

// Screens -----------------------------------------------------------------------------------

function screen() {
  const r = room;
  if (r.step === 'loading') {
    return [
      h('h1', { tabindex: '-1' }, t('room.prepare.title')),
      h('p', { class: 'loading', role: 'status' }, t('agenda.loading')),
    ];
  }
  if (r.step === 'problem' || r.step === 'refused') {
    return [
      h('h1', { tabindex: '-1' }, t('room.refused.title')),
      h(
        'p',
        { class: 'alert', role: 'alert', id: 'room-refused' },
        REFUSED_TEXT[r.refused || 'other'](),
      ),
      h('p', {}, backLink()),
    ];
  }
  if (r.step === 'ended') {
    return [
      h('h1', { tabindex: '-1', id: 'room-ended' }, t('room.ended.title')),
      h('p', {}, t('room.ended.worker')),
      ...(r.appointment ? reportLinks(r.appointment, 'call-report') : []),
      h('p', {}, backLink()),
    ];
  }
  if (r.step === 'elsewhere') {
    return [
      h('h1', { tabindex: '-1' }, t('room.elsewhere.title')),
      h('p', {}, t('room.elsewhere.text')),
      h('p', {}, backLink()),
    ];
  }
  const who = subject();
  if (r.step === 'prepare') {
    return [
      h('h1', { tabindex: '-1' }, t('room.prepare.title')),
      who ? h('p', { class: 'subject' }, h('span', {}, t('room.with')), ' ', who) : null,
      h('p', {}, t('room.prepare.intro')),
      checkPart(r),
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'button', id: 'open-room', onclick: openRoom }, t('room.open')),
        backLink(),
      ),
    ];
  }
  return [
    h('h1', { tabindex: '-1', id: 'room-title' }, h('span', {}, t('room.with')), ' ', who || ''),
    reconnectBanner(r.session),
    alertBox(),
    h(
      'div',
      { class: 'room-grid' },
      h('div', { class: 'room-main' }, stage(), controls()),
      h('div', { class: 'room-side' }, waitingRoom(), people(), quality(), r.chat.render()),
    ),
  ];
}

function checkPart(r) {
  if (!r.check || (!r.check.stream && !r.check.problem)) {
    return h('p', { class: 'loading', role: 'status' }, t('agenda.loading'));
  }
  r.check.render();
  return r.check.root;
}

function renderRoom({ focus = true } = {}) {
  if (!room) return;
  room.root.replaceChildren(...screen().filter(Boolean));
  if (focus && room.root.isConnected) {
    const heading = room.root.querySelector('h1');
    if (heading) heading.focus();
  }
}
