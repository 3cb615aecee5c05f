// The real tools the generated images are checked against: blkid, xorriso, mtools, fsck.fat and
// cloud-init's own Python readers (Debian's /usr/bin/python3, not a pyenv one first on PATH).
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const PYTHON = '/usr/bin/python3';

export async function tool(file: string, args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const child = run(file, args, { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  if (input !== undefined) child.child.stdin!.end(input);
  return child;
}

/** A temporary directory removed when the returned function is called. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-genmedia-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeImage(dir: string, name: string, image: Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, image);
  return file;
}

/** `blkid -p` of an image file as a key → value map. */
export async function blkid(image: string): Promise<Record<string, string>> {
  const { stdout } = await tool('blkid', ['-p', '-o', 'export', image]);
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      // values come shell-escaped ("Joliet\\ Extension")
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1).replace(/\\(.)/g, '$1')]),
  );
}

/** Every file of a directory tree: relative path → content. */
export function readTree(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(path.relative(root, p), readFileSync(p));
    }
  };
  walk(root);
  return out;
}

/** Extracts an ISO with xorriso (Rock Ridge names); fails on any xorriso warning. */
export async function extractIso(image: string, into: string): Promise<Map<string, Buffer>> {
  const { stderr } = await tool('xorriso', [
    '-abort_on',
    'WARNING',
    '-osirrox',
    'on',
    '-indev',
    image,
    '-extract',
    '/',
    into,
  ]);
  if (/WARNING|SORRY|FAILURE/.test(stderr)) throw new Error(`xorriso complained:\n${stderr}`);
  return readTree(into);
}

/** Extracts a FAT image with mtools. */
export async function extractFat(image: string, into: string): Promise<Map<string, Buffer>> {
  await tool('mcopy', ['-s', '-n', '-i', image, '::/', into]);
  // mcopy -s ::/ DIR copies the root's entries into DIR
  return readTree(into);
}

/** The file paths xorriso lists for one of an ISO's trees: Rock Ridge, Joliet or plain ISO 9660. */
export async function isoPaths(image: string, tree: 'rockridge' | 'joliet' | 'iso9660'): Promise<string[]> {
  const readFs = { rockridge: 'any', joliet: 'norock', iso9660: 'ecma119' }[tree];
  const { stdout } = await tool('xorriso', ['-read_fs', readFs, '-indev', image, '-find', '/', '-type', 'f']);
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith("'/"))
    .map((l) => l.slice(2, -1))
    .sort();
}

export async function fsckFat(image: string): Promise<string> {
  const { stdout } = await tool('fsck.fat', ['-n', '-V', image]);
  return stdout;
}

/** Runs a Python snippet with Debian's python3; `input` is given to it as JSON on stdin and its
 *  stdout is parsed as JSON (untyped, as it comes: the caller's assertions check its shape). */
export async function python(code: string, input: unknown): Promise<ReturnType<typeof JSON.parse>> {
  const { stdout } = await tool(PYTHON, ['-c', code], JSON.stringify(input));
  return JSON.parse(stdout);
}
