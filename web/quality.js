// The fallback ladder in the browser: measure, report, and apply the mode the server sets.
//
// The browser's own congestion control stays the fast inner loop. This is the outer loop's
// hands and eyes (beeldbel/quality/model.py is its head, on the server):
//
// * Every 1.5 s (4 s once the link is weak, since reports share it; sooner, but not within
//   1.5 s of the last, when a fresh round trip is a second longer than the last reported;
//   and every 1.5 s again when the weak part of the path is the far side's: see clearLink) a
//   compact `stats` message: the outgoing bandwidth estimate, round trip, loss and jitter of
//   what we send (from the selected candidate pair and the far end's receiver reports),
//   frames sent, and of what we receive: frames decoded, seconds frozen, share of audio
//   concealed. About 100–150 bytes as JSON.
// * A `mode` from the server is applied to our senders: `hd`, `sd`, `low` with
//   RTCRtpSender.setParameters (maxBitrate, scaleResolutionDownBy, maxFramerate); `stills`
//   by sending a canvas that is redrawn from the camera every few seconds (captureStream(0)
//   and requestFrame); `audio` by switching video sending off (encodings[0].active = false
//   at once, and the video transceiver `recvonly` with the next negotiation: a sender that
//   is merely inactive still carries the congestion control's padding; see `direction`).
//   Audio comes first in every mode: Opus keeps its in-band FEC (Chrome offers
//   useinbandfec=1), its maxBitrate follows the mode, and from `sd` down it moves to 60 ms
//   packets. Chromium 156 ignores a `ptime` in setParameters but honours `a=ptime` in the
//   remote description (measured: 50 → 16.7 packets/s), so the session marks the remote
//   descriptions it applies, and when the marks change it applies the one it holds again,
//   marked anew, on the spot (CallSession.remark: no round over a flooded link). Where
//   video moves, audio is sent as RED (RFC 2198: each packet carries the one before, so
//   a single loss is not heard; Opus adds its own FEC only above ~21 kbit/s and only for
//   speech): Chrome negotiates `audio/red` and sends whichever codec comes first in the
//   description it applies, so the same marking puts RED or Opus first.
// * If signaling has been unreachable for more than 5 s while media is degraded, we drop
//   to `audio` on our own, and say so (`fb: true`) in the next report once we are back; so
//   too, where video moves, when a report has waited 2 s for its answer (our own link's
//   queue holds it, and the server's modes wait in that queue too).
//
// No words of its own: the screens listen for the session's 'change' events (`quality`,
// `hint`, `phone`) and say things in their language.

const GOOD_INTERVAL_MS = 1500;
const WEAK_INTERVAL_MS = 4000; // ~150 bytes: under 200 bytes per 5 s
const OFFLINE_FALLBACK_MS = 5000;
const FLOOD_ACK_MS = 2000; // see beat
const CLEAR_ACK_MS = 200; // see clearLink
const ACKS = 3;
const CHECK_MS = 500;
const STILL_KEEPALIVE_MS = 1000;
const START_KBPS = 32; // see withBitrates
const QUIET_AFTER_MS = 5000; // see direction
const STALE_VOICE_MS = 300; // see watchPlayout
const STALE_QUIET_MS = 200; // ... where the far side sends the voice only
const DROP_EVERY_MS = 10000;
const BURST_VOICE_MS = 500;
const BURST_DROP_EVERY_MS = 3000;
const PLAYOUT_CHECK_MS = 1000;
const RTT_FRESH_MS = 4000; // Chrome checks a steady pair every 2.5 s
const RTT_STEADY_MS = 120;
const RTT_JUMP_MS = 1000; // see watchPlayout
const COLLAPSED_SHARE = 0.25; // ...and the server's AUDIO_COLLAPSED
const COLLAPSE_MIN_SAMPLES = 24000; // half a second of voice at 48 kHz
// `audio` as a page falls back to it when the service sent no fallback specs (onWelcome)
const AUDIO_FALLBACK = { video_kbps: 0, audio_kbps: 16, ptime_ms: 60, max_kbps: 26 };
const WAIT_STEADY_MS = 50;
const RTT_BASE_MS = 30000;
const RECLAIMS = 4; // see reclaims
const RECLAIM_WINDOW_MS = 30000;
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

// The audio section's payload types reordered so that we send RED (`on`) or plain Opus:
// the first codec of the description we apply is the one we send. A description without
// `red/48000` (a peer that does not offer it) is left alone.
export function withRed(sdp, on) {
  const sections = sdp.split(/(?=^m=)/m);
  return sections
    .map((section) => {
      if (!section.startsWith('m=audio')) return section;
      const red = (section.match(/^a=rtpmap:(\d+) red\/48000/m) || [])[1];
      const opus = (section.match(/^a=rtpmap:(\d+) opus\/48000/m) || [])[1];
      if (!red || !opus) return section;
      const first = on ? red : opus;
      return section.replace(/^(m=audio \S+ \S+) (.*)$/m, (line, head, types) => {
        const rest = types.split(' ').filter((pt) => pt !== first);
        return `${head} ${[first, ...rest].join(' ')}`;
      });
    })
    .join('');
}

// The RTP header extensions libwebrtc's congestion control works with (transport-wide
// sequence numbers, abs-send-time), and its feedback.
const BWE_LINE =
  /^a=(extmap:\d+(\/\w+)? (http:\/\/www\.ietf\.org\/id\/draft-holmer-rmcat-transport-wide-cc-extensions-01|http:\/\/www\.webrtc\.org\/experiments\/rtp-hdrext\/abs-send-time)|rtcp-fb:\d+ transport-cc)\s*$/;

