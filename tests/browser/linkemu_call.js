// One participant of a call for tests/browser/test_linkemu_browsers.py: Chrome's fake camera
// and microphone, relay-only ICE, signalling done by the test (full SDP, no trickle), and
// what the test reads: getStats samples and the times of fresh pictures on screen.
"use strict";

const state = { pc: null, stream: null, frames: [], states: [] };

function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

// Every fresh picture the <video> element shows, in seconds on this page's clock.
function watchPictures(video) {
  const seen = (now) => {
    state.frames.push(now / 1000);
    video.requestVideoFrameCallback(seen);
  };
  video.requestVideoFrameCallback(seen);
}

async function join(iceServers) {
  state.stream = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: 320, height: 240, frameRate: 15 },
  });
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay" });
  state.pc = pc;
  pc.addEventListener("connectionstatechange", () => {
    state.states.push([performance.now() / 1000, pc.connectionState]);
  });
  for (const track of state.stream.getTracks()) pc.addTrack(track, state.stream);
  pc.addEventListener("track", (event) => {
    const element = document.getElementById(event.track.kind);
    if (element.srcObject) return;
    element.srcObject = new MediaStream([event.track]);
    if (event.track.kind === "video") watchPictures(element);
    element.play().catch(() => {});
  });
}

async function offer() {
  await state.pc.setLocalDescription();
  await gathered(state.pc);
  return state.pc.localDescription.sdp;
}

async function answer(sdp) {
  await state.pc.setRemoteDescription({ type: "offer", sdp });
  await state.pc.setLocalDescription();
  await gathered(state.pc);
  return state.pc.localDescription.sdp;
}

async function accept(sdp) {
  await state.pc.setRemoteDescription({ type: "answer", sdp });
}

function pick(stats, names) {
  const out = {};
  for (const name of names) out[name] = stats[name] ?? null;
  return out;
}

const AUDIO = [
  "totalSamplesReceived", "concealedSamples", "silentConcealedSamples",
  "jitterBufferDelay", "jitterBufferEmittedCount", "packetsReceived", "packetsLost",
];
const VIDEO = [
  "framesDecoded", "framesReceived", "freezeCount", "totalFreezesDuration",
  "frameWidth", "frameHeight", "packetsReceived", "packetsLost",
];

async function sample() {
  const report = await state.pc.getStats();
  const out = {
    t: performance.now() / 1000,
    state: state.pc.connectionState,
    audio: null, video: null, transport: null, local: null, remote: null,
  };
  let pairId = null;
  report.forEach((stats) => {
    if (stats.type === "inbound-rtp" && stats.kind === "audio") out.audio = pick(stats, AUDIO);
    if (stats.type === "inbound-rtp" && stats.kind === "video") out.video = pick(stats, VIDEO);
    if (stats.type === "transport") {
      out.transport = pick(stats, ["bytesSent", "bytesReceived"]);
      pairId = stats.selectedCandidatePairId;
    }
  });
  const pair = pairId && report.get(pairId);
  if (pair) {
    const fields = ["candidateType", "url", "relayProtocol", "address", "port"];
    out.local = pick(report.get(pair.localCandidateId) ?? {}, fields);
    out.remote = pick(report.get(pair.remoteCandidateId) ?? {}, fields);
  }
  return out;
}

function pictures() {
  return state.frames;
}

function leave() {
  if (state.pc) state.pc.close();
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
}

window.call = { join, offer, answer, accept, sample, pictures, leave, state };
