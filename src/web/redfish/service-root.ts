// /redfish and the service root: the only resources readable without logging in.
import { randomUUID } from 'node:crypto';
import type { WebContext } from '../context.js';
import { sendJson } from './route.js';

/** The service root's top-level resources, by property name; also the OData service document's entries. */
export const TOP_LEVEL_RESOURCES = {
  AccountService: '/redfish/v1/AccountService',
  Managers: '/redfish/v1/Managers',
  SessionService: '/redfish/v1/SessionService',
  Systems: '/redfish/v1/Systems',
};

export function registerServiceRoot({ router, routes }: WebContext): void {
  const uuid = randomUUID();
  router.get(
    '/redfish',
    routes.open((_req, res) => sendJson(res, 200, { v1: '/redfish/v1/' })),
  );
  router.get(
    '/redfish/v1',
    routes.open((_req, res) =>
      sendJson(res, 200, {
        '@odata.id': '/redfish/v1',
        '@odata.type': '#ServiceRoot.v1_15_0.ServiceRoot',
        Id: 'RootService',
        Name: 'Root Service',
        RedfishVersion: '1.17.0',
        UUID: uuid,
        Product: 'vmedia',
        ...Object.fromEntries(Object.entries(TOP_LEVEL_RESOURCES).map(([name, uri]) => [name, { '@odata.id': uri }])),
        Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
      }),
    ),
  );
}
