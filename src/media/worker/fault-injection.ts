/**
 * Faults a test can set off inside a media worker, where nothing outside can reach.
 * TAPEDECK_FAULT_INPUT_ERROR=<input id>:<frames> makes that input's camera fail with a stream
 * error after so many frames, once per worker process: the element posts an error and its
 * stream stops, as a failing socket or decoder does.
 */
const ENV = 'TAPEDECK_FAULT_INPUT_ERROR';

let used = false;

/** The input's pipeline fragments, with the fault put in front of its camera queue if it is due. */
export function withInjectedFault(
  inputId: string,
  cameraQueue: string,
  fragments: string[],
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const setting = env[ENV];
  if (used || !setting) return fragments;
  const [id, frames] = setting.split(':');
  const after = Number(frames);
  if (id !== inputId || !Number.isInteger(after) || after < 1) return fragments;
  const marker = `! queue name=${cameraQueue} `;
  if (!fragments.some((f) => f.includes(marker))) return fragments;
  used = true;
  return fragments.map((f) =>
    f.replace(marker, `! identity name=${cameraQueue}_fault error-after=${after} ${marker}`),
  );
}
