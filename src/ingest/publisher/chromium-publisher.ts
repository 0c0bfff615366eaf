import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { chromium, type Browser, type BrowserServer, type Page } from 'playwright-core';

/**
 * A WHIP (RFC 9725) publisher that is a real headless Chromium: its fake camera and
 * microphone go through Chromium's own WebRTC stack, encoders and fetch().
 */

export interface ChromiumHostOptions {
  /** The WHIP endpoint, e.g. http://127.0.0.1:8080/whip/{livestream}/{host}. */
  whipUrl: string;
  /** Sent as `Authorization: Bearer …` on POST and DELETE. */
  token?: string;
  name: string;
  /** Only this codec is offered, so the server cannot pick another one. Default H264. */
  videoCodec?: 'H264' | 'VP8';
  /** Camera size and rate, default 640x360 at 30 fps; the fake camera goes up to 60 fps. */
  width?: number;
  height?: number;
  fps?: number;
  /** Caps the video encoder's bitrate. */
  maxKbps?: number;
  /** Give up when ICE + DTLS are not connected by then. Default 10 s. */
  connectTimeoutMs?: number;
}

export interface ChromiumHostStats {
  videoPacketsSent: number;
  audioPacketsSent: number;
  /** RTCPeerConnection.connectionState, or 'closed' after unpublish. */
  state: string;
}

export interface ChromiumHostTimings {
  /** getUserMedia until the offer is ready (ICE gathered). */
  offerMs: number;
  /** POST sent until the 201 and its answer arrived. */
  postMs: number;
  /** 201 until the peer connection was connected. */
  connectMs: number;
}

/** What getUserMedia gave for the requested size and rate. */
export interface CameraSettings {
  width: number;
  height: number;
  frameRate: number;
}

export interface ChromiumHost {
  readonly name: string;
  readonly camera: CameraSettings;
  /** Absolute URL of the WHIP session (the 201's Location). */
  readonly sessionUrl: string;
  readonly timings: ChromiumHostTimings;
  /** Off stops the video RTP altogether (no track on the sender), as a real camera-off does. */
  setCamera(on: boolean): Promise<void>;
  setMicrophone(on: boolean): Promise<void>;
  stats(): Promise<ChromiumHostStats>;
  /** Closes the peer connection and sends DELETE to the session URL. Idempotent. */
  unpublish(): Promise<void>;
}

export interface ChromiumPublisherBrowser {
  /** The browser's pid, which is also its process group id. */
  readonly pid: number | undefined;
  publish(options: ChromiumHostOptions): Promise<ChromiumHost>;
  /** Kills the browser process group, whatever state the browser is in. */
  close(): Promise<void>;
}

export interface LaunchChromiumOptions {
  /** Default Debian's chromium. */
  executablePath?: string;
  /** Appended to CHROMIUM_ARGS; a --disable-features here replaces that whole list. */
  extraArgs?: string[];
}

const DEBIAN_WRAPPER = '/usr/bin/chromium';
// Debian's /usr/bin/chromium is a shell script that adds Google API keys, remote extensions and
// GPU flags, then execs this binary. Started directly, the command line is only ours.
const DEBIAN_BINARY = '/usr/lib/chromium/chromium';

