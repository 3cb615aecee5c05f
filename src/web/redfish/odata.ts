// The OData service document (/redfish/v1/odata): the service root and its top-level resources
// as OData singletons. Readable without logging in, like $metadata.
import type { WebContext } from '../context.js';
import { sendJson } from './route.js';
import { TOP_LEVEL_RESOURCES } from './service-root.js';

export function registerODataServiceDocument({ router, routes }: WebContext): void {
  const document = {
    '@odata.context': '/redfish/v1/$metadata',
    value: [
      { name: 'Service', kind: 'Singleton', url: '/redfish/v1/' },
      ...Object.entries(TOP_LEVEL_RESOURCES).map(([name, url]) => ({ name, kind: 'Singleton', url })),
    ],
  };
  router.get(
    '/redfish/v1/odata',
    routes.open((_req, res) => sendJson(res, 200, document)),
  );
}
