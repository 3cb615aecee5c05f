#!/bin/bash
mkdir -p /run/d/run
cat > /run/d/c.json <<'J'
{"HostBackend":"kernel","RuntimeDir":"/run/d/run","MountPoints":{"Slot_0":{"Mode":0,"EndpointId":"/nbd/0","NBDDevice":"nbd0","UnixSocket":"nbd0.sock"}}}
J
dbus-daemon --session --address=unix:path=/run/d/bus.sock --fork --print-address=1
date +%s.%N
VMEDIA_LOG_LEVEL=debug timeout 100 node --import tsx src/cli/main.ts daemon --config /run/d/c.json --bus unix:path=/run/d/bus.sock &
P=$!
for i in $(seq 1 40); do sleep 2; if busctl --address=unix:path=/run/d/bus.sock list --no-pager 2>/dev/null | grep -q VirtualMedia; then echo "UP at $(date +%s.%N) i=$i"; break; fi; done
busctl --address=unix:path=/run/d/bus.sock tree xyz.openbmc_project.VirtualMedia --no-pager
ps aux | grep -E "udevadm|nbd" | grep -v grep
kill $P; wait $P