/**
 * Flags that keep Chromium off every network but loopback: no STUN (the page passes no
 * iceServers), no mDNS names for host candidates (WHIP servers on loopback drop them, and
 * announcing them is multicast traffic), no update, safe-browsing, metrics or DNS lookups.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  // The fake camera's formats go up to this rate; without it they stop at 20 fps.
  '--use-fake-device-for-media-stream=fps=60',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--no-first-run',
  '--no-default-browser-check',
  '--no-pings',
  '--disable-breakpad',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-extensions',
  '--disable-dev-shm-usage',
  '--metrics-recording-only',
  '--password-store=basic',
  '--use-mock-keychain',
  // Every name resolves to nothing except loopback, so no lookup leaves the machine.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
  // Chromium keeps only the last --disable-features, so Playwright's own list is repeated here.
  '--disable-features=' +
    [
      'WebRtcHideLocalIpsWithMdns',
      'MediaRouter',
      'DialMediaRouteProvider',
      'OptimizationHints',
      'NetworkTimeServiceQuerying',
      'Translate',
      'AutofillServerCommunication',
      'CertificateTransparencyComponentUpdater',
      'InterestFeedContentSuggestions',
      'PreconnectToSearch',
      'AimEnabled',
      'HttpsUpgrades',
      'HttpsFirstBalancedModeAutoEnable',
      'AvoidUnnecessaryBeforeUnloadCheckSync',
      'DestroyProfileOnBrowserClose',
      'LensOverlay',
      'PaintHolding',
      'ThirdPartyStoragePartitioning',
      'AvoidCorsURLLoaderRestartOnRedirect',
    ].join(','),
];

/** What the publisher page (PAGE_SCRIPT) offers on globalThis.tapedeck. */
interface PageApi {
  publish(o: PagePublishOptions): Promise<PagePublishResult>;
  connect(answer: string, timeoutMs: number): Promise<{ connectMs: number }>;
  setTrack(kind: 'video' | 'audio', on: boolean): Promise<void>;
  stats(): Promise<ChromiumHostStats>;
  close(): void;
  request(
    method: string,
    url: string,
    token: string | undefined,
  ): Promise<{ status: number; body: string }>;
}

interface PagePublishOptions {
  whipUrl: string;
  token: string | undefined;
  videoCodec: 'H264' | 'VP8';
  width: number;
  height: number;
  fps: number;
  maxKbps: number | undefined;
}

type PagePublishResult =
  | {
      ok: true;
      location: string;
      answer: string;
      camera: CameraSettings;
      offerMs: number;
      postMs: number;
    }
  /** status 0: the request itself failed (body says why). */
  | { ok: false; status: number; body: string };

/**
 * The publisher page. Plain JavaScript in a string: tsx compiles TypeScript functions with
 * name helpers that do not exist in the page, so functions cannot be handed to evaluate().
 */
const PAGE_SCRIPT = String.raw`
'use strict';
let pc, stream, tracks, senders;

function codecPreferences(kind, wanted) {
  const all = RTCRtpReceiver.getCapabilities(kind).codecs;
  const name = kind + '/' + wanted.toLowerCase();
  const rank = (c) => {
    const fmtp = (c.sdpFmtpLine || '').toLowerCase();
    if (wanted !== 'H264') return 0;
    const mode1 = fmtp.includes('packetization-mode=1');
    const baseline = fmtp.includes('profile-level-id=42e01f');
    return (mode1 ? 0 : 2) + (baseline ? 0 : 1);
  };
  const chosen = all.filter((c) => c.mimeType.toLowerCase() === name).sort((a, b) => rank(a) - rank(b));
  if (chosen.length === 0) throw new Error('this Chromium cannot send ' + wanted);
  return [...chosen, ...all.filter((c) => c.mimeType.toLowerCase() === kind + '/rtx')];
}

function gathered(timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

async function request(method, url, token, body) {
  const headers = {};
  if (token !== undefined) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/sdp';
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(15000) });
  return { res, status: res.status, body: await res.text() };
}

globalThis.tapedeck = {
  async publish(o) {
    const started = performance.now();
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: o.width }, height: { ideal: o.height }, frameRate: { ideal: o.fps } },
      audio: true,
    });
    tracks = { video: stream.getVideoTracks()[0], audio: stream.getAudioTracks()[0] };
    const { width, height, frameRate } = tracks.video.getSettings();
    pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
    const video = pc.addTransceiver(tracks.video, { direction: 'sendonly', streams: [stream] });
    const audio = pc.addTransceiver(tracks.audio, { direction: 'sendonly', streams: [stream] });
    video.setCodecPreferences(codecPreferences('video', o.videoCodec));
    senders = { video: video.sender, audio: audio.sender };
    const params = video.sender.getParameters();
    if (!params.encodings || params.encodings.length === 0) params.encodings = [{}];
    if (o.maxKbps !== undefined) params.encodings[0].maxBitrate = o.maxKbps * 1000;
    // A loaded machine then lowers the frame rate, not the size: recordings and benchmarks
    // keep the resolution they asked for.
    params.degradationPreference = 'maintain-resolution';
    await video.sender.setParameters(params);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(5000);
    const offerMs = performance.now() - started;
    const posted = performance.now();
    let reply;
    try {
      reply = await request('POST', o.whipUrl, o.token, pc.localDescription.sdp);
    } catch (err) {
      this.close();
      return { ok: false, status: 0, body: String(err) };
    }
    const postMs = performance.now() - posted;
    const location = reply.res.headers.get('Location');
    if (reply.status !== 201 || !location) {
      this.close();
      const body = reply.status === 201 ? '201 without a Location header' : reply.body;
      return { ok: false, status: reply.status, body };
    }
    return {
      ok: true,
      location: new URL(location, o.whipUrl).href,
      answer: reply.body,
      camera: { width, height, frameRate },
      offerMs,
      postMs,
    };
  },

  async connect(answer, timeoutMs) {
    const started = performance.now();
    const connected = new Promise((resolve, reject) => {
      const check = () => {
        if (pc.connectionState === 'connected') resolve();
        else if (pc.connectionState === 'failed' || pc.connectionState === 'closed')
          reject(new Error('peer connection ' + pc.connectionState));
      };
      pc.addEventListener('connectionstatechange', check);
      setTimeout(() => reject(new Error('not connected within ' + timeoutMs + ' ms')), timeoutMs);
      check();
    });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await connected;
    return { connectMs: performance.now() - started };
  },

  async setTrack(kind, on) {
    await senders[kind].replaceTrack(on ? tracks[kind] : null);
  },

  async stats() {
    const out = { videoPacketsSent: 0, audioPacketsSent: 0, state: pc ? pc.connectionState : 'new' };
    if (!pc || pc.connectionState === 'closed') return out;
    for (const report of (await pc.getStats()).values()) {
      if (report.type !== 'outbound-rtp') continue;
      if (report.kind === 'video') out.videoPacketsSent += report.packetsSent || 0;
      if (report.kind === 'audio') out.audioPacketsSent += report.packetsSent || 0;
    }
    return out;
  },

  close() {
    if (pc) pc.close();
    if (stream) for (const t of stream.getTracks()) t.stop();
  },

  async request(method, url, token) {
    const { status, body } = await request(method, url, token);
    return { status, body };
  },
};
`;

