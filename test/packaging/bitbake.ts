// A small reader of BitBake files (recipes, .inc, .bbappend, layer.conf) for the packaging tests:
// no bitbake here, so it checks what can be checked without one. It knows the statements our
// files use (assignments with every operator, flags and overrides, inherit, require, shell and
// python functions, def blocks) and refuses any other line, so a typo fails a test instead of
// a firmware build. ${VAR} references expand against the file's own plain assignments plus the
// standard paths given by the caller; python expressions ${@...} do not expand.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Assignment {
  /** The variable, with its override suffix (RDEPENDS:${PN}) and without a flag. */
  name: string;
  flag?: string;
  op: string;
  value: string;
  line: number;
}

export interface BitbakeFile {
  assignments: Assignment[];
  inherits: string[];
  requires: string[];
  /** Shell functions (do_install, do_compile, ...): name → body. */
  functions: Map<string, string>;
}

const ASSIGNMENT =
  /^(?:export\s+)?([A-Za-z0-9_${}\-.+/~@%]+(?::[A-Za-z0-9_${}\-.+/~@%]+)*)(?:\[([A-Za-z0-9_-]+)\])?\s*(\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)\s*(["'])(.*)\4$/s;
const SHELL_FUNCTION = /^(?:fakeroot\s+)?([A-Za-z0-9_${}\-:]+)\s*\(\)\s*\{\s*$/;
const PYTHON_FUNCTION = /^python\s+[A-Za-z0-9_${}\-:]*\s*\(\)\s*\{\s*$/;

export function parseBitbake(text: string, file = 'recipe'): BitbakeFile {
  const parsed: BitbakeFile = { assignments: [], inherits: [], requires: [], functions: new Map() };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    const raw = lines[i]!;
    if (/^\s*(#.*)?$/.test(raw)) continue;
    const fail = (why: string) => {
      throw new Error(`${file}:${start + 1}: ${why}: ${raw}`);
    };
    if (/^\s/.test(raw)) fail('an indented line outside a function');
    const fn = SHELL_FUNCTION.exec(raw);
    if (fn || PYTHON_FUNCTION.test(raw)) {
      const body: string[] = [];
      while (++i < lines.length && lines[i] !== '}') body.push(lines[i]!);
      if (i >= lines.length) fail('function without a closing } at the start of a line');
      if (fn) parsed.functions.set(fn[1]!, body.join('\n'));
      continue;
    }
    if (/^def\s+\w+\(.*\):\s*$/.test(raw)) {
      while (i + 1 < lines.length && /^(\s|$)/.test(lines[i + 1]!)) i++;
      continue;
    }
    // a statement continues while its line ends with a backslash
    let statement = raw;
    while (statement.endsWith('\\')) {
      if (++i >= lines.length) fail('continuation at the end of the file');
      statement = `${statement.slice(0, -1)}${lines[i]!}`;
    }
    const keyword = /^(inherit|require|include|addtask|deltask)\s+(.+)$/.exec(statement);
    if (keyword) {
      const words = keyword[2]!.trim().split(/\s+/);
      if (keyword[1] === 'inherit') parsed.inherits.push(...words);
      if (keyword[1] === 'require' || keyword[1] === 'include') parsed.requires.push(...words);
      continue;
    }
    const a = ASSIGNMENT.exec(statement);
    if (!a) fail('not a BitBake statement (or an unquoted value)');
    const value = a![5]!;
    if (value.includes(a![4]!)) fail('a quote inside the value');
    parsed.assignments.push({
      name: a![1]!,
      op: a![3]!,
      value,
      line: start + 1,
      ...(a![2] ? { flag: a![2] } : {}),
    });
  }
  return parsed;
}

/** The value of a plain variable (no flag) after its assignments in order: =, :=, ?=, ??=,
 *  +=, =+, .=, =. (overrides such as RDEPENDS:${PN} are variables of their own here). */
export function valueOf(files: BitbakeFile[], name: string): string | undefined {
  let value: string | undefined;
  let weak: string | undefined;
  for (const a of files.flatMap((f) => f.assignments)) {
    if (a.name !== name || a.flag) continue;
    if (a.op === '=' || a.op === ':=') value = a.value;
    else if (a.op === '?=') value ??= a.value;
    else if (a.op === '??=') weak = a.value;
    else if (a.op === '+=') value = `${value ?? ''} ${a.value}`.trim();
    else if (a.op === '=+') value = `${a.value} ${value ?? ''}`.trim();
    else if (a.op === '.=') value = `${value ?? ''}${a.value}`;
    else if (a.op === '=.') value = `${a.value}${value ?? ''}`;
  }
  return value ?? weak;
}

/** Expands ${VAR} from `vars` first, then from the files; an unknown variable is an error. */
export function expand(text: string, files: BitbakeFile[], vars: Record<string, string>, depth = 0): string {
  if (depth > 10) throw new Error(`expansion too deep: ${text}`);
  return text.replace(/\$\{([A-Za-z0-9_:-]+)\}/g, (_, name: string) => {
    const value = vars[name] ?? valueOf(files, name);
    if (value === undefined) throw new Error(`\${${name}} is not set`);
    return expand(value, files, vars, depth + 1);
  });
}

/** The standard directories of an OpenBMC build (usrmerge), as bitbake.conf sets them. */
export const STANDARD_DIRS: Record<string, string> = {
  prefix: '/usr',
  bindir: '/usr/bin',
  sbindir: '/usr/sbin',
  libdir: '/usr/lib',
  nonarch_libdir: '/usr/lib',
  datadir: '/usr/share',
  sysconfdir: '/etc',
  systemd_system_unitdir: '/usr/lib/systemd/system',
  PN: 'vmedia',
  BPN: 'vmedia',
};

/** Runs a shell task (do_install) as bitbake would: expanded, under sh -e; `lnr` as in OE-core. */
export async function runTask(
  files: BitbakeFile[],
  task: string,
  vars: Record<string, string>,
): Promise<{ stdout: string; stderr: string }> {
  const body = files.map((f) => f.functions.get(task)).find((b) => b !== undefined);
  if (body === undefined) throw new Error(`no ${task}`);
  const script = `set -e\nlnr() { ln -sr "$1" "$2"; }\n${expand(body, files, { ...STANDARD_DIRS, ...vars })}\n`;
  return run('sh', ['-c', script]);
}
