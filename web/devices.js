// The check before a call: camera, microphone and speaker, a preview, a microphone level, a
// test sound and a quick connection check. Shared by the join page and the worker's call
// screen. Standard APIs only: getUserMedia, enumerateDevices, setSinkId where the browser
// has it (the speaker choice is left out where it has not).

import { t } from './i18n.js';
import { h } from './ui.js';

const STORAGE_KEY = 'beeldbel.devices';
const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

export const canChooseSpeaker =
  typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

function remembered() {
  try {
    return JSON.parse(window.localStorage.getItem(STORAGE_KEY) || '{}') || {};
  } catch {
    return {};
  }
}

function remember(choice) {
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(choice));
  } catch {
    // private mode: the choice lasts as long as the page
  }
}

// The camera and microphone; what works of them. problem: null, 'denied' or 'missing'.
export async function openMedia({ audioId = null, videoId = null } = {}) {
  const audio = audioId ? { ...AUDIO, deviceId: { exact: audioId } } : AUDIO;
  const video = videoId ? { ...VIDEO, deviceId: { exact: videoId } } : VIDEO;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { stream: null, problem: 'missing' };
  }
  let problem = null;
  for (const wanted of [{ audio, video }, { audio }, { video }]) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia(wanted), problem };
    } catch (error) {
      if (error && error.name === 'OverconstrainedError') {
        return openMedia(); // a remembered device is gone: the default ones
      }
      if (error && (error.name === 'NotAllowedError' || error.name === 'SecurityError')) {
        return { stream: null, problem: 'denied' };
      }
      problem = 'missing';
    }
  }
  return { stream: null, problem: 'missing' };
}

// A short tone as a WAV file (no file to fetch): for the speaker test and the waiting cue.
function toneUrl(frequencies) {
  const rate = 16000;
  const each = 0.22;
  const count = Math.floor(rate * each) * frequencies.length;
  const buffer = new ArrayBuffer(44 + count * 2);
  const view = new DataView(buffer);
  const text = (offset, value) => {
    for (let i = 0; i < value.length; i += 1) view.setUint8(offset + i, value.charCodeAt(i));
  };
  text(0, 'RIFF');
  view.setUint32(4, 36 + count * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, count * 2, true);
  const per = Math.floor(rate * each);
  for (let i = 0; i < count; i += 1) {
    const frequency = frequencies[Math.floor(i / per)];
    const within = (i % per) / per;
    const fade = Math.min(1, within * 20, (1 - within) * 20);
    const sample = Math.sin((2 * Math.PI * frequency * i) / rate) * 0.4 * fade;
    view.setInt16(44 + i * 2, sample * 32767, true);
  }
  return URL.createObjectURL(new Blob([buffer], { type: 'audio/wav' }));
}

let cueUrl = null;
let testUrl = null;

export async function playTone(kind = 'test', sinkId = null) {
  if (kind === 'cue') cueUrl = cueUrl || toneUrl([660, 880, 660, 880]);
  else testUrl = testUrl || toneUrl([523, 659, 784]);
  const audio = new Audio(kind === 'cue' ? cueUrl : testUrl);
  try {
    if (sinkId && canChooseSpeaker) await audio.setSinkId(sinkId);
    await audio.play();
  } catch {
    // no sound allowed yet (no click on the page so far): the visual cue remains
  }
}

// Is Beeldbel reachable, how fast, and (when the ICE servers are known) does the relay
// answer? 'good', 'slow', 'relay' (the relay did not answer) or 'bad'.
export async function checkConnection(ice = null) {
  const started = performance.now();
  try {
    const response = await fetch('/healthz', { cache: 'no-store', credentials: 'omit' });
    if (!response.ok) return 'bad';
  } catch {
    return 'bad';
  }
  const roundTrip = performance.now() - started;
  const servers = (ice && ice.iceServers) || [];
  const turn = servers.filter((server) =>
    [].concat(server.urls).some((url) => /^turns?:/.test(url)),
  );
  if (turn.length && !(await relayAnswers(turn))) return 'relay';
  return roundTrip > 1000 ? 'slow' : 'good';
}