async function executable(path: string | undefined): Promise<string> {
  const usable = (p: string) =>
    access(p, constants.X_OK).then(
      () => true,
      () => false,
    );
  const missing = (p: string) =>
    new Error(
      `Chromium not found at ${p}; \`bash scripts/setup.sh\` installs Debian's chromium at ${DEBIAN_WRAPPER}`,
    );
  if (path !== undefined) {
    if (await usable(path)) return path;
    throw missing(path);
  }
  if (!(await usable(DEBIAN_WRAPPER))) throw missing(DEBIAN_WRAPPER);
  return (await usable(DEBIAN_BINARY)) ? DEBIAN_BINARY : DEBIAN_WRAPPER;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    // Playwright starts the browser detached, so its renderers and GPU/zygote helpers share its group.
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: already gone.
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function api(page: Page) {
  type Global = { tapedeck: PageApi };
  return {
    publish: (o: PagePublishOptions) =>
      page.evaluate((a) => (globalThis as unknown as Global).tapedeck.publish(a), o),
    connect: (answer: string, timeoutMs: number) =>
      page.evaluate(([sdp, ms]) => (globalThis as unknown as Global).tapedeck.connect(sdp, ms), [
        answer,
        timeoutMs,
      ] as const),
    setTrack: (kind: 'video' | 'audio', on: boolean) =>
      page.evaluate(([k, v]) => (globalThis as unknown as Global).tapedeck.setTrack(k, v), [
        kind,
        on,
      ] as const),
    stats: () => page.evaluate(() => (globalThis as unknown as Global).tapedeck.stats()),
    close: () => page.evaluate(() => (globalThis as unknown as Global).tapedeck.close()),
    request: (method: string, url: string, token: string | undefined) =>
      page.evaluate(([m, u, t]) => (globalThis as unknown as Global).tapedeck.request(m, u, t), [
        method,
        url,
        token,
      ] as const),
  };
}

async function publishOn(browser: Browser, o: ChromiumHostOptions): Promise<ChromiumHost> {
  const whip = new URL(o.whipUrl);
  if (whip.protocol !== 'http:' && whip.protocol !== 'https:')
    throw new Error(`WHIP URL must be http(s): ${o.whipUrl}`);
  const page = await browser.newPage();
  try {
    // The page lives on the WHIP server's origin: getUserMedia needs a secure context (loopback
    // is one, about:blank is not), and same-origin POSTs need no CORS preflight. The page itself
    // never reaches the server; Playwright answers for it.
    const pageUrl = new URL('/.tapedeck-publisher', whip).href;
    await page.route(pageUrl, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><title>${o.name.replace(/[<&]/g, '')}</title><script>${PAGE_SCRIPT}</script>`,
      }),
    );
    await page.goto(pageUrl);
    const calls = api(page);
    const result = await calls.publish({
      whipUrl: whip.href,
      token: o.token,
      videoCodec: o.videoCodec ?? 'H264',
      width: o.width ?? 640,
      height: o.height ?? 360,
      fps: o.fps ?? 30,
      maxKbps: o.maxKbps,
    });
    if (!result.ok)
      throw new Error(
        result.status === 0
          ? `WHIP POST to ${o.whipUrl} failed: ${result.body}`
          : `WHIP POST to ${o.whipUrl} answered ${result.status}: ${result.body}`,
      );
    const sessionUrl = result.location;
    const deleteSession = async () => {
      const reply = await calls.request('DELETE', sessionUrl, o.token);
      if (reply.status < 200 || reply.status > 299)
        throw new Error(`WHIP DELETE ${sessionUrl} answered ${reply.status}: ${reply.body}`);
    };
    let connectMs: number;
    try {
      ({ connectMs } = await calls.connect(result.answer, o.connectTimeoutMs ?? 10_000));
    } catch (err) {
      await calls.close().catch(() => undefined);
      // Otherwise the server keeps a session nobody ends; the connect error is what matters.
      await deleteSession().catch(() => undefined);
      throw err;
    }

    let unpublished: Promise<void> | undefined;
    return {
      name: o.name,
      sessionUrl,
      camera: result.camera,
      timings: { offerMs: result.offerMs, postMs: result.postMs, connectMs },
      setCamera: (on) => calls.setTrack('video', on),
      setMicrophone: (on) => calls.setTrack('audio', on),
      stats: async () =>
        unpublished ? { videoPacketsSent: 0, audioPacketsSent: 0, state: 'closed' } : calls.stats(),
      unpublish: () =>
        (unpublished ??= (async () => {
          try {
            await calls.close();
            await deleteSession();
          } finally {
            await page.close().catch(() => undefined);
          }
        })()),
    };
  } catch (err) {
    await page.close().catch(() => undefined);
    throw err;
  }
}

/** One browser; each published host gets a page of its own. */
export async function launchChromium(
  options: LaunchChromiumOptions = {},
): Promise<ChromiumPublisherBrowser> {
  const executablePath = await executable(options.executablePath);
  let server: BrowserServer | undefined;
  let pid: number | undefined;
  const kill = async () => {
    killGroup(pid);
    // Reaps the process and removes the temporary profile.
    await withTimeout(server?.kill() ?? Promise.resolve(), 5_000, 'removing Chromium').catch(
      () => undefined,
    );
  };
  try {
    // launchServer rather than launch: only the server knows the browser's pid, which close()
    // needs to kill the whole process group when the browser no longer answers.
    server = await chromium.launchServer({
      executablePath,
      headless: true,
      host: '127.0.0.1',
      args: [...CHROMIUM_ARGS, ...(options.extraArgs ?? [])],
      // A loaded 2-core machine has taken over 30 s to bring Chromium up.
      timeout: 90_000,
    });
    pid = server.process().pid;
    const launched = server;
    const browser = await chromium.connect(launched.wsEndpoint(), { timeout: 30_000 });
    let closed: Promise<void> | undefined;
    return {
      pid,
      publish: (o) => publishOn(browser, o),
      close: () =>
        (closed ??= (async () => {
          try {
            // A graceful close lets Chromium flush what it writes on exit (e.g. --log-net-log).
            const graceful = browser.close().then(() => launched.close());
            await withTimeout(graceful, 5_000, 'closing Chromium');
          } catch {
            // Killed below either way.
          } finally {
            await kill();
          }
        })()),
    };
  } catch (err) {
    await kill();
    throw err;
  }
}
