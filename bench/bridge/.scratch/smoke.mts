import { startStack } from '/work/main/test/helpers/stack.ts';
const s = await startStack();
try {
  for (const p of ['/redfish/v1', '/redfish/v1/Managers/bmc/VirtualMedia', '/redfish/v1/Managers/bmc/VirtualMedia/Slot_0', '/redfish/v1/Managers/bmc/VirtualMedia/Slot_2', '/redfish/v1/Managers/bmc/VirtualMedia/Slot_2/InsertMediaActionInfo']) {
    const r = await s.request(p, { auth: s.admin });
    console.log(p, r.status, JSON.stringify(r.json).slice(0, 900));
  }
  const r = await s.request('/redfish/v1/Managers/bmc/VirtualMedia', {});
  console.log('noauth', r.status, r.text);
} finally {
  console.log(s.webOutput().slice(0, 3000));
  await s.stop();
}
