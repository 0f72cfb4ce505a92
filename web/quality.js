// The fallback ladder in the browser: measure, report, and apply the mode the server sets.
//
// The browser's own congestion control stays the fast inner loop. This is the outer loop's
// hands and eyes (beeldbel/quality/model.py is its head, on the server):
//
// * Every 1.5 s (5 s once the link is weak, since reports share it) a compact `stats`
//   message: the outgoing bandwidth estimate, round trip, loss and jitter of what we send
//   (from the selected candidate pair and the far end's receiver reports), frames sent, and
//   of what we receive: frames decoded, seconds frozen, share of audio concealed. About
//   100–150 bytes as JSON.
// * A `mode` from the server is applied to our senders: `hd`, `sd`, `low` with
//   RTCRtpSender.setParameters (maxBitrate, scaleResolutionDownBy, maxFramerate); `stills`
//   by sending a canvas that is redrawn from the camera every few seconds (captureStream(0)
//   and requestFrame); `audio` by switching video sending off (encodings[0].active = false).
//   Audio comes first in every mode: Opus keeps its in-band FEC (Chrome offers
//   useinbandfec=1), its maxBitrate follows the mode, and at 16 kbit/s it moves to 60 ms
//   packets. Chromium 156 ignores a `ptime` in setParameters but honours `a=ptime` in the
//   remote description (measured: 50 → 16.7 packets/s), so the session marks the remote
//   descriptions it applies and renegotiates once when the packet time changes.
// * If signaling has been unreachable for more than 5 s while media is degraded, we drop
//   to `audio` on our own, and say so (`fb: true`) in the next report once we are back.
//
// No words of its own: the screens listen for the session's 'change' events (`quality`,
// `hint`, `phone`) and say things in their language.

const GOOD_INTERVAL_MS = 1500;
const WEAK_INTERVAL_MS = 5000;
const OFFLINE_FALLBACK_MS = 5000;
const CHECK_MS = 500;
const LADDER = ['audio', 'stills', 'low', 'sd', 'hd'];

export const rung = (mode) => LADDER.indexOf(mode);

// `a=ptime:<ms>` in every audio section of a description (replacing one that is there).
export function withPtime(sdp, ms) {
  const sections = sdp.split(/(?=^m=)/m);
  return sections
    .map((section) => {
      if (!section.startsWith('m=audio')) return section;
      const lines = section.split('\r\n').filter((line) => !/^a=(max)?ptime:/.test(line));
      const at = lines.findIndex((line) => line === '');
      const extra = [`a=ptime:${ms}`];
      if (at >= 0) lines.splice(at, 0, ...extra);
      else lines.push(...extra);
      return lines.join('\r\n');
    })
    .join('');
}

export class QualityAgent {
  constructor(session) {
    this.session = session;
    this.mode = 'sd'; // what we apply now
    this.spec = null;
    this.probe = false;
    this.previous = null; // last raw counters
    this.lastReportAt = 0;
    this.offlineSince = null;
    this.unackedSince = null; // the oldest report the server has not acknowledged
    this.fellBack = false; // dropped to audio on our own; told the server yet?
    this.stillCanvas = null;
    this.stillTrack = null;
    this.stillTimer = null;
    this.timer = null;
    this.weak = false;
    this.last = null; // our last measurement
    this.modes = new Map(); // participant id -> {mode, probe, pinned}
    this.hints = new Map(); // participant id -> reason
    this.phone = null;
    this.saverOn = false;
    this.ptime = 20;
    this.enabled = true;
  }

  start() {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.beat(), CHECK_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.stopStills();
  }

  // From the server ------------------------------------------------------------------------

  // The mode to start in, before the first report: the first seconds at full rate would
  // fill a weak link's queue before any report could say so. None: the service sets no
  // modes (its controller is off) and the browser adapts on its own.
  onWelcome(start) {
    this.enabled = Boolean(start);
    if (start && !this.spec) {
      this.mode = start.mode;
      this.spec = start.spec;
    }
  }

  onMode({ mode, spec, probe }) {
    if (!this.enabled) return;
    this.apply(mode, spec, probe);
  }

  onQuality(data) {
    this.modes.set(data.participant_id, data);
    this.session.changed('quality', data);
  }

  onHint(data) {
    this.hints.set(data.about, data.reason);
    this.session.changed('hint', data);
  }

  onPhone(data) {
    this.phone = data;
    this.session.changed('phone', data);
  }

  // Measuring and reporting -----------------------------------------------------------------

  peer() {
    for (const peer of this.session.peers.values()) if (peer.pc) return peer;
    return null;
  }