// The audio sections of a description without those extensions: the voice we send then
// carries none of them, and a stream without them cannot carry the congestion control's
// probes. With the video transceiver `recvonly` (our `audio` mode), Chrome padded its voice
// stream instead: on the emulator's worst profile (32 kbit/s up) 15-25 kbit/s of padding for
// 2-6 s every 10-40 s, on top of 23 kbit/s of voice, each burst a queue the far side's
// jitter buffer then kept for half a minute (300-690 ms). Only our sending changes: what we
// receive is governed by our own description.
export function withoutProbes(sdp) {
  return inSections(sdp, 'audio', (line) => (BWE_LINE.test(line) ? null : line));
}

// `sdp` with every line of its `kind` (audio, video) sections passed through `change`: the
// line to write in its place, or null to leave it out.
function inSections(sdp, kind, change) {
  return sdp
    .split(/(?=^m=)/m)
    .map((section) => {
      if (!section.startsWith(`m=${kind}`)) return section;
      return section
        .split('\r\n')
        .map(change)
        .filter((line) => line !== null)
        .join('\r\n');
    })
    .join('');
}

// An answer to our offer whose video section we now only receive (`recvonly`, our quiet
// `audio`: see direction), as if the far side had answered that offer: what it sends stays,
// and what it would receive from us goes (sendrecv to sendonly, recvonly to inactive). So
// turning quiet, and back, needs no round over the network (see CallSession.remark): the
// far side goes on as it was, and our video sender, inactive in `audio` anyway, is gone.
export function withVideoReceivedOnly(sdp) {
  const turned = { 'a=sendrecv': 'a=sendonly', 'a=recvonly': 'a=inactive' };
  return inSections(sdp, 'video', (line) => turned[line] || line);
}

