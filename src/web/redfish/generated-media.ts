// Our OEM action on a Legacy VirtualMedia member (docs/generated-media.md#redfish):
// #VmediaVirtualMedia.InsertGeneratedMedia takes the generator's JSON document as its body, hands
// it to the daemon's GeneratedMedia.Mount through a pipe fd (it carries secrets), waits for the
// Completion and answers with the member, whose Oem.Vmedia shows the nonce while attached. The
// document is never logged or echoed: errors name the property at fault, not its value.
import express, { type RequestHandler } from 'express';
import type { WebContext } from '../context.js';
import { DaemonCallError, type SlotState } from '../daemon/client.js';
import { errnoText } from '../daemon/errno.js';
import { openPayloadPipe } from '../daemon/payload-pipe.js';
import {
  GENERATED_MEDIA_INPUT_ERROR,
  GENERATED_MEDIA_MAX_DOCUMENT_BYTES,
  parseInputProblem,
} from '../../dbus/generated-media.js';
import {
  generatedMediaFormats,
  INSERT_GENERATED_MEDIA,
  INSERT_GENERATED_MEDIA_INFO,
  VMEDIA_VIRTUAL_MEDIA,
} from './generated-media-oem.js';
import { refusedCall } from './media-errors.js';
import { redfishError, type RedfishError } from './messages.js';
import { sendJson } from './route.js';
import { findSlot, VIRTUAL_MEDIA_COLLECTIONS, virtualMediaMember } from './virtual-media.js';
import { completionWaitMs } from '../../contract.js';

const ACTION = INSERT_GENERATED_MEDIA;
const ACTION_INFO = INSERT_GENERATED_MEDIA_INFO;
/** The longest eject_after the generator's schema takes: a week. */
const MAX_EJECT_AFTER_SECONDS = 7 * 24 * 3600;

function legacySlot(slot: SlotState): SlotState {
  if (slot.mode === 'Legacy') return slot;
  throw redfishError(405, 'ActionNotSupported', [`#${VMEDIA_VIRTUAL_MEDIA}.${ACTION}`], {
    resolution: `${slot.name} is a Proxy slot: its media comes from a browser over ${slot.endpointId}.`,
  }).withHeader('Allow', '');
}

/** What the web checks itself before the daemon sees the document: its shape, `format` and our
 *  one parameter, WriteProtected (not part of the document). */
function parseBody(body: unknown, slot: SlotState): { document: Record<string, unknown>; writable: boolean } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw redfishError(400, 'MalformedJSON', [], { resolution: 'The request body must be a JSON object.' });
  }
  const { WriteProtected: writeProtected, ...document } = body as Record<string, unknown>;
  if (writeProtected !== undefined && typeof writeProtected !== 'boolean') {
    throw redfishError(400, 'PropertyValueTypeError', [JSON.stringify(writeProtected), 'WriteProtected'], {
      related: ['#/WriteProtected'],
      resolution: 'WriteProtected must be true or false.',
    });
  }
  const format = document.format;
  if (format === undefined) {
    throw redfishError(400, 'ActionParameterMissing', [ACTION, 'format'], { related: ['#/format'] });
  }
  const formats = generatedMediaFormats(slot);
  if (typeof format !== 'string' || !formats.includes(format)) {
    throw redfishError(
      400,
      'PropertyValueNotInList',
      [typeof format === 'string' ? format : JSON.stringify(format), 'format'],
      {
        related: ['#/format'],
        resolution: `A ${slot.mediaType ?? 'CD'} slot takes format ${formats.join(', ')}.`,
      },
    );
  }
  return { document, writable: writeProtected === false };
}

/** The daemon refused the document: 400 naming the property (never its value: it may be a secret). */
function inputRefused(text: string): RedfishError {
  const { path, reason } = parseInputProblem(text);
  if (path === '') return redfishError(400, 'UnrecognizedRequestBody', [], { resolution: reason });
  const related = [`#${path}`];
  if (path === '/format')
    return redfishError(400, 'PropertyValueNotInList', ['<hidden>', 'format'], { related, resolution: reason });
  return redfishError(400, 'PropertyValueFormatError', ['<hidden>', path.slice(1)], {
    related,
    resolution: `${path}: ${reason}`,
  });
}

