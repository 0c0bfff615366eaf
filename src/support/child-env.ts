/**
 * The environment for a child process whose JavaScript makes no TLS connection (a media worker,
 * a decoder, the measuring process): the caller's, without NODE_EXTRA_CA_CERTS.
 *
 * Node parses every certificate named there as it starts, before any code runs. Machines that
 * set it for every process point it at the system's whole bundle: here that was 37 ms of CPU of
 * a 63 ms start, and a media worker starts for every recording. GStreamer's own TLS (an rtmps://
 * URL) reads the system's store through GIO and never looked at this variable.
 */
export function envWithoutNodeTls(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _unused, ...rest } = env;
  return rest;
}