// The browser's congestion control starts from `startKbps` and, on the rungs without moving
// video, is held to `maxKbps`, the rung's need (x-google-start-bitrate and
// x-google-max-bitrate on every video codec of the description we apply: Chrome takes them
// from the codec it sends with, whether video is sent or not; and b=AS/b=TIAS on the video
// section; Chrome keeps the second). From its default start of 300 kbit/s it
// probes the link at 3 and 6 times that as soon as media flows, and while it sends less than
// it may it pads up towards its estimate now and then: on the emulator's worst profile
// (32 kbit/s up) 40 kB at once, then a few kB every half minute, each a queue ahead of the
// voice that the far side's jitter buffer keeps for tens of seconds. Measured on Chromium
// 156: the start takes on both sides; the cap only on the side that made the last offer,
// whether the answering side finds it in the offer it applies or in its own answer, and
// whether as x-google-max-bitrate, b=TIAS or b=AS: so a capped page that has just answered
// makes the next offer itself (see reclaims).
export function withBitrates(sdp, startKbps, maxKbps) {
  const sections = sdp.split(/(?=^m=)/m);
  return sections
    .map((section) => {
      if (!section.startsWith('m=video')) return section;
      const lines = section.split('\r\n').filter((line) => !/^b=(AS|TIAS):/.test(line));
      if (maxKbps) {
        // b=AS / b=TIAS: the sender's bandwidth limit, taken from the remote description
        // whichever side offered (libwebrtc's max_bandwidth_bps); x-google-max-bitrate
        // below takes only on the offering side.
        const at = lines.findIndex((line) => line.startsWith('c='));
        lines.splice(at >= 0 ? at + 1 : 1, 0, `b=AS:${maxKbps}`, `b=TIAS:${maxKbps * 1000}`);
      }
      const codecs = [];
      for (const line of lines) {
        const m = line.match(/^a=rtpmap:(\d+) ([^/]+)\//);
        if (m && !/^(rtx|red|ulpfec|flexfec-03)$/i.test(m[2])) codecs.push(m[1]);
      }
      const params = [`x-google-start-bitrate=${startKbps}`];
      if (maxKbps) params.push(`x-google-max-bitrate=${maxKbps}`);
      for (const pt of codecs) {
        const at = lines.findIndex((line) => line.startsWith(`a=fmtp:${pt} `));
        if (at >= 0) {
          const kept = lines[at].replace(/;?x-google-(start|max)-bitrate=\d+/g, '');
          lines[at] = `${kept};${params.join(';')}`;
        } else {
          const map = lines.findIndex((line) => line.startsWith(`a=rtpmap:${pt} `));
          lines.splice(map + 1, 0, `a=fmtp:${pt} ${params.join(';')}`);
        }
      }
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
    this.acks = []; // how long the service took to answer our last ACKS reports (ms)
    this.fellBack = false; // went down on our own (fallBack); told the server yet?
    this.heardShare = null; // the far side's voice missing over the last check (watchPlayout)
    this.fallbacks = {}; // mode -> spec of the rungs we may go down to on our own (onWelcome)
    this.stillCanvas = null;
    this.stillTrack = null;
    this.stillTimer = null;
    this.timer = null;
    this.weak = false;
    this.measured = false; // a report with a round trip has gone out
    this.last = null; // our last measurement
    this.modes = new Map(); // participant id -> {mode, probe, pinned}
    this.hints = new Map(); // participant id -> reason
    this.phone = null;
    this.saverOn = false;
    this.ptime = 20;
    this.red = false; // each voice packet carries the one before it (see withRed)
    this.maxKbps = 0; // the congestion control's cap (see withBitrates); 0: none
    this.committed = null; // the spec of the last mode that was not a probe
    this.enabled = true;
    this.placed = false; // the service has set a mode (see reclaims)
    this.playout = null; // the voice's jitter buffer counters at the last check (watchPlayout)
    this.waits = null; // how long the voice waited in it over the last check's second
    this.reportSoon = false; // a round trip or a collapse worth reporting before the interval is up
    this.playoutAt = 0;
    this.rtts = []; // the fresh round trips of the last RTT_BASE_MS ({ms, answers, at})
    this.droppedAt = -Infinity; // when we last dropped stale voice
    this.staleDroppedAt = -Infinity; // ... with the queue drained (not a burst)
    this.aloneSince = new Map(); // participant id -> when it last turned to the voice alone
    this.dropping = false;
    this.dropHeld = false; // a drop was due, held back by BURST_DROP_EVERY_MS only
    this.settled = false; // `audio` has stood QUIET_AFTER_MS: video recvonly (see direction)
    this.settleTimer = null;
    this.quiet = false; // the voice goes without the congestion control's extensions
  }

  start() {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.beat(), CHECK_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    clearTimeout(this.settleTimer);
    this.settleTimer = null;
    this.stopStills();
  }

  // From the server ------------------------------------------------------------------------

  // The mode to start in, before the first report: the first seconds at full rate would
  // fill a weak link's queue before any report could say so. The service answers our first
  // report with a round trip with the real start (`low` unless the round trip is 2G-long).
  // None: the service sets no modes (its controller is off) and the browser adapts alone.
  onWelcome(start) {
    this.enabled = Boolean(start);
    if (start && !this.spec) {
      this.mode = start.mode;
      this.spec = start.spec;
      this.committed = start.spec;
      // The first negotiation already carries the start's packet time and codec: no
      // renegotiation when the connection comes up (each one makes the browser probe the
      // link for bandwidth again).
      this.ptime = start.spec.ptime_ms === 60 ? 60 : 20;
      this.red = Boolean(start.spec.red);
      this.maxKbps = start.spec.max_kbps || 0;
      this.settle();
    }
    // The rungs we may go down to on our own (see fallBack), as the service defines them.
    if (start && start.fallback) this.fallbacks = start.fallback;
  }

  onMode({ mode, spec, probe }) {
    if (!this.enabled) return;
    this.placed = true;
    this.apply(mode, spec, probe);
  }

  onQuality(data) {
    const was = this.modes.get(data.participant_id);
    const alone = (m) => m && m.mode === 'audio' && !m.probe;
    // when the participant turned to sending the voice alone (see watchPlayout)
    if (alone(data) && !alone(was)) this.aloneSince.set(data.participant_id, performance.now());
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
      lost: 0, // packets the far side reported lost, all our streams (cumulative)
      sent: 0, // packets we sent on the streams it reported on (cumulative)
    };
    const sentBy = new Map();
    stats.forEach((s) => {
      if (s.type === 'outbound-rtp') sentBy.set(s.id, s.packetsSent || 0);
    });
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
        if (typeof s.packetsLost === 'number' && sentBy.has(s.localId)) {
          raw.lost += Math.max(0, s.packetsLost);
          raw.sent += sentBy.get(s.localId);
        }
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
      // With no probes and no feedback on anything we send (`quiet`), the estimate only
      // drifts upwards (measured on worst: 26 -> 708 kbit/s in 90 s): we report none.
      const fed = !this.quiet;
      if (fed && typeof pair.availableOutgoingBitrate === 'number') {
        raw.bw = pair.availableOutgoingBitrate / 1000;
      }
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
    // Loss over the interval, counted in packets over all our streams: a receiver report's
    // fractionLost covers one stream's last RTCP interval, and on the voice alone (17
    // packets a second at 60 ms) one burst of three or four lost packets reads as 25 %.
    const sent = raw.sent - before.sent;
    const lost = raw.lost - before.lost;
    // Packets that come late lower the far side's count of lost ones: that is no loss, not
    // a reason to fall back on one stream's fractionLost (on a sparse stream, stills' one
    // or two packets a second, a single loss reads 50 %).
    let loss = raw.loss.length ? Math.max(...raw.loss) : 0;
    if (sent > 0) loss = Math.max(0, lost) / sent;
    const report = {
      i: Math.round(seconds * 100) / 100,
      loss: Math.round(Math.min(1, Math.max(0, loss)) * 10000) / 10000,
      jit: raw.jitter.length ? Math.round(Math.max(...raw.jitter)) : 0,
      fs: Math.max(0, raw.framesSent - before.framesSent),
      fd: Math.max(0, raw.framesDecoded - before.framesDecoded),
      frz: Math.max(0, Math.min(seconds, raw.frozen - before.frozen)),
      // Concealment while playout starts is not loss: only once sound was already arriving.
      cc: samples > 0 && before.samples > 0 ? Math.max(0, Math.min(1, concealed / samples)) : 0,
      // ... and the share that did not arrive at all: every concealed sample, the silent ones
      // too. NetEQ fades a long gap to silence, so `cc` hardly sees voice that stopped coming
      // (on the schedule, rural to worst, the worker's page counted 50-100 % of the client's
      // voice concealed, silent included, for 3 s, and the server's rule for media that has
      // stopped, at 50 % of `cc`, never fired). The far side's silence is still sent (a muted
      // track sends silent frames), so none of it is missing here.
      m: this.mode,
    };
    const missing = raw.concealed - before.concealed;
    if (samples > 0 && before.samples > 0 && missing > 0) {
      report.gone = Math.round(Math.max(0, Math.min(1, missing / samples)) * 100) / 100;
    }
    if (raw.bw !== null) report.bw = Math.round(raw.bw);
    if (raw.rtt !== null) report.rtt = Math.round(raw.rtt);
    if (this.fellBack) report.fb = true;
    this.last = report;
    // Reports share a weak link: every 4 s there (stills or audio, a long round trip, heavy
    // loss), every 1.5 s elsewhere. The first one goes as soon as the round trip is known:
    // it picks the start (see onWelcome).
    this.weak = (report.rtt || 0) > 600 || report.loss > 0.1;
    if (report.rtt !== undefined) this.measured = true;
    const sentAt = performance.now();
    // When the next one goes at the latest (s: our pace, checked every beat): the server takes
    // silence for an outage by it, and the first report after the round trip is known goes
    // from every 0.5 s to every 4 s.
    report.n = (this.pace(sentAt) + CHECK_MS) / 1000;
    if (this.unackedSince === null) this.unackedSince = sentAt;
    try {
      const ack = await this.session.send('stats', report);
      this.unackedSince = null;
      this.acks = [...this.acks.slice(1 - ACKS), performance.now() - sentAt];
      if (ack && ack.ok && report.fb) this.fellBack = false;
    } catch {
      // offline, or no answer in time: the next beat tries again
    }
  }

  // Stale voice. When a weak link's queue fills (a probe or a fall in capacity: on the
  // bench's schedule, rural to worst, the round trip rose to 3-5 s) the voice that waited in
  // it arrives in a burst once the queue drains, and the browser's jitter buffer (NetEQ)
  // plays all of it, late, then keeps its target delay up for half a minute: measured, the
  // worker heard the client 1.8 s late, and still 0.35 s late 22 s later, with the round
  // trip back at its 800 ms all along; and 370-780 ms late for 5-20 s after a probe on edge
  // or rural. A person cannot talk over that; voice that old is worse than none (as in
  // `pause`). So the page drops it (dropStaleVoice: the browser stops and restarts playout,
  // which empties the jitter buffer and starts its delay estimate afresh; measured, 2.7 s and
  // 0.8 s of delay fell to 33 and 34 ms at once, and stayed there) in two cases:
  // - the queue has drained, and the voice still waits more than STALE_VOICE_MS (NetEQ keeps
  //   the delay it learned from the queue; its own on edge and rural is 100-250 ms). Drained:
  //   the latest fresh round trip (younger than RTT_FRESH_MS: while a queue holds the
  //   connectivity checks back, none comes) is within RTT_STEADY_MS of the one before, or of
  //   the lowest in the last RTT_BASE_MS; or the wait stands still, within WAIT_STEADY_MS of
  //   the last check's, or falls by more than that (nothing draining into the buffer). At
  //   most once per DROP_EVERY_MS. Where the far side sends the voice only (its committed
  //   mode is `audio`), nothing competes with it on the path, and a wait above
  //   STALE_QUIET_MS is learned, not needed: on the bench's `worst` profile the voice alone
  //   waits 30 ms, yet on its schedule, after stills on `worst`, NetEQ kept 270-285 ms for
  //   15-20 s after the far side had gone to the voice only (a still of a few kB holds the
  //   voice behind it for up to a second on 32 kbit/s), most of the call's 95th percentile.
  // - the voice waits more than BURST_VOICE_MS, whatever the round trip: a burst out of a
  //   queue that is still draining, stale either way (on the schedule, rural to worst, the
  //   queue took 6-8 s to drain, and the worker's jitter buffer filled to 1.8 s meanwhile).
  // Never within BURST_DROP_EVERY_MS of the last drop: each costs a moment of sound.
  async watchPlayout() {
    const peer = this.peer();
    const pc = peer && peer.pc;
    // Also while `disconnected`: a queue of seconds holds the connectivity checks back, so
    // Chrome calls the connection down while the voice in that queue still arrives, stale
    // (on the schedule, rural to worst, the worker's voice waited 0.7-1.5 s for 4 s so).
    if (!pc || !['connected', 'disconnected'].includes(pc.connectionState)) return;
    let delay = 0;
    let count = 0;
    let total = 0;
    let concealed = 0;
    let rtt = null;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        delay += s.jitterBufferDelay || 0;
        count += s.jitterBufferEmittedCount || 0;
        total += s.totalSamplesReceived || 0;
        concealed += s.concealedSamples || 0;
      }
      const selected = s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded';
      if (selected && typeof s.currentRoundTripTime === 'number') {
        rtt = { ms: s.currentRoundTripTime * 1000, answers: s.responsesReceived };
      }
    });
    const before = this.playout;
    this.playout = { delay, count, total, concealed };
    // The far side's voice collapsing (a quarter of it missing since the last check) is the
    // first sign of a link that has fallen under what is sent, and the server steps on it
    // (beeldbel/quality/model.py AUDIO_COLLAPSED): it hears of it now, not with the next
    // report, up to 4 s later where our own link is weak. Measured on the bench's schedule,
    // rural to worst: the client heard 62-88 % of the worker's voice concealed from 80.5 s,
    // its next report went at 83 s, and the worker's sd (100 kbit/s into the client's 64)
    // went on until then; the client's voice then waited 450-730 ms for 3 s.
    // Beside our own moving video we do not wait for the server either: where the far side's
    // voice collapses, our access network has most likely fallen (the far side's own link
    // would show it only in its own reports), and the server's word would wait in the queue
    // our video fills. We go to `stills` at once and tell it (`fb`). Measured on the
    // schedule, rural to worst: the server took the client's link to stills 0.7 s after the
    // fall, and the client's page, its new mode queued behind the worker's video, went on
    // sending 71-75 kbit/s into its 32 for 1.7 s more; the queue held the voice 3.9 s. Only
    // beside the far side's moving video (as the server's rule, beeldbel/quality/model.py
    // _far_voice_fell): beside its stills or its voice alone a quarter missing in a second is
    // as likely a burst of a lossy link's own (measured on the emulator's edge profile, the
    // client in stills: the worker's page stepped out of low three times in three minutes).
    // Not while the far side probes (its probe's own doing, rolled back by the server), nor
    // when the worker has pinned our mode. No hint: whose link is weak is the server's to say.
    // A collapse is a change: the check before missed less (at the start, before the far
    // side's voice flows, it is all concealed, and nothing has fallen).
    if (before && total - before.total >= COLLAPSE_MIN_SAMPLES) {
      const share = (concealed - before.concealed) / (total - before.total);
      const was = this.heardShare;
      this.heardShare = share;
      if (share >= COLLAPSED_SHARE && was !== null && was < COLLAPSED_SHARE) {
        this.reportSoon = true;
        const theirs = this.modes.get(peer.id);
        const mine = this.session.me && this.modes.get(this.session.me.id);
        const moving = rung(this.mode) >= rung('low');
        const theirsMoving = theirs && rung(theirs.mode) >= rung('low') && !theirs.probe;
        if (moving && theirsMoving && !(mine && mine.pinned)) {
          this.fallBack('far_voice', 'stills', false);
        }
      }
    }
    // Only fresh round trips (a connectivity check answered since the last one we kept):
    // while a queue holds the checks back, the last one stays as it was.
    const now = performance.now();
    const last = this.rtts[this.rtts.length - 1];
    if (rtt && (!last || rtt.answers !== last.answers)) {
      this.rtts.push({ ...rtt, at: now });
      // A round trip a queue of seconds longer than the one we last reported: the server
      // hears of it now, not with the next report (up to 4 s later on a weak link; it takes
      // any rung to the voice alone, see beeldbel/quality/model.py FLOOD_MS). Measured on the
      // schedule, rural to worst: the worker's page read 4 s at 86 s, reported it at 88.4 s.
      const reported = this.last && this.last.rtt;
      if (reported && rtt.ms - reported >= RTT_JUMP_MS) this.reportSoon = true;
    }
    this.rtts = this.rtts.filter((r) => now - r.at < RTT_BASE_MS);
    if (!before || count <= before.count) return;
    const waits = ((delay - before.delay) / (count - before.count)) * 1000;
    const [older, newer] = this.rtts.slice(-2);
    const base = Math.min(...this.rtts.map((r) => r.ms));
    const drained =
      newer &&
      now - newer.at < RTT_FRESH_MS &&
      ((older && Math.abs(newer.ms - older.ms) < RTT_STEADY_MS) || newer.ms - base < RTT_STEADY_MS);
    // Or the wait stands still: the voice arrives as fast as it is played, so no queue is
    // draining into the buffer, and what it holds is NetEQ's own target (learned from the
    // queue's jitter). Measured on the schedule, rural to worst: the worker's voice waited
    // 310-370 ms for 5.5 s with the round trip back at its 800 ms, until two fresh round
    // trips, 2.5 s apart, agreed.
    const steady = this.waits !== null && Math.abs(waits - this.waits) < WAIT_STEADY_MS;
    // Or it falls: the burst is in, and NetEQ works off what it holds, over seconds. Measured
    // from 4g to worst: a drop 9.6 s after the fall, while the queue still drained; then the
    // voice waited 321, 566 and 445 ms (the next drop no sooner than 3 s after the last), and
    // only from 13.7 s 98 ms and less.
    const falling = this.waits !== null && this.waits - waits >= WAIT_STEADY_MS;
    this.waits = waits;
    const settled = drained || steady || falling;
    const theirs = this.modes.get(peer.id);
    const alone = theirs && theirs.mode === 'audio' && !theirs.probe;
    const staleAfter = alone ? STALE_QUIET_MS : STALE_VOICE_MS;
    // Once per DROP_EVERY_MS; but a wait learned beside the far side's pictures is no longer
    // needed once it sends the voice alone, however recent the last drop. Measured on the
    // bench's schedule, rural to worst: a drop while the client's stills still flowed, the
    // client in `audio` a moment later, and the worker's voice then waited 285-350 ms for 4 s
    // until DROP_EVERY_MS was up.
    const turned = alone && this.aloneSince.get(peer.id) > this.staleDroppedAt;
    const due = now - this.staleDroppedAt > DROP_EVERY_MS || turned;
    const stale = waits > staleAfter && settled && due;
    const burst = waits > BURST_VOICE_MS;
    const spaced = this.dropSpaced(now);
    // Held back only by the spacing: the next check comes as soon as the spacing allows (see
    // beat), not up to a second later. Measured from 4g to worst: the queue still drained
    // after a drop, and the voice waited 414 and 450 ms 1 and 2 s after it, and 320 ms at the
    // check 2.9 s after it, too soon for the next drop: none came, and 7 s passed before the
    // voice was on time again.
    this.dropHeld = (stale || burst) && !spaced;
    if ((stale || burst) && spaced && !this.dropping) {
      // Not while the session negotiates: the next check tries again.
      this.dropping = true;
      try {
        if (await this.session.dropStaleVoice(peer)) {
          this.droppedAt = performance.now(); // done: the next one at least 3 s after it
          // A burst's drop leaves the next stale one free: the queue may still be draining.
          if (stale && !burst) this.staleDroppedAt = this.droppedAt;
        }
      } finally {
        this.dropping = false;
      }
    }
  }

  // The last drop of stale voice is far enough behind for another (each costs a moment of
  // sound).
  dropSpaced(now) {
    return now - this.droppedAt > BURST_DROP_EVERY_MS;
  }

  // Down to `mode` on our own (`audio`, or `stills`: see watchPlayout), told to the server
  // with the next report that gets through (`fb`, and the mode we are in: `m`).
  fallBack(reason, mode = 'audio', hint = true) {
    const spec = this.fallbacks[mode] || (mode === 'audio' ? AUDIO_FALLBACK : null);
    if (!spec) return;
    this.fellBack = true;
    this.apply(mode, spec, false);
    if (hint && this.session.me) this.onHint({ about: this.session.me.id, reason });
  }

  degraded() {
    const last = this.last;
    if (rung(this.mode) <= rung('low')) return true;
    if (!last) return false;
    return last.loss > 0.1 || (last.rtt || 0) > 1000 || last.cc > 0.05 || (last.bw || 1e9) < 150;
  }

  // Our reports share our own link only. The media's figures are the whole path's: the
  // worker's page goes to `stills` and sees the long round trip because the client's link is
  // weak, while its reports reach the service over its own good one. Holding them to 4 s
  // there only delays what the server most needs: how the client's voice arrives (on the
  // bench's schedule the worker's report of the client's voice breaking up came 4.5 s after
  // the one before, and only then did the client's link step down). So the link is clear
  // when the service answered our last reports (up to ACKS) within CLEAR_ACK_MS and within
  // half the media's round trip (the far side holds the rest of it), and nothing is waiting
  // longer.
  // A page whose own link is the weak one hears back no sooner than that link's round trip
  // (300-800 ms on 2G-class links; seconds once a queue fills), and keeps to 4 s.
  clearLink(now) {
    if (!this.acks.length) return false;
    if (this.unackedSince !== null && now - this.unackedSince > CLEAR_ACK_MS) return false;
    const slowest = Math.max(...this.acks);
    const media = (this.last && this.last.rtt) || 0;
    return slowest < CLEAR_ACK_MS && slowest * 2 <= media;
  }

  // How far apart our reports go now (ms): see report.
  pace(now) {
    const weak = (this.weak || rung(this.mode) <= rung('stills')) && !this.clearLink(now);
    return !this.measured ? CHECK_MS : weak ? WEAK_INTERVAL_MS : GOOD_INTERVAL_MS;
  }

  beat() {
    const session = this.session;
    if (session.phase !== 'in_call' || !this.enabled) {
      this.offlineSince = null;
      return;
    }
    const now = performance.now();
    // Unreachable: the socket is down, or it hangs (reports go unanswered).
    const unanswered = this.unackedSince === null ? 0 : now - this.unackedSince;
    const hanging = unanswered > OFFLINE_FALLBACK_MS;
    if (!session.online || hanging) {
      if (this.offlineSince === null) this.offlineSince = hanging ? this.unackedSince : now;
      if (now - this.offlineSince > OFFLINE_FALLBACK_MS && this.degraded()) {
        if (this.mode !== 'audio') this.fallBack('outage');
        // Gone, not merely queued: say so if a flood's fallback (below) came first.
        else if (this.fellBack && session.me && this.hints.get(session.me.id) !== 'outage') {
          this.onHint({ about: session.me.id, reason: 'outage' });
        }
      }
    } else {
      this.offlineSince = null;
      // Our own link floods: a report still unanswered after FLOOD_ACK_MS waits in a queue of
      // seconds (a 2G-class link's round trip is 0.3-1 s), and so does every mode the server
      // sends us. We do not wait for it: every second of video more is a second the voice
      // waits. Measured on the bench's schedule, rural to worst, with the client's signaling
      // on the emulated link: the server took the client's link to audio 2 s after the fall,
      // and the client's page went on sending 60-70 kbit/s into its 32 for 2-4 s more.
      // Only where video moves: a still every few seconds cannot flood a link, and an answer
      // waits that long on a lossy one too (measured on the emulator's edge profile, the
      // client in `stills`: its signaling, TCP over 3 % bursty loss and a 500 ms round trip,
      // went 2 s unanswered while its voice arrived whole; falling back cost a 28 s picture
      // gap). There the 5 s rule above stands.
      const moving = rung(this.mode) >= rung('low');
      if (unanswered > FLOOD_ACK_MS && moving && this.degraded()) {
        this.fallBack('weak_uplink');
      }
    }
    const held = this.dropHeld && this.dropSpaced(now);
    if (now - this.playoutAt >= PLAYOUT_CHECK_MS || held) {
      this.dropHeld = false;
      this.playoutAt = now;
      this.watchPlayout().catch(() => {});
    }
    const interval = this.pace(now);
    const soon = this.reportSoon && now - this.lastReportAt >= GOOD_INTERVAL_MS;
    if (now - this.lastReportAt >= interval || soon) {
      this.reportSoon = false;
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
        if (transceiver.receiver.track.kind !== kind) continue;
        out.push({ peer, sender: transceiver.sender, transceiver });
      }
    }
    return out;
  }

  // What our transceivers of `kind` want. In `audio` no video is sent at all: once `audio`
  // has stood QUIET_AFTER_MS, the video transceiver turns `recvonly`. A video sender that is
  // only switched off (active: false) still carries the congestion control's probes:
  // measured on the emulator's worst profile (32 kbit/s up), the client's page in `audio`
  // sent 15-25 kbit/s of padding on its video stream (its RTP header bytes) for 2-6 s every
  // 10-40 s, whenever loss had knocked its estimate down, and each burst queued the voice
  // for a second and left the worker's jitter buffer at 300-690 ms for half a minute.
  // Without a video sender there is nothing to pad. Not at once: every call starts in
  // `audio` until its first round trip picks the start, and a start negotiated without a
  // video sender leaves the congestion control's start-up probes nothing to ride on.
  direction(kind) {
    const quiet = this.enabled && this.spec && this.mode === 'audio' && this.settled;
    return kind === 'video' && quiet ? 'recvonly' : 'sendrecv';
  }

  // In `audio`, turn quiet once it has stood QUIET_AFTER_MS; out of it, at once not.
  settle() {
    if (this.mode !== 'audio') {
      clearTimeout(this.settleTimer);
      this.settleTimer = null;
      this.settled = false;
      return;
    }
    if (this.settled || this.settleTimer) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      if (this.mode !== 'audio') return;
      this.settled = true;
      this.reapply();
    }, QUIET_AFTER_MS);
  }

  camera() {
    const stream = this.session.stream;
    return stream ? stream.getVideoTracks()[0] || null : null;
  }

  // The connection to `peer` is down (`disconnected`, `failed`). Chrome then stops writing
  // to it and keeps what it encodes meanwhile in its pacer's queue, which it sends at once
  // when the connection is back: after the bench's 10 s outage the worker's page sent 5.5 kB
  // of voice within half a second, and the client's jitter buffer held 3 s of it for 20 s.
  // Voice that old is worse than none, so while the connection is down our senders stop (the
  // queued packets of a stopped stream are dropped), and `reapply` starts them again once it
  // is connected. Nothing that could still get through is lost: Chrome says `disconnected`
  // only once its connectivity checks have gone unanswered for seconds.
  async pause(peer) {
    peer.paused = true;
    if (!this.enabled || !peer.pc) return;
    for (const { peer: owner, sender } of [...this.senders('audio'), ...this.senders('video')]) {
      if (owner === peer) await this.setEncoding(sender, { active: false });
    }
  }

  // A new connection (a rebuilt one after a reload) gets the mode we are in.
  reapply() {
    if (this.spec) this.apply(this.mode, this.spec, this.probe);
  }

  async apply(mode, spec, probe) {
    const previous = this.mode;
    // A probe tries the higher rung's rates in the picture size of the rung we hold: a new
    // size starts with a key frame (640x480: 10-20 kB, a second of queue on a 128 kbit/s
    // uplink), and a probe that fails would pay for two of them.
    const held = probe ? this.committed : null;
    if (!probe) this.committed = spec;
    this.mode = mode;
    this.spec = spec;
    this.probe = Boolean(probe);
    this.settle();
    // What the descriptions we apply are marked with (remoteDescription), from now on: an
    // answer on its way, or an offer, may come in before our senders are set. Where only the
    // marks change they are applied on the spot, before anything else can be (remark).
    const ptime = spec.ptime_ms === 60 ? 60 : 20;
    const red = Boolean(spec.red);
    const maxKbps = spec.max_kbps || 0;
    const quiet = this.direction('video') === 'recvonly'; // nothing but the voice: no probes on it
    const marked =
      ptime !== this.ptime || red !== this.red || maxKbps !== this.maxKbps || quiet !== this.quiet;
    let turned = false;
    for (const { transceiver } of this.senders('video')) {
      if (transceiver.direction !== this.direction('video')) {
        transceiver.direction = this.direction('video');
        turned = true;
      }
    }
    Object.assign(this, { ptime, red, maxKbps, quiet });
    // A new direction too is applied on the spot, on our side only: the far side need not
    // know, and over a flooded link a round would cross it twice, some 5 kB each way (on the
    // bench's schedule, rural to worst, the worker's page turning quiet 5 s after the fall sent
    // an offer the client answered and then followed with an offer of its own for its cap,
    // 10 kB of it into a 32 kbit/s uplink that was still draining). Queued before Chrome's
    // negotiationneeded for it fires (see CallSession.makePc).
    if (marked || turned) this.session.remarkAll();
    const video = spec.video_kbps || 0;
    for (const { peer, sender } of this.senders('audio')) {
      const maxBitrate = Math.round((spec.audio_kbps || 32) * 1000);
      await this.setEncoding(sender, { active: !peer.paused, maxBitrate });
    }
    if (mode === 'stills') await this.startStills(spec.still_every_s || 3);
    else this.stopStills();
    for (const { peer, sender } of this.senders('video')) {
      if (mode === 'audio' || peer.paused) {
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
      // The still canvas has the size of a still; the camera is scaled to the mode's (in a
      // probe, to the held rung's if it moved too).
      const shape = held && held.fps && mode !== 'stills' ? held : spec;
      encoding.scaleResolutionDownBy = Math.max(1, height / (shape.height || height));
      if (mode !== 'stills') encoding.maxFramerate = spec.fps || 15;
      await this.setEncoding(sender, encoding);
    }
    if (previous !== mode) this.session.changed('mode', { mode, probe: this.probe });
  }

  // What a new sender starts with, before the first media: the mode we are in, so that
  // the first frames (a keyframe at the browser's own start rate) do not fill a weak link.
  // It says `active` too: the answering side applies it to its senders on every offer, and
  // an answer's setEncoding that read the parameters before our `apply` set them and wrote
  // them after would leave the sender as the mode before had it. Once on edge the client
  // sent no picture for 16 s after going from audio to stills at the call's start; this is
  // the one way we found for that. `paused`: the connection is down (see pause).
  encoding(kind, paused = false) {
    const spec = this.spec;
    if (!spec || !this.enabled) return {};
    const active = !paused;
    if (kind === 'audio') return { active, maxBitrate: Math.round((spec.audio_kbps || 32) * 1000) };
    if (this.mode === 'audio') return { active: false };
    const encoding = {
      active,
      maxBitrate: Math.max(8000, Math.round((spec.video_kbps || 0) * 1000)),
    };
    if (this.mode === 'stills') Object.assign(encoding, { scaleResolutionDownBy: 2, maxFramerate: 1 });
    else if (spec.fps) encoding.maxFramerate = spec.fps;
    return encoding;
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

  // A fresh picture every few seconds, and the same picture again every second in between:
  // an unchanged frame costs a few dozen bytes, and an encoder that gets no frame for 2 s
  // counts as idle, so that each still would wake it and make the browser's congestion
  // control probe the link with a burst of padding (measured on the emulator's worst
  // profile: a queue of 1-2 s behind each still).
  restartStillTimer(everySeconds) {
    clearInterval(this.stillTimer);
    const every = Math.max(1, everySeconds) * 1000;
    this.stillAt = performance.now();
    this.stillTimer = setInterval(() => {
      const fresh = performance.now() - this.stillAt >= every - 100;
      if (fresh) this.stillAt = performance.now();
      this.snap(fresh);
    }, STILL_KEEPALIVE_MS);
  }

  snap(fresh = true) {
    const canvas = this.stillCanvas;
    if (!canvas || !this.stillTrack) return;
    const context = canvas.getContext('2d');
    if (fresh) {
      try {
        context.drawImage(this.video, 0, 0, canvas.width, canvas.height);
      } catch {
        context.fillRect(0, 0, canvas.width, canvas.height);
      }
    } else {
      // An unchanged canvas gives no frame: touch one corner pixel, invisibly.
      this.tick = !this.tick;
      context.fillStyle = this.tick ? 'rgb(1,1,1)' : 'rgb(0,0,0)';
      context.fillRect(0, 0, 1, 1);
    }
    if (this.stillTrack.requestFrame) this.stillTrack.requestFrame();
    if (fresh) this.session.changed('still');
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

  // Whether, having just answered `peer`'s offer, we should offer again ourselves. The
  // congestion control's cap (withBitrates) takes in Chromium 156 only on the side whose
  // remote description is an answer, that is the side that made the last offer: measured on
  // the emulator's edge profile (100 kbit/s up) in `stills`, the client's estimate stayed at
  // 53 kbit/s without padding while its remote description was the worker's answer, and
  // climbed to 64-143 kbit/s with 21-80 kbit/s of padding bursts, each a queue ahead of the
  // voice, while it was the worker's offer carrying the same lines. So a capped side that
  // answered takes the next offer itself. When both sides are capped, only the polite side
  // (the client in a 1:1 call) does, or each would answer the other's offer with one of its
  // own for ever; and at most RECLAIMS offers per RECLAIM_WINDOW_MS, in case the two sides'
  // views of each other's mode differ for a moment.
  reclaims(peer, now = performance.now()) {
    // Not before the service has set our first mode: the call's start is negotiated free for
    // the browser's start-up probes (see direction).
    if (!this.enabled || !this.maxKbps || !this.placed) return false;
    // Quiet (`audio` has stood): nothing we send can carry padding, capped or not.
    if (this.quiet) return false;
    const theirs = this.modes.get(peer.id);
    const their = theirs ? rung(theirs.mode) : -1;
    const theyCapped = their >= 0 && their <= rung('stills');
    if (theyCapped && !peer.polite) return false;
    peer.reclaimed = peer.reclaimed.filter((when) => now - when < RECLAIM_WINDOW_MS);
    if (peer.reclaimed.length >= RECLAIMS) return false;
    peer.reclaimed.push(now);
    return true;
  }

  // What the session needs: the remote description to apply, marked with our packet time.
  remoteDescription(description) {
    // The service sets no modes (its controller is off): the browser's own ways, untouched.
    if (!this.enabled || !description || !description.sdp) return description;
    let sdp = withBitrates(withRed(description.sdp, this.red), START_KBPS, this.maxKbps);
    if (this.ptime !== 20) sdp = withPtime(sdp, this.ptime);
    if (this.quiet) sdp = withoutProbes(sdp);
    if (this.quiet && description.type === 'answer') sdp = withVideoReceivedOnly(sdp);
    return { type: description.type, sdp };
  }

  pin(participantId, mode) {
    return this.session.send('quality', { pin: { participant_id: participantId, mode } });
  }

  saver(mode) {
    return this.session.send('quality', mode ? { saver: mode } : { saver_off: true });
  }
}
