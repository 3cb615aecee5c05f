"""Drives vmedia's Redfish with sushy (Ironic's Redfish library), unmodified.

usage: sushy-client.py BASE_URL USER IMAGE_URL MODE [ROUNDS]
  MODE once:   insert IMAGE_URL into the first Legacy slot, read it back, eject, read back
  MODE ironic: ROUNDS times, Ironic's way: eject every inserted slot, insert, GET, eject, GET
The password comes on stdin (never argv); REQUESTS_CA_BUNDLE points at the web's certificate.
Prints one JSON line per GET, and exits non-zero on the first inconsistency.
"""
import json
import os
import sys

import sushy


def main():
    base, user, image, mode = sys.argv[1:5]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    password = sys.stdin.readline().rstrip("\n")
    conn = sushy.Sushy(base, username=user, password=password, verify=os.environ["REQUESTS_CA_BUNDLE"])
    manager = conn.get_manager("/redfish/v1/Managers/bmc")
    media = manager.virtual_media
    legacy = [m for m in media.get_members() if m.transfer_method and m._actions.insert_media]
    if not legacy:
        sys.exit("no slot offers InsertMedia")
    slot = legacy[0]

    def observe(vm, when):
        vm.refresh(force=True)
        state = {"when": when, "slot": vm.identity, "inserted": vm.inserted, "image": vm.image}
        print(json.dumps(state), flush=True)
        return state

    for n in range(rounds):
        if mode == "ironic":
            for vm in media.get_members():
                if vm.inserted:
                    vm.eject_media()
        slot.insert_media(image, inserted=True, write_protected=True)
        got = observe(slot, f"inserted {n}")
        if got["inserted"] is not True or got["image"] != image:
            sys.exit(f"round {n}: after insert: {got}")
        slot.eject_media()
        got = observe(slot, f"ejected {n}")
        if got["inserted"] is not False or got["image"] is not None:
            sys.exit(f"round {n}: after eject: {got}")


if __name__ == "__main__":
    main()
