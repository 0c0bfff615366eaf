import { splitLaunchArgs } from '/work/main/src/bench/media-bench.ts';
import { readFileSync, mkdirSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
const [name, ...pairs] = process.argv.slice(2);
let desc = readFileSync('/tmp/host.launch', 'utf8').replace('/tmp/bh', `/tmp/abl-${name}`);
for (let i = 0; i < pairs.length; i += 2) { if (!desc.includes(pairs[i])) throw new Error('no ' + pairs[i]); desc = desc.replaceAll(pairs[i], pairs[i + 1]); }
rmSync(`/tmp/abl-${name}`, { recursive: true, force: true }); mkdirSync(`/tmp/abl-${name}`);
const p = spawn('gst-launch-1.0', ['-e', '-q', ...splitLaunchArgs(desc)], { stdio: ['ignore', 'ignore', 'inherit'] });
const ticks = () => { const f = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1].split(' '); return +f[11] + +f[12]; };
await new Promise((r) => setTimeout(r, 8000));
const t0 = ticks();
await new Promise((r) => setTimeout(r, 30000));
const t1 = ticks();
console.log(`${name}: ${((t1 - t0) / 30).toFixed(1)}% of a core`);
p.kill('SIGINT');