async function relayAnswers(iceServers) {
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
  try {
    pc.createDataChannel('check');
    const found = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 6000);
      pc.addEventListener('icecandidate', ({ candidate }) => {
        if (candidate && / typ relay/.test(candidate.candidate)) {
          clearTimeout(timer);
          resolve(true);
        } else if (!candidate) {
          clearTimeout(timer);
          resolve(false);
        }
      });
    });
    await pc.setLocalDescription();
    return await found;
  } catch {
    return false;
  } finally {
    pc.close();
  }
}

const CONNECTION_TEXT = {
  testing: () => t('check.connection.testing'),
  good: () => t('check.connection.good'),
  slow: () => t('check.connection.slow'),
  relay: () => t('check.connection.relay'),
  bad: () => t('check.connection.bad'),
};

// The check itself: call start() once; `stream` is what the call sends. onStream(stream) is
// called when the person picks another camera or microphone.
export class DeviceCheck {
  constructor({ onStream = () => {}, big = false } = {}) {
    this.onStream = onStream;
    this.big = big;
    this.stream = null;
    this.problem = null;
    this.devices = [];
    this.choice = remembered();
    this.connection = 'testing';
    this.checked = false; // the connection check ran (or runs)
    this.preview = h('video', {
      class: 'preview',
      id: 'preview',
      autoplay: true,
      playsinline: true,
      'aria-label': t('room.selfVideo'),
    });
    this.preview.muted = true;
    this.meter = null;
    this.audioContext = null;
    this.levelTimer = null;
    this.root = h('section', { class: 'check', id: 'check', 'aria-labelledby': 'check-title' });
  }

  async start() {
    const opened = await openMedia({ audioId: this.choice.audio, videoId: this.choice.video });
    this.stream = opened.stream;
    this.problem = opened.problem;
    await this.listDevices();
    this.render();
    this.listen();
    return this.stream;
  }

  async listDevices() {
    try {
      this.devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      this.devices = [];
    }
  }

  current(kind) {
    if (!this.stream) return null;
    const track = this.stream.getTracks().find((found) => found.kind === kind);
    return track ? track.getSettings().deviceId || null : null;
  }

  async choose(kind, deviceId) {
    if (kind === 'speaker') {
      this.choice.speaker = deviceId;
      remember(this.choice);
      return;
    }
    this.choice[kind] = deviceId;
    remember(this.choice);
    const opened = await openMedia({ audioId: this.choice.audio, videoId: this.choice.video });
    if (!opened.stream) return;
    const old = this.stream;
    this.stream = opened.stream;
    this.problem = opened.problem;
    this.onStream(this.stream);
    if (old) {
      for (const track of old.getTracks()) {
        if (!this.stream.getTracks().includes(track)) track.stop();
      }
    }
    this.render();
    this.listen();
  }

  get speakerId() {
    return this.choice.speaker || null;
  }

