// 20 mount/unmount cycles per mode (Proxy via the bridge, Legacy HTTPS), then: fds and children
// back to the baseline, no files left, heap and RSS flat. 200 cycles: soak.long.test.ts.
import { defineSoak } from './helpers/soak.js';

defineSoak(20);
