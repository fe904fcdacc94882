// Runs a server script (RSS_PROBE_SCRIPT, a repository path) in this process and, on each SIGUSR2, collects all
// garbage and prints one `memory {...}` line: the process's resident memory (`rss`, and `rssAnon`: the part not
// backed by files) and its V8 heap (`heapUsed`: the live objects; `heapPhysical`: what the heap holds resident,
// live or free). `subscriber-memory` runs the gateway and its baseline under this same probe. Needs --expose-gc.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';

const collect = globalThis.gc;
if (!collect) throw new Error('rss-probe needs node --expose-gc (e.g. NODE_OPTIONS=--expose-gc)');

/** A field of /proc/self/status, in bytes. */
const statusField = (status: string, name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;

process.on('SIGUSR2', () => {
  collect();
  // A second pass after the loop turned frees what the first one's finalizers and weak callbacks released.
  setImmediate(() => {
    collect();
    const status = readFileSync('/proc/self/status', 'utf8');
    const heap = getHeapStatistics();
    const memory = { rss: statusField(status, 'VmRSS'), rssAnon: statusField(status, 'RssAnon'), heapUsed: heap.used_heap_size, heapPhysical: heap.total_physical_size };
    console.log(`memory ${JSON.stringify(memory)}`);
  });
});

await import(pathToFileURL(resolve(process.env.RSS_PROBE_SCRIPT!)).href);
