import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface GatewayProcess {
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): { stdout: string; stderr: string };
  /** The GraphQL URL main printed (`Replay Gateway ready at <url>`); rejects if the process exits first. */
  ready: Promise<string>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /** What the process prints when it is ready to serve; its first capture group is the URL to resolve with. */
  readyPattern?: RegExp;
  readyTimeoutMs?: number;
  /** Pin the process to these CPUs (`taskset -c`), so a load generator elsewhere does not share its core. */
  cpus?: string;
}

/**
 * Runs the gateway's real entry point (`node --import tsx src/main.ts`) in a child process with only the given
 * environment (plus PATH/HOME), so nothing leaks in from the test runner (NODE_ENV, VITEST, ...).
 */
export const spawnGateway = (env: Record<string, string>, readyTimeoutMs = 30_000, cpus?: string): GatewayProcess =>
  spawnScript('src/main.ts', env, { readyTimeoutMs, cpus });

/** Runs a TypeScript file of this repository in a child process, as `spawnGateway` runs the gateway. */
export function spawnScript(script: string, env: Record<string, string>, options: SpawnOptions = {}): GatewayProcess {
  const { readyPattern = /Replay Gateway ready at (\S+)/, readyTimeoutMs = 30_000, cpus } = options;
  const node = [process.execPath, '--import', 'tsx', script];
  const [command, ...args] = cpus ? ['taskset', '-c', cpus, ...node] : node;
  const child = spawn(command!, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Not ready within ${readyTimeoutMs} ms:\n${stdout}\n${stderr}`)), readyTimeoutMs);
    const check = () => {
      const match = readyPattern.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`Gateway exited (code ${code}, signal ${signal}) before it was ready:\n${stdout}\n${stderr}`));
    });
  });
  ready.catch(() => undefined);
  return { child, output: () => ({ stdout, stderr }), ready, exited };
}

/** Sends `signal` and waits for the process to exit (SIGKILL after `graceMs`). */
export async function stopProcess(gateway: GatewayProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000) {
  if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) return gateway.exited;
  gateway.child.kill(signal);
  const timer = setTimeout(() => gateway.child.kill('SIGKILL'), graceMs);
  const result = await gateway.exited;
  clearTimeout(timer);
  return result;
}
