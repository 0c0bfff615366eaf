import { stat } from 'node:fs';
import { createRequire } from 'node:module';

/*
 * node-gtk has no type declarations. These interfaces name only the part of GStreamer the worker
 * uses, so the rest of the code is typed and the untyped surface stays in this file.
 */
export interface GstObject {
  getName(): string;
  name: string;
  hasAsAncestor(ancestor: GstObject): boolean;
}
export interface GstPad extends GstObject {
  link(peer: GstPad): number;
  unlink(peer: GstPad): boolean;
  getPeer(): GstPad | null;
  setOffset(offsetNs: bigint | number): void;
  getParentElement(): GstElement | null;
  sendEvent(event: unknown): boolean;
  queryPosition(format: number): [boolean, bigint];
  getStickyEvent(type: number, index: number): unknown;
  [property: string]: unknown;
}
export interface GstElement extends GstObject {
  getStaticPad(name: string): GstPad | null;
  requestPadSimple(template: string): GstPad | null;
  releaseRequestPad(pad: GstPad): void;
  setState(state: number): number;
  getState(timeoutNs: number): [number, number, number];
  syncStateWithParent(): boolean;
  setLockedState(locked: boolean): boolean;
  sendEvent(event: unknown): boolean;
  getBaseTime(): bigint;
  setBaseTime(timeNs: bigint | number): void;
  setStartTime(timeNs: bigint | number): void;
  getClock(): GstClock | null;
  [property: string]: unknown;
}
export interface GstBin extends GstElement {
  getByName(name: string): GstElement | null;
  add(element: GstElement): boolean;
  remove(element: GstElement): boolean;
  addPad(pad: GstPad): boolean;
  removePad(pad: GstPad): boolean;
}
export interface GstPipeline extends GstBin {
  getBus(): GstBus;
  useClock(clock: GstClock): void;
  recalculateLatency(): boolean;
}
export interface GstClock {
  getTime(): bigint;
  clockType: number;
}
export interface GstSegment {
  toRunningTime(format: number, position: bigint | number): bigint;
}
export interface GstSample {
  getBuffer(): { pts: bigint } | null;
  getSegment(): GstSegment | null;
}
/** An appsink, once GstApp's typelib is loaded (loadGstApp). */
export interface GstAppSink extends GstElement {
  tryPullSample(timeoutNs: number): GstSample | null;
}
export interface GstStructure {
  getName(): string;
  getString(field: string): string | null;
  getUint64(field: string): [boolean, bigint];
}
/** A GError: `domain` is a quark, compared with e.g. `Gst.parseErrorQuark()`. */
export interface GstError {
  message: string;
  domain: number;
  code: number;
}
export interface GstMessage {
  type: number;
  src: GstObject | null;
  getStructure(): GstStructure | null;
  parseError(): [GstError, string];
  parseWarning(): [GstError, string];
  parseStateChanged(): [number, number, number];
  /** Format, then what was processed and dropped in it, counted since the start. */
  parseQosStats(): [number, number | bigint, number | bigint];
}
export interface GstBus {
  addSignalWatch(): void;
  removeSignalWatch(): void;
  on(signal: BusSignal, handler: (message: GstMessage) => void): void;
  off(signal: BusSignal, handler: (message: GstMessage) => void): void;
  timedPopFiltered(timeoutNs: number, types: number): GstMessage | null;
}
/** The bus's message signal, for every message or, with a detail, for one type of message. */
type BusSignal = 'message' | `message::${BusMessageType}`;
/** The types of bus message tapedeck's media processes act on, by their GStreamer names. */
export type BusMessageType =
  'eos' | 'error' | 'warning' | 'element' | 'latency' | 'qos' | 'state-changed';

/**
 * Hands the handler the bus's messages of the given types only, and returns what disconnects it.
 * Each message that reaches JavaScript costs a node-gtk wrapper, about 0.14 ms of CPU here, and
 * most of what a pipeline posts is its elements' state changes and its streaming threads' status:
 * an MP3 recording posted 88 messages on its way to playing, 81 of them those two kinds.
 */
export function onBusMessages(
  bus: GstBus,
  types: readonly BusMessageType[],
  handler: (message: GstMessage) => void,
): () => void {
  for (const type of types) bus.on(`message::${type}`, handler);
  return () => {
    for (const type of types) bus.off(`message::${type}`, handler);
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the typed wall around node-gtk */
export interface GstModule {
  init(argv: null): void;
  parseLaunch(description: string): GstPipeline;
  parseBinFromDescription(description: string, ghostUnlinkedPads: boolean): GstBin;
  utilSetObjectArg(object: GstObject, name: string, value: string): void;
  SystemClock: { obtain(): GstClock };
  GhostPad: { new: (name: string, target: GstPad) => GstPad };
  Event: { newEos(): unknown; newCustom(type: number, structure: unknown): unknown };
  EventType: { CUSTOM_UPSTREAM: number; EOS: number; CAPS: number };
  Structure: { newFromString(text: string): unknown };
  State: { NULL: number; READY: number; PAUSED: number; PLAYING: number };
  ClockType: { REALTIME: number };
  MessageType: Record<
    'EOS' | 'ERROR' | 'WARNING' | 'ELEMENT' | 'STATE_CHANGED' | 'LATENCY' | 'QOS',
    number
  >;
  StateChangeReturn: { FAILURE: number };
  Format: { TIME: number };
  PadLinkReturn: { OK: number };
  ParseError: { DELAYED_LINK: number };
  parseErrorQuark(): number;
}
export interface GLibModule {
  MainLoop: { new: (context: null, isRunning: boolean) => { run(): void; quit(): void } };
}

export function loadGst(): { Gst: GstModule; GLib: GLibModule } {
  const require = createRequire(import.meta.url);
  const gi = require('node-gtk') as { require(ns: string, version: string): any };
  const Gst = gi.require('Gst', '1.0') as GstModule;
  const GLib = gi.require('GLib', '2.0') as GLibModule;
  Gst.init(null);
  return { Gst, GLib };
}
/**
 * GstApp's typelib, which gives an appsink its methods. Loaded by the recordings that take
 * pictures only, after their pipeline exists: an audio recording's start does without it.
 */
export function loadGstApp(): void {
  const require = createRequire(import.meta.url);
  (require('node-gtk') as { require(ns: string, version: string): any }).require('GstApp', '1.0');
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * Runs a media process's GLib main loop, for good. An ES module's top level runs as a microtask,
 * from which node-gtk defers a blocking run() to a timer callback; Node re-arms its timers only
 * once that callback returns, which it never does, so no JavaScript timer of the process would
 * fire again. It is run from an I/O callback instead. GStreamer signals reach JavaScript only
 * while a ref'd libuv handle keeps the loop integration awake: the interval is that handle. It
 * only has to exist, so it is as long as a timer can be: each wake-up of this thread costs CPU.
 */
export function runMainLoop(GLib: GLibModule): void {
  setInterval(() => undefined, 2 ** 31 - 1);
  stat('.', () => GLib.MainLoop.new(null, false).run());
}
