/** Shared helpers of the node-agent tests. */
import { createRequire } from 'node:module';

/** True when a native TensorFlow binding is installed here (then 'auto' picks it, not wasm). */
export function nativeInstalled(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** A logger that records every line with its level. */
export function recordingLog(): { lines: { msg: string; level: string }[]; log: (msg: string, level?: string) => void } {
  const lines: { msg: string; level: string }[] = [];
  return { lines, log: (msg, level = 'info') => lines.push({ msg, level }) };
}
