// The call core, shared by the worker's call screen and the join page: the /call socket,
// one RTCPeerConnection per admitted peer, and what the screens need to know. No words of its
// own: the screens listen to 'change' events ({what}) and say things in their language.
//
// Negotiation. Who offers first is fixed, as for the Python test participant
// (beeldbel/media/participant.py): the worker offers to everyone else; between two people of
// one role the smaller participant id offers. Later renegotiation (an ICE restart, a new
// device) is perfect negotiation: the first offerer is impolite, the other side polite (it
// rolls its own offer back when both offer at once). ICE candidates trickle through
// `signal` messages. The offer carries an audio and a video transceiver in that order; the
// answering side puts its tracks on the offered transceivers, so it never offers by itself
// before the first exchange. After that, a page whose ladder rung caps its congestion
// control offers again once it has answered: the cap holds only on the side that made the
// last offer (QualityAgent.reclaims). When only the ladder's marks on the descriptions we
// apply change, the page applies the remote description it holds again (remark): nothing
// goes over the network for it.
//
// Recovery. A socket that drops is reconnected with backoff (0.5 s doubling to 8 s, and at
// once when the browser says it is online again) with a fresh token from `auth()`, for ever,
// until the call ends or the person leaves; media keeps flowing meanwhile, since it does not
// pass the server. ICE restarts on `failed` at once, on
// `disconnected` after 3 s (the polite side waits 4 s longer, so usually only one side
// restarts); each restart first fetches fresh ICE servers (`ice` message) and applies them
// with setConfiguration. A peer that comes back into the call (after a drop or a reload) gets
// an ICE restart from its offerer; a description whose DTLS fingerprint differs from the
// one we know comes from a fresh page, and its connection is rebuilt.

import { QualityAgent } from './quality.js';
import { CallSocket } from './socket.js';

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000]; // then every 8 s (with jitter)
const DISCONNECTED_MS = 1500; // `disconnected` may heal by itself; Chrome reports it only after ~6 s of silence
const POLITE_EXTRA_MS = 4000;
const RESTART_RETRY_MS = 8000;
const KICKED_AGAIN_MS = 60000; // the server closed us twice within this: opened elsewhere
// Refusals at connect that a new attempt cannot change.
const RETRYABLE = new Set(['unauthenticated', 'unavailable', 'rate_limited', 'internal']);

export function offersTo(me, other) {
  const mine = me.role === 'worker';
  const theirs = other.role === 'worker';
  if (mine !== theirs) return mine;
  return String(me.id) < String(other.participant_id);
}

export function fingerprintOf(sdp) {
  const found = /^a=fingerprint:(.+)$/m.exec(sdp || '');
  return found ? found[1].trim() : null;
}

const SENDS = { sendrecv: [true, true], sendonly: [true, false], recvonly: [false, true] };
const directionFrom = (send, recv) =>
  send ? (recv ? 'sendrecv' : 'sendonly') : recv ? 'recvonly' : 'inactive';

// The direction of the media section `mid` in `sdp` (undefined if there is none).
export function directionIn(sdp, mid) {
  const section = sdp
    .split(/(?=^m=)/m)
    .find((s) => s.startsWith('m=') && s.split('\r\n').includes(`a=mid:${mid}`));
  return section && (section.match(/^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m) || [])[1];
}

// Whether the descriptions in place carry every transceiver's direction: our offer as it is
// set, or our answer as set against what was offered (JSEP 5.3.1). Then a negotiationneeded
// asks for nothing a round would bring.
export function directionsInPlace(pc) {
  const local = pc.currentLocalDescription;
  const remote = pc.currentRemoteDescription;
  if (!local || !remote || pc.signalingState !== 'stable') return false;
  return pc.getTransceivers().every((t) => {
    if (t.stopped || t.mid === null) return false;
    const ours = directionIn(local.sdp, t.mid);
    if (local.type === 'offer') return ours === t.direction;
    const offered = directionIn(remote.sdp, t.mid);
    if (!offered) return false;
    const [send, recv] = SENDS[t.direction] || [false, false];
    const [theySend, theyReceive] = SENDS[offered] || [false, false];
    return ours === directionFrom(send && theyReceive, recv && theySend);
  });
}

