# SPDX-License-Identifier: GPL-2.0
#
# kunit.py --qemu_config for kho_rs: boots the cached kernel with an initramfs
# whose /init insmods kho_rs_test.ko (its KUnit suites run at insmod) and powers
# off. kunit_shutdown=none keeps the built-in KUnit run from halting the kernel
# before userspace. qemu_arch names the wrapper scripts/kunit.sh puts on PATH
# (qemu-system-x86_64-kho-rs): it drops kunit.py's "-accel kvm" where KVM hangs
# guests and hands kunit.py the console from the module's KTAP document on.
import os

from ..qemu_config import QemuArchParams

QEMU_ARCH = QemuArchParams(linux_arch='x86_64',
			   kconfig='''
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y''',
			   qemu_arch='x86_64-kho-rs',
			   kernel_path='arch/x86/boot/bzImage',
			   kernel_command_line='console=ttyS0 kunit_shutdown=none panic=-1 oops=panic panic_on_warn=1',
			   extra_qemu_params=['-bios', 'qboot.rom',
					      '-initrd', os.environ['KHO_RS_INITRD']])
