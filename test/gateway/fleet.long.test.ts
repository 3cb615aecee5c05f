// The fleet scenario at the size: 20 BMCs (60 processes), too slow for `npm test` on 2 cores.
import { fleetScenario } from './fleet-scenario.js';

fleetScenario(Number(process.env.VMEDIA_GATEWAY_BMCS ?? 20), { timeoutMs: 600_000 });
