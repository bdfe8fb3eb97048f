// Atomic file replacement: readers see the old file or the new one, never a half-written mix,
// even if the process dies or the machine loses power mid-write (checkpoints, configs, results).

import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `data` to a temp file beside `path` (same directory, hence same filesystem, so the rename
 * is atomic), fsyncs it, renames it over `path` and fsyncs the directory so the rename itself is
 * durable. On failure the temp file is removed and the old `path`, if any, is left as it was.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    // Keep the permissions of the file being replaced (a fresh file gets the umask default).
    const mode = await stat(path).then((s) => s.mode & 0o777, () => 0o666);
    fh = await open(tmp, 'wx', mode); // 'wx': never clobber a name we did not create
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw wrap(e, path);
  }
  await syncDirectory(dir);
}

/** Pretty JSON (2-space indent) with a trailing newline, written atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) throw new Error(`cannot write ${path}: value is not JSON-representable`);
  await writeFileAtomic(path, text + '\n');
}

async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    // Some platforms (Windows) and filesystems cannot open or fsync a directory; the rename has
    // still happened, so only report failures that mean the disk itself is in trouble.
    const code = (e as NodeJS.ErrnoException).code;
    if (!['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'ENOTSUP', 'EBADF'].includes(code ?? '')) throw wrap(e, dir);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Names the target (not the temp file) in the message; keeps `code` so callers can still test it. */
function wrap(e: unknown, path: string): Error {
  const message = e instanceof Error ? e.message : String(e);
  const err = new Error(`cannot write ${path}: ${message}`, { cause: e });
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === undefined ? err : Object.assign(err, { code });
}