export function registerGeneratedMedia(ctx: WebContext): void {
  for (const members of VIRTUAL_MEDIA_COLLECTIONS) registerMemberAction(ctx, members);
}

function registerMemberAction(ctx: WebContext, members: string): void {
  const { router, routes, daemon } = ctx;
  const member = `${members}/:slot`;

  router.get(
    `${member}/${ACTION_INFO}`,
    routes.guarded('Login', async (req, res) => {
      const slot = await findSlot(ctx, String(req.params.slot));
      if (slot.mode !== 'Legacy') throw redfishError(404, 'ResourceNotFound', ['ActionInfo', ACTION_INFO]);
      sendJson(res, 200, {
        '@odata.id': `${members}/${slot.name}/${ACTION_INFO}`,
        '@odata.type': '#ActionInfo.v1_4_0.ActionInfo',
        Id: ACTION_INFO,
        Name: `${ACTION} Action Info`,
        Parameters: [
          { Name: 'format', Required: true, DataType: 'String', AllowableValues: [...generatedMediaFormats(slot)] },
          { Name: 'meta_data', Required: false, DataType: 'Object' },
          { Name: 'network_data', Required: false, DataType: 'Object' },
          { Name: 'user_data', Required: false, DataType: 'String' },
          { Name: 'vendor_data', Required: false, DataType: 'Object' },
          { Name: 'parameters', Required: false, DataType: 'Object' },
          { Name: 'files', Required: false, DataType: 'ObjectArray' },
          {
            Name: 'eject_after',
            Required: false,
            DataType: 'Number',
            MinimumValue: 1,
            MaximumValue: MAX_EJECT_AFTER_SECONDS,
          },
          { Name: 'eject_when_read', Required: false, DataType: 'Boolean' },
          { Name: 'WriteProtected', Required: false, DataType: 'Boolean' },
        ],
      });
    }),
  );

  router.post(
    `${member}/Actions/Oem/${VMEDIA_VIRTUAL_MEDIA}.${ACTION}`,
    routes.guarded('ConfigureComponents', async (req, res, principal) => {
      const slot = legacySlot(await findSlot(ctx, String(req.params.slot)));
      const { document, writable } = parseBody(req.body, slot);
      if (slot.active) {
        throw redfishError(409, 'ResourceInUse', [], {
          resolution: `${slot.name} already holds media; eject it first.`,
        });
      }
      // JSON text never holds a raw NUL: it ends the document for a reader that never sees EOF
      const pipe = await openPayloadPipe(
        ctx.runner,
        ctx.runtimeDir,
        Buffer.from(`${JSON.stringify(document)}\0`, 'utf8'),
      );
      let errno: number;
      try {
        errno = await daemon.mountGenerated(slot, { fd: pipe.fd, rw: writable }, completionWaitMs(slot.timeout));
      } catch (err) {
        if (err instanceof DaemonCallError && err.errorName === GENERATED_MEDIA_INPUT_ERROR)
          throw inputRefused(err.message);
        throw refusedCall(err);
      } finally {
        pipe.close();
      }
      const audit = { user: principal.user, slot: slot.name, format: document.format };
      if (errno !== 0) {
        ctx.log.warn({ ...audit, errno: errnoText(errno) }, 'InsertGeneratedMedia failed');
        throw redfishError(500, 'GeneralError', [], {
          resolution: `Attaching the generated media to ${slot.name} ended with ${errnoText(errno)}.`,
        });
      }
      const now = await findSlot(ctx, slot.name);
      ctx.log.info({ ...audit, nonce: now.generatedMedia?.nonce }, 'generated media inserted');
      sendJson(res, 200, virtualMediaMember(now, members));
    }),
  );
}

/**
 * The action's body is the generator's document, up to 8 MiB (SSH keys, CA certificates, scripts):
 * parsed here with that limit, before the server's small default limit for every other body.
 */
export function generatedMediaBodyParser(): RequestHandler {
  const parse = express.json({ limit: GENERATED_MEDIA_MAX_DOCUMENT_BYTES });
  const suffix = `/Actions/Oem/${VMEDIA_VIRTUAL_MEDIA}.${ACTION}`;
  return (req, res, next) => (req.method === 'POST' && req.path.endsWith(suffix) ? parse(req, res, next) : next());
}
