/**
 * One progress line on stderr, rewritten in place on a terminal
 * (`[http 100c round 2/3] ours-standalone  · step 12/40 · 0:41`), and plain lines otherwise.
 */
const tty = process.stderr.isTTY === true;
const started = Date.now();
let current = '';
let step = 0;
let steps = 0;

function elapsed(): string {
  const s = Math.round((Date.now() - started) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function elapsedSeconds(): number {
  return (Date.now() - started) / 1000;
}

/** Total number of measurement steps planned (for "step k/N"). */
export function planSteps(n: number): void {
  steps = n;
}

/** A new measurement step begins. */
export function nextStep(text: string): void {
  step++;
  show(text);
}

let finished = false;

/** Update the progress line (no new step). */
export function show(text: string): void {
  if (finished) return;
  const line = `${text}${steps > 0 ? `  · step ${Math.min(step, steps)}/${steps}` : ''} · ${elapsed()}`;
  if (tty) {
    const width = process.stderr.columns ?? 120;
    process.stderr.write(`\r\x1b[K${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}`);
  } else if (text !== current) {
    process.stderr.write(`${line}\n`);
  }
  current = text;
}

/** Print a message above the progress line. */
export function log(message: string): void {
  if (tty) process.stderr.write(`\r\x1b[K${message}\n`);
  else process.stderr.write(`${message}\n`);
  if (tty && current) show(current);
}

/** Clear the progress line for good. */
export function done(): void {
  finished = true;
  if (tty) process.stderr.write('\r\x1b[K');
  current = '';
}
