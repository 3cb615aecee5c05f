"""Ironic's virtual-media boot against vmedia's Redfish, through sushy unmodified.

usage: ironic-boot-client.py BASE_URL USER CA_FILE IMAGE_URL MODE
  MODE sushy:  Ironic's steps written out with sushy calls, from the service root: the system,
               its managers, the first CD-capable VirtualMedia that is not inserted, InsertMedia,
               boot override Cd/Once/UEFI, Reset On, then eject every inserted CD.
  MODE ironic: the same insert and eject through Ironic's own code (Debian's python3-ironic,
               ironic.drivers.modules.redfish.boot._insert_vmedia/_eject_vmedia).
The password comes on stdin (never argv). Prints one JSON line per step; a failed step raises.
"""
import json
import sys
import types

import sushy


def step(name, **fields):
    print(json.dumps({"step": name, **fields}), flush=True)


def inserted_cds(managers):
    return [
        {"slot": vm.identity, "image": vm.image}
        for manager in managers
        for vm in manager.virtual_media.get_members()
        if sushy.VIRTUAL_MEDIA_CD in vm.media_types and vm.inserted
    ]


def insert_as_ironic_does(managers, image):
    """ironic.drivers.modules.redfish.boot._insert_vmedia, for boot_device CD."""
    for manager in managers:
        for vm in manager.virtual_media.get_members():
            if sushy.VIRTUAL_MEDIA_CD not in vm.media_types:
                continue
            if vm.inserted:
                if vm.image == image:
                    return vm.identity
                continue
            vm.insert_media(image, inserted=True, write_protected=True)
            return vm.identity
    sys.exit("no suitable virtual media device found")


def eject_as_ironic_does(managers):
    """ironic.drivers.modules.redfish.boot._eject_vmedia, for boot_device CD."""
    for manager in managers:
        for vm in manager.virtual_media.get_members():
            if sushy.VIRTUAL_MEDIA_CD in vm.media_types and vm.inserted:
                vm.eject_media()


def main():
    base, user, ca, image, mode = sys.argv[1:6]
    password = sys.stdin.readline().rstrip("\n")
    conn = sushy.Sushy(base, username=user, password=password, verify=ca)
    system = conn.get_system("/redfish/v1/Systems/system")
    managers = system.managers
    step("system", power=system.power_state and system.power_state.value,
         managers=[m.identity for m in managers])

    if mode == "ironic":
        from ironic.drivers.modules.redfish import boot as redfish_boot

        task = types.SimpleNamespace(node=types.SimpleNamespace(uuid="00000000-0000-0000-0000-000000000001"))
        redfish_boot._insert_vmedia(task, managers, image, sushy.VIRTUAL_MEDIA_CD)
        step("inserted", cds=inserted_cds(managers))
        redfish_boot._eject_vmedia(task, managers, sushy.VIRTUAL_MEDIA_CD)
        step("ejected", cds=inserted_cds(managers))
        return

    slot = insert_as_ironic_does(managers, image)
    step("inserted", slot=slot, cds=inserted_cds(managers))
    system.set_system_boot_source(sushy.BOOT_SOURCE_TARGET_CD, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE,
                                  mode=sushy.BOOT_SOURCE_MODE_UEFI)
    system.refresh()
    step("boot", target=system.boot.target.value, enabled=system.boot.enabled.value, mode=system.boot.mode.value)
    system.reset_system(sushy.RESET_ON)
    step("reset")
    eject_as_ironic_does(managers)
    step("ejected", cds=inserted_cds(managers))


if __name__ == "__main__":
    main()
