// Progress on long work: a bar redrawn in place on a terminal, one line per update elsewhere
// (logs, CI, tests), so output stays readable in both.

export interface Progress {
  update(done: number, total: number, detail: string): void;
  done(): void;
}

export function progress(label: string, line: (text: string) => void, stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  let drawn = false;
  return {
    update(done, total, detail) {
      const text = `${label} ${bar(done, total)} ${done}/${total}  ${detail}`;
      if (tty) {
        stream.write(`\r${text.slice(0, (stream.columns ?? 120) - 1).padEnd(Math.min(stream.columns ?? 120, 120) - 1)}`);
        drawn = true;
      } else {
        line(text);
      }
    },
    done() {
      if (tty && drawn) stream.write('\n');
      drawn = false;
    },
  };
}

/** `[#####.....]` for done/total. */
export function bar(done: number, total: number, width = 24): string {
  const f = total > 0 ? Math.max(0, Math.min(1, done / total)) : 0;
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}
