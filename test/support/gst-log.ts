import { readFile } from 'node:fs/promises';

/**
 * GStreamer's debug log, to `file`, for the children spawned in the next `ms`: a recording
 * started alongside others gets its own log without slowing the rest.
 */
export function gstLogForChildrenSpawnedWithin(file: string, categories: string, ms: number): void {
  const set = { GST_DEBUG: categories, GST_DEBUG_FILE: file, GST_DEBUG_NO_COLOR: '1' };
  const before = Object.keys(set).map((key) => [key, process.env[key]] as const);
  Object.assign(process.env, set);
  setTimeout(() => {
    for (const [key, value] of before)
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
  }, ms).unref();
}

/**
 * The first `limit` lines of a debug log that name one of `elements`, without source paths and
 * without the queries and QoS resets that repeat all along.
 */
export async function firstLinesOf(
  file: string,
  elements: string[],
  limit: number,
): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(
      (line) =>
        elements.some((e) => line.includes(`<${e}>`)) && !/_query|timestamp 99:99:99/.test(line),
    )
    .slice(0, limit)
    .map((line) => line.replace(/^(\S+)\s.*?\s(\S+\.c:\d+:)/, '$1 $2'))
    .join('\n');
}
