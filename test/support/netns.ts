import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Why a test that must not reach any network but loopback cannot run here, or undefined when
 * it can: the process is in a network namespace whose only interface is `lo`, and `lo` is up.
 */
export function privateNetworkOnly(who = 'Chromium tests'): string | undefined {
  const need = `${who} need a private network namespace (scripts/test.sh runs tests under \`unshare -n\`)`;
  let devices: string;
  try {
    // Unlike /sys/class/net, /proc/net follows the reading process's namespace.
    devices = readFileSync('/proc/net/dev', 'utf8');
  } catch (err) {
    return `${need}; /proc/net/dev is unreadable: ${(err as Error).message}`;
  }
  const names = devices
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((name) => name !== '');
  const others = names.filter((name) => name !== 'lo');
  if (others.length > 0) return `${need}; this one also has ${others.join(', ')}`;
  let link: string;
  try {
    link = execFileSync('ip', ['-o', 'link', 'show', 'lo'], { encoding: 'utf8' });
  } catch {
    // No iproute2: a down lo then shows up as refused connections, which is clear enough.
    return undefined;
  }
  if (!/<[^>]*\bUP\b/.test(link)) return `${need}; lo is down (\`ip link set lo up\`)`;
  return undefined;
}
