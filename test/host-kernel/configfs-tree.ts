// A temporary directory tree laid out like /sys/kernel/config, for running the real gadget code
// without configfs. What a plain directory lacks is configfs's rmdir, which removes a directory
// together with its attribute files and its default groups (the subdirectories the kernel made),
// but refuses while a directory the user made or a link is left inside: imitated here.
import { lstatSync, mkdtempSync, readdirSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ConfigfsOps } from '../../src/host/kernel/gadget.js';

export interface ConfigfsTree {
  root: string;
  ops: ConfigfsOps;
  /** Every operation done through ops, in order ("mkdir <rel>", "rmdir <rel>"). */
  journal: string[];
  remove(): void;
}

/** Directories configfs creates by itself inside a gadget, a function and a config. */
const DEFAULT_GROUPS = new Set(['configs', 'functions', 'strings', 'os_desc', 'webusb', 'lun.0']);

function removeGroup(dir: string): void {
  for (const entry of readdirSync(dir)) {
    const p = path.join(dir, entry);
    const st = lstatSync(p);
    if (st.isFile()) unlinkSync(p);
    else if (st.isDirectory() && DEFAULT_GROUPS.has(entry)) removeGroup(p);
  }
  rmdirSync(dir); // ENOTEMPTY while a user-made directory or a link is left, as configfs
}

export function createConfigfsTree(): ConfigfsTree {
  const root = mkdtempSync(path.join(tmpdir(), 'vmedia-configfs-'));
  const journal: string[] = [];
  const rel = (p: string) => path.relative(root, p);
  return {
    root,
    journal,
    ops: {
      async mkdir(dir, recursive) {
        journal.push(`mkdir ${rel(dir)}`);
        await mkdir(dir, { recursive });
      },
      async rmdir(dir) {
        journal.push(`rmdir ${rel(dir)}`);
        removeGroup(dir);
      },
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
