// /api/bmcs: the BMCs the gateway drives, each with its Redfish URL, credentials and pinned CA.
import { X509Certificate } from 'node:crypto';
import express, { Router } from 'express';
import type { GatewayStore } from '../db/store.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { LIVE_STATES } from '../types.js';
import { caller, requireRole } from './auth.js';
import { bmcView } from './views.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function checkedBmc(body: Record<string, unknown>) {
  const text = (key: string, max: number) => {
    const v = body[key];
    if (typeof v !== 'string' || v === '' || v.length > max)
      throw badRequest(`${key}: a string of 1 to ${max} characters`);
    return v;
  };
  const name = text('name', 64);
  if (!NAME.test(name)) throw badRequest('name: letters, digits, ".", "_" and "-"');
  const redfishUrl = text('redfishUrl', 2048);
  let url: URL;
  try {
    url = new URL(redfishUrl);
  } catch {
    throw badRequest('redfishUrl: not a URL');
  }
  if (url.protocol !== 'https:' || url.pathname !== '/' || url.search || url.username)
    throw badRequest('redfishUrl: https://host[:port] with no path, query or credentials');
  const caPem = text('caPem', 65536);
  try {
    new X509Certificate(caPem);
  } catch {
    throw badRequest('caPem: a PEM certificate (the CA or self-signed certificate of the BMC)');
  }
  return { name, redfishUrl: url.origin, username: text('username', 512), password: text('password', 512), caPem };
}

export function bmcRoutes(store: GatewayStore): Router {
  const r = Router();
  r.get('/api/bmcs', requireRole('reader'), async (_req, res) => {
    res.json({ bmcs: (await store.listBmcs()).map(bmcView) });
  });
  r.post('/api/bmcs', requireRole('admin'), express.json({ limit: '128kb' }), async (req, res) => {
    const bmc = checkedBmc((req.body ?? {}) as Record<string, unknown>);
    if (await store.getBmc(bmc.name)) throw conflict(`BMC ${bmc.name} exists`);
    const record = { ...bmc, createdAt: new Date().toISOString(), createdBy: caller(res).name };
    await store.addBmc(record);
    await store.audit(caller(res).name, 'add BMC', bmc.name, bmc.redfishUrl);
    res.status(201).location(`/api/bmcs/${bmc.name}`).json(bmcView(record));
  });
  r.get('/api/bmcs/:name', requireRole('reader'), async (req, res) => {
    const bmc = await store.getBmc(String(req.params.name));
    if (!bmc) throw notFound(`BMC ${String(req.params.name)}`);
    res.json(bmcView(bmc));
  });
  r.delete('/api/bmcs/:name', requireRole('admin'), async (req, res) => {
    const name = String(req.params.name);
    if (!(await store.getBmc(name))) throw notFound(`BMC ${name}`);
    if ((await store.listAttachments({ bmc: name, states: LIVE_STATES })).length > 0)
      throw conflict(`BMC ${name} has live attachments: detach them first`);
    await store.deleteBmc(name);
    await store.audit(caller(res).name, 'remove BMC', name);
    res.status(204).end();
  });
  return r;
}
