// Pieces of the in-call screens shared by the join page (clients, guests) and the worker's
// call screen: the pictures, the buttons, what the connection is doing, the messages.
// Video elements are made once and kept: a screen that renders again (another language, a
// new state) moves them rather than making new ones, so the picture never blinks.

import { t } from './i18n.js';
import { canChooseSpeaker } from './devices.js';
import { data, h, icon } from './ui.js';

export function videoElement(id, label, { muted = false } = {}) {
  const video = h('video', { id, autoplay: true, playsinline: true, 'aria-label': label });
  video.muted = muted;
  return video;
}

// Remote pictures whose sound the browser would not start by itself (no tap on the page
// yet): they play muted until the person taps "Geluid aanzetten".
const silenced = new Set();
let onSilenced = () => {};

export function whenSoundBlocked(fn) {
  onSilenced = fn;
}

export function soundBlocked() {
  return [...silenced].some((video) => video.isConnected);
}

export function soundOn() {
  for (const video of silenced) {
    video.muted = false;
    video.play().catch(() => {});
  }
  silenced.clear();
}

export function show(video, stream, label, sinkId = null) {
  video.setAttribute('aria-label', label);
  if (video.srcObject !== stream) video.srcObject = stream;
  if (sinkId && canChooseSpeaker && video.sinkId !== sinkId) {
    video.setSinkId(sinkId).catch(() => {});
  }
  if (!stream) return;
  video.play().catch((error) => {
    if (!error || error.name !== 'NotAllowedError' || video.muted) return;
    video.muted = true; // the picture at least
    silenced.add(video);
    video.play().catch(() => {});
    onSilenced();
  });
}

// The connection to one peer, in plain words.
export function peerStateText(peer, seat, { showPath = false } = {}) {
  if (seat && seat.status === 'away') return t('room.peer.away');
  if (!peer || !peer.pc) return t('room.peer.connecting');
  if (peer.state === 'connected') {
    if (!showPath || !peer.path) return t('room.peer.connected');
    return peer.path === 'relay' ? t('room.peer.relay') : t('room.peer.direct');
  }
  if (peer.state === 'disconnected' || peer.state === 'failed') return t('room.peer.restoring');
  return t('room.peer.connecting');
}

// What the other side switched off ("microphone off", ...).
export function mediaNotes(media) {
  if (!media) return [];
  const notes = [];
  if (media.audio === false) notes.push(t('room.peer.muted'));
  if (media.video === false && !media.screen) notes.push(t('room.peer.cameraOff'));
  if (media.screen) notes.push(t('room.peer.screen'));
  return notes;
}

// One remote picture with its caption: name, connection, what is switched off.
export function remoteTile(video, name, stateText, notes, seatId) {
  return h(
    'figure',
    { class: 'tile remote', 'data-participant': seatId },
    video,
    h(
      'figcaption',
      {},
      name,
      h('span', { class: 'peer-state', 'data-peer-state': seatId }, stateText),
      notes.map((note) => h('span', { class: 'peer-note' }, note)),
    ),
  );
}

export function reconnectBanner(session) {
  return h(
    'div',
    {
      class: 'reconnecting',
      id: 'reconnecting',
      role: 'status',
      hidden: !session.reconnecting,
    },
    h('strong', {}, t('room.reconnecting')),
    ' ',
    h('span', {}, t('room.reconnectingHint')),
  );
}

const ICON_PATHS = {
  mic: ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3'],
  camera: ['M3 7h11v10H3z', 'M14 10l6-3v10l-6-3z'],
  screen: ['M3 4h18v12H3z', 'M8 20h8', 'M12 16v4'],
  hangup: [
    'M3 14c5-5 13-5 18 0l-2.5 2.5-3-1.5v-2.5a10 10 0 0 0-7 0V15l-3 1.5z',
  ],
  off: ['M4 4l16 16'],
};

