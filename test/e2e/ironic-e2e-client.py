"""Ironic's virtual-media deploy steps through sushy, unmodified, one phase per run.

usage: ironic-e2e-client.py BASE_URL USER CA_FILE PHASE [ARGS...]
  deploy IMAGE_URL BOOT_MODE  from the service root: get_system, the first CD-capable VirtualMedia
                              that is not inserted, eject every inserted CD, insert_media(IMAGE_URL,
                              inserted=True, write_protected=True), set_system_boot_options(Cd,
                              Once, BOOT_MODE: UEFI or Legacy), reset_system(On)
  boot BOOT_MODE              set_system_boot_options(Cd, Once, BOOT_MODE), reset_system(On): for a
                              medium inserted otherwise (a Proxy slot served from the browser)
  eject                       eject every inserted CD (ironic.drivers.modules.redfish.boot._eject_vmedia)
  reset RESET_TYPE            reset_system(RESET_TYPE), e.g. On or ForceRestart
  state                       the system's power state and boot override
The password comes on stdin (never argv). Prints one JSON line per step; a failed step raises.
"""
import json
import sys

import sushy


def step(name, **fields):
    print(json.dumps({"step": name, **fields}), flush=True)


def cd_media(managers):
    return [
        vm
        for manager in managers
        for vm in manager.virtual_media.get_members()
        if sushy.VIRTUAL_MEDIA_CD in vm.media_types
    ]


def inserted_cds(managers):
    return [{"slot": vm.identity, "image": vm.image} for vm in cd_media(managers) if vm.inserted]


def eject_cds(managers):
    for vm in cd_media(managers):
        if vm.inserted:
            vm.eject_media()


def boot_state(system):
    system.refresh()
    return {
        "power": system.power_state and system.power_state.value,
        "target": system.boot.target and system.boot.target.value,
        "enabled": system.boot.enabled and system.boot.enabled.value,
        "mode": system.boot.mode and system.boot.mode.value,
    }


def boot_once_from_cd(system, mode):
    boot_mode = {"UEFI": sushy.BOOT_SOURCE_MODE_UEFI, "Legacy": sushy.BOOT_SOURCE_MODE_BIOS}[mode]
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_CD, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE,
                                   mode=boot_mode)
    step("boot", **boot_state(system))
    system.reset_system(sushy.RESET_ON)
    step("reset", type="On")


def main():
    base, user, ca, phase = sys.argv[1:5]
    args = sys.argv[5:]
    password = sys.stdin.readline().rstrip("\n")
    conn = sushy.Sushy(base, username=user, password=password, verify=ca)
    system = conn.get_system("/redfish/v1/Systems/system")
    managers = system.managers

    if phase == "deploy":
        image, mode = args
        free = next((vm for vm in cd_media(managers) if not vm.inserted), None)
        if free is None:
            sys.exit("no suitable virtual media device found")
        eject_cds(managers)
        free.insert_media(image, inserted=True, write_protected=True)
        step("inserted", slot=free.identity, cds=inserted_cds(managers))
        boot_once_from_cd(system, mode)
    elif phase == "boot":
        step("cds", cds=inserted_cds(managers))
        boot_once_from_cd(system, args[0])
    elif phase == "eject":
        eject_cds(managers)
        step("ejected", cds=inserted_cds(managers))
    elif phase == "reset":
        system.reset_system(sushy.ResetType(args[0]))
        step("reset", type=args[0])
    elif phase == "state":
        step("state", **boot_state(system))
    else:
        sys.exit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()
