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

/**
 * Runs the gateway's real entry point (`node --import tsx src/main.ts`) in a child process with only the given
 * environment (plus PATH/HOME), so nothing leaks in from the test runner (NODE_ENV, VITEST, ...).
 */
export function spawnGateway(env: Record<string, string>, readyTimeoutMs = 30_000): GatewayProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
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
      const match = /Replay Gateway ready at (\S+)/.exec(stdout);
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
