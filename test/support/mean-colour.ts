import { runOk } from './run.ts';

/** Mean RGB of one region of the frame shown at `atSec` in a video file. */
export async function meanColour(
  file: string,
  atSec: number,
  r: { x: number; y: number; width: number; height: number },
): Promise<[number, number, number]> {
  const { stdout } = await runOk('sh', [
    '-c',
    `ffmpeg -v error -ss ${atSec} -i ${file} -frames:v 1 -vf crop=${r.width}:${r.height}:${r.x}:${r.y} -f rawvideo -pix_fmt rgb24 - | od -An -tu1 -v`,
  ]);
  const bytes = stdout.trim().split(/\s+/).map(Number);
  const mean = [0, 1, 2].map(
    (c) => bytes.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / (bytes.length / 3),
  );
  return mean as [number, number, number];
}

/** The placeholder tile's grey (0x303038), as a camera that is off or lost shows. */
export const PLACEHOLDER_GREY = [0x30, 0x30, 0x38] as const;

export function colourDistance(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(...a.map((v, i) => v - b[i]!));
}
