// The directory tree of a file set, which both writers walk: each directory's subdirectories and
// files in byte order of their names, so that a writer's allocation order is deterministic.
import type { MediaFile } from './files.js';

export interface TreeFile {
  name: string;
  content: Buffer;
}

export interface TreeDirectory {
  name: string;
  directories: TreeDirectory[];
  files: TreeFile[];
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function directoryTree(files: MediaFile[]): TreeDirectory {
  const root: TreeDirectory = { name: '', directories: [], files: [] };
  for (const file of files) {
    const parts = file.path.split('/');
    let dir = root;
    for (const name of parts.slice(0, -1)) {
      let sub = dir.directories.find((d) => d.name === name);
      if (!sub) {
        sub = { name, directories: [], files: [] };
        dir.directories.push(sub);
      }
      dir = sub;
    }
    dir.files.push({ name: parts.at(-1)!, content: file.content });
  }
  const sortAll = (dir: TreeDirectory) => {
    dir.directories.sort(byName);
    dir.files.sort(byName);
    dir.directories.forEach(sortAll);
  };
  sortAll(root);
  return root;
}

/** The directories in breadth-first order (root first), each level in the tree's order. */
export function breadthFirst(root: TreeDirectory): TreeDirectory[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...out[i]!.directories);
  return out;
}

/** The fixed time every timestamp of a generated image carries, so the image depends on its
 *  input and nonce only. */
export const IMAGE_TIME = { year: 2000, month: 1, day: 1 } as const;