  select(kind, id, label, devices, chosen) {
    if (!devices.length) return null;
    const options = devices.map((device, index) => {
      const name = device.label || `${label} ${index + 1}`;
      return h(
        'option',
        { value: device.deviceId, selected: device.deviceId === chosen, 'data-i18n-data': true },
        name,
      );
    });
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id }, label),
      h(
        'select',
        { id, onchange: (event) => this.choose(kind, event.currentTarget.value) },
        options,
      ),
    );
  }

  render() {
    const cameras = this.devices.filter((device) => device.kind === 'videoinput');
    const microphones = this.devices.filter((device) => device.kind === 'audioinput');
    const speakers = canChooseSpeaker
      ? this.devices.filter((device) => device.kind === 'audiooutput')
      : [];
    const problem =
      this.problem === 'denied'
        ? h('p', { class: 'alert', role: 'alert', id: 'check-problem' }, t('check.denied'))
        : this.problem === 'missing'
          ? h('p', { class: 'alert', role: 'alert', id: 'check-problem' }, t('check.missing'))
          : null;
    this.meter = h('meter', {
      id: 'mic-level',
      min: '0',
      max: '1',
      value: '0',
      'aria-labelledby': 'mic-level-label',
    });
    if (this.stream && this.stream.getVideoTracks().length) {
      if (this.preview.srcObject !== this.stream) this.preview.srcObject = this.stream;
    } else {
      this.preview.srcObject = null;
    }
    this.preview.setAttribute('aria-label', t('room.selfVideo'));
    const parts = [
      h('h2', { id: 'check-title', tabindex: '-1' }, t('check.title')),
      problem,
      this.problem === 'denied'
        ? h(
            'button',
            { type: 'button', class: 'secondary', id: 'check-retry', onclick: () => this.retry() },
            t('check.retry'),
          )
        : null,
      h(
        'div',
        { class: 'check-grid' },
        h('div', { class: 'preview-box' }, this.stream ? this.preview : null),
        h(
          'div',
          { class: 'check-fields' },
          this.select('video', 'camera-choice', t('check.camera'), cameras, this.current('video')),
          this.select(
            'audio',
            'microphone-choice',
            t('check.microphone'),
            microphones,
            this.current('audio'),
          ),
          this.stream && this.stream.getAudioTracks().length
            ? h(
                'div',
                { class: 'field' },
                h('span', { class: 'label', id: 'mic-level-label' }, t('check.level')),
                this.meter,
              )
            : null,
          this.select('speaker', 'speaker-choice', t('check.speaker'), speakers, this.speakerId),
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              id: 'test-sound',
              onclick: () => playTone('test', this.speakerId),
            },
            t('check.testSound'),
          ),
          h(
            'p',
            { id: 'connection-check' },
            h('span', { class: 'label' }, t('check.connection')),
            ' ',
            h(
              'span',
              { id: 'connection-result', class: `result-${this.connection}` },
              CONNECTION_TEXT[this.connection](),
            ),
          ),
        ),
      ),
    ];
    this.root.replaceChildren(...parts.filter(Boolean));
    this.preview.play().catch(() => {});
  }

  async retry() {
    const opened = await openMedia({ audioId: this.choice.audio, videoId: this.choice.video });
    if (opened.stream) {
      this.stream = opened.stream;
      this.onStream(this.stream);
    }
    this.problem = opened.problem;
    await this.listDevices();
    this.render();
    this.listen();
  }

  async checkConnection(ice = null) {
    this.connection = 'testing';
    this.showConnection();
    this.connection = await checkConnection(ice);
    this.showConnection();
    return this.connection;
  }

  showConnection() {
    const result = this.root.querySelector('#connection-result');
    if (!result) return;
    result.className = `result-${this.connection}`;
    result.textContent = CONNECTION_TEXT[this.connection]();
  }

  // The microphone level, a few times a second.
  listen() {
    window.clearInterval(this.levelTimer);
    if (!this.stream || !this.stream.getAudioTracks().length || !window.AudioContext) return;
    try {
      if (!this.audioContext) this.audioContext = new AudioContext();
      const analyser = this.audioContext.createAnalyser();
      analyser.fftSize = 512;
      this.audioContext.createMediaStreamSource(this.stream).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      this.levelTimer = window.setInterval(() => {
        if (this.audioContext.state === 'suspended') this.audioContext.resume().catch(() => {});
        analyser.getFloatTimeDomainData(samples);
        let sum = 0;
        for (const sample of samples) sum += sample * sample;
        const level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
        if (this.meter) this.meter.value = level;
      }, 200);
    } catch {
      // no level: the rest of the check still works
    }
  }

  // The check is done; the stream stays (the call sends it).
  stop() {
    window.clearInterval(this.levelTimer);
    if (this.audioContext) this.audioContext.close().catch(() => {});
    this.audioContext = null;
  }
}

