//! WebRTC helpers shared by the console and the field page: codec preference, connection
//! watching and connection quality from `getStats()`.

/** @typedef {'good' | 'fair' | 'poor'} Quality */

/**
 * The camera's video codecs in the order the media server wants them: H.264 with
 * packetization-mode=1 (constrained baseline 42e01f before other profiles), then VP8. RTX entries
 * stay (browsers require them to stay consistent); everything else (VP9, AV1, H.264 mode 0, RED,
 * FEC) is dropped.
 * @param {RTCRtpCodec[]} codecs from `RTCRtpSender.getCapabilities('video').codecs`
 * @returns {RTCRtpCodec[]}
 */
export function orderVideoCodecs(codecs) {
  const mime = (/** @type {RTCRtpCodec} */ c) => c.mimeType.toLowerCase();
  const fmtp = (/** @type {RTCRtpCodec} */ c) => (c.sdpFmtpLine || '').toLowerCase();
  const h264 = codecs.filter((c) => mime(c) === 'video/h264' && fmtp(c).includes('packetization-mode=1'));
  h264.sort((a, b) => Number(!fmtp(a).includes('42e01f')) - Number(!fmtp(b).includes('42e01f')));
  const vp8 = codecs.filter((c) => mime(c) === 'video/vp8');
  const rtx = codecs.filter((c) => mime(c) === 'video/rtx');
  if (!h264.length && !vp8.length) return [];
  return [...h264, ...vp8, ...rtx];
}

/**
 * Apply `orderVideoCodecs` to a video transceiver where the browser supports it.
 * @param {RTCRtpTransceiver} transceiver
 */
export function preferCameraCodecs(transceiver) {
  if (typeof transceiver.setCodecPreferences !== 'function') return;
  const capabilities = RTCRtpSender.getCapabilities?.('video');
  if (!capabilities) return;
  const ordered = orderVideoCodecs(capabilities.codecs);
  if (!ordered.length) return;
  try {
    transceiver.setCodecPreferences(ordered);
  } catch (_) {
    // An older browser that refuses the list negotiates its defaults; the server picks H.264/VP8.
  }
}

/**
 * Calls `onBroken` once when the connection fails, or stays disconnected for more than
 * `graceMs` (a short disconnection often heals by itself).
 * @param {RTCPeerConnection} pc
 * @param {() => void} onBroken
 * @param {(state: RTCPeerConnectionState) => void} [onChange]
 * @param {number} [graceMs]
 */
export function watchConnection(pc, onBroken, onChange, graceMs = 2000) {
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  let done = false;
  const fire = () => {
    if (done) return;
    done = true;
    onBroken();
  };
  pc.addEventListener('connectionstatechange', () => {
    const state = pc.connectionState;
    onChange?.(state);
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (state === 'failed') fire();
    else if (state === 'disconnected') timer = setTimeout(fire, graceMs);
    else if (state === 'closed') done = true;
  });
}

/**
 * Send the SDP offer of a fresh connection. No waiting for ICE candidates: the media server is
 * ICE-lite and learns the browser's address from its connectivity checks.
 * @param {RTCPeerConnection} pc
 * @returns {Promise<string>} the offer SDP
 */
export async function createOffer(pc) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  return pc.localDescription ? pc.localDescription.sdp : offer.sdp || '';
}

/**
 * Uplink quality of a camera from its connection's stats: round-trip time of the selected
 * candidate pair and the loss the server reports back (RTCP receiver reports).
 * @param {RTCStatsReport} report
 * @returns {{quality: Quality | null, rttMs: number | null, lossPercent: number | null}}
 */
export function uplinkQuality(report) {
  /** @type {number | null} */
  let rttMs = null;
  /** @type {number | null} */
  let lossPercent = null;
  /** @type {string | null} */
  let selectedPair = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) selectedPair = s.selectedCandidatePairId;
  });
  report.forEach((s) => {
    if (s.type === 'candidate-pair' && (s.id === selectedPair || (!selectedPair && s.nominated && s.state === 'succeeded'))) {
      if (typeof s.currentRoundTripTime === 'number') rttMs = s.currentRoundTripTime * 1000;
    }
    if (s.type === 'remote-inbound-rtp' && typeof s.fractionLost === 'number') {
      lossPercent = Math.max(lossPercent ?? 0, s.fractionLost * 100);
    }
    if (s.type === 'remote-inbound-rtp' && rttMs === null && typeof s.roundTripTime === 'number') {
      rttMs = s.roundTripTime * 1000;
    }
  });
  if (rttMs === null && lossPercent === null) return { quality: null, rttMs, lossPercent };
  const rtt = rttMs ?? 0;
  const loss = lossPercent ?? 0;
  /** @type {Quality} */
  const quality = rtt < 150 && loss < 2 ? 'good' : rtt < 400 && loss < 8 ? 'fair' : 'poor';
  return { quality, rttMs, lossPercent };
}

/**
 * Measures one received video stream between calls: frames per second, packet loss and jitter.
 */
export class ReceiveMeter {
  constructor() {
    /** @type {{at: number, frames: number, received: number, lost: number} | null} */
    this.last = null;
  }

  /**
   * @param {RTCStatsReport} report the stats of one receiver (`receiver.getStats()`)
   * @returns {{fps: number, lossPercent: number, jitterMs: number, width: number, height: number,
   *   framesDecoded: number, quality: Quality} | null} null before the first frame arrived
   */
  update(report) {
    /** @type {any} */
    let inbound = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') inbound = s;
    });
    if (!inbound) return null;
    const now = typeof inbound.timestamp === 'number' ? inbound.timestamp : performance.now();
    const frames = inbound.framesDecoded || 0;
    const received = inbound.packetsReceived || 0;
    const lost = Math.max(0, inbound.packetsLost || 0);
    const previous = this.last;
    this.last = { at: now, frames, received, lost };
    if (!previous || now <= previous.at) return null;
    const seconds = (now - previous.at) / 1000;
    const fps = Math.max(0, (frames - previous.frames) / seconds);
    const dReceived = Math.max(0, received - previous.received);
    const dLost = Math.max(0, lost - previous.lost);
    const lossPercent = dReceived + dLost > 0 ? (dLost / (dReceived + dLost)) * 100 : 0;
    const jitterMs = (inbound.jitter || 0) * 1000;
    /** @type {Quality} */
    const quality =
      fps >= 10 && lossPercent < 2 && jitterMs < 30
        ? 'good'
        : fps >= 4 && lossPercent < 8 && jitterMs < 80
          ? 'fair'
          : 'poor';
    return {
      fps,
      lossPercent,
      jitterMs,
      width: inbound.frameWidth || 0,
      height: inbound.frameHeight || 0,
      framesDecoded: frames,
      quality,
    };
  }
}
