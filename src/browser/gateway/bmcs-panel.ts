// The BMCs the gateway drives (added by an admin through the API): name, Redfish service, account.
import { el } from '../dom.js';
import type { BmcInfo } from './gateway-api.js';
import { dataTable, tableRow, when } from './table.js';

export class BmcsPanel {
  private readonly table = dataTable('BMCs', ['Name', 'Redfish service', 'User', 'Added', 'By']);
  readonly root = el(
    'section',
    { class: 'panel', 'aria-labelledby': 'bmcs-title' },
    el('h2', { id: 'bmcs-title' }, 'BMCs'),
    this.table.root,
  );

  show(bmcs: BmcInfo[]): void {
    this.table.show(
      bmcs.map((b) => tableRow(b.name, b.redfishUrl, b.username, when(b.createdAt), b.createdBy)),
      'No BMCs yet: an admin adds them with POST /api/bmcs.',
    );
  }
}