  async measure(pc) {
    const stats = await pc.getStats();
    const raw = {
      at: performance.now(),
      framesSent: 0,
      framesDecoded: 0,
      frozen: 0,
      concealed: 0,
      silentConcealed: 0,
      samples: 0,
      bw: null,
      rtt: null,
      pairId: null,
      loss: [],
      jitter: [],
    };
    stats.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') raw.framesSent += s.framesSent || 0;
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        raw.framesDecoded += s.framesDecoded || 0;
        raw.frozen += s.totalFreezesDuration || 0;
      }
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        raw.concealed += s.concealedSamples || 0;
        raw.silentConcealed += s.silentConcealedSamples || 0;
        raw.samples += s.totalSamplesReceived || 0;
      }
      if (s.type === 'remote-inbound-rtp') {
        if (typeof s.fractionLost === 'number') raw.loss.push(s.fractionLost);
        if (typeof s.jitter === 'number') raw.jitter.push(s.jitter * 1000);
        if (typeof s.roundTripTime === 'number' && raw.rtt === null) raw.rtt = s.roundTripTime * 1000;
      }
      if (s.type === 'transport' && s.selectedCandidatePairId) raw.pairId = s.selectedCandidatePairId;
    });
    // The selected pair: the estimate and round trip of the path media takes now.
    let pair = raw.pairId ? stats.get(raw.pairId) : null;
    if (!pair) {
      stats.forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
      });
    }
    if (pair) {
      if (typeof pair.availableOutgoingBitrate === 'number') raw.bw = pair.availableOutgoingBitrate / 1000;
      if (typeof pair.currentRoundTripTime === 'number') raw.rtt = pair.currentRoundTripTime * 1000;
    }
    return raw;
  }

  async report() {
    const peer = this.peer();
    if (!peer || !peer.pc || !this.enabled) return;
    let raw;
    try {
      raw = await this.measure(peer.pc);
    } catch {
      return;
    }
    const before = this.previous;
    this.previous = raw;
    if (!before) return;
    const seconds = (raw.at - before.at) / 1000;
    if (seconds <= 0.2) return;
    const samples = raw.samples - before.samples;
    const concealed = raw.concealed - before.concealed - (raw.silentConcealed - before.silentConcealed);
    const report = {
      i: Math.round(seconds * 100) / 100,
      loss: raw.loss.length ? Math.min(1, Math.max(...raw.loss)) : 0,
      jit: raw.jitter.length ? Math.round(Math.max(...raw.jitter)) : 0,
      fs: Math.max(0, raw.framesSent - before.framesSent),
      fd: Math.max(0, raw.framesDecoded - before.framesDecoded),
      frz: Math.max(0, Math.min(seconds, raw.frozen - before.frozen)),
      // Concealment while playout starts is not loss: only once sound was already arriving.
      cc: samples > 0 && before.samples > 0 ? Math.max(0, Math.min(1, concealed / samples)) : 0,
      m: this.mode,
    };
    if (raw.bw !== null) report.bw = Math.round(raw.bw);
    if (raw.rtt !== null) report.rtt = Math.round(raw.rtt);
    if (this.fellBack) report.fb = true;
    this.last = report;
    this.weak = rung(this.mode) <= rung('low') || (report.rtt || 0) > 600 || report.loss > 0.1;
    if (this.unackedSince === null) this.unackedSince = performance.now();
    try {
      const ack = await this.session.send('stats', report);
      this.unackedSince = null;
      if (ack && ack.ok && report.fb) this.fellBack = false;
    } catch {
      // offline, or no answer in time: the next beat tries again
    }
  }

  degraded() {
    const last = this.last;
    if (rung(this.mode) <= rung('low')) return true;
    if (!last) return false;
    return last.loss > 0.1 || (last.rtt || 0) > 1000 || last.cc > 0.05 || (last.bw || 1e9) < 150;
  }

  beat() {
    const session = this.session;
    if (session.phase !== 'in_call' || !this.enabled) {
      this.offlineSince = null;
      return;
    }
    const now = performance.now();
    // Unreachable: the socket is down, or it hangs (reports go unanswered).
    const hanging = this.unackedSince !== null && now - this.unackedSince > OFFLINE_FALLBACK_MS;
    if (!session.online || hanging) {
      if (this.offlineSince === null) this.offlineSince = hanging ? this.unackedSince : now;
      if (now - this.offlineSince > OFFLINE_FALLBACK_MS && this.mode !== 'audio' && this.degraded()) {
        this.fellBack = true;
        this.apply('audio', { video_kbps: 0, audio_kbps: 16, ptime_ms: 60 }, false);
        if (session.me) this.onHint({ about: session.me.id, reason: 'outage' });
      }
    } else {
      this.offlineSince = null;
    }
    const interval = this.weak ? WEAK_INTERVAL_MS : GOOD_INTERVAL_MS;
    if (now - this.lastReportAt >= interval) {
      this.lastReportAt = now;
      this.report();
    }
  }

  // Applying a mode --------------------------------------------------------------------------

  senders(kind) {
    const out = [];
    for (const peer of this.session.peers.values()) {
      if (!peer.pc) continue;
      for (const transceiver of peer.pc.getTransceivers()) {
        if (transceiver.stopped || transceiver.currentDirection === 'stopped') continue;
        if (transceiver.receiver.track.kind === kind) out.push({ peer, sender: transceiver.sender });
      }
    }
    return out;
  }

  camera() {
    const stream = this.session.stream;
    return stream ? stream.getVideoTracks()[0] || null : null;
  }

  // A new connection (a rebuilt one after a reload) gets the mode we are in.
  reapply() {
    if (this.spec) this.apply(this.mode, this.spec, this.probe);
  }

  async apply(mode, spec, probe) {
    const previous = this.mode;
    this.mode = mode;
    this.spec = spec;
    this.probe = Boolean(probe);
    const video = spec.video_kbps || 0;
    for (const { sender } of this.senders('audio')) {
      await this.setEncoding(sender, { maxBitrate: Math.round((spec.audio_kbps || 32) * 1000) });
    }
    if (mode === 'stills') await this.startStills(spec.still_every_s || 3);
    else this.stopStills();
    for (const { sender } of this.senders('video')) {
      if (mode === 'audio') {
        await this.setEncoding(sender, { active: false });
        continue;
      }
      const track = mode === 'stills' ? this.stillTrack : this.session.outgoing('video');
      if (track && sender.track !== track) {
        try {
          await sender.replaceTrack(track);
        } catch (error) {
          console.warn('replaceTrack', error);
        }
      }
      const height = (track && track.getSettings && track.getSettings().height) || 480;
      const encoding = { active: true, maxBitrate: Math.max(8000, Math.round(video * 1000)) };
      if (mode !== 'stills') {
        encoding.scaleResolutionDownBy = Math.max(1, height / (spec.height || height));
        encoding.maxFramerate = spec.fps || 15;
      }
      await this.setEncoding(sender, encoding);
    }
    const ptime = spec.ptime_ms === 60 ? 60 : 20;
    if (ptime !== this.ptime) {
      this.ptime = ptime;
      this.session.renegotiateAll();
    }
    if (previous !== mode) this.session.changed('mode', { mode, probe: this.probe });
  }

  async setEncoding(sender, values) {
    try {
      const parameters = sender.getParameters();
      if (!parameters.encodings || !parameters.encodings.length) parameters.encodings = [{}];
      Object.assign(parameters.encodings[0], values);
      await sender.setParameters(parameters);
    } catch (error) {
      console.warn('setParameters', error);
    }
  }

  async startStills(everySeconds) {
    if (this.stillTrack) {
      this.restartStillTimer(everySeconds);
      return;
    }
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    this.stillCanvas = canvas;
    const stream = canvas.captureStream(0);
    this.stillTrack = stream.getVideoTracks()[0];
    this.video = document.createElement('video');
    this.video.muted = true;
    this.video.playsInline = true;
    const camera = this.camera();
    if (camera) {
      this.video.srcObject = new MediaStream([camera]);
      try {
        await this.video.play();
      } catch {
        // a picture of nothing is still a picture
      }
    }
    this.snap();
    this.restartStillTimer(everySeconds);
  }

  restartStillTimer(everySeconds) {
    clearInterval(this.stillTimer);
    this.stillTimer = setInterval(() => this.snap(), Math.max(1, everySeconds) * 1000);
  }

  snap() {
    const canvas = this.stillCanvas;
    if (!canvas || !this.stillTrack) return;
    const context = canvas.getContext('2d');
    try {
      context.drawImage(this.video, 0, 0, canvas.width, canvas.height);
    } catch {
      context.fillRect(0, 0, canvas.width, canvas.height);
    }
    if (this.stillTrack.requestFrame) this.stillTrack.requestFrame();
    this.session.changed('still');
  }

  stopStills() {
    clearInterval(this.stillTimer);
    this.stillTimer = null;
    if (this.stillTrack) this.stillTrack.stop();
    this.stillTrack = null;
    this.stillCanvas = null;
    if (this.video) this.video.srcObject = null;
    this.video = null;
  }

  // What the session needs: the remote description to apply, marked with our packet time.
  remoteDescription(description) {
    if (this.ptime === 20 || !description || !description.sdp) return description;
    return { type: description.type, sdp: withPtime(description.sdp, this.ptime) };
  }

  pin(participantId, mode) {
    return this.session.send('quality', { pin: { participant_id: participantId, mode } });
  }

  saver(mode) {
    return this.session.send('quality', mode ? { saver: mode } : { saver_off: true });
  }
}
