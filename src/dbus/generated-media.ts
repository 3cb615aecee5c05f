// The contract of generated media between the daemon and its clients (docs/dbus.md): the error a
// bad JSON document gets, which names the property at fault as a JSON pointer, so that Redfish can
// answer 400 with RelatedProperties and the CLI can say where the document is wrong.

/** The D-Bus error of a JSON document the daemon cannot build media from (bad JSON, too big,
 *  unknown format, a bad property). Its text is `"<JSON pointer>": <reason>`. */
export const GENERATED_MEDIA_INPUT_ERROR = 'xyz.openbmc_project.VirtualMedia.GeneratedMedia.Error.InvalidInput';

export interface GeneratedMediaInputProblem {
  /** JSON pointer of the property at fault ("" = the whole document). */
  path: string;
  reason: string;
}

export function formatInputProblem(problem: GeneratedMediaInputProblem): string {
  return `${JSON.stringify(problem.path)}: ${problem.reason}`;
}

/** The problem in an InvalidInput error's text; the whole text as the reason if it has no pointer. */
export function parseInputProblem(text: string): GeneratedMediaInputProblem {
  const m = /^("(?:[^"\\]|\\.)*"): ([^]*)$/.exec(text);
  if (!m) return { path: '', reason: text };
  return { path: JSON.parse(m[1]!) as string, reason: m[2]! };
}

/** The largest JSON document the daemon takes (the generator's limit; the web's body limit for it). */
export const GENERATED_MEDIA_MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

/** The formats the daemon builds for a slot of each media type: a CD slot gets an ISO 9660 image
 *  (config-2 or cidata), a USB-stick slot a FAT image, which may also be Ironic's floppy. */
export const GENERATED_MEDIA_FORMATS = {
  CD: ['config-2', 'nocloud'],
  USBStick: ['config-2', 'nocloud', 'floppy'],
} as const satisfies Record<'CD' | 'USBStick', readonly string[]>;
