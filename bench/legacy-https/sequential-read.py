# Reads a whole NBD export front to back the way the kernel's readahead does on /dev/nbdX:
# REQUEST-byte reads, DEPTH in flight (libnbd, Debian python3-libnbd). Prints MiB/s.
#   /usr/bin/python3 sequential-read.py URI [REQUEST] [DEPTH]
import sys
import time
import nbd

uri = sys.argv[1]
request = int(sys.argv[2]) if len(sys.argv) > 2 else 128 * 1024
depth = int(sys.argv[3]) if len(sys.argv) > 3 else 2
h = nbd.NBD()
h.connect_uri(uri)
size = h.get_size()
buf = nbd.Buffer(request)
offset = 0
failed = []


def done(err):
    if err.value != 0:
        failed.append(err.value)
    return 1



started = time.monotonic()
while offset < size or h.aio_in_flight() > 0:
    while h.aio_in_flight() < depth and offset < size:
        n = min(request, size - offset)
        h.aio_pread(buf if n == request else nbd.Buffer(n), offset, completion=done)
        offset += n
    h.poll(-1)
    if failed:
        sys.exit(f"a read failed with errno {failed[0]}")
print(f"{size / (time.monotonic() - started) / 1048576:.1f}")