// The selected candidate pair of a connection: its candidate types and the media path.
export async function selectedPair(pc) {
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((report) => {
    if (report.type === 'transport' && report.selectedCandidatePairId) {
      pair = stats.get(report.selectedCandidatePairId) || pair;
    }
  });
  if (!pair) {
    stats.forEach((report) => {
      if (report.type === 'candidate-pair' && report.nominated && report.state === 'succeeded') {
        pair = report;
      }
    });
  }
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  if (!local || !remote) return null;
  const relayed = local.candidateType === 'relay' || remote.candidateType === 'relay';
  return {
    local: local.candidateType,
    remote: remote.candidateType,
    path: relayed ? 'relay' : 'direct',
  };
}

export class CallSession extends EventTarget {
  // auth(): a Promise of the connect payload ({appointment_id, join_token | access_token});
  // it rejects with {refusal: {code, reason}} when there is no point in trying again.
  // waitIfEarly: a waiting room that is not open yet is waited for (the join page, whose
  // clock said it was open), rather than refused (the worker, who is told so).
  constructor({ appointmentId, auth, stream = null, waitIfEarly = false }) {
    super();
    this.appointmentId = appointmentId;
    this.auth = auth;
    this.waitIfEarly = waitIfEarly;
    this.stream = stream;
    this.screenTrack = null;
    this.phase = 'idle'; // connecting | waiting | in_call | ended | left | refused | elsewhere
    this.online = false; // the socket is connected
    this.reconnecting = false;
    this.me = null; // {id, role}
    this.call = null; // the last snapshot
    this.ice = { iceServers: [], iceTransportPolicy: 'all' };
    this.peers = new Map(); // participant id -> peer
    this.chat = []; // {from, text, at}
    this.media = new Map(); // participant id -> {audio, video, screen}
    this.sending = { audio: true, video: true, screen: false };
    this.refusal = null;
    this.socket = null;
    this.attempt = 0;
    this.unauthenticated = 0;
    this.retryTimer = null;
    this.kickedAt = 0;
    this.nextId = 1;
    this.stopped = false;
    this.onOnline = null;
    this.connecting = false;
    this.quality = new QualityAgent(this);
  }

  changed(what, data = null) {
    this.dispatchEvent(new CustomEvent('change', { detail: { what, data } }));
  }

  seat(id) {
    const seats = (this.call && this.call.seats) || [];
    return seats.find((seat) => seat.participant_id === id) || null;
  }

  others() {
    const seats = (this.call && this.call.seats) || [];
    return seats.filter((seat) => !this.me || seat.participant_id !== this.me.id);
  }

  // The socket ------------------------------------------------------------------------------

  start() {
    this.stopped = false;
    this.phase = 'connecting';
    this.changed('phase');
    if (!this.onOnline) {
      // Back on the network (Wi-Fi again, out of the tunnel): try now, not at the next beat.
      this.onOnline = () => {
        if (!this.stopped && !this.online && this.reconnecting) this.connect();
      };
      window.addEventListener('online', this.onOnline);
    }
    this.connect();
  }

