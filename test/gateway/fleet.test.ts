// The fleet scenario at CI size, 3 BMCs (see fleet-scenario.ts; 20 BMCs in fleet.long.test.ts).
import { fleetScenario } from './fleet-scenario.js';

fleetScenario(Number(process.env.VMEDIA_GATEWAY_BMCS ?? 3), { timeoutMs: 120_000 });