function controlIcon(name, off = false) {
  const svg = icon('none');
  for (const d of [...ICON_PATHS[name], ...(off ? ICON_PATHS.off : [])]) {
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

// The microphone and camera buttons: each says what pressing it does.
export function mediaButtons(session) {
  const audio = session.sending.audio;
  const video = session.sending.video;
  return [
    h(
      'button',
      {
        type: 'button',
        id: 'toggle-mic',
        class: audio ? 'control' : 'control off',
        onclick: () => session.setAudio(!session.sending.audio),
      },
      controlIcon('mic', !audio),
      h('span', {}, audio ? t('room.micOff') : t('room.micOn')),
    ),
    h(
      'button',
      {
        type: 'button',
        id: 'toggle-camera',
        class: video ? 'control' : 'control off',
        onclick: () => session.setVideo(!session.sending.video),
      },
      controlIcon('camera', !video),
      h('span', {}, video ? t('room.cameraOff') : t('room.cameraOn')),
    ),
  ];
}

export function screenButton(session, onError) {
  const sharing = session.sending.screen;
  return h(
    'button',
    {
      type: 'button',
      id: 'toggle-screen',
      class: sharing ? 'control on' : 'control',
      onclick: async () => {
        if (session.sending.screen) {
          session.stopScreen();
          return;
        }
        try {
          await session.shareScreen();
        } catch {
          onError(t('room.screenFailed'));
        }
      },
    },
    controlIcon('screen'),
    h('span', {}, sharing ? t('room.screenStop') : t('room.screen')),
  );
}

export function hangupIcon() {
  return controlIcon('hangup');
}

// My own state, said in words next to the picture (not by colour alone).
export function selfNotes(session) {
  const notes = [];
  if (!session.sending.audio) notes.push(h('span', { class: 'self-note' }, t('room.micIsOff')));
  if (!session.sending.video) notes.push(h('span', { class: 'self-note' }, t('room.cameraIsOff')));
  return notes;
}

// Messages: a log and a form. nameOf(participantId) gives a data element with a name.
export class ChatPanel {
  constructor(session, nameOf) {
    this.session = session;
    this.nameOf = nameOf;
    this.list = h('ol', { class: 'chat-list' });
    this.log = h(
      'div',
      {
        class: 'chat-log',
        id: 'chat-log',
        role: 'log',
        tabindex: '0',
        'aria-labelledby': 'chat-title',
      },
      this.list,
    );
    this.status = h('p', { class: 'field-error', id: 'chat-error', role: 'alert', hidden: true });
    this.root = h('section', { class: 'chat', 'aria-labelledby': 'chat-title' });
    this.draft = '';
  }

  render() {
    const input = h('input', {
      id: 'chat-text',
      type: 'text',
      maxlength: '1000',
      autocomplete: 'off',
      value: this.draft,
      oninput: (event) => {
        this.draft = event.currentTarget.value;
      },
    });
    const form = h(
      'form',
      { id: 'chat-form', class: 'chat-form', novalidate: true },
      h('label', { for: 'chat-text' }, t('room.chat.label')),
      h(
        'div',
        { class: 'search-row' },
        input,
        h('button', { type: 'submit' }, t('room.chat.send')),
      ),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      this.status.hidden = true;
      try {
        const answer = await this.session.say(text);
        if (!answer || !answer.ok) throw new Error('refused');
        input.value = '';
        this.draft = '';
      } catch {
        this.status.textContent = t('room.chat.failed');
        this.status.hidden = false;
      }
      input.focus();
    });
    this.update();
    this.root.replaceChildren(
      h('h2', { id: 'chat-title' }, t('room.chat.title')),
      this.log,
      this.status,
      form,
    );
    if (!this.status.hidden) this.status.textContent = t('room.chat.failed');
    return this.root;
  }

  update() {
    const messages = this.session.chat;
    if (!messages.length) {
      this.list.replaceChildren(h('li', { class: 'hint' }, t('room.chat.none')));
      return;
    }
    this.list.replaceChildren(
      ...messages.map((message) => {
        const mine = this.session.me && message.from === this.session.me.id;
        return h(
          'li',
          { class: mine ? 'mine' : '' },
          mine ? h('strong', {}, t('room.chat.me')) : h('strong', {}, this.nameOf(message.from)),
          ': ',
          data(message.text),
        );
      }),
    );
  }
}

// The fallback ladder on screen ------------------------------------------------------------------
//
// Each direction's mode in plain words, and one line that says whose connection is weak and
// what helps. The worker's screen also has a choice per person (automatic, or a fixed
// mode), the data saver and, when even sound fails, the advice to phone.

const MODES = ['hd', 'sd', 'low', 'stills', 'audio'];

const MODE_TEXT = {
  hd: () => t('quality.mode.hd'),
  sd: () => t('quality.mode.sd'),
  low: () => t('quality.mode.low'),
  stills: () => t('quality.mode.stills'),
  audio: () => t('quality.mode.audio'),
};

export function modeText(mode) {
  return (MODE_TEXT[mode] || MODE_TEXT.sd)();
}

// The plain-language line: the latest hint that still matters, or nothing.
export function qualityHint(session, nameOf) {
  const agent = session.quality;
  const me = session.me ? session.me.id : null;
  let text = null;
  for (const [about, reason] of agent.hints) {
    const mine = about === me;
    const seat = session.seat(about);
    if (!mine && (!seat || seat.status !== 'in_call')) continue;
    const mode = mine ? agent.mode : (agent.modes.get(about) || {}).mode;
    const paused = mode === 'stills' || mode === 'audio';
    if (reason === 'weak_uplink') {
      text = mine
        ? [h('span', {}, t('quality.hint.mineWeak'))]
        : [
            h('span', {}, t('quality.hint.theirsWeak')),
            ' ',
            nameOf(about),
            h('span', {}, paused ? t('quality.hint.paused') : t('quality.hint.lowered')),
          ];
    } else if (reason === 'outage') {
      text = mine
        ? [h('span', {}, t('quality.hint.mineGone'))]
        : [h('span', {}, t('quality.hint.theirsGone')), ' ', nameOf(about), h('span', {}, t('quality.hint.theirsGoneEnd'))];
    }
  }
  return h(
    'p',
    { class: 'quality-hint', id: 'quality-hint', role: 'status', hidden: !text },
    text || [],
  );
}

function directionItem(id, label, mode, probe) {
  return h(
    'li',
    { id: `mode-${id}`, 'data-mode': mode || 'sd', 'data-probe': probe ? 'true' : 'false' },
    label,
    ': ',
    h('span', {}, modeText(mode)),
  );
}

// The worker's panel: each direction, a fixed mode per person, the data saver, the phone.
export function qualityPanel(session, nameOf, { phoneNumber = null, onPhone = null } = {}) {
  const agent = session.quality;
  const others = session.others().filter((seat) => seat.status === 'in_call');
  const items = [directionItem('me', h('span', {}, t('quality.mine')), agent.mode, agent.probe)];
  for (const seat of others) {
    const state = agent.modes.get(seat.participant_id) || {};
    items.push(directionItem(seat.participant_id, nameOf(seat.participant_id), state.mode, state.probe));
  }
  const pins = others.map((seat) => {
    const id = `pin-${seat.participant_id}`;
    const state = agent.modes.get(seat.participant_id) || {};
    const select = h(
      'select',
      {
        id,
        onchange: (event) => {
          const value = event.currentTarget.value;
          agent.pin(seat.participant_id, value === 'auto' ? null : value).catch(() => {});
        },
      },
      h('option', { value: 'auto', selected: !state.pinned }, t('quality.auto')),
      MODES.map((mode) =>
        h('option', { value: mode, selected: Boolean(state.pinned) && state.mode === mode }, modeText(mode)),
      ),
    );
    return h('p', { class: 'field' }, h('label', { for: id }, h('span', {}, t('quality.pinFor')), ' ', nameOf(seat.participant_id)), select);
  });
  const saver = h(
    'p',
    { class: 'field inline' },
    h('input', {
      type: 'checkbox',
      id: 'data-saver',
      checked: Boolean(agent.saverOn),
      onchange: (event) => {
        agent.saverOn = event.currentTarget.checked;
        agent.saver(agent.saverOn ? 'low' : null).catch(() => {});
      },
    }),
    h('label', { for: 'data-saver' }, t('quality.saver')),
  );
  const advice = agent.phone
    ? h(
        'div',
        { class: 'alert', id: 'phone-advice', role: 'alert' },
        h('p', {}, h('strong', {}, t('quality.phone.title'))),
        h('p', {}, t('quality.phone.text')),
        phoneNumber
          ? h(
              'p',
              {},
              h(
                'a',
                { href: `tel:${phoneNumber.replace(/[^0-9+]/g, '')}`, id: 'phone-client', class: 'button', onclick: () => onPhone && onPhone() },
                h('span', {}, t('quality.phone.call')),
                ' ',
                data(phoneNumber),
              ),
            )
          : h('p', { class: 'hint' }, t('quality.phone.noNumber')),
      )
    : null;
  return h(
    'section',
    { class: 'quality', id: 'quality', 'aria-labelledby': 'quality-title' },
    h('h2', { id: 'quality-title' }, t('quality.title')),
    advice,
    qualityHint(session, nameOf),
    h('ul', { class: 'directions' }, items),
    pins,
    saver,
  );
}