  // One attempt at a time.
  async connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped || this.connecting) return;
    this.connecting = true;
    try {
      await this.tryOnce();
    } finally {
      this.connecting = false;
    }
  }

  async tryOnce() {
    let auth;
    try {
      auth = await this.auth();
    } catch (error) {
      if (this.stopped) return;
      if (error && error.refusal) this.refuse(error.refusal);
      else this.retryLater();
      return;
    }
    if (this.stopped) return;
    const socket = new CallSocket();
    this.bind(socket);
    this.socket = socket;
    try {
      await socket.connect(auth);
    } catch (error) {
      if (this.socket !== socket || this.stopped) return;
      const data = (error && error.data) || null;
      const early = data && data.details && data.details.reason === 'early';
      if (data && data.code && !RETRYABLE.has(data.code) && !(early && this.waitIfEarly)) {
        this.refuse({ code: data.code, ...(data.details || {}) });
        return;
      }
      if (data && data.code === 'unauthenticated' && ++this.unauthenticated >= 3) {
        this.refuse({ code: 'unauthenticated', ...(data.details || {}) });
        return;
      }
      this.retryLater();
      return;
    }
    if (this.socket !== socket || this.stopped) {
      socket.close();
      return;
    }
    this.attempt = 0;
    this.unauthenticated = 0;
    this.online = true;
    this.reconnecting = false;
    this.changed('connection');
    this.sendMedia();
    this.recoverPeers();
  }

  retryLater() {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), base * (0.75 + Math.random() * 0.5));
  }

  bind(socket) {
    const mine = (fn) => (data) => {
      if (this.socket === socket && !this.stopped) fn(data);
    };
    socket.on('welcome', mine((data) => this.onWelcome(data)));
    socket.on('call', mine((data) => this.onCall(data)));
    socket.on('signal', mine((data) => this.onSignal(data)));
    socket.on('cue', mine((data) => this.changed('cue', data)));
    socket.on('notice', mine((data) => this.changed('notice', data)));
    socket.on(
      'chat',
      mine((data) => {
        this.chat.push(data);
        this.changed('chat', data);
      }),
    );
    socket.on(
      'media',
      mine((data) => {
        this.media.set(data.participant_id, data);
        this.changed('media', data);
      }),
    );
    socket.on('mode', mine((data) => this.quality.onMode(data)));
    socket.on('quality', mine((data) => this.quality.onQuality(data)));
    socket.on('hint', mine((data) => this.quality.onHint(data)));
    socket.on('phone', mine((data) => this.quality.onPhone(data)));
    socket.on('disconnect', mine(({ reason }) => this.onDisconnect(reason)));
  }

  onDisconnect(reason) {
    this.online = false;
    if (reason === 'server') {
      // Another tab or device took our place (or the service restarts): once we try
      // again; closed twice in a row, we leave the call to the other screen.
      const now = Date.now();
      if (now - this.kickedAt < KICKED_AGAIN_MS) {
        this.finish('elsewhere');
        return;
      }
      this.kickedAt = now;
    }
    this.reconnecting = true;
    this.changed('connection');
    this.retryLater();
  }

  refuse(refusal) {
    this.refusal = refusal;
    this.finish(refusal.code === 'invalid_transition' ? 'ended' : 'refused');
  }

  // Ends this session here: no more reconnecting; the peers close.
  finish(phase) {
    this.stopped = true;
    this.quality.stop();
    clearTimeout(this.retryTimer);
    for (const id of [...this.peers.keys()]) this.closePeer(id);
    this.stopScreen({ quiet: true });
    if (this.socket) this.socket.close();
    this.socket = null;
    this.online = false;
    this.reconnecting = false;
    this.phase = phase;
    this.changed('phase');
  }

  send(event, payload = {}) {
    if (!this.socket || !this.online) return Promise.reject({ message: 'offline' });
    return this.socket.emit(event, { id: `m${this.nextId++}`, ...payload });
  }

  // What the server says --------------------------------------------------------------------

  onWelcome(data) {
    this.me = { id: data.participant_id, role: data.role };
    if (data.ice) this.ice = data.ice;
    this.quality.onWelcome(data.start_mode || null);
    this.onCall(data.call);
  }

  onCall(snapshot) {
    if (!snapshot || !this.me) return;
    const before = this.call;
    const wasIn = this.phase === 'in_call';
    this.call = snapshot;
    const mine = this.seat(this.me.id);
    let phase = this.phase;
    if (snapshot.phase === 'ended') phase = 'ended';
    else if (mine && mine.status === 'waiting') phase = 'waiting';
    else if (mine && mine.status === 'in_call') phase = 'in_call';
    if (phase === 'ended') {
      this.changed('call');
      this.finish('ended');
      return;
    }
    if (phase === 'in_call') this.syncPeers(wasIn ? before : null);
    else for (const id of [...this.peers.keys()]) this.closePeer(id);
    if (phase !== this.phase) {
      this.phase = phase;
      if (phase === 'in_call') this.quality.start();
      this.changed('phase');
    }
    this.changed('call');
  }

  syncPeers(before) {
    const seen = new Set();
    for (const seat of this.others()) {
      const id = seat.participant_id;
      if (seat.status === 'in_call' || seat.status === 'away') seen.add(id);
      if (seat.status !== 'in_call') continue;
      const previous = before ? (before.seats || []).find((s) => s.participant_id === id) : null;
      const back = previous && previous.status !== 'in_call';
      const peer = this.peerFor(seat);
      if (!peer.offerer) continue; // the other side opens the negotiation
      if (!peer.pc || peer.pc.connectionState === 'closed') this.makePc(peer);
      else if (back) this.restartIce(peer); // back after a drop or a reload
    }
    for (const id of [...this.peers.keys()]) if (!seen.has(id)) this.closePeer(id);
    this.changed('peer');
  }

  // Peers --------------------------------------------------------------------------------------

  peerFor(seat) {
    const id = seat.participant_id;
    let peer = this.peers.get(id);
    if (!peer) {
      const offerer = offersTo(this.me, seat);
      peer = {
        id,
        role: seat.role,
        offerer,
        polite: !offerer,
        pc: null,
        remote: null,
        state: 'new',
        path: null,
        pair: null,
        reportedPath: null,
        fingerprint: null,
        negotiated: false,
        makingOffer: false,
        ignoreOffer: false,
        reclaimed: [], // when we last offered again after answering (see QualityAgent.reclaims)
        restarts: 0,
        restartTimer: null,
        needsRestart: false,
        early: [], // candidates that came before their description
        chain: Promise.resolve(),
      };
      this.peers.set(id, peer);
    }
    return peer;
  }

  rtcConfig() {
    return {
      iceServers: this.ice.iceServers || [],
      iceTransportPolicy: this.ice.iceTransportPolicy === 'relay' ? 'relay' : 'all',
    };
  }

  outgoing(kind) {
    if (kind === 'video' && this.screenTrack) return this.screenTrack;
    if (kind === 'video' && this.quality.stillTrack) return this.quality.stillTrack;
    if (!this.stream) return null;
    return this.stream.getTracks().find((track) => track.kind === kind) || null;
  }

  makePc(peer) {
    this.closePc(peer);
    const pc = new RTCPeerConnection(this.rtcConfig());
    Object.assign(peer, {
      pc,
      remote: new MediaStream(),
      state: 'connecting',
      path: null,
      pair: null,
      reportedPath: null,
      fingerprint: null,
      negotiated: false,
      makingOffer: false,
      ignoreOffer: false,
      needsRestart: false,
      renegotiate: false,
      remoteRaw: null, // the remote description we applied last, unmarked (see remark)
      iceRestart: false, // restartIce was called, and no offer made since (see makePc)
    });
    if (peer.offerer) {
      for (const kind of ['audio', 'video']) {
        const direction = this.quality.direction(kind);
        const init = { direction, sendEncodings: [this.quality.encoding(kind)] };
        // Only the picture goes with our stream: the voice in a stream of its own is never
        // held back to keep lips in sync (see attachTracks).
        if (this.stream && kind === 'video') init.streams = [this.stream];
        pc.addTransceiver(this.outgoing(kind) || kind, init);
      }
    }
    pc.addEventListener('track', ({ track }) => {
      if (peer.pc !== pc) return;
      if (!peer.remote.getTracks().includes(track)) peer.remote.addTrack(track);
      this.changed('peer', peer);
    });
    pc.addEventListener('icecandidate', ({ candidate }) => {
      if (peer.pc !== pc || !candidate || !candidate.candidate) return;
      this.send('signal', { to: peer.id, candidate: candidate.toJSON() }).catch(() => {});
    });
    // Chrome asks for a round whenever a transceiver's direction changes, also for one we
    // apply on our own side (remark, dropStaleVoice): checked once what is queued before it is
    // done, and then only where the descriptions in place do not carry the directions yet
    // (or an ICE restart waits for its offer).
    pc.addEventListener('negotiationneeded', () => {
      peer.chain = peer.chain.then(() => {
        if (peer.pc !== pc) return;
        if (peer.iceRestart || !directionsInPlace(pc)) this.negotiate(peer, pc);
      });
    });
    pc.addEventListener('connectionstatechange', () => this.onPcState(peer, pc));
    this.changed('peer', peer);
    return pc;
  }

  closePc(peer) {
    clearTimeout(peer.restartTimer);
    if (peer.pc) {
      const pc = peer.pc;
      peer.pc = null;
      pc.close();
    }
    peer.state = 'closed';
  }

  closePeer(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.closePc(peer);
    this.peers.delete(id);
    this.changed('peer', peer);
  }

  async negotiate(peer, pc) {
    if (peer.pc !== pc) return;
    if (!peer.offerer && !peer.negotiated) return; // the first offer is the offerer's
    if (!this.online) {
      peer.needsRestart = true;
      return;
    }
    let made = false;
    try {
      peer.makingOffer = true;
      peer.renegotiate = false; // this round applies what we mark now
      await pc.setLocalDescription();
      peer.iceRestart = false;
      made = true;
    } catch (error) {
      console.warn('offer failed', error);
    } finally {
      peer.makingOffer = false;
    }
    // Made is made: the offer may take seconds to cross a flooded link, and the page goes on
    // meanwhile (it may drop stale voice: see dropStaleVoice).
    if (made) await this.sendDescription(peer, pc.localDescription);
  }

  sendDescription(peer, description) {
    return this.send('signal', {
      to: peer.id,
      description: { type: description.type, sdp: description.sdp },
    }).catch(() => {
      peer.needsRestart = true; // lost on the way: negotiate again once we are back
    });
  }

  onSignal(data) {
    const seat = this.seat(data.from);
    if (!seat || !this.me) return;
    const peer = this.peerFor(seat);
    peer.chain = peer.chain
      .then(() => this.handleSignal(peer, data))
      .catch((error) => console.warn('signal failed', error));
  }

  async handleSignal(peer, { description, candidate }) {
    if (candidate) {
      if (!peer.pc || !peer.pc.remoteDescription) {
        peer.early.push(candidate); // kept until the description it belongs to is set
        if (peer.early.length > 200) peer.early.shift();
        return;
      }
      await this.addCandidate(peer, peer.pc, candidate);
      return;
    }
    if (!description) return;
    let pc = peer.pc;
    const fingerprint = fingerprintOf(description.sdp);
    if (pc && peer.fingerprint && fingerprint && fingerprint !== peer.fingerprint) {
      // The other side is a fresh page (a reload): start afresh with it.
      this.closePc(peer);
      pc = null;
      if (description.type === 'answer') {
        if (peer.offerer) this.makePc(peer);
        return;
      }
    }
    if (!pc) {
      if (description.type !== 'offer') return;
      pc = this.makePc(peer);
    }
    const collision =
      description.type === 'offer' && (peer.makingOffer || pc.signalingState !== 'stable');
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    // Marked with the packet time our audio should use (the ladder's 60 ms at low rates).
    await pc.setRemoteDescription(this.quality.remoteDescription(description));
    peer.remoteRaw = description; // unmarked, to be marked anew (see remark)
    peer.fingerprint = fingerprint || peer.fingerprint;
    const early = peer.early.splice(0);
    for (const waiting of early) await this.addCandidate(peer, pc, waiting);
    if (description.type === 'offer') {
      await this.attachTracks(peer, pc);
      await pc.setLocalDescription();
      // Not awaited: over a flooded link the answer's acknowledgement takes seconds, and the
      // signals after it (and a drop of stale voice) need not wait for it.
      this.sendDescription(peer, pc.localDescription);
      // Our rung's cap on the congestion control holds only while we made the last offer.
      if (this.quality.reclaims(peer)) peer.renegotiate = true;
    }
    peer.negotiated = true;
    if (peer.renegotiate && pc.signalingState === 'stable') this.negotiate(peer, pc);
  }

  async addCandidate(peer, pc, candidate) {
    try {
      await pc.addIceCandidate(candidate);
    } catch (error) {
      // A candidate of an older session or ICE generation, or of an ignored offer.
      if (!peer.ignoreOffer) console.warn('candidate refused', error);
    }
  }

  // The answering side sends its tracks on the transceivers the offer made. The voice goes
  // in no stream: a receiving Chrome keeps the audio and video of one stream in sync by
  // holding the voice back as long as the picture waits for retransmissions and its own
  // jitter buffer, and on a lossy link with long round trips that is hundreds of ms (on the
  // emulator's rural link the client's jitter buffer held 200-390 ms with it, about 100
  // without). In a care call the voice matters most: it never waits for the picture.
  async attachTracks(peer, pc) {
    for (const transceiver of pc.getTransceivers()) {
      if (transceiver.currentDirection === 'stopped' || transceiver.stopped) continue;
      const kind = transceiver.receiver.track.kind;
      const track = this.outgoing(kind);
      if (transceiver.sender.track !== track) await transceiver.sender.replaceTrack(track);
      const encoding = this.quality.encoding(kind, Boolean(peer.paused));
      await this.quality.setEncoding(transceiver.sender, encoding);
      if (this.stream && kind === 'video' && transceiver.sender.setStreams) {
        transceiver.sender.setStreams(this.stream);
      }
      const direction = this.quality.direction(kind); // recvonly: our video is off (`audio`)
      if (transceiver.direction !== direction) transceiver.direction = direction;
    }
  }

  onPcState(peer, pc) {
    if (peer.pc !== pc) return;
    const state = pc.connectionState;
    peer.state = state;
    clearTimeout(peer.restartTimer);
    if (state === 'connected') {
      peer.restarts = 0;
      peer.paused = false;
      this.reportPath(peer, pc);
      this.quality.reapply();
    } else if (state === 'failed') {
      this.quality.pause(peer);
      this.scheduleRestart(peer, peer.offerer ? 0 : POLITE_EXTRA_MS);
    } else if (state === 'disconnected') {
      this.quality.pause(peer);
      this.scheduleRestart(peer, DISCONNECTED_MS + (peer.offerer ? 0 : POLITE_EXTRA_MS));
    }
    this.changed('peer', peer);
  }

  scheduleRestart(peer, delayMs) {
    clearTimeout(peer.restartTimer);
    peer.restartTimer = setTimeout(() => this.restartIce(peer), delayMs);
  }

  async restartIce(peer) {
    const pc = peer.pc;
    if (!pc || pc.connectionState === 'closed') return;
    if (!this.online) {
      peer.needsRestart = true; // once the socket is back
      return;
    }
    if (!peer.negotiated) {
      if (!peer.offerer) return;
      if (pc.signalingState === 'have-local-offer' && pc.localDescription) {
        await this.sendDescription(peer, pc.localDescription); // the offer may have been lost
      } else if (pc.signalingState === 'stable') {
        await this.negotiate(peer, pc); // it was never made (we were offline)
      }
      return;
    }
    peer.restarts += 1;
    try {
      const answer = await this.send('ice');
      if (answer && answer.ok && answer.ice) this.ice = answer.ice;
    } catch {
      // keep the servers we have
    }
    if (peer.pc !== pc) return;
    try {
      pc.setConfiguration(this.rtcConfig());
    } catch (error) {
      console.warn('setConfiguration', error);
    }
    peer.iceRestart = true; // until an offer is made (negotiate)
    pc.restartIce();
    clearTimeout(peer.restartTimer);
    peer.restartTimer = setTimeout(
      () => {
        if (peer.pc === pc && pc.connectionState !== 'connected') this.restartIce(peer);
      },
      RESTART_RETRY_MS * Math.min(peer.restarts, 4),
    );
  }

  // Empty the jitter buffer of the voice we receive from `peer` (QualityAgent.watchPlayout):
  // Chrome stops playout, and empties that buffer, when a local description no longer
  // receives audio, and starts it afresh when one does again. So: a local description that
  // only sends audio, at once followed by one that receives again; playout pauses only for as
  // long as the local steps take (measured on Chromium 156: 14-42 ms of concealment, and a
  // jitter buffer of 310 ms fell to 11). Nothing goes over the network for it:
  // - from `stable`, the remote description we hold is applied again (as in remark): an
  //   answer (we offered last) after two local offers; an offer (we answered last) before
  //   each of two local answers. A round over the network would cross the far side's link
  //   twice, and the drop is needed just when that link is flooded: on the bench's schedule,
  //   rural to worst, each of the worker's drops sent an offer the client answered (and then
  //   reclaimed its cap with an offer of its own), some 5 kB each way into a 32 kbit/s uplink
  //   that was still draining, and the round trip grew by seconds while the client sent
  //   the voice alone;
  // - while an offer of ours waits for its answer (`have-local-offer`), two local offers,
  //   and that answer then completes the round (over a flooded link that wait is seconds).
  // (A rollback instead of the second description left the connection without inbound voice
  // until the next round was through: seconds over a flooded link.) Resolves true once done,
  // false if it could not be done now.
  dropStaleVoice(peer) {
    const pc = peer.pc;
    const done = peer.chain.then(async () => {
      if (peer.pc !== pc || peer.makingOffer || !this.online || !peer.negotiated) return false;
      const from = pc.signalingState;
      if (from !== 'stable' && from !== 'have-local-offer') return false;
      const voice = pc
        .getTransceivers()
        .find((t) => !t.stopped && t.receiver.track.kind === 'audio');
      if (!voice || !['sendrecv', 'recvonly'].includes(voice.direction)) return false;
      const was = voice.direction;
      const deaf = was === 'sendrecv' ? 'sendonly' : 'inactive';
      const held = from === 'stable' ? peer.remoteRaw : null;
      const remote = () => pc.setRemoteDescription(this.quality.remoteDescription(held));
      peer.makingOffer = true;
      let made = false;
      try {
        if (held && held.type === 'offer') {
          await remote();
          voice.direction = deaf;
          await pc.setLocalDescription();
          await remote();
          voice.direction = was;
          await pc.setLocalDescription();
        } else {
          voice.direction = deaf;
          await pc.setLocalDescription();
          voice.direction = was;
          await pc.setLocalDescription();
          if (held) await remote();
        }
        made = true;
      } catch (error) {
        console.warn('dropping stale voice failed', error);
        if (held && pc.signalingState !== 'stable') {
          await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
        }
      } finally {
        voice.direction = was;
        peer.makingOffer = false;
      }
      if (peer.pc !== pc) return made;
      if (!made) {
        // Whatever that left, a round that receives again: from `stable` now (a sendonly
        // description of ours may be in place), else once the answer on its way is in.
        if (from === 'stable') this.negotiate(peer, pc);
        else peer.renegotiate = true;
      } else if (from === 'stable' && !held) {
        // No description held to apply again (none yet): the offer goes as any other.
        peer.renegotiate = false;
        this.sendDescription(peer, pc.localDescription);
      }
      return made;
    });
    peer.chain = done.catch((error) => console.warn('dropping stale voice failed', error));
    return done.catch(() => false);
  }

  // Our marks on the descriptions we apply changed, or the direction of our video (quiet
  // `audio` receives only, see QualityAgent.direction), and nothing else (QualityAgent.apply):
  // applied on the spot, with no round over the network, to every peer whose connection is
  // `stable`. The remote description we hold is applied again, marked anew: an offer (we
  // answered last) with our answer after it, or an answer (we offered last) after a new
  // offer of ours. Neither is sent, and nothing changes for the far side: the same media,
  // the same payload types and transports; only how we send (the first audio codec, the
  // packet time, the cap on our congestion control) follows the marks. After a fall that
  // matters: a round of our own waited in the very queue RED keeps full, 4-5 s on the bench's
  // schedule with the client's signaling on the emulated link, the voice sent twice
  // meanwhile. Measured on Chromium 156 with two connections in one page: the voice went from
  // RED to Opus (127 to 49 bytes a packet), and to 60 ms packets, at once, with 0-27 ms of it
  // concealed at the far side, and later rounds from either side went as before.
  // Our rung's cap on the congestion control holds only where we made the last offer: where
  // we answered last, a round of ours follows as after any answer (QualityAgent.reclaims:
  // when both sides are capped only the polite one takes it). A peer that is not `stable`
  // gets a round once its own is done (renegotiate).
  remarkAll() {
    for (const peer of this.peers.values()) {
      if (peer.pc) this.remark(peer);
    }
  }

  remark(peer) {
    const pc = peer.pc;
    const done = peer.chain.then(async () => {
      if (peer.pc !== pc) return;
      const idle = peer.negotiated && !peer.makingOffer;
      // An offer of ours on its way: its answer is marked anew when it comes.
      if (idle && pc.signalingState === 'have-local-offer') return;
      const raw = peer.remoteRaw;
      if (!idle || pc.signalingState !== 'stable' || !raw) {
        this.renegotiate(peer);
        return;
      }
      peer.makingOffer = true;
      let made = false;
      try {
        if (raw.type === 'offer') {
          await pc.setRemoteDescription(this.quality.remoteDescription(raw));
          await pc.setLocalDescription();
        } else {
          await pc.setLocalDescription();
          await pc.setRemoteDescription(this.quality.remoteDescription(raw));
        }
        made = true;
      } catch (error) {
        console.warn('remarking failed', error);
        if (pc.signalingState !== 'stable') {
          await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
        }
      } finally {
        peer.makingOffer = false;
      }
      if (peer.pc !== pc) return;
      if (!made || (raw.type === 'offer' && this.quality.reclaims(peer))) this.renegotiate(peer);
    });
    peer.chain = done.catch((error) => console.warn('remarking failed', error));
  }

  // A new offer to `peer` now, or once its round (or its connection) is done.
  renegotiate(peer) {
    if (peer.negotiated && peer.pc.signalingState === 'stable' && !peer.makingOffer) {
      this.negotiate(peer, peer.pc);
    } else {
      peer.renegotiate = true;
    }
  }

  // After a reconnect: what was lost while the socket was away. An offer or answer that
  // could not be sent is sent again (or made, if it never was); a broken connection restarts.
  recoverPeers() {
    for (const peer of this.peers.values()) {
      const pc = peer.pc;
      if (!pc) continue;
      const broken = ['failed', 'disconnected'].includes(pc.connectionState);
      const lost = peer.needsRestart;
      peer.needsRestart = false;
      const answered = pc.localDescription && pc.localDescription.type === 'answer';
      if (peer.offerer && !peer.negotiated) {
        if (pc.signalingState === 'have-local-offer') {
          this.sendDescription(peer, pc.localDescription);
        } else if (lost) this.negotiate(peer, pc);
      } else if (!peer.offerer && lost && answered) {
        this.sendDescription(peer, pc.localDescription);
      } else if (broken || (lost && peer.offerer)) {
        this.restartIce(peer);
      }
    }
  }

  async reportPath(peer, pc) {
    let pair = null;
    try {
      pair = await selectedPair(pc);
    } catch {
      pair = null;
    }
    if (!pair || peer.pc !== pc) return;
    peer.pair = pair;
    peer.path = pair.path;
    if (peer.reportedPath !== pair.path) {
      peer.reportedPath = pair.path;
      this.send('path', { path: pair.path }).catch(() => {
        peer.reportedPath = null;
      });
    }
    this.changed('peer', peer);
  }

  // What the person does ------------------------------------------------------------------------

  sendMedia() {
    this.send('media', { ...this.sending }).catch(() => {});
  }

  setAudio(on) {
    this.sending.audio = on;
    if (this.stream) for (const track of this.stream.getAudioTracks()) track.enabled = on;
    this.sendMedia();
    this.changed('local');
  }

  setVideo(on) {
    this.sending.video = on;
    if (this.stream) for (const track of this.stream.getVideoTracks()) track.enabled = on;
    this.sendMedia();
    this.changed('local');
  }

  // A new camera or microphone (or a stream at last): every connection sends it.
  async useStream(stream) {
    const old = this.stream;
    this.stream = stream;
    if (stream) {
      for (const track of stream.getAudioTracks()) track.enabled = this.sending.audio;
      for (const track of stream.getVideoTracks()) track.enabled = this.sending.video;
    }
    await this.replaceOutgoing();
    if (old && old !== stream) {
      for (const track of old.getTracks()) {
        if (!stream || !stream.getTracks().includes(track)) track.stop();
      }
    }
    this.changed('local');
  }

  async replaceOutgoing() {
    for (const peer of this.peers.values()) {
      if (!peer.pc) continue;
      for (const transceiver of peer.pc.getTransceivers()) {
        if (transceiver.currentDirection === 'stopped' || transceiver.stopped) continue;
        const track = this.outgoing(transceiver.receiver.track.kind);
        if (transceiver.sender.track === track) continue;
        try {
          await transceiver.sender.replaceTrack(track);
        } catch (error) {
          console.warn('replaceTrack', error);
        }
      }
    }
  }

  async shareScreen() {
    const display = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = display.getVideoTracks();
    if (!track) return;
    this.stopScreen({ quiet: true });
    this.screenTrack = track;
    track.addEventListener('ended', () => this.stopScreen());
    this.sending.screen = true;
    await this.replaceOutgoing();
    this.sendMedia();
    this.changed('local');
  }

  stopScreen({ quiet = false } = {}) {
    const track = this.screenTrack;
    if (!track) return;
    this.screenTrack = null;
    track.stop();
    this.sending.screen = false;
    if (quiet) return;
    this.replaceOutgoing();
    this.sendMedia();
    this.changed('local');
  }

  admit(participantId = null) {
    return this.send('admit', { participant_id: participantId });
  }

  say(text) {
    return this.send('chat', { text });
  }

  end() {
    return this.send('end');
  }

  async leave() {
    try {
      await this.send('leave');
    } catch {
      // gone anyway: the seat is released after the grace period
    }
    this.finish('left');
  }

  // Back into the call after leaving it (a new place in the waiting room).
  rejoin() {
    this.refusal = null;
    this.attempt = 0;
    this.start();
  }

  // Stops everything, the camera too (the page goes elsewhere).
  close() {
    if (!this.stopped) this.finish('left');
    if (this.onOnline) window.removeEventListener('online', this.onOnline);
    this.onOnline = null;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
  }
}
