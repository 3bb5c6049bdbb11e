/**
 * Progress for long local runs: one line redrawn in place on a terminal, plain lines (at most one
 * every few seconds) when the output is a file or CI log.
 */
export class Progress {
  private readonly tty: boolean;
  private lastPlain = 0;
  private lastLine = '';
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {
    this.tty = !!stream.isTTY && process.env['CI'] !== 'true';
  }

  update(line: string): void {
    if (line === this.lastLine) return;
    this.lastLine = line;
    if (this.tty) {
      const width = this.stream.columns ?? 100;
      this.stream.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
      this.drawn = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastPlain >= 2_000) {
      this.lastPlain = now;
      this.stream.write(`${line}\n`);
    }
  }

  /** Prints a permanent line (clearing the in-place one first). */
  log(line: string): void {
    this.clear();
    this.stream.write(`${line}\n`);
  }

  clear(): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
    this.lastLine = '';
  }
}

export function bar(done: number, total: number, width = 20): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%`;
}

export const fmt = (n: number): string => n.toLocaleString('en-US');
