import { inputNames, tileNames, tileServer } from '../pipeline/inputs.ts';
import type { TileServe } from '../pipeline/spec.ts';
import { collectRemoved } from './collect-removed.ts';
import type { GstBin, GstModule, GstPad, GstPipeline } from './gst.ts';

const RETRY_MS = 1000;
/** A server counts as serving once it has run this long without an error (binding is late). */
const SETTLE_MS = 1500;

export interface TileServerOptions {
  Gst: GstModule;
  pipeline: GstPipeline;
  /** The input's bin, which holds the tee its decoded picture is split at. */
  input: GstBin;
  id: string;
  tile: TileServe;
  fps: number;
  baseTimeUtcNs: bigint;
  warn: (message: string) => void;
}

/**
 * A host recording's tile server (`tileServer`), attached once the pipeline plays and again a
 * second after any failure, for as long as the recording runs. The port is the host's on the
 * node, and the recording this one replaces (the camera back on, a takeover) may hold it a moment
 * longer: until it is free the composite shows the host's placeholder, and the recording itself
 * goes on untouched.
 */
export class TileServer {
  private bin: GstBin | null = null;
  private teePad: GstPad | null = null;
  private ghost: GstPad | null = null;
  private retry: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  constructor(private readonly o: TileServerOptions) {}

  /** Whether a failing element belongs to this server. */
  owns(elementName: string): boolean {
    return elementName.startsWith(tileNames(this.o.id).bin);
  }

  attach(): void {
    this.retry = undefined;
    if (this.stopped) return;
    const { Gst, pipeline, input, id, tile } = this.o;
    const n = tileNames(id);
    const bin = Gst.parseBinFromDescription(tileServer(id, tile, this.o.fps), false);
    bin.name = n.bin;
    const sink = Gst.GhostPad.new('sink', bin.getByName(n.queue)!.getStaticPad('sink')!);
    // The recording's running time plus its base time is the wall clock, the timeline a shared
    // picture's reader expects (see sharedPictureOffsetNs).
    sink.setOffset(this.o.baseTimeUtcNs);
    bin.addPad(sink);
    pipeline.add(bin);
    this.bin = bin;
    // The server binds its port here: a port still held fails the state change.
    if (!bin.syncStateWithParent()) {
      this.failed('its state change failed');
      return;
    }
    const teePad = input.getByName(inputNames(id).tileTee)!.requestPadSimple('src_%u')!;
    const ghost = Gst.GhostPad.new('tile', teePad);
    input.addPad(ghost);
    ghost.link(sink);
    this.teePad = teePad;
    this.ghost = ghost;
    this.settle = setTimeout(() => {
      if (this.bin !== bin) return;
      if (this.failures > 0)
        this.o.warn(`serving the composite's tiles on 127.0.0.1:${tile.port} again`);
      this.failures = 0;
    }, SETTLE_MS);
  }

  /** An element of the server failed, or its port is taken: out now, and again in a second. */
  failed(message: string): void {
    if (!this.bin) return;
    clearTimeout(this.settle);
    this.detach();
    if (this.failures === 0)
      this.o.warn(
        `the composite's tiles: cannot serve on 127.0.0.1:${this.o.tile.port} (${message}); ` +
          `the recording goes on, trying again every ${RETRY_MS / 1000} s`,
      );
    this.failures += 1;
    if (!this.stopped) this.retry = setTimeout(() => this.attach(), RETRY_MS);
  }

  /** At the recording's stop: its EOS ends the server's stream, and no retry follows. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    clearTimeout(this.settle);
  }

  /** Before its input is taken out: the server goes with it, and no retry follows. */
  end(): void {
    this.stop();
    if (this.bin) this.detach();
  }

  private detach(): void {
    const { Gst, pipeline, input } = this.o;
    const bin = this.bin!;
    this.bin = null;
    // The tee stops pushing into the server before the server stops.
    if (this.ghost) {
      input.removePad(this.ghost);
      this.ghost = null;
    }
    if (this.teePad) {
      this.teePad.getParentElement()?.releaseRequestPad(this.teePad);
      this.teePad = null;
    }
    bin.setState(Gst.State.NULL);
    pipeline.remove(bin);
    collectRemoved();
  }
}
